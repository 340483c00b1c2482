-- Second factors: the PostgreSQL twin of SQLite's migration 5.
CREATE TABLE user_mfa (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE sessions ADD COLUMN second_factor_at BIGINT;
