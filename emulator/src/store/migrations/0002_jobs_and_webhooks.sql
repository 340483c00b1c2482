-- Durable background jobs: claimed, run and completed in separate transactions.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    -- 0 high (messages), 1 normal (webhooks), 2 low (cleanup)
    priority     INTEGER NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at       INTEGER NOT NULL,
    lease_until  INTEGER,
    last_error   TEXT,
    request_id   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX jobs_ready ON jobs (state, priority, run_at, id);
CREATE INDEX jobs_lease ON jobs (state, lease_until);

-- A message is written with its cause and captured by its delivery job.
ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'captured';
ALTER TABLE messages ADD COLUMN delivered_by_clerk INTEGER NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN delivered_via TEXT;
CREATE INDEX messages_status ON messages (status, created_at);

CREATE TABLE webhook_endpoints (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    -- JSON array of event types; empty: every event
    events     TEXT NOT NULL DEFAULT '[]',
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Each event once; its id is the `svix-id` of every delivery of it.
CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    request_id TEXT,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- Every delivery attempt.
CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    job_id           INTEGER,
    attempt          INTEGER NOT NULL,
    status_code      INTEGER,
    duration_ms      INTEGER NOT NULL,
    response_excerpt TEXT,
    error            TEXT,
    succeeded        INTEGER NOT NULL,
    request_id       TEXT,
    created_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id);
