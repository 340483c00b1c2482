-- Bot protection's doubt (issue #15, browser mode): since when (ms) a client must solve a
-- CAPTCHA challenge (`POST /v1/client/verify`) before its next change; NULL when it need not.
-- On the client, so it goes when the client does (sign-out everywhere, expiry, reset).
ALTER TABLE clients ADD COLUMN captcha_challenged_at INTEGER;
