//! The load generator: a single-threaded client that opens many subscribed graphql-ws
//! connections and publishes open-loop at fixed rates, recording delivery latency from each
//! message's intended send time into an HDR histogram.
//!
//! It runs as a child of the driver and reports one JSON object per line on stdout. `fanout`
//! steps the publish rate up until deliveries stop keeping up; `hold` opens connections in
//! stages on command (several processes share the load when one process's open-files limit is
//! too small) and checks that every connection still receives; `ingest` measures closed-loop
//! `sendMessage` throughput with a fixed number of concurrent senders.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::AsyncBufReadExt;
use tokio::sync::Notify;
use tokio::task::LocalSet;
use tokio_tungstenite::tungstenite::Message;

use crate::http1::HttpConn;
use crate::proto::{self, ServerKind};
use crate::rawsub::{self, RawSub};
use crate::sys::{self, CpuMeter};
use crate::wsclient::{self, Fixture, Ws};

#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Fixture file written by the driver (server url, tokens, rooms).
    #[arg(long)]
    pub fixture: String,
    /// Number of source addresses 127.0.0.1..=127.0.0.N to spread connections over.
    #[arg(long, default_value_t = 4)]
    pub sources: usize,
    /// Kernel socket buffer size requested per connection (SO_RCVBUF/SO_SNDBUF), bytes.
    #[arg(long, default_value_t = 16 * 1024)]
    pub sockbuf: u32,
    /// WebSocket read buffer per connection, bytes.
    #[arg(long, default_value_t = 4096)]
    pub wsbuf: usize,
    /// Server process to sample CPU use from.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Size of each message body, bytes.
    #[arg(long, default_value_t = 128)]
    pub body_size: usize,
    /// What each connection subscribes to.
    #[arg(long, value_enum, default_value_t = Feed::Messages)]
    pub feed: Feed,
}

/// What a subscribed connection listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feed {
    /// `roomMessages` (every message is a delivery).
    Messages,
    /// `viewerEvents` only (each `RoomActivity` carrying a message body is a delivery; the
    /// server paces them to one per room per 250 ms, so fewer arrive than were sent).
    Viewer,
    /// As `Viewer`, but each subscriber's feed is executed for it alone (a root-field
    /// directive keeps it off the shared path, as a viewer-specific field would): the cost
    /// without sharing.
    ViewerUnshared,
    /// Both on one connection: `roomMessages` deliveries are counted, `viewerEvents` is
    /// held (the server does its work, the generator only reads it).
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Http,
    Ws,
}

#[derive(Debug, Clone, Subcommand)]
pub enum LoadgenCmd {
    /// Registers users and creates rooms on a running server, writing the fixture file.
    Setup(SetupArgs),
    /// Rising publish rate over subscribed connections until deliveries stop keeping up.
    Fanout(FanoutArgs),
    /// Holds connections in stages driven by stdin commands (`open N`, `arm`, `check K MS`).
    Hold(HoldArgs),
    /// Closed-loop sendMessage throughput.
    Ingest(IngestArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SetupArgs {
    /// Server base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    #[arg(long, default_value_t = 4)]
    pub users: usize,
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Fixture file to write.
    #[arg(long)]
    pub out: String,
}

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub common: Common,
    /// Subscribed connections, spread round-robin over the fixture's rooms.
    #[arg(long)]
    pub conns: usize,
    /// First publish rate, messages per second (all rooms together).
    #[arg(long, default_value_t = 10.0)]
    pub start_rate: f64,
    /// Each step multiplies the rate by this.
    #[arg(long, default_value_t = 1.5)]
    pub factor: f64,
    #[arg(long, default_value_t = 20)]
    pub max_steps: usize,
    /// Seconds each step publishes for.
    #[arg(long, default_value_t = 3.0)]
    pub step_secs: f64,
    /// Seconds at the start of each step left out of the figures.
    #[arg(long, default_value_t = 0.5)]
    pub warmup_secs: f64,
    /// A step keeps up when it loses nothing and at least this fraction of its deliveries
    /// arrive before the step ends.
    #[arg(long, default_value_t = 0.95)]
    pub keep_up: f64,
    /// How messages are published.
    #[arg(long, value_enum, default_value_t = Transport::Http)]
    pub publish: Transport,
    /// Concurrent HTTP connections the publisher spreads requests over.
    #[arg(long, default_value_t = 32)]
    pub publishers: usize,
    /// After saturation, run one longer step at half the saturated rate.
    #[arg(long)]
    pub half: bool,
    /// Run every step (`--max-steps` of them) even when one does not keep up: for
    /// measuring cost at fixed rates rather than finding saturation.
    #[arg(long)]
    pub fixed_steps: bool,
}

#[derive(Debug, Clone, Args)]
pub struct HoldArgs {
    #[command(flatten)]
    pub common: Common,
    /// Index of this process's first connection, so processes spread over rooms and sources.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Handshakes in flight at once while opening.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 64)]
    pub senders: usize,
    #[arg(long, default_value_t = 5.0)]
    pub secs: f64,
    #[arg(long, default_value_t = 1.0)]
    pub warmup_secs: f64,
    #[arg(long, value_enum, default_value_t = Transport::Http)]
    pub transport: Transport,
}

/// One fan-out step as reported to the driver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    pub phase: String,
    /// Publish rate, messages per second.
    pub rate: f64,
    pub offered_dps: f64,
    pub achieved_dps: f64,
    pub expected: u64,
    pub delivered: u64,
    /// Of `delivered`, how many arrived before the step ended.
    pub on_time: u64,
    pub kept_up: bool,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub server_cpu: f64,
    pub gen_cpu: f64,
    pub publish_errors: u64,
    /// Publishes still queued in the generator when the step ended (dropped).
    pub unsent: u64,
    /// p99 of how late publishes left the generator (timer granularity, publisher queueing).
    pub publish_lag_p99_us: u64,
}

/// Closed-loop ingest result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestReport {
    pub transport: Transport,
    pub senders: usize,
    pub ok: u64,
    pub errors: u64,
    pub per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub server_cpu: f64,
    pub gen_cpu: f64,
    pub first_error: Option<String>,
}

pub fn run(cmd: LoadgenCmd) -> Result<()> {
    sys::raise_nofile_limit()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    LocalSet::new().block_on(&rt, async move {
        match cmd {
            LoadgenCmd::Setup(a) => Fixture::create(&a.url, a.users, a.rooms)
                .await?
                .save(&a.out),
            LoadgenCmd::Fanout(a) => fanout(a).await,
            LoadgenCmd::Hold(a) => hold(a).await,
            LoadgenCmd::Ingest(a) => ingest(a).await,
        }
    })
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 100 s at 3 significant figures; the bounds are constants, so this cannot fail.
    Histogram::new_with_bounds(1, 100_000_000, 3).unwrap_or_else(|_| unreachable!())
}

fn emit<T: Serialize>(value: &T) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// What every receiving connection records into; one per process, shared by its tasks.
struct Recorder {
    /// Intended-time window whose messages count towards latency and completeness.
    win_lo: u64,
    win_hi: u64,
    hist: Histogram<u64>,
    in_window: u64,
    /// Deliveries of the window's messages that arrived before the window closed.
    in_window_on_time: u64,
    /// Deliveries whose receive time falls in the window: the achieved rate.
    recv_in_window: u64,
    total: u64,
    per_conn: Vec<u32>,
    alive: Vec<bool>,
    errors: u64,
    first_error: Option<String>,
}

type Rec = Rc<RefCell<Recorder>>;

impl Recorder {
    fn new() -> Rec {
        Rc::new(RefCell::new(Recorder {
            win_lo: 0,
            win_hi: 0,
            hist: histogram(),
            in_window: 0,
            in_window_on_time: 0,
            recv_in_window: 0,
            total: 0,
            per_conn: Vec::new(),
            alive: Vec::new(),
            errors: 0,
            first_error: None,
        }))
    }

    fn add_conn(&mut self) -> usize {
        self.per_conn.push(0);
        self.alive.push(true);
        self.per_conn.len() - 1
    }

    fn delivery(&mut self, conn: usize, intended: u64, now: u64) {
        self.total += 1;
        self.per_conn[conn] += 1;
        if (self.win_lo..self.win_hi).contains(&intended) {
            self.in_window += 1;
            if now < self.win_hi {
                self.in_window_on_time += 1;
            }
            let us = now.saturating_sub(intended) / 1000;
            self.hist.saturating_record(us.max(1));
        }
        if (self.win_lo..self.win_hi).contains(&now) {
            self.recv_in_window += 1;
        }
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }

    fn set_window(&mut self, lo: u64, hi: u64) {
        self.win_lo = lo;
        self.win_hi = hi;
        self.hist.reset();
        self.in_window = 0;
        self.in_window_on_time = 0;
        self.recv_in_window = 0;
    }

    fn live(&self) -> usize {
        self.alive.iter().filter(|a| **a).count()
    }
}

/// Where one subscribed connection records what it receives.
struct ConnSink {
    conn: usize,
    rec: Rec,
}

impl rawsub::Sink for ConnSink {
    fn delivery(&mut self, intended: u64, now: u64) {
        self.rec.borrow_mut().delivery(self.conn, intended, now);
    }

    fn error(&mut self, what: String) {
        self.rec.borrow_mut().error(what);
    }
}

/// Reads one subscribed connection until it closes, recording every delivery.
async fn receive(conn: usize, sub: RawSub, rec: Rec) {
    let mut sink = ConnSink {
        conn,
        rec: rec.clone(),
    };
    sub.receive(&mut sink).await;
    rec.borrow_mut().alive[conn] = false;
}

/// Opens connections `from..to` (global indices) with at most `concurrency` handshakes in
/// flight, each spawned as a receiver. Returns how many failed to open.
async fn open_range(
    fx: &Fixture,
    c: &Common,
    server: SocketAddr,
    from: usize,
    to: usize,
    concurrency: usize,
    rec: &Rec,
) -> usize {
    let mut failed = 0;
    let mut inflight = futures_util::stream::FuturesUnordered::new();
    let mut next = from;
    loop {
        while next < to && inflight.len() < concurrency.max(1) {
            let i = next;
            next += 1;
            let src = wsclient::source_ip(i, c.sources);
            inflight.push(async move {
                // A server out of file descriptors leaves connections unaccepted in its
                // backlog: the handshake would hang, so it is bounded.
                let open = wsclient::open_subscriber(
                    server,
                    Some(src),
                    c.sockbuf,
                    c.wsbuf,
                    fx.token(i),
                    fx.room(i),
                    c.feed,
                );
                match tokio::time::timeout(Duration::from_secs(10), open).await {
                    Ok(r) => r,
                    Err(_) => Err(anyhow::anyhow!("handshake timed out")),
                }
            });
        }
        match inflight.next().await {
            Some(Ok(ws)) => {
                let idx = rec.borrow_mut().add_conn();
                tokio::task::spawn_local(receive(idx, ws, rec.clone()));
            }
            Some(Err(e)) => {
                failed += 1;
                rec.borrow_mut().error(format!("open: {e:#}"));
            }
            None => break,
        }
    }
    failed
}

/// Waits until every live connection has at least `k` deliveries since the last reset, or the
/// timeout passes; returns how many have.
async fn wait_all_received(rec: &Rec, k: u32, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let ok = {
            let r = rec.borrow();
            r.per_conn
                .iter()
                .zip(&r.alive)
                .filter(|(n, alive)| **alive && **n >= k)
                .count()
        };
        if ok >= rec.borrow().live() || Instant::now() >= deadline {
            return ok;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn reset_counts(rec: &Rec) {
    rec.borrow_mut().per_conn.iter_mut().for_each(|n| *n = 0);
}

/// A publish the generator owes the server: room index and intended send time.
struct Job {
    room: usize,
    intended: u64,
}

/// Open-loop publisher: jobs are queued at their intended times and sent by a pool of
/// connections (HTTP) or pipelined on one WebSocket. Queueing delay in the generator counts
/// as latency, since the intended time travels in the body.
struct Publisher {
    queue: Rc<RefCell<VecDeque<Job>>>,
    notify: Rc<Notify>,
    errors: Rc<RefCell<(u64, Option<String>)>>,
    /// How late after its intended time each publish left the generator, µs.
    lag: Rc<RefCell<Histogram<u64>>>,
}

impl Publisher {
    async fn start(fx: Rc<Fixture>, args: &FanoutArgs, server: SocketAddr) -> Result<Self> {
        let p = Publisher {
            queue: Rc::new(RefCell::new(VecDeque::new())),
            notify: Rc::new(Notify::new()),
            errors: Rc::new(RefCell::new((0, None))),
            lag: Rc::new(RefCell::new(histogram())),
        };
        let body_size = args.common.body_size;
        match args.publish {
            Transport::Http => {
                for w in 0..args.publishers.max(1) {
                    let mut conn = HttpConn::connect(server, None).await?;
                    let (queue, notify, errors, fx, lag) = (
                        p.queue.clone(),
                        p.notify.clone(),
                        p.errors.clone(),
                        fx.clone(),
                        p.lag.clone(),
                    );
                    tokio::task::spawn_local(async move {
                        loop {
                            let job = queue.borrow_mut().pop_front();
                            let Some(job) = job else {
                                notify.notified().await;
                                continue;
                            };
                            record_lag(&lag, job.intended);
                            let body = proto::make_body(job.intended, body_size);
                            let res = wsclient::gql(
                                &mut conn,
                                Some(fx.token(w)),
                                proto::SEND_MESSAGE_QUERY,
                                json!({"r": fx.room(job.room), "b": body}),
                            )
                            .await;
                            if let Err(e) = res {
                                {
                                    let mut er = errors.borrow_mut();
                                    er.0 += 1;
                                    er.1.get_or_insert_with(|| format!("{e:#}"));
                                }
                                // The connection may be unusable after an error: start afresh.
                                if let Ok(c) = HttpConn::connect(server, None).await {
                                    conn = c;
                                }
                            }
                        }
                    });
                }
            }
            Transport::Ws => {
                let ws = wsclient::open_ws(server, None, 0, 64 * 1024, fx.token(0)).await?;
                let (mut tx, mut rx) = ws.split();
                let errors = p.errors.clone();
                tokio::task::spawn_local(async move {
                    while let Some(Ok(msg)) = rx.next().await {
                        if let Message::Text(t) = msg {
                            if proto::server_kind(&t) == ServerKind::Error
                                || t.contains("\"errors\"")
                            {
                                let mut er = errors.borrow_mut();
                                er.0 += 1;
                                er.1.get_or_insert_with(|| t.to_string());
                            }
                        }
                    }
                });
                let (queue, notify, lag) = (p.queue.clone(), p.notify.clone(), p.lag.clone());
                tokio::task::spawn_local(async move {
                    let mut id = 0u64;
                    loop {
                        let job = queue.borrow_mut().pop_front();
                        let Some(job) = job else {
                            notify.notified().await;
                            continue;
                        };
                        id += 1;
                        record_lag(&lag, job.intended);
                        let body = proto::make_body(job.intended, body_size);
                        let msg = proto::subscribe_send_message(id, fx.room(job.room), &body);
                        if tx.send(Message::text(msg)).await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
        Ok(p)
    }

    fn push(&self, job: Job) {
        self.queue.borrow_mut().push_back(job);
        self.notify.notify_one();
    }

    /// Drops queued publishes, returning how many there were.
    fn clear(&self) -> u64 {
        let mut q = self.queue.borrow_mut();
        let n = q.len() as u64;
        q.clear();
        n
    }

    fn errors(&self) -> u64 {
        self.errors.borrow().0
    }
}

fn record_lag(lag: &RefCell<Histogram<u64>>, intended: u64) {
    let us = proto::now_unix_nanos().saturating_sub(intended) / 1000;
    lag.borrow_mut().saturating_record(us.max(1));
}

/// Maps intended unix times to tokio instants for sleeping.
struct Clock {
    base_instant: tokio::time::Instant,
    base_unix: u64,
}

impl Clock {
    fn new() -> Self {
        Self {
            base_instant: tokio::time::Instant::now(),
            base_unix: proto::now_unix_nanos(),
        }
    }

    fn instant(&self, unix: u64) -> tokio::time::Instant {
        self.base_instant + Duration::from_nanos(unix.saturating_sub(self.base_unix))
    }
}

struct StepPlan {
    phase: &'static str,
    rate: f64,
    secs: f64,
}

async fn run_step(
    plan: StepPlan,
    args: &FanoutArgs,
    fanout: u64,
    rooms: usize,
    publisher: &Publisher,
    rec: &Rec,
    gen_pid: u32,
) -> StepReport {
    let clock = Clock::new();
    let start = proto::now_unix_nanos() + 20_000_000;
    let end = start + (plan.secs * 1e9) as u64;
    let warm = start + (args.warmup_secs.min(plan.secs / 2.0) * 1e9) as u64;
    rec.borrow_mut().set_window(warm, end);
    publisher.lag.borrow_mut().reset();
    let errors_before = publisher.errors();
    let server_cpu = args.common.server_pid.map(CpuMeter::start);
    let gen_cpu = CpuMeter::start(gen_pid);
    let interval = 1e9 / plan.rate;
    let mut k: u64 = 0;
    let mut in_window_msgs: u64 = 0;
    loop {
        let intended = start + (k as f64 * interval) as u64;
        if intended >= end {
            break;
        }
        let now = proto::now_unix_nanos();
        if intended > now {
            tokio::time::sleep_until(clock.instant(intended)).await;
        }
        if intended >= warm {
            in_window_msgs += 1;
        }
        publisher.push(Job {
            room: (k as usize) % rooms,
            intended,
        });
        k += 1;
    }
    let server_cpu = server_cpu.map(|m| m.read()).unwrap_or(0.0);
    let gen_cpu = gen_cpu.read();
    // Publishes still queued when the step ends are dropped: the server is already past
    // saturation, and a backlog would spill into the next step's figures.
    let settle = Instant::now() + Duration::from_millis(200);
    while !publisher.queue.borrow().is_empty() && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let unsent = publisher.clear();
    let expected = (in_window_msgs - unsent.min(in_window_msgs)) * fanout;
    // Grace for in-flight deliveries of the window's last messages.
    let deadline = Instant::now() + Duration::from_secs(2);
    while rec.borrow().in_window < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = rec.borrow();
    let window_secs = (end - warm) as f64 / 1e9;
    let offered_dps = plan.rate * fanout as f64;
    let achieved_dps = r.recv_in_window as f64 / window_secs;
    let publish_errors = publisher.errors() - errors_before;
    StepReport {
        phase: plan.phase.to_owned(),
        rate: plan.rate,
        offered_dps,
        achieved_dps,
        expected,
        delivered: r.in_window,
        on_time: r.in_window_on_time,
        // Kept up: everything arrived, and all but a sliver (the latency of the window's last
        // messages) arrived while the window was still open. A server short of capacity
        // builds a backlog and fails the second test; counting messages rather than a rate
        // avoids rounding at low publish rates.
        kept_up: unsent == 0
            && r.in_window >= expected
            && r.in_window_on_time as f64 >= args.keep_up * expected as f64
            && publish_errors == 0,
        p50_us: r.hist.value_at_quantile(0.5),
        p99_us: r.hist.value_at_quantile(0.99),
        p999_us: r.hist.value_at_quantile(0.999),
        max_us: r.hist.max(),
        server_cpu,
        gen_cpu,
        publish_errors,
        unsent,
        publish_lag_p99_us: publisher.lag.borrow().value_at_quantile(0.99),
    }
}

/// Waits until deliveries stop arriving (backlog of an overloaded step drained).
async fn drain(rec: &Rec, max: Duration) {
    let deadline = Instant::now() + max;
    let mut last = rec.borrow().total;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let now = rec.borrow().total;
        if now == last {
            return;
        }
        last = now;
    }
}

async fn fanout(args: FanoutArgs) -> Result<()> {
    let fx = Rc::new(Fixture::load(&args.common.fixture)?);
    let server = wsclient::parse_url(&fx.url)?;
    let rooms = fx.rooms.len();
    if !args.conns.is_multiple_of(rooms) {
        bail!(
            "{} connections do not spread evenly over {rooms} rooms",
            args.conns
        );
    }
    let fanout = (args.conns / rooms) as u64;
    let rec = Recorder::new();
    let failed = open_range(&fx, &args.common, server, 0, args.conns, 64, &rec).await;
    if failed > 0 {
        bail!(
            "{failed} of {} connections failed to open: {}",
            args.conns,
            rec.borrow().first_error.clone().unwrap_or_default()
        );
    }
    // Subscriptions are set up asynchronously after `subscribe`: publish until every
    // connection has seen a message, so the first step measures a fully subscribed room.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut conn = fx.connect().await?;
    loop {
        fx.publish_round(&mut conn, args.common.body_size).await?;
        let ok = wait_all_received(&rec, 1, Duration::from_secs(1)).await;
        if ok == args.conns {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {ok} of {} subscribers receive", args.conns);
        }
    }
    drain(&rec, Duration::from_secs(5)).await;
    let publisher = Publisher::start(fx.clone(), &args, server).await?;
    let gen_pid = std::process::id();
    let mut rate = args.start_rate;
    let mut best: Option<StepReport> = None;
    for _ in 0..args.max_steps {
        let plan = StepPlan {
            phase: "step",
            rate,
            secs: args.step_secs,
        };
        let report = run_step(plan, &args, fanout, rooms, &publisher, &rec, gen_pid).await;
        emit(&report)?;
        let kept_up = report.kept_up;
        if best
            .as_ref()
            .is_none_or(|b| report.achieved_dps > b.achieved_dps)
        {
            best = Some(report);
        }
        drain(&rec, Duration::from_secs(20)).await;
        if !kept_up && !args.fixed_steps {
            break;
        }
        rate *= args.factor;
    }
    if args.half {
        let best = best.context("no step ran")?;
        let plan = StepPlan {
            phase: "half",
            rate: best.achieved_dps / 2.0 / fanout as f64,
            secs: args.step_secs * 2.0,
        };
        let report = run_step(plan, &args, fanout, rooms, &publisher, &rec, gen_pid).await;
        emit(&report)?;
    }
    let errs = rec.borrow().errors;
    if errs > 0 {
        eprintln!(
            "loadgen: {errs} connection errors, first: {}",
            rec.borrow().first_error.clone().unwrap_or_default()
        );
    }
    Ok(())
}

async fn hold(args: HoldArgs) -> Result<()> {
    let fx = Fixture::load(&args.common.fixture)?;
    let server = wsclient::parse_url(&fx.url)?;
    let rec = Recorder::new();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut opened = 0usize;
    let mut failed = 0usize;
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["open", n] => {
                let n: usize = n.parse().context("open N")?;
                if n > opened {
                    let from = args.offset + opened;
                    let to = args.offset + n;
                    failed +=
                        open_range(&fx, &args.common, server, from, to, args.concurrency, &rec)
                            .await;
                    opened = n;
                }
                let r = rec.borrow();
                emit(
                    &json!({"opened": r.per_conn.len(), "live": r.live(), "failed": failed,
                    "first_error": r.first_error}),
                )?;
            }
            ["arm"] => {
                reset_counts(&rec);
                emit(&json!({"armed": true}))?;
            }
            ["check", k, ms] => {
                let k: u32 = k.parse().context("check K")?;
                let ms: u64 = ms.parse().context("check MS")?;
                let ok = wait_all_received(&rec, k, Duration::from_millis(ms)).await;
                let r = rec.borrow();
                emit(
                    &json!({"receiving": ok, "live": r.live(), "opened": r.per_conn.len(),
                    "first_error": r.first_error}),
                )?;
            }
            ["quit"] => break,
            _ => bail!("unknown command {line:?}"),
        }
    }
    Ok(())
}

/// How long one closed-loop `sendMessage` may take before its sender gives up, so a stuck
/// server ends the measurement instead of hanging it.
const OP_TIMEOUT: Duration = Duration::from_secs(10);

async fn ingest(args: IngestArgs) -> Result<()> {
    let fx = Rc::new(Fixture::load(&args.common.fixture)?);
    let server = wsclient::parse_url(&fx.url)?;
    struct Tally {
        ok: u64,
        errors: u64,
        first_error: Option<String>,
        hist: Histogram<u64>,
    }
    let tally = Rc::new(RefCell::new(Tally {
        ok: 0,
        errors: 0,
        first_error: None,
        hist: histogram(),
    }));
    let start = Instant::now();
    let warm = start + Duration::from_secs_f64(args.warmup_secs);
    let end = warm + Duration::from_secs_f64(args.secs);
    let body_size = args.common.body_size;
    let mut tasks = Vec::new();
    for s in 0..args.senders {
        let (fx, tally) = (fx.clone(), tally.clone());
        let transport = args.transport;
        let source = Some(wsclient::source_ip(s, args.common.sources));
        tasks.push(tokio::task::spawn_local(async move {
            let record = |res: Result<()>, t0: Instant| {
                let now = Instant::now();
                if now < warm || now >= end {
                    return;
                }
                let mut t = tally.borrow_mut();
                match res {
                    Ok(()) => {
                        t.ok += 1;
                        let us = now.duration_since(t0).as_micros() as u64;
                        t.hist.saturating_record(us.max(1));
                    }
                    Err(e) => {
                        t.errors += 1;
                        t.first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            };
            match transport {
                Transport::Http => {
                    let mut conn = HttpConn::connect(server, source).await?;
                    while Instant::now() < end {
                        let t0 = Instant::now();
                        let body = proto::make_body(proto::now_unix_nanos(), body_size);
                        let send = wsclient::gql(
                            &mut conn,
                            Some(fx.token(s)),
                            proto::SEND_MESSAGE_QUERY,
                            json!({"r": fx.room(s), "b": body}),
                        );
                        let Ok(res) = tokio::time::timeout(OP_TIMEOUT, send).await else {
                            record(Err(anyhow::anyhow!("sendMessage timed out")), t0);
                            break;
                        };
                        record(res.map(drop), t0);
                    }
                }
                Transport::Ws => {
                    let mut ws =
                        wsclient::open_ws(server, source, 0, 16 * 1024, fx.token(s)).await?;
                    let mut id = 0u64;
                    while Instant::now() < end {
                        id += 1;
                        let t0 = Instant::now();
                        let body = proto::make_body(proto::now_unix_nanos(), body_size);
                        ws.send(Message::text(proto::subscribe_send_message(
                            id,
                            fx.room(s),
                            &body,
                        )))
                        .await?;
                        let Ok(res) =
                            tokio::time::timeout(OP_TIMEOUT, ws_await_result(&mut ws, id)).await
                        else {
                            record(Err(anyhow::anyhow!("sendMessage timed out")), t0);
                            break;
                        };
                        record(res, t0);
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    let server_cpu;
    let gen_cpu;
    {
        tokio::time::sleep_until(warm.into()).await;
        let s = args.common.server_pid.map(CpuMeter::start);
        let g = CpuMeter::start(std::process::id());
        tokio::time::sleep_until(end.into()).await;
        server_cpu = s.map(|m| m.read()).unwrap_or(0.0);
        gen_cpu = g.read();
    }
    for t in tasks {
        t.await.context("sender task")??;
    }
    let t = tally.borrow();
    emit(&IngestReport {
        transport: args.transport,
        senders: args.senders,
        ok: t.ok,
        errors: t.errors,
        per_s: t.ok as f64 / args.secs,
        p50_us: t.hist.value_at_quantile(0.5),
        p99_us: t.hist.value_at_quantile(0.99),
        server_cpu,
        gen_cpu,
        first_error: t.first_error.clone(),
    })
}

/// Reads until the `complete` of operation `id`, failing on an `error` or a GraphQL error.
async fn ws_await_result(ws: &mut Ws, id: u64) -> Result<()> {
    let id = id.to_string();
    let mut failure = None;
    while let Some(msg) = ws.next().await {
        let Message::Text(t) = msg? else { continue };
        let v: serde_json::Value = serde_json::from_str(&t)?;
        match v["type"].as_str() {
            Some("ping") => ws.send(Message::text(proto::pong())).await?,
            Some("next") if v["id"] == id.as_str() && v["payload"].get("errors").is_some() => {
                failure = Some(format!("GraphQL errors: {}", v["payload"]["errors"]));
            }
            Some("error") if v["id"] == id.as_str() => bail!("error: {}", v["payload"]),
            Some("complete") if v["id"] == id.as_str() => {
                return match failure {
                    Some(f) => Err(anyhow::anyhow!(f)),
                    None => Ok(()),
                };
            }
            _ => {}
        }
    }
    bail!("connection closed")
}
