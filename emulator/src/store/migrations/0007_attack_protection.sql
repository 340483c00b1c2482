-- Attack protection: user lockout, Frontend API rate-limit counters, testing tokens.

-- Failed first-factor verifications in a row of a user, and the lockout they led to (or a
-- lock the Backend API set). A user with no row has no failures.
CREATE TABLE user_lockouts (
    user_id         TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failed_attempts INTEGER NOT NULL,
    -- ms by the emulator clock; NULL: not locked out.
    locked_until    INTEGER,
    updated_at      INTEGER NOT NULL
) STRICT;

-- Requests counted for a rate-limit key (`sign_in_create:client:client_…`) in the fixed
-- window [window_start, window_end).
CREATE TABLE rate_counters (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_counters_window_end ON rate_counters (window_end);

-- Testing tokens (Backend API `POST /v1/testing_tokens`), kept as the SHA-256 of the token.
CREATE TABLE testing_tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX testing_tokens_expires_at ON testing_tokens (expires_at);
