//! What the two SQL backends share: the column lists of every read and the decoders that
//! turn a row into a domain value, written once. The dialects differ in how a value is
//! stored (SQLite: ids as UUID text, times as microseconds since the epoch, flags as 0/1;
//! PostgreSQL: UUID, TIMESTAMPTZ, BOOLEAN), which `SqlRow` hides: a decoder asks a row for
//! "the id in column c" and each backend answers from its own encoding.
//!
//! `store_impl!` writes the `Store` methods whose statements are the same in both dialects
//! (parameters are `$N`, which sqlx-sqlite binds by number too; ids and times are bound as
//! `DbId`/`DbTime`, which each dialect encodes its own way). Each backend invokes it with
//! the methods that truly differ: transactions and locking, upserts, case-insensitive
//! names, SQLite's group commit.

mod codec;

/// SQLite's encodings, for the statements `sqlite.rs` still writes itself.
pub(crate) mod codec_sqlite {
    pub(crate) use super::codec::{from_micros, micros};
}

use crate::domain::model::{Ban, JoinRequest, Membership, Message, Role, Room, RoomType, User};
use crate::domain::values::{MessageId, RoomId, UserId};

pub(crate) use codec::{DbId, DbTime, SqlRow};

/// A room with its member count and owner (`o_` columns); add `WHERE`/`ORDER BY`.
pub(crate) const ROOM_COLUMNS: &str =
    "SELECT r.id, r.name, r.topic, r.type, r.max_users, r.created_at, r.last_seq, \
     (SELECT COUNT(*) FROM memberships mc WHERE mc.room_id = r.id) AS member_count, \
     o.id AS o_id, o.username AS o_username, o.created_at AS o_created_at";
pub(crate) const ROOM_FROM: &str = "FROM rooms r JOIN users o ON o.id = r.owner_id";

/// A membership with its user (`u_` columns).
pub(crate) const MEMBER_SELECT: &str =
    "SELECT m.room_id, m.role, m.joined_at, m.muted, m.muted_until, \
     u.id AS u_id, u.username AS u_username, u.created_at AS u_created_at \
     FROM memberships m JOIN users u ON u.id = m.user_id";

/// A message with its author (`u_` columns).
pub(crate) const MESSAGE_SELECT: &str = "SELECT m.id, m.room_id, m.seq, m.body, m.created_at, \
     u.id AS u_id, u.username AS u_username, u.created_at AS u_created_at \
     FROM messages m JOIN users u ON u.id = m.author_id";

/// A ban with the banned user (`u_`) and who banned them (`a_`).
pub(crate) const BAN_SELECT: &str = "SELECT b.room_id, b.reason, b.created_at, \
     u.id AS u_id, u.username AS u_username, u.created_at AS u_created_at, \
     a.id AS a_id, a.username AS a_username, a.created_at AS a_created_at \
     FROM bans b JOIN users u ON u.id = b.user_id JOIN users a ON a.id = b.banned_by";

/// A join request with its user (`u_` columns).
pub(crate) const REQUEST_SELECT: &str = "SELECT j.room_id, j.message, j.created_at, \
     u.id AS u_id, u.username AS u_username, u.created_at AS u_created_at \
     FROM join_requests j JOIN users u ON u.id = j.user_id";

fn bad(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("bad {what} {value:?} in storage").into())
}

/// The user in the columns `{prefix}id`, `{prefix}username`, `{prefix}created_at`.
pub(crate) fn user_from<R: SqlRow>(row: &R, prefix: &str) -> Result<User, sqlx::Error> {
    Ok(User {
        id: UserId(row.uuid(&format!("{prefix}id"))?),
        username: row.text(&format!("{prefix}username"))?,
        created_at: row.time(&format!("{prefix}created_at"))?,
    })
}

pub(crate) fn room_type_from<R: SqlRow>(row: &R, col: &str) -> Result<RoomType, sqlx::Error> {
    let ty = row.text(col)?;
    RoomType::from_db(&ty).ok_or_else(|| bad("room type", &ty))
}

pub(crate) fn role_from<R: SqlRow>(row: &R, col: &str) -> Result<Role, sqlx::Error> {
    let role = row.text(col)?;
    Role::from_db(&role).ok_or_else(|| bad("role", &role))
}

/// A row of `ROOM_COLUMNS`.
pub(crate) fn room_from<R: SqlRow>(row: &R) -> Result<Room, sqlx::Error> {
    Ok(Room {
        id: RoomId(row.uuid("id")?),
        name: row.text("name")?,
        topic: row.opt_text("topic")?,
        room_type: room_type_from(row, "type")?,
        max_users: row.opt_int("max_users")?,
        member_count: row.int("member_count")?,
        owner: user_from(row, "o_")?,
        created_at: row.time("created_at")?,
        last_seq: row.int("last_seq")?,
    })
}

/// A row of `MEMBER_SELECT`.
pub(crate) fn member_from<R: SqlRow>(row: &R) -> Result<Membership, sqlx::Error> {
    Ok(Membership {
        user: user_from(row, "u_")?,
        room_id: RoomId(row.uuid("room_id")?),
        role: role_from(row, "role")?,
        joined_at: row.time("joined_at")?,
        muted: row.flag("muted")?,
        muted_until: row.opt_time("muted_until")?,
    })
}

/// A row of `MESSAGE_SELECT`.
pub(crate) fn message_from<R: SqlRow>(row: &R) -> Result<Message, sqlx::Error> {
    Ok(Message {
        id: MessageId(row.uuid("id")?),
        room_id: RoomId(row.uuid("room_id")?),
        seq: row.int("seq")?,
        author: user_from(row, "u_")?,
        body: row.text("body")?,
        created_at: row.time("created_at")?,
    })
}

/// A row of `BAN_SELECT`.
pub(crate) fn ban_from<R: SqlRow>(row: &R) -> Result<Ban, sqlx::Error> {
    Ok(Ban {
        room_id: RoomId(row.uuid("room_id")?),
        user: user_from(row, "u_")?,
        banned_by: user_from(row, "a_")?,
        reason: row.opt_text("reason")?,
        created_at: row.time("created_at")?,
    })
}

/// A row of `REQUEST_SELECT`.
pub(crate) fn request_from<R: SqlRow>(row: &R) -> Result<JoinRequest, sqlx::Error> {
    Ok(JoinRequest {
        room_id: RoomId(row.uuid("room_id")?),
        user: user_from(row, "u_")?,
        message: row.opt_text("message")?,
        created_at: row.time("created_at")?,
    })
}

/// `impl Store for $store`: the methods shared by both dialects, followed by `$own`, the
/// backend's own (and `required_membership`/`written_membership`, which read back a
/// membership it just wrote). `like_ci` is the dialect's case-insensitive LIKE (SQLite's LIKE already
/// ignores ASCII case; PostgreSQL needs ILIKE). The backend provides `fn reader(&self)` and `fn writer(&self)` (its pools)
/// and `fn db_err(sqlx::Error) -> StoreError` in scope.
macro_rules! store_impl {
    ($store:ty, like_ci = $like:literal, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::domain::ports::Store for $store {
            $($own)*

            async fn create_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(DbId(user.id.0))
                .bind(&user.username)
                .bind(password_hash)
                .bind(DbTime(user.created_at))
                .execute(self.writer())
                .await
                .map_err(|e| match db_err(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(Conflict::UsernameTaken),
                    other => other,
                })?;
                Ok(())
            }

            async fn create_session(
                &self,
                token_hash: &[u8],
                user: UserId,
                at: Timestamp,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, created_at, last_used_at) \
                     VALUES ($1, $2, $3, $3)",
                )
                .bind(token_hash)
                .bind(DbId(user.0))
                .bind(DbTime(at))
                .execute(self.writer())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn session(
                &self,
                token_hash: &[u8],
            ) -> StoreResult<Option<(User, $crate::domain::session::SessionTimes)>> {
                let row = sqlx::query(
                    "SELECT u.id, u.username, u.created_at, s.created_at AS s_created_at, \
                     COALESCE(s.last_used_at, s.created_at) AS s_last_used_at \
                     FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.token_hash = $1 AND s.revoked_at IS NULL",
                )
                .bind(token_hash)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                row.as_ref()
                    .map(|r| -> Result<_, sqlx::Error> {
                        let times = $crate::domain::session::SessionTimes {
                            created_at: $crate::store::sql::SqlRow::time(r, "s_created_at")?,
                            last_used_at: $crate::store::sql::SqlRow::time(r, "s_last_used_at")?,
                        };
                        Ok((user_from(r, "")?, times))
                    })
                    .transpose()
                    .map_err(db_err)
            }

            async fn membership(&self, room: RoomId, user: UserId) -> StoreResult<Option<Membership>> {
                let row = sqlx::query(&format!(
                    "{MEMBER_SELECT} WHERE m.room_id = $1 AND m.user_id = $2"
                ))
                .bind(DbId(room.0))
                .bind(DbId(user.0))
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                row.as_ref().map(member_from).transpose().map_err(db_err)
            }

            async fn list_rooms(
                &self,
                viewer: Option<UserId>,
                search: Option<&str>,
                after: Option<&$crate::domain::values::RoomCursor>,
                limit: u32,
            ) -> StoreResult<Vec<Room>> {
                let pattern = search.map(|s| {
                    let escaped = s
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    format!("%{escaped}%")
                });
                // Pages in creation order; ids (UUIDs, whose text sorts like their bytes)
                // break ties the same way on both dialects.
                let rows = sqlx::query(&format!(
                    "{ROOM_COLUMNS} {ROOM_FROM} WHERE (r.type <> 'private' OR EXISTS \
                       (SELECT 1 FROM memberships vm WHERE vm.room_id = r.id AND vm.user_id = $1)) \
                     AND ($2 IS NULL OR r.name {like} $2 ESCAPE '\\' OR r.topic {like} $2 ESCAPE '\\') \
                     AND ($3 IS NULL OR r.created_at > $3 OR (r.created_at = $3 AND r.id > $4)) \
                     ORDER BY r.created_at, r.id LIMIT $5",
                    like = $like
                ))
                .bind(viewer.map(|v| DbId(v.0)))
                .bind(&pattern)
                .bind(after.map(|a| DbTime(a.created_at)))
                .bind(after.map(|a| DbId(a.id.0)))
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                map_rows(rows, room_from)
            }

            async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
                let row = sqlx::query("SELECT id, username, created_at FROM users WHERE id = $1")
                    .bind(DbId(id.0))
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_err)?;
                row.as_ref().map(|r| user_from(r, "")).transpose().map_err(db_err)
            }

            async fn touch_session(&self, token_hash: &[u8], at: Timestamp) -> StoreResult<()> {
                // Never moves a use back (two nodes may touch out of order).
                sqlx::query(
                    "UPDATE sessions SET last_used_at = $1 WHERE token_hash = $2 \
                     AND revoked_at IS NULL AND COALESCE(last_used_at, created_at) < $1",
                )
                .bind(DbTime(at))
                .bind(token_hash)
                .execute(self.writer())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn revoke_session(&self, token_hash: &[u8], at: Timestamp) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
                )
                .bind(DbTime(at))
                .bind(token_hash)
                .execute(self.writer())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn delete_room(&self, id: RoomId) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM rooms WHERE id = $1")
                    .bind(DbId(id.0))
                    .execute(self.writer())
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() > 0)
            }

            async fn members(&self, room: RoomId) -> StoreResult<Vec<Membership>> {
                let rows = sqlx::query(&format!(
                    "{MEMBER_SELECT} WHERE m.room_id = $1 ORDER BY CASE m.role \
                     WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, m.joined_at, lower(u.username)"
                ))
                .bind(DbId(room.0))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                map_rows(rows, member_from)
            }

            async fn remove_member(&self, room: RoomId, user: UserId) -> StoreResult<bool> {
                // Defence in depth: the owner is never removed (the rule is `authorize`).
                let done = sqlx::query(
                    "DELETE FROM memberships WHERE room_id = $1 AND user_id = $2 AND role <> 'owner'",
                )
                .bind(DbId(room.0))
                .bind(DbId(user.0))
                .execute(self.writer())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() > 0)
            }

            async fn timed_mutes(&self) -> StoreResult<Vec<(RoomId, UserId, Timestamp)>> {
                let rows = sqlx::query(
                    "SELECT room_id, user_id, muted_until FROM memberships \
                     WHERE muted = TRUE AND muted_until IS NOT NULL",
                )
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            RoomId($crate::store::sql::SqlRow::uuid(r, "room_id")?),
                            UserId($crate::store::sql::SqlRow::uuid(r, "user_id")?),
                            $crate::store::sql::SqlRow::time(r, "muted_until")?,
                        ))
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(db_err)
            }

            async fn set_mute(
                &self,
                room: RoomId,
                user: UserId,
                muted: bool,
                until: Option<Timestamp>,
            ) -> StoreResult<Membership> {
                sqlx::query(
                    "UPDATE memberships SET muted = $1, muted_until = $2 \
                     WHERE room_id = $3 AND user_id = $4",
                )
                .bind(muted)
                .bind(until.map(DbTime))
                .bind(DbId(room.0))
                .bind(DbId(user.0))
                .execute(self.writer())
                .await
                .map_err(db_err)?;
                self.required_membership(room, user).await
            }

            async fn lift_mute(
                &self,
                room: RoomId,
                user: UserId,
                until: Timestamp,
            ) -> StoreResult<Option<Membership>> {
                // Only the mute that ends at `until`: of several nodes, one lifts it.
                let done = sqlx::query(
                    "UPDATE memberships SET muted = FALSE, muted_until = NULL \
                     WHERE room_id = $1 AND user_id = $2 AND muted = TRUE AND muted_until = $3",
                )
                .bind(DbId(room.0))
                .bind(DbId(user.0))
                .bind(DbTime(until))
                .execute(self.writer())
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                self.written_membership(room, user).await
            }

            async fn unban(&self, room: RoomId, user: UserId) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM bans WHERE room_id = $1 AND user_id = $2")
                    .bind(DbId(room.0))
                    .bind(DbId(user.0))
                    .execute(self.writer())
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() > 0)
            }

            async fn bans(&self, room: RoomId) -> StoreResult<Vec<Ban>> {
                let rows = sqlx::query(&format!(
                    "{BAN_SELECT} WHERE b.room_id = $1 ORDER BY b.created_at"
                ))
                .bind(DbId(room.0))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                map_rows(rows, ban_from)
            }

            async fn join_requests(&self, room: RoomId) -> StoreResult<Vec<JoinRequest>> {
                let rows = sqlx::query(&format!(
                    "{REQUEST_SELECT} WHERE j.room_id = $1 ORDER BY j.created_at"
                ))
                .bind(DbId(room.0))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                map_rows(rows, request_from)
            }

            async fn join_request(&self, room: RoomId, user: UserId) -> StoreResult<Option<JoinRequest>> {
                let row = sqlx::query(&format!(
                    "{REQUEST_SELECT} WHERE j.room_id = $1 AND j.user_id = $2"
                ))
                .bind(DbId(room.0))
                .bind(DbId(user.0))
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                row.as_ref().map(request_from).transpose().map_err(db_err)
            }

            async fn delete_join_request(&self, room: RoomId, user: UserId) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM join_requests WHERE room_id = $1 AND user_id = $2")
                    .bind(DbId(room.0))
                    .bind(DbId(user.0))
                    .execute(self.writer())
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() > 0)
            }

            async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
                let row = sqlx::query(&format!("{MESSAGE_SELECT} WHERE m.id = $1"))
                    .bind(DbId(id.0))
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_err)?;
                row.as_ref().map(message_from).transpose().map_err(db_err)
            }

            async fn delete_message(&self, id: MessageId) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM messages WHERE id = $1")
                    .bind(DbId(id.0))
                    .execute(self.writer())
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() > 0)
            }

            async fn messages_before(
                &self,
                room: RoomId,
                before: Option<i64>,
                limit: u32,
            ) -> StoreResult<Vec<Message>> {
                let rows = sqlx::query(&format!(
                    "{MESSAGE_SELECT} WHERE m.room_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR m.seq < $2) \
                     ORDER BY m.seq DESC LIMIT $3"
                ))
                .bind(DbId(room.0))
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                map_rows(rows, message_from)
            }

            async fn messages_after(
                &self,
                room: RoomId,
                after: i64,
                up_to: Option<i64>,
                limit: u32,
            ) -> StoreResult<Vec<Message>> {
                let rows = sqlx::query(&format!(
                    "{MESSAGE_SELECT} WHERE m.room_id = $1 AND m.seq > $2 \
                     AND (CAST($3 AS BIGINT) IS NULL OR m.seq <= $3) ORDER BY m.seq LIMIT $4"
                ))
                .bind(DbId(room.0))
                .bind(after)
                .bind(up_to)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                map_rows(rows, message_from)
            }
        }
    };
}
pub(crate) use store_impl;
