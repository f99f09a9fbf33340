//! The embedded SQLite `Store` (WAL). Writes go through a one-connection pool so they queue
//! in order instead of failing with SQLITE_BUSY; reads use a separate pool and never wait for
//! writers. Timestamps are stored as microseconds since the epoch, ids as UUID text.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use tokio::sync::{mpsc, oneshot};

use super::sql::codec_sqlite::{from_micros, micros};
use super::sql::{
    ban_from, member_from, message_from, request_from, room_from, store_impl, user_from, DbId,
    DbTime, BAN_SELECT, MEMBER_SELECT, MESSAGE_SELECT, REQUEST_SELECT, ROOM_COLUMNS, ROOM_FROM,
};
use super::{Conflict, Entity, NewRoom, RoomPatch, StoreError, StoreResult};
use crate::domain::model::{
    Ban, JoinRequest, Membership, Message, Role, Room, RoomAccess, Timestamp, User,
};
use crate::domain::values::{MessageId, RoomId, UserId};

pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
    /// Messages go through one writer task that commits them in groups (see `message_writer`).
    messages: mpsc::Sender<PendingMessage>,
}

/// Most messages committed in one transaction.
const MAX_GROUP: usize = 256;

struct PendingMessage {
    id: MessageId,
    room: RoomId,
    author: User,
    body: String,
    at: Timestamp,
    reply: oneshot::Sender<StoreResult<Message>>,
}

/// Group commit: takes every message waiting at the moment and stores them in one
/// transaction (one WAL sync for the group instead of one per message), in arrival order, so
/// sequence numbers follow the order `sendMessage` calls reached the store. A group that fails
/// as a whole is retried one message at a time, so one bad message cannot fail the others.
async fn message_writer(pool: SqlitePool, mut queue: mpsc::Receiver<PendingMessage>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = queue.recv().await {
        group.push(first);
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let results = match store_group(&pool, &group).await {
            Ok(results) => results,
            Err(e) => {
                tracing::warn!(error = ?e, size = group.len(), "group commit failed; storing one by one");
                let mut results = Vec::with_capacity(group.len());
                for one in &group {
                    results.push(match store_group(&pool, std::slice::from_ref(one)).await {
                        Ok(mut r) => r.pop().unwrap_or_else(|| {
                            Err(StoreError::Other(anyhow::anyhow!("no result")))
                        }),
                        Err(e) => Err(e),
                    });
                }
                results
            }
        };
        for (pending, result) in group.drain(..).zip(results) {
            if pending.reply.send(result).is_err() {
                tracing::debug!("sender went away; its message is stored anyway");
            }
        }
    }
}

/// Rows per multi-row INSERT (6 parameters each, well under SQLite's parameter limit).
const INSERT_CHUNK: usize = 256;

/// Stores a group in one transaction: one sequence-number UPDATE per room, then multi-row
/// INSERTs, so a busy room costs a few statements per group instead of several per message.
/// A missing room fails only its own messages.
async fn store_group(
    pool: &SqlitePool,
    group: &[PendingMessage],
) -> StoreResult<Vec<StoreResult<Message>>> {
    let mut per_room: Vec<(RoomId, i64)> = Vec::new();
    for p in group {
        match per_room.iter_mut().find(|(room, _)| *room == p.room) {
            Some((_, n)) => *n += 1,
            None => per_room.push((p.room, 1)),
        }
    }
    let mut tx = pool.begin().await.map_err(db_err)?;
    let mut next_seq: HashMap<RoomId, i64> = HashMap::with_capacity(per_room.len());
    for (room, n) in per_room {
        let last: Option<i64> = sqlx::query_scalar(
            "UPDATE rooms SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq",
        )
        .bind(n)
        .bind(room.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(last) = last {
            next_seq.insert(room, last - n + 1);
        }
    }
    let mut results = Vec::with_capacity(group.len());
    let mut rows: Vec<(&PendingMessage, i64)> = Vec::with_capacity(group.len());
    for p in group {
        match next_seq.get_mut(&p.room) {
            None => results.push(Err(StoreError::NotFound(Entity::Room))),
            Some(seq) => {
                rows.push((p, *seq));
                results.push(Ok(Message {
                    id: p.id,
                    room_id: p.room,
                    seq: *seq,
                    author: p.author.clone(),
                    body: p.body.clone(),
                    created_at: p.at,
                }));
                *seq += 1;
            }
        }
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO messages (id, room_id, seq, author_id, body, created_at) ",
        );
        insert.push_values(chunk, |mut row, (p, seq)| {
            row.push_bind(p.id.to_string())
                .push_bind(p.room.to_string())
                .push_bind(*seq)
                .push_bind(p.author.id.to_string())
                .push_bind(p.body.as_str())
                .push_bind(micros(p.at));
        });
        insert.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(results)
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url` (`sqlite://path`).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .context("parsing the SQLite database URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // The writer syncs the WAL at every commit: a message acknowledged to its sender
        // survives a power cut, and group commit keeps that affordable.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone().synchronous(SqliteSynchronous::Full))
            .await
            .context("opening the SQLite database")?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&write)
            .await
            .context("migrating the SQLite database")?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await
            .context("opening SQLite read connections")?;
        let (messages, queue) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(message_writer(write.clone(), queue));
        Ok(Self {
            write,
            read,
            messages,
        })
    }
}

fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(ref db) if db.is_unique_violation() => {
            StoreError::Conflict(Conflict::Duplicate)
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(e.into())
        }
        other => StoreError::Other(other.into()),
    }
}

fn map_rows<T>(
    rows: Vec<SqliteRow>,
    f: impl Fn(&SqliteRow) -> Result<T, sqlx::Error>,
) -> StoreResult<Vec<T>> {
    rows.iter().map(|r| f(r).map_err(db_err)).collect()
}

impl SqliteStore {
    /// The pool reads use (never waits for the writer).
    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    /// The one-connection pool writes queue on.
    fn writer(&self) -> &SqlitePool {
        &self.write
    }

    async fn room_on(&self, pool: &SqlitePool, id: RoomId) -> StoreResult<Option<Room>> {
        let row = sqlx::query(&format!("{ROOM_COLUMNS} {ROOM_FROM} WHERE r.id = ?"))
            .bind(id.to_string())
            .fetch_optional(pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(room_from).transpose().map_err(db_err)
    }

    async fn membership_on(
        &self,
        pool: &SqlitePool,
        room: RoomId,
        user: UserId,
    ) -> StoreResult<Option<Membership>> {
        let row = sqlx::query(&format!(
            "{MEMBER_SELECT} WHERE m.room_id = ? AND m.user_id = ?"
        ))
        .bind(room.to_string())
        .bind(user.to_string())
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(member_from).transpose().map_err(db_err)
    }

    async fn required_membership(&self, room: RoomId, user: UserId) -> StoreResult<Membership> {
        self.written_membership(room, user)
            .await?
            .ok_or_else(|| StoreError::NotFound(Entity::Membership))
    }

    /// A membership just written, read on the writer's connection.
    async fn written_membership(
        &self,
        room: RoomId,
        user: UserId,
    ) -> StoreResult<Option<Membership>> {
        self.membership_on(&self.write, room, user).await
    }
}

store_impl!(SqliteStore, like_ci = "LIKE", {
    async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query(
            "SELECT id, username, created_at, password_hash FROM users WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        row.as_ref()
            .map(|r| Ok((user_from(r, "")?, r.try_get("password_hash")?)))
            .transpose()
            .map_err(db_err)
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query("SELECT id, username, created_at FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.as_ref()
            .map(|r| user_from(r, ""))
            .transpose()
            .map_err(db_err)
    }

    async fn create_room(&self, room: NewRoom) -> StoreResult<Room> {
        let mut tx = self.write.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO rooms (id, name, topic, type, max_users, owner_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(room.id.to_string())
        .bind(&room.name)
        .bind(&room.topic)
        .bind(room.room_type.as_str())
        .bind(room.max_users)
        .bind(room.owner.to_string())
        .bind(micros(room.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES (?, ?, 'owner', ?)",
        )
        .bind(room.id.to_string())
        .bind(room.owner.to_string())
        .bind(micros(room.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        self.room_on(&self.write, room.id)
            .await?
            .ok_or_else(|| StoreError::NotFound(Entity::Room))
    }

    async fn room(&self, id: RoomId) -> StoreResult<Option<Room>> {
        self.room_on(&self.read, id).await
    }

    async fn room_access(
        &self,
        id: RoomId,
        user: Option<UserId>,
    ) -> StoreResult<Option<RoomAccess>> {
        // One read: the room, the viewer's membership and whether they are banned. Every
        // permission check starts here, so it is worth a single round trip.
        let row = sqlx::query(&format!(
            "{} , vm.role AS vm_role, vm.joined_at AS vm_joined_at, vm.muted AS vm_muted, \
               vm.muted_until AS vm_muted_until, \
               vu.id AS vu_id, vu.username AS vu_username, vu.created_at AS vu_created_at, \
               EXISTS (SELECT 1 FROM bans b WHERE b.room_id = r.id AND b.user_id = ?1) AS banned \
             {} LEFT JOIN memberships vm ON vm.room_id = r.id AND vm.user_id = ?1 \
             LEFT JOIN users vu ON vu.id = vm.user_id WHERE r.id = ?2",
            ROOM_COLUMNS, ROOM_FROM
        ))
        .bind(user.map(|u| u.to_string()))
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let access = (|| -> Result<RoomAccess, sqlx::Error> {
            let room = room_from(&row)?;
            let role: Option<String> = row.try_get("vm_role")?;
            let membership = match role {
                None => None,
                Some(role) => {
                    let until: Option<i64> = row.try_get("vm_muted_until")?;
                    Some(Membership {
                        user: user_from(&row, "vu_")?,
                        room_id: room.id,
                        role: Role::from_db(&role).ok_or_else(|| {
                            sqlx::Error::Decode(format!("bad role {role}").into())
                        })?,
                        joined_at: from_micros(row.try_get("vm_joined_at")?)?,
                        muted: row.try_get::<i64, _>("vm_muted")? != 0,
                        muted_until: until.map(from_micros).transpose()?,
                    })
                }
            };
            let banned = membership.is_none() && row.try_get::<bool, _>("banned")?;
            Ok(RoomAccess {
                room,
                membership,
                banned,
            })
        })()
        .map_err(db_err)?;
        Ok(Some(access))
    }

    async fn update_room(&self, id: RoomId, patch: RoomPatch) -> StoreResult<Room> {
        let mut tx = self.write.begin().await.map_err(db_err)?;
        if let Some(name) = &patch.name {
            sqlx::query("UPDATE rooms SET name = ? WHERE id = ?")
                .bind(name)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if let Some(topic) = &patch.topic {
            sqlx::query("UPDATE rooms SET topic = ? WHERE id = ?")
                .bind(topic)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if let Some(ty) = patch.room_type {
            sqlx::query("UPDATE rooms SET type = ? WHERE id = ?")
                .bind(ty.as_str())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if let Some(max) = patch.max_users {
            sqlx::query("UPDATE rooms SET max_users = ? WHERE id = ?")
                .bind(max)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        self.room_on(&self.write, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(Entity::Room))
    }

    async fn memberships_in(&self, user: UserId, rooms: &[RoomId]) -> StoreResult<Vec<Membership>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Sqlite>::new(format!("{MEMBER_SELECT} WHERE m.user_id = "));
        query
            .push_bind(user.to_string())
            .push(" AND m.room_id IN (");
        let mut ids = query.separated(", ");
        for room in rooms {
            ids.push_bind(room.to_string());
        }
        ids.push_unseparated(")");
        let rows = query.build().fetch_all(&self.read).await.map_err(db_err)?;
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
        let mut tx = self.write.begin().await.map_err(db_err)?;
        // One statement: the capacity check, the ban check and the insert cannot interleave
        // with another join or a ban (SQLite runs one write transaction at a time).
        let done = sqlx::query(
            "INSERT INTO memberships (room_id, user_id, role, joined_at) \
             SELECT ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM memberships WHERE room_id = ?) < ? \
             AND NOT EXISTS (SELECT 1 FROM bans WHERE room_id = ? AND user_id = ?)",
        )
        .bind(room.to_string())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(micros(at))
        .bind(room.to_string())
        .bind(capacity)
        .bind(room.to_string())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| match db_err(e) {
            StoreError::Conflict(_) => StoreError::Conflict(Conflict::AlreadyMember),
            other => other,
        })?;
        if done.rows_affected() == 0 {
            let banned = sqlx::query("SELECT 1 FROM bans WHERE room_id = ? AND user_id = ?")
                .bind(room.to_string())
                .bind(user.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?
                .is_some();
            return Err(if banned {
                StoreError::Banned
            } else {
                StoreError::RoomFull(capacity)
            });
        }
        sqlx::query("DELETE FROM join_requests WHERE room_id = ? AND user_id = ?")
            .bind(room.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // Read inside the transaction: a ban right after the commit must not turn a
        // successful join into an error.
        let row = sqlx::query(&format!(
            "{MEMBER_SELECT} WHERE m.room_id = ? AND m.user_id = ?"
        ))
        .bind(room.to_string())
        .bind(user.to_string())
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
            "UPDATE memberships SET role = ? WHERE room_id = ? AND user_id = ? AND role <> 'owner'",
        )
        .bind(role.as_str())
        .bind(room.to_string())
        .bind(user.to_string())
        .execute(&self.write)
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
        let mut tx = self.write.begin().await.map_err(db_err)?;
        let promoted = sqlx::query("UPDATE memberships SET role = 'owner', muted = 0, muted_until = NULL WHERE room_id = ? AND user_id = ?")
            .bind(room.to_string())
            .bind(to.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if promoted.rows_affected() == 0 {
            return Err(StoreError::NotFound(Entity::Membership));
        }
        sqlx::query("UPDATE memberships SET role = 'admin' WHERE room_id = ? AND user_id = ?")
            .bind(room.to_string())
            .bind(from.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("UPDATE rooms SET owner_id = ? WHERE id = ?")
            .bind(to.to_string())
            .bind(room.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        self.room_on(&self.write, room)
            .await?
            .ok_or_else(|| StoreError::NotFound(Entity::Room))
    }

    async fn ban(
        &self,
        room: RoomId,
        user: UserId,
        by: UserId,
        reason: Option<String>,
        at: Timestamp,
    ) -> StoreResult<Ban> {
        let mut tx = self.write.begin().await.map_err(db_err)?;
        sqlx::query("INSERT INTO bans (room_id, user_id, banned_by, reason, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(room.to_string())
            .bind(user.to_string())
            .bind(by.to_string())
            .bind(&reason)
            .bind(micros(at))
            .execute(&mut *tx)
            .await
            .map_err(|e| match db_err(e) {
                StoreError::Conflict(_) => StoreError::Conflict(Conflict::AlreadyBanned),
                other => other,
            })?;
        for table in ["memberships", "join_requests"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE room_id = ? AND user_id = ?"
            ))
            .bind(room.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        let row = sqlx::query(&format!(
            "{BAN_SELECT} WHERE b.room_id = ? AND b.user_id = ?"
        ))
        .bind(room.to_string())
        .bind(user.to_string())
        .fetch_one(&self.write)
        .await
        .map_err(db_err)?;
        ban_from(&row).map_err(db_err)
    }

    async fn create_join_request(
        &self,
        room: RoomId,
        user: UserId,
        message: Option<String>,
        at: Timestamp,
    ) -> StoreResult<JoinRequest> {
        // A ban that committed after the caller checked access still wins.
        let done = sqlx::query(
            "INSERT INTO join_requests (room_id, user_id, message, created_at) SELECT ?, ?, ?, ? \
             WHERE NOT EXISTS (SELECT 1 FROM bans WHERE room_id = ? AND user_id = ?)",
        )
        .bind(room.to_string())
        .bind(user.to_string())
        .bind(&message)
        .bind(micros(at))
        .bind(room.to_string())
        .bind(user.to_string())
        .execute(&self.write)
        .await
        .map_err(|e| match db_err(e) {
            StoreError::Conflict(_) => StoreError::Conflict(Conflict::JoinRequestPending),
            other => other,
        })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Banned);
        }
        let row = sqlx::query(&format!(
            "{REQUEST_SELECT} WHERE j.room_id = ? AND j.user_id = ?"
        ))
        .bind(room.to_string())
        .bind(user.to_string())
        .fetch_one(&self.write)
        .await
        .map_err(db_err)?;
        request_from(&row).map_err(db_err)
    }

    async fn insert_message(
        &self,
        id: MessageId,
        room: RoomId,
        author: &User,
        body: String,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let (reply, answer) = oneshot::channel();
        let pending = PendingMessage {
            id,
            room,
            author: author.clone(),
            body,
            at,
            reply,
        };
        self.messages
            .send(pending)
            .await
            .map_err(|_| StoreError::Unavailable(anyhow::anyhow!("message writer stopped")))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable(anyhow::anyhow!("message writer stopped")))?
    }
});
