-- Session tokens are no longer stored: the newest one of each session lives in memory only
-- (the token cache), so reading a client writes nothing. Tokens stored before are dropped with
-- their columns; the next view of an active session signs a fresh one.
ALTER TABLE sessions DROP COLUMN last_token;
ALTER TABLE sessions DROP COLUMN last_token_exp;
