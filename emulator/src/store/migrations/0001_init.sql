-- Instance settings and keys: one row per key.
CREATE TABLE instance (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

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
    banned                   INTEGER NOT NULL DEFAULT 0,
    locked                   INTEGER NOT NULL DEFAULT 0,
    primary_email_address_id TEXT,
    primary_phone_number_id  TEXT,
    password_last_updated_at INTEGER,
    last_sign_in_at          INTEGER,
    last_active_at           INTEGER,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL
) STRICT;
CREATE INDEX users_created_at ON users (created_at);
CREATE INDEX users_external_id ON users (external_id);

-- Email addresses and phone numbers.
CREATE TABLE identifications (
    id                    TEXT PRIMARY KEY,
    user_id               TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                  TEXT NOT NULL CHECK (kind IN ('email_address', 'phone_number')),
    value                 TEXT NOT NULL,
    verification_strategy TEXT NOT NULL,
    verified              INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    UNIQUE (kind, value)
) STRICT;
CREATE INDEX identifications_user ON identifications (user_id);

CREATE TABLE clients (
    id                           TEXT PRIMARY KEY,
    -- The current client token and the one it replaced (still accepted, answered with the
    -- current one, so a response lost in flight or a concurrent request does not sign out).
    token                        TEXT NOT NULL UNIQUE,
    prev_token                   TEXT,
    sign_in_id                   TEXT,
    sign_up_id                   TEXT,
    last_active_session_id       TEXT,
    last_authentication_strategy TEXT,
    created_at                   INTEGER NOT NULL,
    updated_at                   INTEGER NOT NULL
) STRICT;
CREATE INDEX clients_prev_token ON clients (prev_token);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    status          TEXT NOT NULL,
    first_factor_at INTEGER NOT NULL,
    last_token      TEXT,
    last_token_exp  INTEGER,
    last_active_at  INTEGER NOT NULL,
    expire_at       INTEGER NOT NULL,
    abandon_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_client ON sessions (client_id);
CREATE INDEX sessions_user ON sessions (user_id);

-- Sign-in and sign-up attempts: state machines kept as JSON documents.
CREATE TABLE sign_ins (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE sign_ups (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Every email and SMS the emulator sends.
CREATE TABLE messages (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('email', 'sms')),
    to_addr    TEXT NOT NULL,
    subject    TEXT,
    body_text  TEXT NOT NULL,
    body_html  TEXT,
    code       TEXT,
    link       TEXT,
    template   TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_to ON messages (to_addr, created_at);
