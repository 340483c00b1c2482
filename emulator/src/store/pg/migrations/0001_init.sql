-- The PostgreSQL schema: the same tables and columns as SQLite's migrations 1-4 (times are
-- milliseconds since the Unix epoch, BIGINT; JSON documents are TEXT, read and written whole).

-- Instance settings and keys (and the controllable clock's offset): one row per key.
CREATE TABLE instance (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id                       TEXT PRIMARY KEY,
    external_id              TEXT,
    username                 TEXT UNIQUE,
    first_name               TEXT,
    last_name                TEXT,
    password_hash            TEXT,
    public_metadata          TEXT NOT NULL DEFAULT '{}',
    private_metadata         TEXT NOT NULL DEFAULT '{}',
    unsafe_metadata          TEXT NOT NULL DEFAULT '{}',
    banned                   BOOLEAN NOT NULL DEFAULT FALSE,
    locked                   BOOLEAN NOT NULL DEFAULT FALSE,
    primary_email_address_id TEXT,
    primary_phone_number_id  TEXT,
    password_last_updated_at BIGINT,
    last_sign_in_at          BIGINT,
    last_active_at           BIGINT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE INDEX users_created_at ON users (created_at);
CREATE INDEX users_external_id ON users (external_id);

CREATE TABLE identifications (
    id                    TEXT PRIMARY KEY,
    user_id               TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                  TEXT NOT NULL CHECK (kind IN ('email_address', 'phone_number')),
    value                 TEXT NOT NULL,
    verification_strategy TEXT NOT NULL,
    verified              BOOLEAN NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    UNIQUE (kind, value)
);
CREATE INDEX identifications_user ON identifications (user_id);

CREATE TABLE clients (
    id                           TEXT PRIMARY KEY,
    token                        TEXT NOT NULL UNIQUE,
    prev_token                   TEXT,
    sign_in_id                   TEXT,
    sign_up_id                   TEXT,
    last_active_session_id       TEXT,
    last_authentication_strategy TEXT,
    created_at                   BIGINT NOT NULL,
    updated_at                   BIGINT NOT NULL,
    prev_token_expires_at        BIGINT
);
CREATE INDEX clients_prev_token ON clients (prev_token);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    status          TEXT NOT NULL,
    first_factor_at BIGINT NOT NULL,
    last_active_at  BIGINT NOT NULL,
    expire_at       BIGINT NOT NULL,
    abandon_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX sessions_client ON sessions (client_id);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE sign_ins (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE sign_ups (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Every email and SMS; `seq` orders messages written in the same millisecond.
CREATE TABLE messages (
    id                 TEXT PRIMARY KEY,
    seq                BIGSERIAL NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('email', 'sms')),
    to_addr            TEXT NOT NULL,
    subject            TEXT,
    body_text          TEXT NOT NULL,
    body_html          TEXT,
    code               TEXT,
    link               TEXT,
    template           TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'captured',
    delivered_by_clerk BOOLEAN NOT NULL DEFAULT TRUE,
    delivered_via      TEXT
);
CREATE INDEX messages_to ON messages (to_addr, created_at);
CREATE INDEX messages_status ON messages (status, created_at);

-- Durable jobs: claimed (FOR UPDATE SKIP LOCKED, with a lease), run, completed.
CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL,
    priority     BIGINT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at       BIGINT NOT NULL,
    lease_until  BIGINT,
    last_error   TEXT,
    request_id   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, priority, run_at, id);
CREATE INDEX jobs_lease ON jobs (state, lease_until);

CREATE TABLE webhook_endpoints (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL DEFAULT '[]',
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    request_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

CREATE TABLE webhook_attempts (
    id               BIGSERIAL PRIMARY KEY,
    event_id         TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    job_id           BIGINT,
    attempt          BIGINT NOT NULL,
    status_code      BIGINT,
    duration_ms      BIGINT NOT NULL,
    response_excerpt TEXT,
    error            TEXT,
    succeeded        BOOLEAN NOT NULL,
    request_id       TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id);
