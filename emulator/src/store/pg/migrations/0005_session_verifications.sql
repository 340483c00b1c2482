-- Session reverification: the PostgreSQL twin of SQLite's migration 8.
CREATE TABLE session_verifications (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
