//! The PostgreSQL `Store`, for running several roomcast nodes on one database. It behaves
//! like the SQLite store: a join locks the room row so its capacity check and insert cannot
//! interleave with another join, a message takes its sequence number from `rooms.last_seq` in
//! the same statement that stores it, usernames are unique and looked up regardless of case.
//! A database that cannot be reached fails calls with `StoreError::Unavailable` after the
//! pool's acquire timeout; the pool reconnects by itself once the server is back.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::Row;

use super::sql::{
    ban_from, member_from, message_from, request_from, room_from, store_impl, user_from, DbId,
    DbTime, BAN_SELECT, MEMBER_SELECT, MESSAGE_SELECT, REQUEST_SELECT, ROOM_COLUMNS, ROOM_FROM,
};
use super::{Conflict, Entity, NewRoom, RoomPatch, Store, StoreError, StoreResult};
use crate::domain::model::{
    Ban, JoinRequest, Membership, Message, Role, Room, RoomAccess, RoomType, Timestamp, User,
};
use crate::domain::values::{MessageId, RoomId, UserId};

/// Connection pool limits.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most open connections per node.
    pub max_connections: u32,
    /// How long a call waits for a connection (including opening one) before it fails
    /// with `StoreError::Unavailable`.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`) and applies the PostgreSQL migrations. Several
    /// nodes may start at once: migrations are serialised by an advisory lock.
    pub async fn connect(url: &str, settings: &PoolSettings) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .context("parsing the PostgreSQL database URL")?
            .application_name("roomcast");
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            // Pings a pooled connection before use, so connections broken by a database
            // restart are replaced instead of failing the next call.
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL")?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .context("migrating the PostgreSQL database")?;
        Ok(Self { pool })
    }
}

/// SQLSTATE classes that mean "the server is not there (right now)", not "the query is wrong".
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("57P") // admin / crash shutdown, cannot connect now
        || code == "53300" // too many connections
}

fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(ref db) if db.is_unique_violation() => {
            StoreError::Conflict(Conflict::Duplicate)
        }
        sqlx::Error::Database(ref db) if db.code().is_some_and(|c| unavailable_code(&c)) => {
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

/// `db_err`, with a unique violation explained as `what`.
fn conflict_as(kind: Conflict) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match db_err(e) {
        StoreError::Conflict(_) => StoreError::Conflict(kind),
        other => other,
    }
}

fn map_rows<T>(
    rows: Vec<PgRow>,
    f: impl Fn(&PgRow) -> Result<T, sqlx::Error>,
) -> StoreResult<Vec<T>> {
    rows.iter().map(|r| f(r).map_err(db_err)).collect()
}

/// Locks a room's row until the end of the transaction, serialising joins and bans in that
/// room. `FOR NO KEY UPDATE` leaves foreign-key checks of other writers (new messages) alone.
async fn lock_room(tx: &mut sqlx::PgConnection, room: RoomId) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM rooms WHERE id = $1 FOR NO KEY UPDATE")
        .bind(room.0)
        .fetch_optional(tx)
        .await
        .map_err(db_err)?
        .map(|_| ())
        .ok_or_else(|| StoreError::NotFound(Entity::Room))
}

impl PostgresStore {
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn room_on(&self, id: RoomId) -> StoreResult<Option<Room>> {
        let row = sqlx::query(&format!("{ROOM_COLUMNS} {ROOM_FROM} WHERE r.id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(room_from).transpose().map_err(db_err)
    }

    async fn required_room(&self, id: RoomId) -> StoreResult<Room> {
        self.room_on(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(Entity::Room))
    }

    async fn required_membership(&self, room: RoomId, user: UserId) -> StoreResult<Membership> {
        self.written_membership(room, user)
            .await?
            .ok_or_else(|| StoreError::NotFound(Entity::Membership))
    }

    /// A membership just written (one pool: any connection sees it).
    async fn written_membership(
        &self,
        room: RoomId,
        user: UserId,
    ) -> StoreResult<Option<Membership>> {
        self.membership(room, user).await
    }

    /// The user (and password hash) whose name matches `username` regardless of case.
    async fn user_named(&self, username: &str) -> StoreResult<Option<PgRow>> {
        sqlx::query(
            "SELECT id, username, created_at, password_hash FROM users WHERE lower(username) = lower($1)",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)
    }
}

store_impl!(PostgresStore, like_ci = "ILIKE", {
    async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let row = self.user_named(username).await?;
        row.as_ref()
            .map(|r| Ok((user_from(r, "")?, r.try_get("password_hash")?)))
            .transpose()
            .map_err(db_err)
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let row = self.user_named(username).await?;
        row.as_ref()
            .map(|r| user_from(r, ""))
            .transpose()
            .map_err(db_err)
    }

    async fn create_room(&self, room: NewRoom) -> StoreResult<Room> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO rooms (id, name, topic, type, max_users, owner_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(room.id.0)
        .bind(&room.name)
        .bind(&room.topic)
        .bind(room.room_type.as_str())
        .bind(room.max_users)
        .bind(room.owner.0)
        .bind(room.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', $3)",
        )
        .bind(room.id.0)
        .bind(room.owner.0)
        .bind(room.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        self.required_room(room.id).await
    }

    async fn room(&self, id: RoomId) -> StoreResult<Option<Room>> {
        self.room_on(id).await
    }

    async fn room_access(
        &self,
        id: RoomId,
        user: Option<UserId>,
    ) -> StoreResult<Option<RoomAccess>> {
        let Some(room) = self.room_on(id).await? else {
            return Ok(None);
        };
        let Some(user) = user else {
            return Ok(Some(RoomAccess {
                room,
                membership: None,
                banned: false,
            }));
        };
        let membership = self.membership(id, user).await?;
        let banned = if membership.is_some() {
            false
        } else {
            sqlx::query("SELECT 1 FROM bans WHERE room_id = $1 AND user_id = $2")
                .bind(id.0)
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .is_some()
        };
        Ok(Some(RoomAccess {
            room,
            membership,
            banned,
        }))
    }

    async fn update_room(&self, id: RoomId, patch: RoomPatch) -> StoreResult<Room> {
        // One statement; a flag per field says whether the patch sets it.
        let done = sqlx::query(
            "UPDATE rooms SET \
               name = CASE WHEN $2 THEN $3 ELSE name END, \
               topic = CASE WHEN $4 THEN $5 ELSE topic END, \
               type = CASE WHEN $6 THEN $7 ELSE type END, \
               max_users = CASE WHEN $8 THEN $9 ELSE max_users END \
             WHERE id = $1",
        )
        .bind(id.0)
        .bind(patch.name.is_some())
        .bind(patch.name)
        .bind(patch.topic.is_some())
        .bind(patch.topic.flatten())
        .bind(patch.room_type.is_some())
        .bind(patch.room_type.map(RoomType::as_str))
        .bind(patch.max_users.is_some())
        .bind(patch.max_users.flatten())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(Entity::Room));
        }
        self.required_room(id).await
    }

    async fn memberships_in(&self, user: UserId, rooms: &[RoomId]) -> StoreResult<Vec<Membership>> {
        let ids: Vec<uuid::Uuid> = rooms.iter().map(|r| r.0).collect();
        let rows = sqlx::query(&format!(
            "{MEMBER_SELECT} WHERE m.user_id = $1 AND m.room_id = ANY($2)"
        ))
        .bind(user.0)
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(member_from)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn add_member(
        &self,
        room: RoomId,
        user: UserId,
        role: Role,
        capacity: i64,
        at: Timestamp,
    ) -> StoreResult<Membership> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Holding the room row, no other join (or ban) in this room can run between the
        // count and the insert. Each statement below sees what earlier holders committed.
        lock_room(&mut tx, room).await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE room_id = $1")
            .bind(room.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if count >= capacity {
            return Err(StoreError::RoomFull(capacity));
        }
        // A ban that committed after the caller checked access still wins.
        let banned = sqlx::query("SELECT 1 FROM bans WHERE room_id = $1 AND user_id = $2")
            .bind(room.0)
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .is_some();
        if banned {
            return Err(StoreError::Banned);
        }
        sqlx::query(
            "INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(room.0)
        .bind(user.0)
        .bind(role.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(conflict_as(Conflict::AlreadyMember))?;
        sqlx::query("DELETE FROM join_requests WHERE room_id = $1 AND user_id = $2")
            .bind(room.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // Read inside the transaction: a ban right after the commit must not turn a
        // successful join into an error.
        let row = sqlx::query(&format!(
            "{MEMBER_SELECT} WHERE m.room_id = $1 AND m.user_id = $2"
        ))
        .bind(room.0)
        .bind(user.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let member = member_from(&row).map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(member)
    }

    async fn set_role(&self, room: RoomId, user: UserId, role: Role) -> StoreResult<Membership> {
        // Defence in depth: the owner's role never changes here (the rule is authorize's
        // SetRole; ownership moves only by transfer_ownership).
        sqlx::query(
            "UPDATE memberships SET role = $1 WHERE room_id = $2 AND user_id = $3 AND role <> 'owner'",
        )
        .bind(role.as_str())
        .bind(room.0)
        .bind(user.0)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        self.required_membership(room, user).await
    }

    async fn transfer_ownership(
        &self,
        room: RoomId,
        from: UserId,
        to: UserId,
    ) -> StoreResult<Room> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let promoted = sqlx::query(
            "UPDATE memberships SET role = 'owner', muted = FALSE, muted_until = NULL \
             WHERE room_id = $1 AND user_id = $2",
        )
        .bind(room.0)
        .bind(to.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if promoted.rows_affected() == 0 {
            return Err(StoreError::NotFound(Entity::Membership));
        }
        sqlx::query("UPDATE memberships SET role = 'admin' WHERE room_id = $1 AND user_id = $2")
            .bind(room.0)
            .bind(from.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("UPDATE rooms SET owner_id = $1 WHERE id = $2")
            .bind(to.0)
            .bind(room.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        self.required_room(room).await
    }

    async fn ban(
        &self,
        room: RoomId,
        user: UserId,
        by: UserId,
        reason: Option<String>,
        at: Timestamp,
    ) -> StoreResult<Ban> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Serialises with joins, so a join cannot slip in after the membership is removed.
        lock_room(&mut tx, room).await?;
        sqlx::query(
            "INSERT INTO bans (room_id, user_id, banned_by, reason, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(room.0)
        .bind(user.0)
        .bind(by.0)
        .bind(&reason)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(conflict_as(Conflict::AlreadyBanned))?;
        for table in ["memberships", "join_requests"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE room_id = $1 AND user_id = $2"
            ))
            .bind(room.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let row = sqlx::query(&format!(
            "{BAN_SELECT} WHERE b.room_id = $1 AND b.user_id = $2"
        ))
        .bind(room.0)
        .bind(user.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        ban_from(&row).map_err(db_err)
    }

    async fn create_join_request(
        &self,
        room: RoomId,
        user: UserId,
        message: Option<String>,
        at: Timestamp,
    ) -> StoreResult<JoinRequest> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Serialised with bans on the room row: a ban that committed after the caller
        // checked access still wins.
        lock_room(&mut tx, room).await?;
        let done = sqlx::query(
            "INSERT INTO join_requests (room_id, user_id, message, created_at) SELECT $1, $2, $3, $4 \
             WHERE NOT EXISTS (SELECT 1 FROM bans WHERE room_id = $1 AND user_id = $2)",
        )
        .bind(room.0)
        .bind(user.0)
        .bind(&message)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(conflict_as(Conflict::JoinRequestPending))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Banned);
        }
        tx.commit().await.map_err(db_err)?;
        self.join_request(room, user)
            .await?
            .ok_or_else(|| StoreError::NotFound(Entity::JoinRequest))
    }

    async fn insert_message(
        &self,
        id: MessageId,
        room: RoomId,
        author: &User,
        body: String,
        at: Timestamp,
    ) -> StoreResult<Message> {
        // One statement, so one implicit transaction: the room row stays locked from taking
        // the next sequence number until the message row is committed, so messages of a room
        // become visible in sequence order.
        let row = sqlx::query(
            "WITH s AS (UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $2 RETURNING last_seq), \
                  m AS (INSERT INTO messages (id, room_id, seq, author_id, body, created_at) \
                        SELECT $1, $2, s.last_seq, $3, $4, $5 FROM s RETURNING seq) \
             SELECT m.seq FROM m",
        )
        .bind(id.0)
        .bind(room.0)
        .bind(author.id.0)
        .bind(&body)
        .bind(at)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound(Entity::Room))?;
        let seq: i64 = row.try_get("seq").map_err(db_err)?;
        Ok(Message {
            id,
            room_id: room,
            seq,
            author: author.clone(),
            body,
            created_at: at,
        })
    }
});
