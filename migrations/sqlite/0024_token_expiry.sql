-- Tokens that expire (Embedded Signup's 60-day business tokens): from 14
-- days before its end a token is refreshed with Meta; when Meta refuses,
-- the workspace's admins are warned at 14, 7 and 1 days, each once per
-- token. A new token (a refresh, a reconnect) starts with these cleared.

-- When a worker last took the token up: its claim, so that however many
-- instances run, each token is looked at once per
-- TOKEN_REFRESH_INTERVAL_SECS (Unix ms).
ALTER TABLE number_tokens ADD COLUMN expiry_checked_at INTEGER;

-- Why Meta last refused to refresh it, and when (NULL: never refused).
ALTER TABLE number_tokens ADD COLUMN refresh_refused TEXT;
ALTER TABLE number_tokens ADD COLUMN refresh_refused_at INTEGER;

-- The last warning given for this token, in days before its end (14, 7
-- or 1; NULL: none yet). Warnings only go down, so a compare-and-set on
-- it gives each threshold once, across instances and restarts.
ALTER TABLE number_tokens ADD COLUMN expiry_warned_days INTEGER;
