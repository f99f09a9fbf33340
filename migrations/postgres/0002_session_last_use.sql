-- When each session was last used: sessions end after an idle lifetime (domain::session).
-- Rows from before this migration count as last used when they were created.
ALTER TABLE sessions ADD COLUMN last_used_at TIMESTAMPTZ;
UPDATE sessions SET last_used_at = created_at;
