-- Links that sign a user in or send them somewhere: the PostgreSQL twin of SQLite's migration 9.
--
-- `redirect_urls`: the instance's allowlist of redirect URLs (Backend API `/v1/redirect_urls`),
-- which custom-scheme callbacks of native apps must be on. Instance configuration, like the
-- settings: a data reset keeps it.
CREATE TABLE redirect_urls (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- Insertion order, which breaks the list's created_at ties (ids are random).
    seq        BIGSERIAL NOT NULL
);

-- Sign-in tokens (Backend API `/v1/sign_in_tokens`, redeemed with `strategy=ticket`), known by
-- the SHA-256 of their value; they go with their user.
CREATE TABLE sign_in_tokens (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    expire_at  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Email links sent (`strategy=email_link`): one JSON document per link, read and written
-- whole, found by the SHA-256 of the link's token or of its native approval token.
CREATE TABLE email_links (
    id            TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    approval_hash TEXT UNIQUE,
    state         TEXT NOT NULL,
    expire_at     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX email_links_expire_at ON email_links (expire_at);
