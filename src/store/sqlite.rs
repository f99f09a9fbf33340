//! The embedded SQLite `Store` (WAL). Writes go through a one-connection pool so they queue
//! in order instead of failing with SQLITE_BUSY; reads use a separate pool and never wait for
//! writers. Timestamps are stored as microseconds since the epoch, ids as UUID text. Every
//! method but `insert_message` is the shared SQL core's (`super::sql`); messages are
//! committed in groups.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};
use tokio::sync::{mpsc, oneshot};

use super::sql::{db_err, migrated, store_impl, DbId, DbTime, Dialect};
use super::{Entity, StoreError, StoreResult};
use crate::domain::model::Message;
use crate::domain::ports::NewMessage;
use crate::domain::values::RoomId;

pub struct SqliteStore {
    /// One connection: writes queue on it in order.
    write: SqlitePool,
    /// Read-only connections, which never wait for the writer.
    read: SqlitePool,
    /// Messages go through one writer task that commits them in groups (see `message_writer`).
    messages: mpsc::Sender<PendingMessage>,
}

impl Dialect for SqliteStore {
    // LIKE ignores ASCII case already.
    const LIKE_CI: &'static str = "LIKE";
    // The column is declared COLLATE NOCASE.
    const USERNAME_IS: &'static str = "username = $1";
    // Nothing: the one writer connection runs one transaction at a time.
    const LOCK_ROOM: &'static str = "";
}

/// Most messages committed in one transaction.
const MAX_GROUP: usize = 256;

struct PendingMessage {
    message: NewMessage,
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

/// Runs the group-commit writer on a thread of its own. A group is several round trips to
/// the connection's worker thread (BEGIN, one UPDATE per room, the INSERTs, COMMIT), and on
/// the server's runtime each of them would wait behind every task that became ready
/// meanwhile: under load the database then sat idle between the statements of a group. On
/// its own thread the writer is scheduled by the OS as soon as its answer arrives. The
/// thread ends when the store is dropped (the queue closes).
fn spawn_writer(pool: SqlitePool, queue: mpsc::Receiver<PendingMessage>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the message writer's runtime")?;
    std::thread::Builder::new()
        .name("roomcast-writer".into())
        .spawn(move || runtime.block_on(message_writer(pool, queue)))
        .context("starting the message writer's thread")?;
    Ok(())
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
        match per_room
            .iter_mut()
            .find(|(room, _)| *room == p.message.room)
        {
            Some((_, n)) => *n += 1,
            None => per_room.push((p.message.room, 1)),
        }
    }
    let mut tx = pool.begin().await.map_err(db_err)?;
    let mut next_seq: HashMap<RoomId, i64> = HashMap::with_capacity(per_room.len());
    for (room, n) in per_room {
        let last: Option<i64> = sqlx::query_scalar(
            "UPDATE rooms SET last_seq = last_seq + $1 WHERE id = $2 RETURNING last_seq",
        )
        .bind(n)
        .bind(DbId(room.0))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(last) = last {
            next_seq.insert(room, last - n + 1);
        }
    }
    let mut results = Vec::with_capacity(group.len());
    let mut rows: Vec<(&NewMessage, i64)> = Vec::with_capacity(group.len());
    for p in group {
        let m = &p.message;
        match next_seq.get_mut(&m.room) {
            None => results.push(Err(StoreError::NotFound(Entity::Room))),
            Some(seq) => {
                rows.push((m, *seq));
                results.push(Ok(m.clone().stored_as(*seq)));
                *seq += 1;
            }
        }
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO messages (id, room_id, seq, author_id, body, created_at) ",
        );
        insert.push_values(chunk, |mut row, (m, seq)| {
            row.push_bind(DbId(m.id.0))
                .push_bind(DbId(m.room.0))
                .push_bind(*seq)
                .push_bind(DbId(m.author.id.0))
                .push_bind(m.body.as_str())
                .push_bind(DbTime(m.at));
        });
        insert.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(results)
}

/// Read connections.
const READERS: u32 = 8;

impl SqliteStore {
    /// Descriptors the pools may hold at most: each connection opens the database, its WAL
    /// and its shared-memory index.
    pub const MAX_DESCRIPTORS: usize = 3 * (READERS as usize + 1);

    /// Opens (creating if missing) and migrates the database at `url` (`sqlite://path`).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .context("parsing the SQLite database URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Statement journals in memory: a multi-row INSERT inside the group's transaction
            // journals every page it touches, and on disk that is a temporary file created,
            // written page by page and deleted for every group.
            .pragma("temp_store", "memory");
        // The writer syncs the WAL at every commit: a message acknowledged to its sender
        // survives a power cut, and group commit keeps that affordable.
        // No ping before each use: an embedded database's connection cannot go stale, and
        // a ping is a round trip to the connection's worker thread (two context switches)
        // on every store call.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone().synchronous(SqliteSynchronous::Full))
            .await
            .context("opening the SQLite database")?;
        let write = migrated(write, &sqlx::migrate!("./migrations/sqlite"), "SQLite").await?;
        let read = SqlitePoolOptions::new()
            .max_connections(READERS)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await
            .context("opening SQLite read connections")?;
        let (messages, queue) = mpsc::channel(4 * MAX_GROUP);
        spawn_writer(write.clone(), queue)?;
        Ok(Self {
            write,
            read,
            messages,
        })
    }
}

store_impl!(SqliteStore => sqlx::Sqlite, reader: read, writer: write);

impl SqliteStore {
    /// Hands the message to the group-commit writer and waits for its turn.
    async fn store_message(&self, message: NewMessage) -> StoreResult<Message> {
        let stopped = || StoreError::Unavailable(anyhow::anyhow!("message writer stopped"));
        let (reply, answer) = oneshot::channel();
        self.messages
            .send(PendingMessage { message, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}
