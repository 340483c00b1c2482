-- Session reverification (`POST /v1/client/sessions/{id}/verify…`): one JSON document per
-- session (read and written whole, like sign-in attempts), replaced by the next one started;
-- it goes with its session.
CREATE TABLE session_verifications (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
