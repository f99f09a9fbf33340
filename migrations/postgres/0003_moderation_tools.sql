-- Moderation tools (issue 11): the same tables and rules as migrations/sqlite, in native
-- types.

ALTER TABLE bans ADD COLUMN expires_at TIMESTAMPTZ;

ALTER TABLE rooms ADD COLUMN slow_mode_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN posting_policy TEXT NOT NULL DEFAULT 'members'
    CHECK (posting_policy IN ('members', 'admins'));
ALTER TABLE rooms ADD COLUMN blocked_terms TEXT NOT NULL DEFAULT '[]';

ALTER TABLE memberships ADD COLUMN last_posted_at TIMESTAMPTZ;

CREATE TABLE moderation_log (
    id         UUID PRIMARY KEY,
    room_id    UUID NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    action     TEXT NOT NULL,
    actor_id   UUID NOT NULL REFERENCES users(id),
    target_id  UUID REFERENCES users(id),
    reason     TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX moderation_log_by_room ON moderation_log (room_id, created_at, id);

CREATE TABLE reports (
    id          UUID PRIMARY KEY,
    room_id     UUID NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    message_id  UUID REFERENCES messages(id) ON DELETE SET NULL,
    reporter_id UUID NOT NULL REFERENCES users(id),
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
    created_at  TIMESTAMPTZ NOT NULL,
    resolved_by UUID REFERENCES users(id),
    resolved_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX reports_one_open ON reports (message_id, reporter_id) WHERE status = 'open';
CREATE INDEX reports_by_room ON reports (room_id, status, created_at, id);
CREATE INDEX reports_by_message ON reports (message_id);

CREATE TABLE invites (
    code       TEXT PRIMARY KEY,
    room_id    UUID NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    created_by UUID NOT NULL REFERENCES users(id),
    max_uses   BIGINT,
    uses       BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX invites_by_room ON invites (room_id, created_at);
