-- Handshake nonces (issue #15, browser mode): `GET /v1/client/handshake?format=nonce` hands the
-- app's backend a nonce, which it redeems once through the Backend API
-- (`GET /v1/clients/handshake_payload`) for the cookies to set. Known by the SHA-256 of the
-- nonce; the cookies are made at redemption, so no session token is stored. Short-lived: a
-- redemption deletes the expired ones.
CREATE TABLE handshake_nonces (
    nonce_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    session_id TEXT,
    azp        TEXT,
    expire_at  BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX handshake_nonces_expire_at ON handshake_nonces (expire_at);
