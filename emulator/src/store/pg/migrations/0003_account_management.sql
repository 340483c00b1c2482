-- `/v1/me` account management, in tables of its own: the twin of SQLite's migration 6.

-- The pending code of an email address or phone number added to an account and not verified
-- yet (a `PendingCode` as JSON, read and written whole). It goes with its identification.
CREATE TABLE identification_codes (
    identification_id TEXT PRIMARY KEY REFERENCES identifications (id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL,
    state             TEXT NOT NULL
);
CREATE INDEX identification_codes_user ON identification_codes (user_id);

-- Profile images, bytes and all (served at /v1/images/{id}); one per user.
CREATE TABLE images (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);

-- What the requests of a session said about where they came from (its latest activity).
CREATE TABLE session_activities (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    ip_address TEXT,
    user_agent TEXT,
    updated_at BIGINT NOT NULL
);
