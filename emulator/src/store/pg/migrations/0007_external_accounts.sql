-- External accounts: the PostgreSQL twin of SQLite's migration 10. A user's accounts at OAuth
-- providers, one JSON document each, read and written whole; one per (provider,
-- provider_user_id); they go with their user.
CREATE TABLE external_accounts (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider         TEXT NOT NULL,
    provider_user_id TEXT NOT NULL,
    state            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    -- Insertion order, which breaks created_at ties (ids are random).
    seq              BIGSERIAL NOT NULL,
    UNIQUE (provider, provider_user_id)
);
CREATE INDEX external_accounts_user_id ON external_accounts (user_id);
