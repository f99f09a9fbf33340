-- Moderation tools (issue 11): timed bans, slow mode, announcement rooms, blocked terms,
-- reports, the moderation audit log and invite links.

-- A timed ban ends by itself at expires_at (NULL: until unbanned).
ALTER TABLE bans ADD COLUMN expires_at INTEGER;

-- Slow mode (0: off), who may post, and the room's blocked terms (a JSON array of strings).
ALTER TABLE rooms ADD COLUMN slow_mode_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN posting_policy TEXT NOT NULL DEFAULT 'members'
    CHECK (posting_policy IN ('members', 'admins'));
ALTER TABLE rooms ADD COLUMN blocked_terms TEXT NOT NULL DEFAULT '[]';

-- When the member last posted under slow mode (claimed atomically, so every node counts).
ALTER TABLE memberships ADD COLUMN last_posted_at INTEGER;

CREATE TABLE moderation_log (
    id         TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    action     TEXT NOT NULL,
    actor_id   TEXT NOT NULL REFERENCES users(id),
    target_id  TEXT REFERENCES users(id),
    reason     TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX moderation_log_by_room ON moderation_log (room_id, created_at, id);

CREATE TABLE reports (
    id          TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    -- NULL once the message is deleted: a report keeps no copy of what it reported.
    message_id  TEXT REFERENCES messages(id) ON DELETE SET NULL,
    reporter_id TEXT NOT NULL REFERENCES users(id),
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
    created_at  INTEGER NOT NULL,
    resolved_by TEXT REFERENCES users(id),
    resolved_at INTEGER
);
-- One open report per message and reporter.
CREATE UNIQUE INDEX reports_one_open ON reports (message_id, reporter_id) WHERE status = 'open';
CREATE INDEX reports_by_room ON reports (room_id, status, created_at, id);
CREATE INDEX reports_by_message ON reports (message_id);

CREATE TABLE invites (
    code       TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    created_by TEXT NOT NULL REFERENCES users(id),
    max_uses   INTEGER,
    uses       INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX invites_by_room ON invites (room_id, created_at);
