-- A replaced client token is accepted only until this time (ms), so a request in flight during
-- a rotation still succeeds, but a leaked old token dies on its own. Rows written before this
-- migration have none: their replaced tokens are no longer accepted.
ALTER TABLE clients ADD COLUMN prev_token_expires_at INTEGER;
