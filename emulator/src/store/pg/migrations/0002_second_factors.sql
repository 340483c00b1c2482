-- Second factors: the PostgreSQL twin of SQLite's migration 5.
CREATE TABLE user_mfa (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE sessions ADD COLUMN second_factor_at BIGINT;

CREATE TABLE session_verifications (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
