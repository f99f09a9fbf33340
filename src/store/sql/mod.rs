//! What the two SQL backends share: the column lists of every read and the decoders that
//! turn a row into a domain value, written once. The dialects differ in how a value is
//! stored (SQLite: ids as UUID text, times as microseconds since the epoch, flags as 0/1;
//! PostgreSQL: UUID, TIMESTAMPTZ, BOOLEAN), which `SqlRow` hides: a decoder asks a row for
//! "the id in column c" and each backend answers from its own encoding.
//!
//! Still per backend (`sqlite.rs`, `postgres.rs`): statements with parameters, transactions
//! and locking, SQLite's group commit.

mod codec;

/// SQLite's encodings, for the statements `sqlite.rs` still writes itself.
pub(crate) mod codec_sqlite {
    pub(crate) use super::codec::{from_micros, micros};
}

use crate::domain::model::{Ban, JoinRequest, Membership, Message, Role, Room, RoomType, User};
use crate::domain::values::{MessageId, RoomId, UserId};

pub(crate) use codec::SqlRow;

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
