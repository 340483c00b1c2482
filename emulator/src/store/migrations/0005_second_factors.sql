-- Second factors. A user's TOTP secret, backup-code digests and second-factor phones are one
-- JSON document (read and written whole, like sign-in attempts); it goes with its user.
CREATE TABLE user_mfa (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- When a second factor was last verified on the session (NULL: never; `fva` says -1).
ALTER TABLE sessions ADD COLUMN second_factor_at INTEGER;
