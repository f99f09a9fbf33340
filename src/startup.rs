//! Building and running the application: storage, fan-out, domain services, schema and
//! router, wired once into an `App` that tests can start on port 0 and stop cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::local::LocalBus;
use crate::bus::redis::{RedisBus, RedisSettings};
use crate::bus::Bus;
use crate::config::{redact_url, Config};
use crate::domain::clock::{SharedClock, SystemClock};
use crate::domain::hashing::{HashSettings, HashStats};
use crate::domain::identity::Identity;
use crate::domain::rooms::{RoomRules, RoomService};
use crate::graphql::build_schema;
use crate::graphql::limits::DocumentCache;
use crate::graphql::persisted::PersistedQueries;
use crate::graphql::shared::SharedMessages;
use crate::http::metrics::Metrics;
use crate::http::serve::{
    connection_budget, descriptor_reserve, open_descriptors, serve, ConnectionCounts,
    ConnectionLimits,
};
use crate::http::{router, AppState, TransportSettings};
use crate::store::detached::Detached;
use crate::store::postgres::{PoolSettings, PostgresStore};
use crate::store::sqlite::SqliteStore;
use crate::store::Store;

pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    router: axum::Router,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    grace: Duration,
    shared: Arc<SharedMessages>,
    hash_stats: Arc<HashStats>,
    limits: ConnectionLimits,
    connections: Arc<ConnectionCounts>,
}

/// Descriptors a Redis bus may hold (its publisher and subscriber connections, and one
/// being re-established).
const REDIS_DESCRIPTORS: usize = 4;

/// The store, and how many descriptors its pools may open at most.
async fn open_store(config: &Config) -> anyhow::Result<(Arc<dyn Store>, usize)> {
    let url = config.database_url.as_str();
    if url.starts_with("sqlite:") {
        Ok((
            Arc::new(SqliteStore::connect(url).await?),
            SqliteStore::MAX_DESCRIPTORS,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = PoolSettings {
            max_connections: config.db_max_connections,
            acquire_timeout: Duration::from_millis(config.db_acquire_timeout_ms),
        };
        Ok((
            Arc::new(PostgresStore::connect(url, &pool).await?),
            pool.max_connections.max(1) as usize,
        ))
    } else {
        anyhow::bail!(
            "unsupported database URL {}: use sqlite://path or postgres://...",
            redact_url(url)
        )
    }
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// `build`, with the clock that time-dependent rules (session lifetimes) read: tests
    /// pass a `ManualClock` and move it instead of waiting.
    pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        tracing::info!(?config, "starting roomcast");
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let (store, store_descriptors) = open_store(&config).await.with_context(|| {
            format!(
                "opening the database at {}",
                redact_url(&config.database_url)
            )
        })?;
        // No caller may hold a pool connection while it is not polling (see `Detached`).
        let detached = Detached::new(store);
        let store_stats = detached.stats();
        let store: Arc<dyn Store> = Arc::new(detached);
        let (bus, prune_idle): (Arc<dyn Bus>, Box<dyn Fn() -> usize + Send>) =
            match &config.redis_url {
                Some(url) => {
                    let redis = Arc::new(
                        RedisBus::start(
                            url,
                            config.broadcast_capacity,
                            RedisSettings {
                                publish_attempts: config.redis_publish_attempts,
                                max_backoff: Duration::from_millis(config.redis_max_backoff_ms),
                            },
                            &tasks,
                            shutdown.clone(),
                        )
                        .await?,
                    );
                    (redis.clone(), Box::new(move || redis.prune_idle()))
                }
                None => {
                    let local = Arc::new(LocalBus::new(config.broadcast_capacity));
                    (local.clone(), Box::new(move || local.prune_idle()))
                }
            };
        let prune_every = Duration::from_secs(30);
        let prune_token = shutdown.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(prune_every);
            loop {
                tokio::select! {
                    _ = prune_token.cancelled() => break,
                    _ = tick.tick() => { prune_idle(); }
                }
            }
        });
        let hashing = HashSettings {
            workers: config.hash_workers,
            queue: config.hash_queue,
        };
        let throttles = Arc::new(config.throttles());
        let identity = Identity::build(store.clone(), bus.clone(), hashing, throttles.clone())
            .await
            .map_err(|e| anyhow::anyhow!("preparing the identity service: {e:?}"))?
            .with_session_policy(config.session_policy())
            .with_clock(clock.clone());
        let rooms = RoomService::new(
            store,
            bus,
            RoomRules {
                max_users_cap: config.max_users_cap,
                presence_grace: chrono::Duration::seconds(config.presence_grace_seconds as i64),
            },
            tasks.clone(),
            shutdown.clone(),
            clock.clone(),
        )
        .with_throttles(throttles.clone());
        let hash_stats = identity.hash_stats();
        let schema = build_schema(
            Some((rooms.clone(), identity.clone())),
            Arc::new(DocumentCache::new(config.document_cache)),
        );
        let shared = Arc::new(SharedMessages::new(
            rooms.clone(),
            config.shared_subscriptions,
        ));
        let connections = Arc::new(ConnectionCounts::default());
        let metrics = Arc::new(Metrics {
            access: config.metrics,
            transport: Arc::default(),
            connections: connections.clone(),
            store: store_stats,
            feeds: rooms.feed_stats(),
            hashing: hash_stats.clone(),
            throttles,
            sharing: shared.clone(),
        });
        let state = AppState {
            schema,
            shared: shared.clone(),
            persisted: Arc::new(PersistedQueries::new(config.persisted_queries)),
            identity,
            settings: Arc::new(TransportSettings {
                init_timeout: Duration::from_millis(config.init_timeout_ms),
                max_ws_message: 64 * 1024,
                max_operations: config.max_operations_per_socket,
                max_response_bytes: config.max_response_bytes,
                body_timeout: Duration::from_millis(config.http_body_timeout_ms),
                keepalive: (config.ws_keepalive_ms > 0)
                    .then(|| Duration::from_millis(config.ws_keepalive_ms)),
                playground_dir: config.playground_dir.clone(),
            }),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
            metrics,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        Ok(Self {
            listener,
            addr,
            router: router(state),
            shutdown,
            tasks,
            grace: Duration::from_millis(config.shutdown_grace_ms),
            shared,
            hash_stats,
            limits: ConnectionLimits {
                header_timeout: Duration::from_millis(config.http_header_timeout_ms),
                per_address: config.max_connections_per_address,
                total: match config.max_connections {
                    0 => connection_budget(descriptor_reserve(
                        open_descriptors(),
                        store_descriptors
                            + config.redis_url.as_ref().map_or(0, |_| REDIS_DESCRIPTORS),
                    )),
                    n => n,
                },
            },
            connections,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Counters of the shared subscription path (how often results were reused).
    pub fn sharing_stats(&self) -> Arc<SharedMessages> {
        self.shared.clone()
    }

    /// Counters of the password hashing threads (queue, refusals, peak concurrency).
    pub fn hash_stats(&self) -> Arc<HashStats> {
        self.hash_stats.clone()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Cancel this token to stop the server: it stops accepting, closes WebSockets with
    /// 1001 and lets in-flight work finish.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(limits = ?self.limits, "accepting connections");
        serve(
            self.listener,
            self.router,
            self.limits,
            self.connections,
            self.shutdown.clone(),
            self.tasks.clone(),
        )
        .await;
        self.tasks.close();
        if tokio::time::timeout(self.grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not finish within the shutdown grace period");
        }
        tracing::info!("stopped");
        Ok(())
    }
}
