//! `/metrics`: the server's counters in Prometheus' text format, so operators see attacks
//! and overload (connections, operations, refusals by code, flood limits, storage waits,
//! feeds falling behind, the password-hash queue). Each layer keeps its own counters
//! (atomics, no global registry); this module only reads and prints them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::ServerError;

use super::serve::ConnectionCounts;
use crate::domain::hashing::HashStats;
use crate::domain::rooms::FeedStats;
use crate::domain::throttle::Throttles;
use crate::error_code::ErrorCode;
use crate::graphql::shared::SharedMessages;
use crate::store::detached::StoreStats;

/// Who may read `/metrics` (`--metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsAccess {
    /// No `/metrics` route.
    Off,
    /// Clients on a loopback address only (a scraper on the same host or a sidecar);
    /// others get 404, as if there were no route.
    Local,
    /// Anyone who can reach the port.
    Open,
}

/// Counters the transport keeps.
#[derive(Debug, Default)]
pub struct TransportStats {
    /// GraphQL requests over HTTP (POST /graphql).
    pub http_requests: AtomicU64,
    /// graphql-ws sockets open right now.
    pub ws_open: AtomicU64,
    /// graphql-ws operations (`subscribe` messages) started.
    pub ws_operations: AtomicU64,
    /// graphql-ws operations running right now.
    pub ws_operations_open: AtomicU64,
    /// `next` frames sent to graphql-ws sockets.
    pub ws_frames: AtomicU64,
    /// Errors sent to clients, by `extensions.code`.
    errors: Mutex<BTreeMap<String, u64>>,
    /// WebSocket closes the server sent, by close code.
    closes: Mutex<BTreeMap<u16, u64>>,
}

impl TransportStats {
    pub fn count_code(&self, code: ErrorCode) {
        self.count_wire_code(code.as_str());
    }

    /// Counts a code as it appears in a response (any string a resolver set).
    fn count_wire_code(&self, code: &str) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        match errors.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                errors.insert(code.to_owned(), 1);
            }
        }
    }

    /// Counts each error of a response by its code (every error has one: `ensure_codes`).
    pub fn count_errors(&self, errors: &[ServerError]) {
        for e in errors {
            let code = e
                .extensions
                .as_ref()
                .and_then(|ext| ext.get("code"))
                .and_then(|v| match v {
                    async_graphql::Value::String(s) => Some(s.as_str()),
                    _ => None,
                })
                .unwrap_or("UNKNOWN");
            self.count_wire_code(code);
        }
    }

    pub fn count_close(&self, code: u16) {
        let mut closes = self.closes.lock().unwrap_or_else(|p| p.into_inner());
        *closes.entry(code).or_default() += 1;
    }
}

/// A gauge or counter that is up while this lives (an open socket, a running operation).
pub struct Open(Arc<TransportStats>, fn(&TransportStats) -> &AtomicU64);

impl Open {
    pub fn new(stats: &Arc<TransportStats>, which: fn(&TransportStats) -> &AtomicU64) -> Self {
        which(stats).fetch_add(1, Ordering::Relaxed);
        Self(stats.clone(), which)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_sub(1, Ordering::Relaxed);
    }
}

/// Everything `/metrics` reads.
pub struct Metrics {
    pub access: MetricsAccess,
    pub transport: Arc<TransportStats>,
    pub connections: Arc<ConnectionCounts>,
    pub store: Arc<StoreStats>,
    pub feeds: Arc<FeedStats>,
    pub hashing: Arc<HashStats>,
    pub throttles: Arc<Throttles>,
    pub sharing: Arc<SharedMessages>,
}

/// Prometheus text format (version 0.0.4), one family at a time.
struct Exposition(String);

impl Exposition {
    /// A family's `# HELP` and `# TYPE` lines. Its type follows Prometheus naming: `_total`
    /// families are counters, the rest gauges.
    fn family(&mut self, name: &str) {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(self.0, "# HELP roomcast_{name} {}", help(name));
        let _ = writeln!(self.0, "# TYPE roomcast_{name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = write!(self.0, "roomcast_{name}");
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                // Label values here are codes and names the server chose; escape anyway.
                let v = v.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = write!(self.0, "{k}=\"{v}\"");
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// A family with one unlabelled sample.
    fn single(&mut self, name: &str, value: impl std::fmt::Display) {
        self.family(name);
        self.sample(name, &[], value);
    }
}

/// What each family counts (its `# HELP` text).
fn help(name: &str) -> &'static str {
    match name {
        "connections_open" => "Open client connections (HTTP and WebSocket).",
        "connections_refused_total" => "Connections closed at once by a connection cap.",
        "http_graphql_requests_total" => "GraphQL requests over HTTP.",
        "ws_connections_open" => "graphql-ws sockets open.",
        "ws_operations_total" => "graphql-ws operations started.",
        "ws_operations_open" => "graphql-ws operations running.",
        "ws_next_frames_total" => "graphql-ws next frames sent.",
        "errors_total" => "Errors sent to clients (HTTP responses and graphql-ws results), by extensions.code.",
        "ws_closes_total" => "WebSocket closes sent by the server, by close code.",
        "rate_limited_total" => "Requests refused by a flood limit, by limit.",
        "store_calls_total" => "Storage calls.",
        "store_calls_in_flight" => "Storage calls running (waiting for a database connection or querying).",
        "store_call_seconds_total" => "Time spent in storage calls, waiting for a pool connection included.",
        "store_failures_total" => "Storage calls that failed: unavailable (no pool connection in time, database unreachable) or other.",
        "message_feeds_open" => "roomMessages feeds open.",
        "event_feeds_open" => "roomEvents feeds open.",
        "viewer_feeds_open" => "viewerEvents feeds open.",
        "feed_catch_ups_total" => "Times a feed fell behind live fan-out and caught up from storage, by cause.",
        "feed_replayed_messages_total" => "Messages delivered from storage instead of live (replays and catch-ups).",
        "shared_renders_total" => "Shared roomMessages payloads executed (once per distinct operation and message).",
        "shared_reuses_total" => "Shared roomMessages payloads reused instead of executed again.",
        "password_hashes_total" => "Password hashes computed (new passwords and verifications).",
        "password_hash_queue" => "Password hashes waiting or running.",
        "password_hashes_refused_total" => "Sign-ins and registrations refused because the hash queue was full.",
        _ => "",
    }
}

fn get(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = Exposition(String::with_capacity(4096));
        let (c, t) = (&self.connections, &self.transport);
        out.single("connections_open", c.open());
        out.family("connections_refused_total");
        out.sample(
            "connections_refused_total",
            &[("cap", "per_address")],
            get(&c.refused_per_address),
        );
        out.sample(
            "connections_refused_total",
            &[("cap", "total")],
            get(&c.refused_total),
        );
        out.single("http_graphql_requests_total", get(&t.http_requests));
        out.single("ws_connections_open", get(&t.ws_open));
        out.single("ws_operations_total", get(&t.ws_operations));
        out.single("ws_operations_open", get(&t.ws_operations_open));
        out.single("ws_next_frames_total", get(&t.ws_frames));
        out.family("errors_total");
        for (code, n) in t.errors.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            out.sample("errors_total", &[("code", code)], n);
        }
        out.family("ws_closes_total");
        for (code, n) in t.closes.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            out.sample("ws_closes_total", &[("code", &code.to_string())], n);
        }
        out.family("rate_limited_total");
        for (limit, n) in self.throttles.refusals() {
            out.sample("rate_limited_total", &[("limit", limit)], n);
        }
        let s = &self.store;
        out.single("store_calls_total", get(&s.calls));
        out.single("store_calls_in_flight", get(&s.in_flight));
        let busy = get(&s.busy_micros) as f64 / 1e6;
        out.single("store_call_seconds_total", format_args!("{busy:.6}"));
        out.family("store_failures_total");
        out.sample(
            "store_failures_total",
            &[("kind", "unavailable")],
            get(&s.unavailable),
        );
        out.sample("store_failures_total", &[("kind", "other")], get(&s.failed));
        let f = &self.feeds;
        out.single("message_feeds_open", get(&f.open));
        out.single("event_feeds_open", get(&f.events_open));
        out.single("viewer_feeds_open", get(&f.viewer_open));
        out.family("feed_catch_ups_total");
        out.sample("feed_catch_ups_total", &[("cause", "lag")], get(&f.lagged));
        out.sample("feed_catch_ups_total", &[("cause", "gap")], get(&f.gaps));
        out.sample(
            "feed_catch_ups_total",
            &[("cause", "events_lag")],
            get(&f.events_lagged),
        );
        out.single("feed_replayed_messages_total", get(&f.replayed));
        let shared = &self.sharing.stats;
        out.single("shared_renders_total", get(&shared.renders));
        out.single("shared_reuses_total", get(&shared.reuses));
        let h = &self.hashing;
        out.single("password_hashes_total", get(&h.computed));
        out.single("password_hash_queue", get(&h.pending));
        out.single("password_hashes_refused_total", get(&h.refused));
        out.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_printed_with_escaped_labels() {
        let mut out = Exposition(String::new());
        out.family("errors_total");
        out.sample("errors_total", &[("code", "A\"B")], 3);
        let help = help("errors_total");
        assert_eq!(
            out.0,
            format!("# HELP roomcast_errors_total {help}\n# TYPE roomcast_errors_total counter\nroomcast_errors_total{{code=\"A\\\"B\"}} 3\n")
        );
    }

    #[test]
    fn errors_are_counted_by_code() {
        let stats = TransportStats::default();
        stats.count_code(ErrorCode::Banned);
        stats.count_code(ErrorCode::Banned);
        stats.count_code(ErrorCode::Forbidden);
        let errors = stats.errors.lock().expect("lock");
        assert_eq!(errors.get("BANNED"), Some(&2));
        assert_eq!(errors.get("FORBIDDEN"), Some(&1));
    }
}
