-- Attack protection: user lockout, Frontend API rate-limit counters, testing tokens (the twin
-- of SQLite's 0007_attack_protection.sql).

CREATE TABLE user_lockouts (
    user_id         TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failed_attempts BIGINT NOT NULL,
    locked_until    BIGINT,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE rate_counters (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    count        BIGINT NOT NULL
);
CREATE INDEX rate_counters_window_end ON rate_counters (window_end);

CREATE TABLE testing_tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX testing_tokens_expires_at ON testing_tokens (expires_at);
