//! The driver behind `bench <scenario>`: starts a server (roomcast with a fresh SQLite database,
//! or the baseline) pinned to core 0, creates the fixture, runs the generator pinned to core 1,
//! repeats for several runs and reports the median of each figure with its ratio to the
//! baseline measured in the same run, as markdown table rows.
//!
//! The generator and the baseline are this same executable re-run with the hidden `loadgen` and
//! `baseline` subcommands, so `cargo run --bin bench` needs nothing else built.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::loadgen::{Feed, IngestReport, StepReport, Transport};
use crate::plot;
use crate::sys;
use crate::wsclient::Fixture;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Roomcast,
    Baseline,
    /// `../shared/perf/rawcast`, the independent ceiling the baseline is checked against.
    Rawcast,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Roomcast => "roomcast",
            Target::Baseline => "baseline",
            Target::Rawcast => "rawcast",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    Fanout,
    /// One room of 10, 100, 1,000 and 10,000 subscribers: how cost grows with room size.
    Sweep,
    Memory,
    Connections,
    Ingest,
    /// viewerEvents against roomMessages in one room of 1,000 members: server CPU per
    /// message at fixed rates, and fan-out saturation with the viewer feeds held too
    /// (roomcast only: `--targets roomcast`).
    Viewers,
    All,
}

#[derive(Debug, Clone, Args)]
pub struct RunOpts {
    /// Which scenario to run.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Tiny sizes, one run: finishes in seconds; for the test suite.
    #[arg(long)]
    pub smoke: bool,
    /// Runs per figure (the median is reported); default 3, or 1 with --smoke.
    #[arg(long)]
    pub runs: Option<usize>,
    /// Servers to measure.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "roomcast,baseline"
    )]
    pub targets: Vec<Target>,
    /// roomcast executable; default $ROOMCAST_BIN, else target/release/roomcast (with --smoke:
    /// the newer of target/release/roomcast and target/debug/roomcast).
    #[arg(long)]
    pub roomcast_bin: Option<PathBuf>,
    /// rawcast executable (`--targets ...,rawcast`); default target/rawcast/release/rawcast,
    /// built with `cargo build --release --manifest-path ../shared/perf/rawcast/Cargo.toml
    /// --target-dir target/rawcast`.
    #[arg(long)]
    pub rawcast_bin: Option<PathBuf>,
    /// Where raw results, logs and the plot go.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not pin server and generator to separate cores.
    #[arg(long)]
    pub no_pin: bool,
    /// How the fan-out publisher sends `sendMessage`: HTTP POST or graphql-ws.
    #[arg(long, value_enum, default_value_t = Transport::Http)]
    pub publish: Transport,
}

/// One line of the results table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub figure: String,
    pub roomcast: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
    /// rawcast's figure and baseline / rawcast, when rawcast was measured.
    pub rawcast: String,
    pub agreement: String,
}

impl Row {
    pub fn header() -> &'static str {
        "| scenario | figure | roomcast | baseline | roomcast / baseline | target | rawcast | baseline / rawcast |\n|---|---|---|---|---|---|---|---|"
    }

    pub fn markdown(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            self.scenario,
            self.figure,
            self.roomcast,
            self.baseline,
            self.ratio,
            self.target,
            self.rawcast,
            self.agreement
        )
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// target/release/roomcast for measurements; for a smoke run, whichever of the release and
/// debug builds is newer, since the test suite builds the debug one and a stale release
/// binary would test old code.
fn default_roomcast_bin(smoke: bool) -> Option<PathBuf> {
    let target = workspace_root().join("target");
    let release = target.join("release").join("roomcast");
    if !smoke {
        return release.exists().then_some(release);
    }
    let debug = target.join("debug").join("roomcast");
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    [release, debug]
        .into_iter()
        .filter_map(|p| mtime(&p).map(|t| (t, p)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
}

struct Ctx {
    opts: RunOpts,
    runs: usize,
    out: PathBuf,
    roomcast_bin: Option<PathBuf>,
    rawcast_bin: Option<PathBuf>,
    self_exe: PathBuf,
    pin: bool,
    rt: tokio::runtime::Runtime,
}

impl Ctx {
    fn new(opts: RunOpts) -> Result<Self> {
        let out = opts
            .out
            .clone()
            .unwrap_or_else(|| workspace_root().join("bench-output"));
        std::fs::create_dir_all(out.join("logs"))
            .with_context(|| format!("creating {}", out.display()))?;
        let roomcast_bin = opts
            .roomcast_bin
            .clone()
            .or_else(|| std::env::var_os("ROOMCAST_BIN").map(PathBuf::from))
            .or_else(|| default_roomcast_bin(opts.smoke));
        if opts.targets.contains(&Target::Roomcast) {
            match &roomcast_bin {
                Some(p) if p.exists() => eprintln!("bench: roomcast binary {}", p.display()),
                _ => bail!(
                    "no roomcast binary: build it (cargo build --release --bin roomcast), pass \
                     --roomcast-bin, or use --targets baseline"
                ),
            }
        }
        let rawcast_bin = opts.rawcast_bin.clone().or_else(|| {
            let built = workspace_root().join("target/rawcast/release/rawcast");
            built.exists().then_some(built)
        });
        if opts.targets.contains(&Target::Rawcast) && rawcast_bin.is_none() {
            bail!(
                "no rawcast binary: cargo build --release --manifest-path \
                 ../shared/perf/rawcast/Cargo.toml --target-dir target/rawcast, or pass --rawcast-bin"
            );
        }
        let pin = !opts.no_pin && Command::new("taskset").arg("-V").output().is_ok();
        if !pin {
            eprintln!("bench: not pinning server and generator to cores");
        }
        let runs = opts.runs.unwrap_or(if opts.smoke { 1 } else { 3 }).max(1);
        Ok(Self {
            runs,
            out,
            roomcast_bin,
            rawcast_bin,
            self_exe: std::env::current_exe().context("locating own executable")?,
            pin,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            opts,
        })
    }

    fn pinned(&self, core: u32, program: &Path) -> Command {
        let mut c = if self.pin {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(core.to_string()).arg(program);
            c
        } else {
            Command::new(program)
        };
        die_with_parent(&mut c);
        c
    }

    fn loadgen(&self) -> Command {
        let mut c = self.pinned(1, &self.self_exe);
        c.arg("loadgen");
        c
    }
}

/// Has the child killed when the driver dies (Ctrl-C, timeout), so no server or generator
/// outlives a run.
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A running server; killed and its database removed on drop.
struct Server {
    child: Child,
    pid: u32,
    url: String,
    db: Option<PathBuf>,
}

impl Server {
    fn start(ctx: &Ctx, target: Target, label: &str) -> Result<Self> {
        let log_path = ctx
            .out
            .join("logs")
            .join(format!("{label}-{}.log", target.name()));
        let log = std::fs::File::create(&log_path)?;
        let (mut cmd, db) = match target {
            Target::Roomcast => {
                let bin = ctx.roomcast_bin.clone().context("no roomcast binary")?;
                let db = std::env::temp_dir()
                    .join(format!("roomcast-bench-{}-{label}.db", std::process::id()));
                remove_db(&db);
                let mut c = ctx.pinned(0, &bin);
                c.arg("--listen")
                    .arg("127.0.0.1:0")
                    .arg("--database-url")
                    .arg(format!("sqlite://{}", db.display()))
                    // The load generator is one client on loopback that sends as fast as
                    // it can: per-client caps and flood limits off.
                    .arg("--max-connections-per-address")
                    .arg("0")
                    .args(["--message-rate", "off"])
                    .args(["--login-rate-per-address", "off"])
                    .args(["--register-rate-per-address", "off"]);
                (c, Some(db))
            }
            Target::Baseline => {
                let mut c = ctx.pinned(0, &ctx.self_exe);
                c.arg("baseline").arg("--listen").arg("127.0.0.1:0");
                (c, None)
            }
            Target::Rawcast => {
                // rawcast prints its address on stderr; a shell joins it to stdout and then
                // becomes rawcast (same process, so pinning and the parent-death signal hold).
                let bin = ctx.rawcast_bin.clone().context("no rawcast binary")?;
                let mut c = ctx.pinned(0, Path::new("/bin/sh"));
                c.arg("-c")
                    .arg("exec \"$0\" --listen 127.0.0.1:0 2>&1")
                    .arg(&bin);
                (c, None)
            }
        };
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "warn");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log.try_clone()?))
            .spawn()
            .with_context(|| format!("starting {}", target.name()))?;
        let pid = child.id();
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        // Forward stdout to the log after the ready line so the server never blocks on a pipe.
        std::thread::spawn(move || {
            let mut log = log;
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(i) = line.find("http://") {
                        let url = line[i..].split_whitespace().next().unwrap_or("").to_owned();
                        sent = tx.send(url).is_ok();
                    }
                }
                // Losing a log line is harmless.
                let _logged = writeln!(log, "{line}");
            }
        });
        let mut server = Self {
            child,
            pid,
            url: String::new(),
            db,
        };
        server.url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => bail!(
                "{} did not print its listening address; see {}",
                target.name(),
                log_path.display()
            ),
        };
        Ok(server)
    }

    fn rss_kib(&self) -> Result<u64> {
        sys::rss_kib(self.pid)
    }
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        // Absent files are the normal case.
        let _removed = std::fs::remove_file(PathBuf::from(p));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(None) = self.child.try_wait() {
            // Best effort: it may have exited in between.
            let _killed = self.child.kill();
            let _waited = self.child.wait();
        }
        if let Some(db) = &self.db {
            remove_db(db);
        }
    }
}

/// A generator child that talks JSON lines over stdin/stdout.
struct Gen {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl Gen {
    fn spawn(mut cmd: Command) -> Result<Self> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting loadgen")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("no stdout")?;
        Ok(Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        })
    }

    fn next_json(&mut self) -> Result<Option<Value>> {
        match self.lines.next() {
            Some(line) => Ok(Some(serde_json::from_str(&line?)?)),
            None => Ok(None),
        }
    }

    fn command(&mut self, line: &str) -> Result<Value> {
        let stdin = self.stdin.as_mut().context("stdin closed")?;
        writeln!(stdin, "{line}")?;
        stdin.flush()?;
        self.next_json()?
            .with_context(|| format!("loadgen exited after {line:?}"))
    }

    fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        let status = self.child.wait()?;
        if !status.success() {
            bail!("loadgen failed: {status}");
        }
        Ok(())
    }
}

impl Drop for Gen {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _killed = self.child.kill();
            let _waited = self.child.wait();
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Per-run values of one figure for each target.
#[derive(Default)]
pub struct Figure {
    roomcast: Vec<f64>,
    baseline: Vec<f64>,
    rawcast: Vec<f64>,
}

impl Figure {
    /// The median of a target's runs.
    fn median(&self, target: Target) -> Option<f64> {
        median(
            match target {
                Target::Roomcast => &self.roomcast,
                Target::Baseline => &self.baseline,
                Target::Rawcast => &self.rawcast,
            }
            .clone(),
        )
    }

    fn push(&mut self, target: Target, v: f64) {
        match target {
            Target::Roomcast => self.roomcast.push(v),
            Target::Baseline => self.baseline.push(v),
            Target::Rawcast => self.rawcast.push(v),
        }
    }

    /// Median of each, and median of the per-run ratios (runs pair up by index).
    fn row(&self, scenario: &str, figure: &str, target: &str, fmt: impl Fn(f64) -> String) -> Row {
        let show = |v: &Vec<f64>| median(v.clone()).map(&fmt).unwrap_or_else(|| "-".into());
        // Runs pair up by index; the median of the per-run ratios.
        let ratio = |a: &Vec<f64>, b: &Vec<f64>| {
            let ratios: Vec<f64> = a
                .iter()
                .zip(b)
                .filter(|(_, b)| **b != 0.0)
                .map(|(a, b)| a / b)
                .collect();
            median(ratios)
                .map(|r| format!("{r:.2}"))
                .unwrap_or_else(|| "-".into())
        };
        Row {
            scenario: scenario.into(),
            figure: figure.into(),
            roomcast: show(&self.roomcast),
            baseline: show(&self.baseline),
            ratio: ratio(&self.roomcast, &self.baseline),
            target: target.into(),
            rawcast: show(&self.rawcast),
            agreement: ratio(&self.baseline, &self.rawcast),
        }
    }
}

impl plot::SaturationByRun for Figure {
    fn median_run(&self, target: Target) -> Option<usize> {
        let v = match target {
            Target::Roomcast => &self.roomcast,
            Target::Baseline => &self.baseline,
            Target::Rawcast => &self.rawcast,
        };
        let m = median(v.clone())?;
        v.iter()
            .enumerate()
            .min_by(|a, b| (a.1 - m).abs().total_cmp(&(b.1 - m).abs()))
            .map(|(i, _)| i)
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1000.0)
}

/// Runs the chosen scenario(s), prints the table and writes raw results.
pub fn run(opts: RunOpts) -> Result<()> {
    sys::raise_nofile_limit()?;
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let one: f64 = load
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if one > 0.5 {
            eprintln!(
                "bench: warning: load average {one:.2} before starting: other work on the \
                 machine will skew the figures"
            );
        }
    }
    let ctx = Ctx::new(opts)?;
    let scenarios = match ctx.opts.scenario {
        Scenario::All => vec![
            Scenario::Fanout,
            Scenario::Sweep,
            Scenario::Memory,
            Scenario::Connections,
            Scenario::Ingest,
            Scenario::Viewers,
        ],
        s => vec![s],
    };
    let mut rows = Vec::new();
    for s in scenarios {
        let new_rows = match s {
            Scenario::Fanout => fanout(&ctx)?,
            Scenario::Sweep => sweep(&ctx)?,
            Scenario::Memory => memory(&ctx)?,
            Scenario::Connections => connections(&ctx)?,
            Scenario::Ingest => ingest(&ctx)?,
            Scenario::Viewers => viewers(&ctx)?,
            Scenario::All => Vec::new(),
        };
        println!("{}", Row::header());
        for r in &new_rows {
            println!("{}", r.markdown());
        }
        println!();
        rows.extend(new_rows);
    }
    if rows.len() > 1 {
        let mut table = format!("{}\n", Row::header());
        for r in &rows {
            table.push_str(&r.markdown());
            table.push('\n');
        }
        let name = if ctx.opts.smoke {
            "table-smoke.md"
        } else {
            "table.md"
        };
        std::fs::write(ctx.out.join(name), &table)?;
    }
    Ok(())
}

fn targets(ctx: &Ctx) -> Vec<Target> {
    let mut t = ctx.opts.targets.clone();
    t.dedup();
    t
}

fn fixture(ctx: &Ctx, server: &Server, users: usize, rooms: usize, label: &str) -> Result<String> {
    let fx = ctx
        .rt
        .block_on(Fixture::create(&server.url, users, rooms))
        .context("creating users and rooms")?;
    let path = ctx.out.join(format!("fixture-{label}.json"));
    let path = path.to_string_lossy().into_owned();
    fx.save(&path)?;
    Ok(path)
}

/// One fan-out set-up: subscribers spread evenly over rooms, and the first publish rate.
struct FanoutConfig {
    name: String,
    rooms: usize,
    conns: usize,
    start_rate: f64,
    feed: Feed,
}

impl FanoutConfig {
    fn new(rooms: usize, per_room: usize, start_rate: f64) -> Self {
        let plural = if rooms == 1 { "room" } else { "rooms" };
        Self {
            name: format!(
                "{} {plural} × {}",
                thousands(rooms as f64),
                thousands(per_room as f64)
            ),
            rooms,
            conns: rooms * per_room,
            start_rate,
            feed: Feed::Messages,
        }
    }

    fn with_feed(mut self, feed: Feed) -> Self {
        self.feed = feed;
        self.name = format!("{}, {}", self.name, feed_name(feed));
        self
    }
}

fn feed_name(feed: Feed) -> &'static str {
    match feed {
        Feed::Messages => "roomMessages",
        Feed::Viewer => "viewerEvents",
        Feed::ViewerUnshared => {
            "viewerEvents executed per subscriber (a selection that is not shared)"
        }
        Feed::Both => "roomMessages + viewerEvents",
    }
}

/// Fan-out: deliveries/s at saturation and latency at half that rate.
fn fanout(ctx: &Ctx) -> Result<Vec<Row>> {
    let configs = if ctx.opts.smoke {
        vec![
            FanoutConfig::new(1, 10, 20.0),
            FanoutConfig::new(2, 5, 20.0),
        ]
    } else {
        vec![
            FanoutConfig::new(1, 1000, 5.0),
            FanoutConfig::new(100, 100, 50.0),
        ]
    };
    let (rows, _) = fanout_configs(ctx, &configs, "fanout", true)?;
    Ok(rows)
}

/// How cost grows with room size: one room of 10 to 10,000 subscribers, each stepped to
/// saturation. Plots saturation against room size per server.
fn sweep(ctx: &Ctx) -> Result<Vec<Row>> {
    let sizes: &[usize] = if ctx.opts.smoke {
        &[2, 10]
    } else {
        &[10, 100, 1000, 10_000]
    };
    // Every size starts near 10,000 offered deliveries/s, and at no fewer than 10 messages
    // a second: a step must hold enough messages that the last one's deliveries (tens of ms
    // to a room of 10,000) are not 5 % of the step, or "kept up" fails on arithmetic.
    let configs: Vec<FanoutConfig> = sizes
        .iter()
        .map(|&n| FanoutConfig::new(1, n, (10_000.0 / n as f64).max(10.0)))
        .collect();
    let (rows, saturation) = fanout_configs(ctx, &configs, "sweep", false)?;
    let colors = [
        (Target::Roomcast, "#d62728"),
        (Target::Baseline, "#1f77b4"),
        (Target::Rawcast, "#2ca02c"),
    ];
    let series: Vec<plot::Series> = colors
        .iter()
        .filter_map(|&(target, color)| {
            let points: Vec<(f64, f64)> = configs
                .iter()
                .zip(&saturation)
                .filter_map(|(cfg, sat)| Some((cfg.conns as f64, sat.median(target)?)))
                .collect();
            (!points.is_empty()).then(|| plot::Series {
                name: target.name().to_owned(),
                color,
                dashed: false,
                points,
            })
        })
        .collect();
    let svg = plot::log_log_svg(
        "fan-out to one room: deliveries/s at saturation against room size",
        "subscribers in the room",
        "deliveries per second at saturation",
        1.0,
        &series,
    );
    let name = if ctx.opts.smoke {
        "sweep-saturation-smoke.svg"
    } else {
        "sweep-saturation.svg"
    };
    std::fs::write(ctx.out.join(name), &svg)?;
    eprintln!("bench: wrote {}", ctx.out.join(name).display());
    if !ctx.opts.smoke {
        let results = workspace_root().join("bench").join("results");
        std::fs::create_dir_all(&results)?;
        std::fs::write(results.join(name), &svg)?;
    }
    Ok(rows)
}

/// Runs each configuration on every target (`ctx.runs` times); returns the table rows (under
/// `scenario`) and each configuration's saturation figures. `latency_plots`: also write the
/// latency-against-rate plot of each configuration.
fn fanout_configs(
    ctx: &Ctx,
    configs: &[FanoutConfig],
    scenario: &str,
    latency_plots: bool,
) -> Result<(Vec<Row>, Vec<Figure>)> {
    let mut saturations = Vec::new();
    let mut rows = Vec::new();
    let mut raw = Vec::new();
    for cfg in configs {
        let mut sat = Figure::default();
        let (mut p50, mut p99, mut p999) =
            (Figure::default(), Figure::default(), Figure::default());
        // Server CPU per 1,000 deliveries at the steps nearest these offered rates (every
        // target steps through the same rates), where the step kept up.
        let cpu_rates = [40_000.0, 200_000.0];
        let mut cpu_at = [Figure::default(), Figure::default()];
        let mut curves: Vec<(Target, usize, Vec<StepReport>)> = Vec::new();
        for run in 0..ctx.runs {
            for target in targets(ctx) {
                // Only roomcast has viewer feeds.
                if cfg.feed != Feed::Messages && target != Target::Roomcast {
                    continue;
                }
                let label = format!("{scenario}-{}x{}-r{run}", cfg.rooms, cfg.conns / cfg.rooms);
                eprintln!("bench: {label} {}", target.name());
                let server = Server::start(ctx, target, &label)?;
                // rawcast knows no joinRoom: one user, who creates the rooms, is all it takes.
                let users = if target == Target::Rawcast {
                    1
                } else {
                    4.min(cfg.conns)
                };
                let fx = fixture(ctx, &server, users, cfg.rooms, &label)?;
                let mut cmd = ctx.loadgen();
                let publish = match ctx.opts.publish {
                    Transport::Http => "http",
                    Transport::Ws => "ws",
                };
                cmd.args(["fanout", "--fixture", &fx, "--half", "--publish", publish])
                    .args(["--conns", &cfg.conns.to_string()])
                    .args(["--start-rate", &cfg.start_rate.to_string()])
                    .args(["--server-pid", &server.pid.to_string()])
                    .args(["--feed", feed_arg(cfg.feed)]);
                if ctx.opts.smoke {
                    cmd.args([
                        "--max-steps",
                        "1",
                        "--step-secs",
                        "0.4",
                        "--warmup-secs",
                        "0.1",
                    ]);
                }
                let mut gen = Gen::spawn(cmd)?;
                let mut steps = Vec::new();
                while let Some(v) = gen.next_json()? {
                    let step: StepReport = serde_json::from_value(v)?;
                    eprintln!(
                        "bench:   {} rate {:.0}/s offered {:.0} achieved {:.0} p99 {} kept_up {} server cpu {:.2} gen cpu {:.2} publish lag p99 {}",
                        step.phase, step.rate, step.offered_dps, step.achieved_dps,
                        ms(step.p99_us as f64), step.kept_up, step.server_cpu, step.gen_cpu,
                        ms(step.publish_lag_p99_us as f64)
                    );
                    steps.push(step);
                }
                gen.finish()?;
                drop(server);
                let best = steps
                    .iter()
                    .filter(|s| s.phase == "step")
                    .map(|s| s.achieved_dps)
                    .fold(0.0, f64::max);
                sat.push(target, best);
                for (rate, fig) in cpu_rates.iter().zip(cpu_at.iter_mut()) {
                    let nearest = steps.iter().filter(|s| s.phase == "step").min_by(|a, b| {
                        (a.offered_dps - rate)
                            .abs()
                            .total_cmp(&(b.offered_dps - rate).abs())
                    });
                    if let Some(s) = nearest.filter(|s| s.kept_up && s.achieved_dps > 0.0) {
                        fig.push(target, s.server_cpu / s.achieved_dps * 1e6);
                    }
                }
                if let Some(h) = steps.iter().find(|s| s.phase == "half") {
                    p50.push(target, h.p50_us as f64);
                    p99.push(target, h.p99_us as f64);
                    p999.push(target, h.p999_us as f64);
                }
                raw.push(serde_json::json!({"config": cfg.name, "run": run,
                    "target": target, "steps": steps}));
                curves.push((target, run, steps));
            }
        }
        let scen = match scenario {
            "fanout" => format!("fan-out {}", cfg.name),
            other => format!("{other} {}", cfg.name),
        };
        // The targets are for the two fan-out set-ups; the sweep shows growth.
        let (sat_target, p99_target) = if scenario == "fanout" {
            ("≥ 0.50 × baseline", "< 25 ms")
        } else {
            ("", "")
        };
        rows.push(sat.row(&scen, "deliveries/s at saturation", sat_target, thousands));
        if scenario == "fanout" {
            for (rate, fig) in cpu_rates.iter().zip(&cpu_at) {
                rows.push(fig.row(
                    &scen,
                    &format!(
                        "server CPU per 1,000 deliveries at ~{}/s offered",
                        thousands(*rate)
                    ),
                    "≤ 2.0 × baseline",
                    |v| format!("{v:.2} ms"),
                ));
            }
        }
        rows.push(p50.row(&scen, "p50 latency at half saturation", "", ms));
        rows.push(p99.row(&scen, "p99 latency at half saturation", p99_target, ms));
        rows.push(p999.row(&scen, "p99.9 latency at half saturation", "", ms));
        if !latency_plots {
            saturations.push(sat);
            continue;
        }
        let svg_name = format!(
            "fanout-latency-{}x{}{}.svg",
            cfg.rooms,
            cfg.conns / cfg.rooms,
            if ctx.opts.smoke { "-smoke" } else { "" }
        );
        let series = plot::median_run_series(&curves, &sat);
        let title = format!("roomcast fan-out, {}: latency vs publish rate", cfg.name);
        let svg = plot::latency_svg(&title, &series);
        std::fs::write(ctx.out.join(&svg_name), &svg)?;
        eprintln!("bench: wrote {}", ctx.out.join(&svg_name).display());
        if !ctx.opts.smoke {
            // The committed copy BENCHMARKS.md shows (bench-output/ is not tracked).
            let results = workspace_root().join("bench").join("results");
            std::fs::create_dir_all(&results)?;
            std::fs::write(results.join(&svg_name), &svg)?;
        }
        saturations.push(sat);
    }
    let json_name = format!(
        "{scenario}{}.json",
        if ctx.opts.smoke { "-smoke" } else { "" }
    );
    std::fs::write(ctx.out.join(json_name), serde_json::to_string_pretty(&raw)?)?;
    Ok((rows, saturations))
}

fn feed_arg(feed: Feed) -> &'static str {
    match feed {
        Feed::Messages => "messages",
        Feed::Viewer => "viewer",
        Feed::ViewerUnshared => "viewer-unshared",
        Feed::Both => "both",
    }
}

/// viewerEvents against roomMessages, one room of 1,000 members, on roomcast.
///
/// 1. Server CPU per published message at fixed rates, for each feed: every connection
///    holds roomMessages, or viewerEvents, or both. The publish path is the same in all
///    three, so the differences are the feeds' cost.
/// 2. Fan-out saturation and latency with roomMessages only, and with viewerEvents held on
///    every connection too.
fn viewers(ctx: &Ctx) -> Result<Vec<Row>> {
    let (per_room, rates, steps, secs) = if ctx.opts.smoke {
        (10, [5.0, 10.0], 2, 0.5)
    } else {
        (1000, [10.0, 40.0], 2, 5.0)
    };
    let feeds = [
        Feed::Messages,
        Feed::Viewer,
        Feed::ViewerUnshared,
        Feed::Both,
    ];
    // cpu[feed][rate]: ms of server CPU per published message, per run.
    let mut cpu = vec![vec![Vec::new(); rates.len()]; feeds.len()];
    let mut delivered = vec![vec![Vec::new(); rates.len()]; feeds.len()];
    for run in 0..ctx.runs {
        for (f, &feed) in feeds.iter().enumerate() {
            let label = format!("viewers-{}-r{run}", feed_arg(feed));
            eprintln!("bench: {label}");
            let server = Server::start(ctx, Target::Roomcast, &label)?;
            let fx = fixture(ctx, &server, 4, 1, &label)?;
            let mut cmd = ctx.loadgen();
            cmd.args(["fanout", "--fixture", &fx, "--fixed-steps"])
                .args(["--conns", &per_room.to_string()])
                .args(["--start-rate", &rates[0].to_string()])
                .args(["--factor", &(rates[1] / rates[0]).to_string()])
                .args(["--max-steps", &steps.to_string()])
                .args(["--step-secs", &secs.to_string()])
                .args(["--server-pid", &server.pid.to_string()])
                .args(["--feed", feed_arg(feed)]);
            let mut gen = Gen::spawn(cmd)?;
            let mut i = 0;
            while let Some(v) = gen.next_json()? {
                let step: StepReport = serde_json::from_value(v)?;
                let per_msg_ms = step.server_cpu / step.rate * 1e3;
                eprintln!(
                    "bench:   {} at {:.0} msg/s: server cpu {:.3} ({per_msg_ms:.3} ms per message), deliveries {:.0}/s, p99 {}",
                    feed_name(feed), step.rate, step.server_cpu, step.achieved_dps, ms(step.p99_us as f64)
                );
                if i < rates.len() {
                    cpu[f][i].push(per_msg_ms);
                    delivered[f][i].push(step.achieved_dps);
                }
                i += 1;
            }
            gen.finish()?;
        }
    }
    let scen = format!("viewers 1 room × {}", thousands(per_room as f64));
    let mut rows = Vec::new();
    for (r, rate) in rates.iter().enumerate() {
        let m = |f: usize| median(cpu[f][r].clone());
        let show = |f: usize| m(f).map_or("-".into(), |v| format!("{v:.3} ms"));
        let ratio = |f: usize| match (m(f), m(0)) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        for (f, target) in [(1, "≤ 1.0 × roomMessages"), (2, ""), (3, "")] {
            rows.push(Row {
                scenario: scen.clone(),
                figure: format!(
                    "server CPU per message at {rate} msg/s: {} (roomcast) against roomMessages (baseline column)",
                    feed_name(feeds[f])
                ),
                roomcast: show(f),
                baseline: show(0),
                ratio: ratio(f),
                target: target.into(),
                rawcast: String::new(),
                agreement: String::new(),
            });
        }
        let d = |f: usize| median(delivered[f][r].clone()).map_or("-".into(), thousands);
        rows.push(Row {
            scenario: scen.clone(),
            figure: format!(
                "deliveries/s at {rate} msg/s: viewerEvents (paced) against roomMessages"
            ),
            roomcast: d(1),
            baseline: d(0),
            ratio: String::new(),
            target: String::new(),
            rawcast: String::new(),
            agreement: String::new(),
        });
    }
    // Saturation with the viewer feeds held too, against roomMessages alone (same run).
    let start = if ctx.opts.smoke { 20.0 } else { 5.0 };
    let configs = [
        FanoutConfig::new(1, per_room, start),
        FanoutConfig::new(1, per_room, start).with_feed(Feed::Both),
    ];
    let (sat_rows, _) = fanout_configs(ctx, &configs, "viewers", false)?;
    rows.extend(sat_rows);
    Ok(rows)
}

/// Result of one stage of held connections.
#[derive(Debug, Clone, Serialize)]
struct Stage {
    target: Target,
    run: usize,
    conns: usize,
    opened: u64,
    receiving: u64,
    rss_kib: u64,
    first_error: Option<String>,
}

/// Opens connections in stages over `procs` generator processes; at each stage checks that
/// every connection receives one message per room and samples the server's RSS.
fn hold_stages(
    ctx: &Ctx,
    target: Target,
    run: usize,
    label: &str,
    stages: &[usize],
    rooms: usize,
    procs: usize,
) -> Result<Vec<Stage>> {
    let server = Server::start(ctx, target, label)?;
    let fx_path = fixture(ctx, &server, 8, rooms, label)?;
    let fx = Fixture::load(&fx_path)?;
    let mut publish_conn = ctx.rt.block_on(fx.connect())?;
    let per_proc = stages.iter().max().copied().unwrap_or(0).div_ceil(procs);
    let mut gens = Vec::new();
    for p in 0..procs {
        let mut cmd = ctx.loadgen();
        cmd.args(["hold", "--fixture", &fx_path])
            .args(["--offset", &(p * per_proc).to_string()]);
        gens.push(Gen::spawn(cmd)?);
    }
    let mut out = Vec::new();
    for &n in stages {
        let share = n.div_ceil(procs);
        let mut opened = 0;
        let mut first_error = None;
        for g in &mut gens {
            let v = g.command(&format!("open {share}"))?;
            opened += v["live"].as_u64().unwrap_or(0);
            if first_error.is_none() {
                first_error = v["first_error"].as_str().map(str::to_owned);
            }
        }
        for g in &mut gens {
            g.command("arm")?;
        }
        // A server registers a subscription asynchronously after `subscribe`, and a message
        // published before that is not delivered: publish rounds until everyone has one.
        let deadline = Instant::now() + Duration::from_millis(10_000 + n as u64);
        let mut receiving;
        loop {
            ctx.rt.block_on(fx.publish_round(&mut publish_conn, 128))?;
            receiving = 0;
            for g in &mut gens {
                let v = g.command("check 1 1000")?;
                receiving += v["receiving"].as_u64().unwrap_or(0);
            }
            if receiving >= opened || Instant::now() >= deadline {
                break;
            }
        }
        // Let allocations from the check round settle before sampling memory.
        std::thread::sleep(Duration::from_millis(if ctx.opts.smoke {
            100
        } else {
            1000
        }));
        let rss_kib = server.rss_kib()?;
        eprintln!(
            "bench:   {} {n} conns: {opened} open, {receiving} receiving, RSS {rss_kib} KiB",
            target.name()
        );
        out.push(Stage {
            target,
            run,
            conns: share * procs,
            opened,
            receiving,
            rss_kib,
            first_error,
        });
    }
    for g in &mut gens {
        let stdin = g.stdin.as_mut().context("stdin closed")?;
        writeln!(stdin, "quit")?;
    }
    for g in gens {
        g.finish()?;
    }
    Ok(out)
}

/// Idle memory: RSS slope per subscribed connection between two connection counts.
fn memory(ctx: &Ctx) -> Result<Vec<Row>> {
    let (lo, hi, rooms) = if ctx.opts.smoke {
        (20, 100, 4)
    } else {
        (2_000, 10_000, 100)
    };
    let mut per_conn = Figure::default();
    let mut raw = Vec::new();
    for run in 0..ctx.runs {
        for target in targets(ctx) {
            let label = format!("memory-r{run}");
            eprintln!("bench: {label} {}", target.name());
            let stages = hold_stages(ctx, target, run, &label, &[lo, hi], rooms, 1)?;
            let (a, b) = (&stages[0], &stages[1]);
            if a.receiving < a.conns as u64 || b.receiving < b.conns as u64 {
                eprintln!("bench:   warning: not every connection was receiving: {stages:?}");
            }
            let slope = (b.rss_kib as f64 - a.rss_kib as f64) / (b.opened as f64 - a.opened as f64);
            per_conn.push(target, slope);
            raw.extend(stages);
        }
    }
    std::fs::write(
        ctx.out.join(if ctx.opts.smoke {
            "memory-smoke.json"
        } else {
            "memory.json"
        }),
        serde_json::to_string_pretty(&raw)?,
    )?;
    let scen = format!("idle memory {lo}→{hi} conns");
    Ok(vec![per_conn.row(
        &scen,
        "server RSS per subscribed connection",
        "≤ 10 KiB",
        |v| format!("{v:.1} KiB"),
    )])
}

/// Connections: the most subscribed connections held with every one still receiving.
fn connections(ctx: &Ctx) -> Result<Vec<Row>> {
    let (stages, procs, rooms): (Vec<usize>, usize, usize) = if ctx.opts.smoke {
        (vec![50, 100], 2, 4)
    } else {
        (vec![5_000, 10_000, 15_000, 20_000], 2, 100)
    };
    let mut held = Figure::default();
    let mut raw = Vec::new();
    for run in 0..ctx.runs {
        for target in targets(ctx) {
            let label = format!("connections-r{run}");
            eprintln!("bench: {label} {}", target.name());
            let result = hold_stages(ctx, target, run, &label, &stages, rooms, procs)?;
            // Largest stage at which every open connection received the check message.
            let best = result
                .iter()
                .filter(|s| s.receiving == s.opened)
                .map(|s| s.receiving)
                .max()
                .unwrap_or(0);
            held.push(target, best as f64);
            raw.extend(result);
        }
    }
    std::fs::write(
        ctx.out.join(if ctx.opts.smoke {
            "connections-smoke.json"
        } else {
            "connections.json"
        }),
        serde_json::to_string_pretty(&raw)?,
    )?;
    let goal = stages.last().copied().unwrap_or(0);
    Ok(vec![held.row(
        &format!("connections (up to {})", thousands(goal as f64)),
        "subscribed connections held, all receiving",
        &thousands(goal as f64),
        thousands,
    )])
}

/// Ingest: closed-loop durable sendMessage/s with concurrent senders, HTTP and WebSocket.
fn ingest(ctx: &Ctx) -> Result<Vec<Row>> {
    let (senders, secs, rooms) = if ctx.opts.smoke {
        (4, 0.5, 2)
    } else {
        (64, 5.0, 16)
    };
    let transports = ["http", "ws"];
    let mut per_s: Vec<Figure> = transports.iter().map(|_| Figure::default()).collect();
    let mut p99: Vec<Figure> = transports.iter().map(|_| Figure::default()).collect();
    let mut cpu: Vec<Figure> = transports.iter().map(|_| Figure::default()).collect();
    let mut raw = Vec::new();
    for run in 0..ctx.runs {
        for target in targets(ctx) {
            let label = format!("ingest-r{run}");
            eprintln!("bench: {label} {}", target.name());
            let server = Server::start(ctx, target, &label)?;
            let fx = fixture(ctx, &server, senders.min(16), rooms, &label)?;
            for (i, transport) in transports.iter().enumerate() {
                let mut cmd = ctx.loadgen();
                cmd.args(["ingest", "--fixture", &fx, "--transport", transport])
                    .args(["--senders", &senders.to_string()])
                    .args(["--secs", &secs.to_string()])
                    .args(["--server-pid", &server.pid.to_string()]);
                if ctx.opts.smoke {
                    cmd.args(["--warmup-secs", "0.2"]);
                }
                let mut gen = Gen::spawn(cmd)?;
                let v = gen.next_json()?.context("ingest printed nothing")?;
                gen.finish()?;
                let r: IngestReport = serde_json::from_value(v)?;
                eprintln!(
                    "bench:   {transport}: {:.0}/s p99 {} errors {} server cpu {:.2} gen cpu {:.2} {}",
                    r.per_s, ms(r.p99_us as f64), r.errors, r.server_cpu, r.gen_cpu,
                    r.first_error.clone().unwrap_or_default()
                );
                per_s[i].push(target, r.per_s);
                p99[i].push(target, r.p99_us as f64);
                cpu[i].push(target, r.server_cpu * 100.0);
                raw.push(serde_json::json!({"run": run, "target": target, "report": r}));
            }
        }
    }
    std::fs::write(
        ctx.out.join(if ctx.opts.smoke {
            "ingest-smoke.json"
        } else {
            "ingest.json"
        }),
        serde_json::to_string_pretty(&raw)?,
    )?;
    let mut rows = Vec::new();
    for (i, transport) in transports.iter().enumerate() {
        let scen = format!("ingest {senders} senders, {}", transport.to_uppercase());
        rows.push(per_s[i].row(&scen, "sendMessage/s", "≥ 10,000/s", thousands));
        rows.push(p99[i].row(&scen, "p99 sendMessage latency", "", ms));
        rows.push(cpu[i].row(&scen, "server CPU (% of its core)", "", |v| {
            format!("{v:.0} %")
        }));
    }
    Ok(rows)
}
