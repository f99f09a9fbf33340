//! Command-line flags and their environment equivalents. `Debug` never prints a password
//! embedded in a connection URL.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::domain::session::SessionPolicy;
use crate::http::metrics::MetricsAccess;

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
use crate::domain::throttle::{RateFlag, Throttles};

#[derive(Parser, Debug)]
#[command(
    name = "roomcast",
    version,
    about = "Real-time chat rooms over GraphQL (HTTP + graphql-ws)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Print the GraphQL schema (SDL) and exit.
    PrintSchema,
}

#[derive(clap::Args, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "ROOMCAST_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// `sqlite://path` (created and migrated on start) or `postgres://...`.
    #[arg(
        long,
        env = "ROOMCAST_DATABASE_URL",
        default_value = "sqlite://roomcast.db"
    )]
    pub database_url: String,
    /// Directory of the built playground (index.html, graphiql.html, assets).
    #[arg(
        long,
        env = "ROOMCAST_PLAYGROUND_DIR",
        default_value = "playground/dist"
    )]
    pub playground_dir: PathBuf,
    /// Milliseconds a WebSocket may take to send `connection_init` (then close 4408).
    #[arg(long, env = "ROOMCAST_INIT_TIMEOUT_MS", default_value_t = 3000)]
    pub init_timeout_ms: u64,
    /// The most members any room may have; also the upper bound of `maxUsers`.
    #[arg(long, env = "ROOMCAST_MAX_USERS_CAP", default_value_t = 10_000)]
    pub max_users_cap: i64,
    /// Seconds a user stays online in a room after their last feed of it closed (0–300), so a
    /// reload does not show them leaving and coming back.
    #[arg(long, env = "ROOMCAST_PRESENCE_GRACE_SECONDS", default_value_t = crate::domain::rooms::PRESENCE_GRACE_SECONDS, value_parser = clap::value_parser!(u64).range(0..=300))]
    pub presence_grace_seconds: u64,
    /// Per-room live buffer (messages); a subscriber further behind is caught up from storage.
    #[arg(long, env = "ROOMCAST_BROADCAST_CAPACITY", default_value_t = 1024)]
    pub broadcast_capacity: usize,
    /// Share one execution of identical `roomMessages` subscriptions per message (on by
    /// default; `false` executes per subscriber, for comparison).
    #[arg(long, env = "ROOMCAST_SHARED_SUBSCRIPTIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub shared_subscriptions: bool,
    /// Most concurrent operations on one WebSocket.
    #[arg(
        long,
        env = "ROOMCAST_MAX_OPERATIONS_PER_SOCKET",
        default_value_t = 100
    )]
    pub max_operations_per_socket: usize,
    /// Largest GraphQL response in bytes (one HTTP body or WebSocket frame); bigger results
    /// are refused with BAD_USER_INPUT.
    #[arg(long, env = "ROOMCAST_MAX_RESPONSE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_response_bytes: usize,
    /// Documents kept for automatic persisted queries (`extensions.persistedQuery`), oldest
    /// dropped first; each is at most the document size limit. 0: off (every hash is
    /// unknown, so clients send whole documents).
    #[arg(long, env = "ROOMCAST_PERSISTED_QUERIES", default_value_t = 1024)]
    pub persisted_queries: usize,
    /// Parsed documents kept by their text, so a repeated document (every `sendMessage` of a
    /// client) is not scanned and parsed again; each at most 8 KiB of text, oldest dropped
    /// first; `0`: off.
    #[arg(long, env = "ROOMCAST_DOCUMENT_CACHE", default_value_t = 512)]
    pub document_cache: usize,
    /// Password hashes computed at once (threads, each holding one 19 MiB Argon2id area).
    #[arg(long, env = "ROOMCAST_HASH_WORKERS", default_value_t = 2)]
    pub hash_workers: usize,
    /// Password hashes that may wait for a thread; more sign-ins or registrations at once
    /// are refused with SERVICE_UNAVAILABLE.
    #[arg(long, env = "ROOMCAST_HASH_QUEUE", default_value_t = 64)]
    pub hash_queue: usize,
    /// Milliseconds between graphql-ws keep-alive pings; a socket that sends nothing for
    /// two periods is closed (1001). 0: no pings.
    #[arg(long, env = "ROOMCAST_WS_KEEPALIVE_MS", default_value_t = 30_000)]
    pub ws_keepalive_ms: u64,
    /// Milliseconds a client has to send a complete request head; also how long an idle
    /// keep-alive connection stays open.
    #[arg(
        long,
        env = "ROOMCAST_HTTP_HEADER_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub http_header_timeout_ms: u64,
    /// Milliseconds a client has to send a whole request body (then 408).
    #[arg(long, env = "ROOMCAST_HTTP_BODY_TIMEOUT_MS", default_value_t = 30_000)]
    pub http_body_timeout_ms: u64,
    /// Open connections (HTTP and WebSocket) from one client address; 0 for no cap (behind
    /// a proxy every client has the proxy's address).
    #[arg(
        long,
        env = "ROOMCAST_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256
    )]
    pub max_connections_per_address: usize,
    /// Open connections in all; 0 picks the open-files limit (raised to its hard limit)
    /// minus the descriptors the server needs itself: those open at start, those the
    /// database pools and Redis may still open, and 32 more.
    #[arg(long, env = "ROOMCAST_MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,
    /// `sendMessage` per user: `N/Ps` (bursts of N, N per P seconds) or `off`.
    #[arg(long, env = "ROOMCAST_MESSAGE_RATE", default_value = "30/10s")]
    pub message_rate: RateFlag,
    /// `login` attempts per account (whatever the outcome), `N/Ps` or `off`.
    #[arg(
        long,
        env = "ROOMCAST_LOGIN_RATE_PER_ACCOUNT",
        default_value = "10/60s"
    )]
    pub login_rate_per_account: RateFlag,
    /// `login` attempts per client address, `N/Ps` or `off`.
    #[arg(
        long,
        env = "ROOMCAST_LOGIN_RATE_PER_ADDRESS",
        default_value = "60/60s"
    )]
    pub login_rate_per_address: RateFlag,
    /// `register` per client address, `N/Ps` or `off`.
    #[arg(
        long,
        env = "ROOMCAST_REGISTER_RATE_PER_ADDRESS",
        default_value = "30/600s"
    )]
    pub register_rate_per_address: RateFlag,
    /// Days a session token stays valid without being used (a request, or an open
    /// WebSocket); then UNAUTHENTICATED, and sockets close with 4403. 0: no idle limit.
    #[arg(long, env = "ROOMCAST_SESSION_IDLE_DAYS", default_value_t = 30)]
    pub session_idle_days: u32,
    /// Days a session token stays valid after sign-in, however often it is used. 0: no limit.
    #[arg(long, env = "ROOMCAST_SESSION_LIFETIME_DAYS", default_value_t = 90)]
    pub session_lifetime_days: u32,
    /// Who may read `/metrics` (Prometheus text format): `local` (loopback clients only;
    /// others get 404), `open` (anyone), or `off` (no route).
    #[arg(long, env = "ROOMCAST_METRICS", value_enum, default_value = "local")]
    pub metrics: MetricsAccess,
    /// Log lines as `text` (for people) or `json` (one object per line, for log pipelines).
    /// `RUST_LOG` picks what is logged (default `info`).
    #[arg(long, env = "ROOMCAST_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Threads that run requests and sockets. 0: as many as the CPUs this process may run on
    /// (its affinity mask, e.g. `taskset`); on one CPU the runtime is single-threaded, which
    /// saves the cross-thread hand-offs a pool pays for on one core.
    #[arg(long, env = "ROOMCAST_WORKER_THREADS", default_value_t = 0)]
    pub worker_threads: usize,
    /// Milliseconds to let open work finish at shutdown before giving up.
    #[arg(long, env = "ROOMCAST_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
    /// `redis://...`: fan live updates out to every node through Redis pub/sub (a cluster).
    /// Without it, live updates reach subscribers on this node only.
    #[arg(long, env = "ROOMCAST_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Attempts to publish a batch to Redis before delivering it on this node only.
    #[arg(long, env = "ROOMCAST_REDIS_PUBLISH_ATTEMPTS", default_value_t = 2)]
    pub redis_publish_attempts: u32,
    /// Longest wait in milliseconds between attempts to reconnect to Redis.
    #[arg(long, env = "ROOMCAST_REDIS_MAX_BACKOFF_MS", default_value_t = 2000)]
    pub redis_max_backoff_ms: u64,
    /// Most PostgreSQL connections this node opens.
    #[arg(long, env = "ROOMCAST_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Milliseconds a request waits for a PostgreSQL connection before failing.
    #[arg(long, env = "ROOMCAST_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000)]
    pub db_acquire_timeout_ms: u64,
}

impl Config {
    /// The flood limits these flags ask for.
    pub fn throttles(&self) -> Throttles {
        Throttles::new([
            self.message_rate.0,
            self.login_rate_per_account.0,
            self.login_rate_per_address.0,
            self.register_rate_per_address.0,
        ])
    }

    /// The session lifetimes these flags ask for.
    pub fn session_policy(&self) -> SessionPolicy {
        let days = |d: u32| (d > 0).then(|| chrono::Duration::days(i64::from(d)));
        SessionPolicy {
            idle: days(self.session_idle_days),
            absolute: days(self.session_lifetime_days),
        }
    }

    /// Defaults as the CLI would give them, for tests and embedding.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        let mut cfg = Cli::parse_from(["roomcast"]).config;
        cfg.database_url = database_url.into();
        cfg
    }
}

/// `scheme://user:***@host/db`: a URL fit for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// The async runtime `--worker-threads` asks for.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let threads = match self.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut builder = if threads == 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(threads);
            b
        };
        builder.enable_all().build()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("playground_dir", &self.playground_dir)
            .field("init_timeout_ms", &self.init_timeout_ms)
            .field("max_users_cap", &self.max_users_cap)
            .field("presence_grace_seconds", &self.presence_grace_seconds)
            .field("broadcast_capacity", &self.broadcast_capacity)
            .field("max_operations_per_socket", &self.max_operations_per_socket)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("persisted_queries", &self.persisted_queries)
            .field("document_cache", &self.document_cache)
            .field("hash_workers", &self.hash_workers)
            .field("message_rate", &self.message_rate.to_string())
            .field(
                "login_rate_per_account",
                &self.login_rate_per_account.to_string(),
            )
            .field(
                "login_rate_per_address",
                &self.login_rate_per_address.to_string(),
            )
            .field(
                "register_rate_per_address",
                &self.register_rate_per_address.to_string(),
            )
            .field("ws_keepalive_ms", &self.ws_keepalive_ms)
            .field("http_header_timeout_ms", &self.http_header_timeout_ms)
            .field("http_body_timeout_ms", &self.http_body_timeout_ms)
            .field(
                "max_connections_per_address",
                &self.max_connections_per_address,
            )
            .field("max_connections", &self.max_connections)
            .field("hash_queue", &self.hash_queue)
            .field("metrics", &self.metrics)
            .field("log_format", &self.log_format)
            .field("worker_threads", &self.worker_threads)
            .field("session_idle_days", &self.session_idle_days)
            .field("session_lifetime_days", &self.session_lifetime_days)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_publish_attempts", &self.redis_publish_attempts)
            .field("redis_max_backoff_ms", &self.redis_max_backoff_ms)
            .field("db_max_connections", &self.db_max_connections)
            .field("db_acquire_timeout_ms", &self.db_acquire_timeout_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/chat"),
            "postgres://app:***@db:5432/chat"
        );
        assert_eq!(redact_url("sqlite://roomcast.db"), "sqlite://roomcast.db");
        let mut cfg = Config::with_database("postgres://u:pw@h/d");
        cfg.redis_url = Some("redis://:hush@cache:6379/0".into());
        let printed = format!("{cfg:?}");
        assert!(
            !printed.contains("pw") && !printed.contains("hush"),
            "{printed}"
        );
    }
}
