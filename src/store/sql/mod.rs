//! What the two SQL backends share: the column lists of every read and the decoders that
//! turn a row into a domain value, written once. The dialects differ in how a value is
//! stored (SQLite: ids as UUID text, times as microseconds since the epoch, flags as 0/1;
//! PostgreSQL: UUID, TIMESTAMPTZ, BOOLEAN), which `SqlRow` hides: a decoder asks a row for
//! "the id in column c" and each backend answers from its own encoding.
//!
//! `store_impl!` (in `methods.rs`) writes the `Store` impl once for both dialects
//! (parameters are `$N`, which sqlx-sqlite binds by number too; ids and times are bound as
//! `DbId`/`DbTime`, which each dialect encodes its own way). What truly differs is a few
//! words (`Dialect`: case-insensitive matching, row locks) and how a message is stored
//! (each backend's `store_message`: SQLite's group commit, PostgreSQL's one statement).

mod codec;
mod methods;

use sqlx::error::DatabaseError;

use crate::domain::model::{
    Ban, Invite, JoinRequest, Membership, Message, ModerationAction, ModerationEntry,
    PostingPolicy, Report, ReportStatus, Role, Room, RoomAccess, RoomType, Timestamp, User,
};
use crate::domain::ports::{Conflict, StoreError, StoreResult};
use crate::domain::terms::BlockedTerms;
use crate::domain::values::{EntryId, InviteCode, MessageId, ReportId, RoomId, UserId};

pub(crate) use codec::{DbId, DbTime, SqlRow};
pub(crate) use methods::store_impl;

/// A room with its member count and owner (`o_` columns); add `WHERE`/`ORDER BY`.
pub(crate) const ROOM_COLUMNS: &str =
    "SELECT r.id, r.name, r.topic, r.type, r.max_users, r.created_at, r.last_seq, \
     r.slow_mode_seconds, r.posting_policy, r.blocked_terms, \
     (SELECT COUNT(*) FROM memberships mc WHERE mc.room_id = r.id) AS member_count, \
     o.id AS o_id, o.username AS o_username, o.created_at AS o_created_at";
pub(crate) const ROOM_FROM: &str = "FROM rooms r JOIN users o ON o.id = r.owner_id";

/// A membership with its user (`u_` columns).
pub(crate) const MEMBER_SELECT: &str =
    "SELECT m.room_id, m.role, m.joined_at, m.muted, m.muted_until, m.last_read_seq, \
     u.id AS u_id, u.username AS u_username, u.created_at AS u_created_at \
     FROM memberships m JOIN users u ON u.id = m.user_id";

/// A message with its author (`u_` columns).
pub(crate) const MESSAGE_SELECT: &str = "SELECT m.id, m.room_id, m.seq, m.body, m.created_at, \
     u.id AS u_id, u.username AS u_username, u.created_at AS u_created_at \
     FROM messages m JOIN users u ON u.id = m.author_id";

/// A ban with the banned user (`u_`) and who banned them (`a_`).
pub(crate) const BAN_SELECT: &str = "SELECT b.room_id, b.reason, b.created_at, b.expires_at, \
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
        slow_mode_seconds: row.int("slow_mode_seconds")?,
        posting_policy: {
            let p = row.text("posting_policy")?;
            PostingPolicy::from_db(&p).ok_or_else(|| bad("posting policy", &p))?
        },
        blocked_terms: {
            let json = row.text("blocked_terms")?;
            let terms: Vec<String> =
                serde_json::from_str(&json).map_err(|_| bad("blocked terms", &json))?;
            BlockedTerms::from_stored(terms)
        },
    })
}

/// The blocked terms as the `rooms.blocked_terms` column stores them (a JSON array).
pub(crate) fn terms_json(terms: &BlockedTerms) -> String {
    serde_json::to_string(terms.as_slice()).unwrap_or_else(|_| "[]".to_owned())
}

/// A row of `MEMBER_SELECT`.
pub(crate) fn member_from<R: SqlRow>(row: &R) -> Result<Membership, sqlx::Error> {
    member_cols(row, "", "u_", RoomId(row.uuid("room_id")?))
}

/// The membership in `room` in the columns `{prefix}role`, `{prefix}joined_at`,
/// `{prefix}muted`, `{prefix}muted_until`, `{prefix}last_read_seq`, of the user in the
/// `{user}` columns.
fn member_cols<R: SqlRow>(
    row: &R,
    prefix: &str,
    user: &str,
    room: RoomId,
) -> Result<Membership, sqlx::Error> {
    Ok(Membership {
        user: user_from(row, user)?,
        room_id: room,
        role: role_from(row, &format!("{prefix}role"))?,
        joined_at: row.time(&format!("{prefix}joined_at"))?,
        muted: row.flag(&format!("{prefix}muted"))?,
        muted_until: row.opt_time(&format!("{prefix}muted_until"))?,
        last_read_seq: row.int(&format!("{prefix}last_read_seq"))?,
    })
}

/// Added to `ROOM_COLUMNS ... ROOM_FROM`: the viewer's membership (`vm_`, `vu_` columns,
/// NULL when there is none) and whether the viewer (`$1`, may be NULL) is banned.
pub(crate) const ACCESS_COLUMNS: &str =
    ", vm.role AS vm_role, vm.joined_at AS vm_joined_at, vm.muted AS vm_muted, \
     vm.muted_until AS vm_muted_until, vm.last_read_seq AS vm_last_read_seq, \
     vu.id AS vu_id, vu.username AS vu_username, vu.created_at AS vu_created_at, \
     EXISTS (SELECT 1 FROM bans b WHERE b.room_id = r.id AND b.user_id = $1) AS banned, \
     (SELECT b.expires_at FROM bans b WHERE b.room_id = r.id AND b.user_id = $1) AS ban_expires_at";
pub(crate) const ACCESS_JOINS: &str =
    "LEFT JOIN memberships vm ON vm.room_id = r.id AND vm.user_id = $1 \
     LEFT JOIN users vu ON vu.id = vm.user_id";

/// A row of `ROOM_COLUMNS ACCESS_COLUMNS ROOM_FROM ACCESS_JOINS`.
pub(crate) fn access_from<R: SqlRow>(row: &R) -> Result<RoomAccess, sqlx::Error> {
    let room = room_from(row)?;
    let membership = match row.opt_text("vm_role")? {
        None => None,
        Some(_) => Some(member_cols(row, "vm_", "vu_", room.id)?),
    };
    let banned = membership.is_none() && row.flag("banned")?;
    Ok(RoomAccess {
        room,
        membership,
        banned,
        ban_expires_at: row.opt_time("ban_expires_at")?,
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

/// The columns every record about a user in a room has: `room_id`, the user (`u_`) and
/// `created_at`.
fn record_of<R: SqlRow>(row: &R) -> Result<(RoomId, User, Timestamp), sqlx::Error> {
    Ok((
        RoomId(row.uuid("room_id")?),
        user_from(row, "u_")?,
        row.time("created_at")?,
    ))
}

/// A row of `BAN_SELECT`.
pub(crate) fn ban_from<R: SqlRow>(row: &R) -> Result<Ban, sqlx::Error> {
    let (room_id, user, created_at) = record_of(row)?;
    let (banned_by, reason) = (user_from(row, "a_")?, row.opt_text("reason")?);
    Ok(Ban {
        room_id,
        user,
        banned_by,
        reason,
        created_at,
        expires_at: row.opt_time("expires_at")?,
    })
}

/// The user in the `{prefix}` columns of an outer join, None when the join found none.
fn opt_user_from<R: SqlRow>(row: &R, prefix: &str) -> Result<Option<User>, sqlx::Error> {
    match row.opt_text(&format!("{prefix}username"))? {
        None => Ok(None),
        Some(_) => user_from(row, prefix).map(Some),
    }
}

/// A moderation log entry with its actor (`u_`) and target (`t_`, may be NULL).
pub(crate) const ENTRY_SELECT: &str = "SELECT l.id, l.room_id, l.action, l.reason, l.created_at, \
     u.id AS u_id, u.username AS u_username, u.created_at AS u_created_at, \
     t.id AS t_id, t.username AS t_username, t.created_at AS t_created_at \
     FROM moderation_log l JOIN users u ON u.id = l.actor_id LEFT JOIN users t ON t.id = l.target_id";

/// A row of `ENTRY_SELECT`.
pub(crate) fn entry_from<R: SqlRow>(row: &R) -> Result<ModerationEntry, sqlx::Error> {
    let action = row.text("action")?;
    Ok(ModerationEntry {
        id: EntryId(row.uuid("id")?),
        room_id: RoomId(row.uuid("room_id")?),
        action: ModerationAction::from_db(&action).ok_or_else(|| bad("action", &action))?,
        actor: user_from(row, "u_")?,
        target: opt_user_from(row, "t_")?,
        reason: row.opt_text("reason")?,
        created_at: row.time("created_at")?,
    })
}

/// A report with its reporter (`u_`), who decided it (`d_`), and its message (`m_`, by
/// `a_`) while it exists.
pub(crate) const REPORT_SELECT: &str =
    "SELECT p.id, p.room_id, p.reason, p.status, p.created_at, p.resolved_at, \
     u.id AS u_id, u.username AS u_username, u.created_at AS u_created_at, \
     d.id AS d_id, d.username AS d_username, d.created_at AS d_created_at, \
     m.id AS m_id, m.seq AS m_seq, m.body AS m_body, m.created_at AS m_created_at, \
     a.id AS a_id, a.username AS a_username, a.created_at AS a_created_at \
     FROM reports p JOIN users u ON u.id = p.reporter_id \
     LEFT JOIN users d ON d.id = p.resolved_by \
     LEFT JOIN messages m ON m.id = p.message_id \
     LEFT JOIN users a ON a.id = m.author_id";

/// A row of `REPORT_SELECT`.
pub(crate) fn report_from<R: SqlRow>(row: &R) -> Result<Report, sqlx::Error> {
    let room_id = RoomId(row.uuid("room_id")?);
    let status = row.text("status")?;
    let message = match row.opt_text("m_body")? {
        None => None,
        Some(body) => Some(Message {
            id: MessageId(row.uuid("m_id")?),
            room_id,
            seq: row.int("m_seq")?,
            author: user_from(row, "a_")?,
            body,
            created_at: row.time("m_created_at")?,
        }),
    };
    Ok(Report {
        id: ReportId(row.uuid("id")?),
        room_id,
        message,
        reporter: user_from(row, "u_")?,
        reason: row.text("reason")?,
        status: ReportStatus::from_db(&status).ok_or_else(|| bad("report status", &status))?,
        created_at: row.time("created_at")?,
        resolved_by: opt_user_from(row, "d_")?,
        resolved_at: row.opt_time("resolved_at")?,
    })
}

/// An invite with who created it (`u_`).
pub(crate) const INVITE_SELECT: &str =
    "SELECT i.code, i.room_id, i.max_uses, i.uses, i.expires_at, i.revoked_at, i.created_at, \
     u.id AS u_id, u.username AS u_username, u.created_at AS u_created_at \
     FROM invites i JOIN users u ON u.id = i.created_by";

/// A row of `INVITE_SELECT`.
pub(crate) fn invite_from<R: SqlRow>(row: &R) -> Result<Invite, sqlx::Error> {
    let (room_id, created_by, created_at) = record_of(row)?;
    Ok(Invite {
        code: InviteCode::from_stored(row.text("code")?),
        room_id,
        created_by,
        max_uses: row.opt_int("max_uses")?,
        uses: row.int("uses")?,
        expires_at: row.opt_time("expires_at")?,
        revoked: row.opt_time("revoked_at")?.is_some(),
        created_at,
    })
}

/// A row of `REQUEST_SELECT`.
pub(crate) fn request_from<R: SqlRow>(row: &R) -> Result<JoinRequest, sqlx::Error> {
    let (room_id, user, created_at) = record_of(row)?;
    let message = row.opt_text("message")?;
    Ok(JoinRequest {
        room_id,
        user,
        message,
        created_at,
    })
}

/// The words in which the dialects differ.
pub(crate) trait Dialect {
    /// A LIKE that ignores case.
    const LIKE_CI: &'static str;
    /// A condition on `username` matching `$1` regardless of case.
    const USERNAME_IS: &'static str;
    /// What `SELECT 1 FROM rooms WHERE id = $1` needs to lock the row until the end of the
    /// transaction.
    const LOCK_ROOM: &'static str;
}

/// `pool`, with `migrator`'s migrations applied (sqlx serialises nodes starting at once).
pub(crate) async fn migrated<DB>(
    pool: sqlx::Pool<DB>,
    migrator: &sqlx::migrate::Migrator,
    name: &str,
) -> anyhow::Result<sqlx::Pool<DB>>
where
    DB: sqlx::Database,
    DB::Connection: sqlx::migrate::Migrate,
{
    use anyhow::Context as _;
    migrator
        .run(&pool)
        .await
        .with_context(|| format!("migrating the {name} database"))?;
    Ok(pool)
}

/// Every row through `decode`.
pub(crate) fn map_rows<R: SqlRow, T>(
    rows: Vec<R>,
    decode: impl Fn(&R) -> Result<T, sqlx::Error>,
) -> StoreResult<Vec<T>> {
    rows.iter().map(|r| decode(r).map_err(db_err)).collect()
}

/// A driver error in the domain's terms: a unique violation is a `Conflict`, a database that
/// is not there (right now) is `Unavailable`, anything else is `Other`.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(ref db) if db.is_unique_violation() => {
            StoreError::Conflict(Conflict::Duplicate)
        }
        sqlx::Error::Database(ref db) if unavailable(db.as_ref()) => {
            StoreError::Unavailable(e.into())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.into()),
        other => StoreError::Other(other.into()),
    }
}

/// `db_err`, with a unique violation explained as `kind`.
pub(crate) fn conflict_as(kind: Conflict) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match db_err(e) {
        StoreError::Conflict(_) => StoreError::Conflict(kind),
        other => other,
    }
}

/// Errors that mean "the server cannot serve now", not "the statement is wrong". SQLite:
/// BUSY and LOCKED past the busy timeout (sqlx reports extended codes, whose low byte is the
/// primary one). PostgreSQL: SQLSTATE class 08 (connection exception), 57P (shutdown, cannot
/// connect now) and 53300 (too many connections).
fn unavailable(db: &dyn DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
    } else {
        code.starts_with("08") || code.starts_with("57P") || code == "53300"
    }
}
