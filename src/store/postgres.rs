//! The PostgreSQL `Store`, for running several roomcast nodes on one database. Every method
//! but `insert_message` is the shared SQL core's (`super::sql`): a join locks the room row so
//! its ban and capacity checks and insert cannot interleave with another join or a ban;
//! usernames are unique and looked up regardless of case. A message takes its sequence
//! number from `rooms.last_seq` in the same statement that stores it.
//! A database that cannot be reached fails calls with `StoreError::Unavailable` after the
//! pool's acquire timeout; the pool reconnects by itself once the server is back.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::sql::{db_err, migrated, store_impl, DbId, DbTime, Dialect};
use super::{Entity, StoreError, StoreResult};
use crate::domain::model::Message;
use crate::domain::ports::NewMessage;

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

impl Dialect for PostgresStore {
    const LIKE_CI: &'static str = "ILIKE";
    // Matches the unique index on lower(username).
    const USERNAME_IS: &'static str = "lower(username) = lower($1)";
    // Leaves other writers' foreign-key checks (new messages) alone.
    const LOCK_ROOM: &'static str = " FOR NO KEY UPDATE";
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
        let migrations = sqlx::migrate!("./migrations/postgres");
        let pool = migrated(pool, &migrations, "PostgreSQL").await?;
        Ok(Self { pool })
    }
}

store_impl!(PostgresStore => sqlx::Postgres, reader: pool, writer: pool);

impl PostgresStore {
    /// One statement, so one implicit transaction: the room row stays locked from taking the
    /// next sequence number until the message row is committed, so messages of a room become
    /// visible in sequence order.
    async fn store_message(&self, message: NewMessage) -> StoreResult<Message> {
        let seq: i64 = sqlx::query_scalar(
            "WITH s AS (UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $2 RETURNING last_seq), \
                  m AS (INSERT INTO messages (id, room_id, seq, author_id, body, created_at) \
                        SELECT $1, $2, s.last_seq, $3, $4, $5 FROM s RETURNING seq) \
             SELECT m.seq FROM m",
        )
        .bind(DbId(message.id.0))
        .bind(DbId(message.room.0))
        .bind(DbId(message.author.id.0))
        .bind(&message.body)
        .bind(DbTime(message.at))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound(Entity::Room))?;
        Ok(message.stored_as(seq))
    }
}
