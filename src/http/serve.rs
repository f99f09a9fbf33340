//! The accept loop and HTTP/1 connections, with the limits `axum::serve` cannot set: a
//! deadline for each request head (which also closes idle keep-alive connections), a cap on
//! connections per client address and in all, and an accept loop that keeps going when the
//! process is out of file descriptors.
//!
//! What a client gets at each limit: a connection over either cap is closed at once, before
//! any byte is read; a request head not complete within the header timeout, or an idle
//! connection past it, is closed (hyper answers a partial head with 408). The body deadline
//! is enforced where the body is read (`graphql_post`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// Connection limits of the listener (the `--http-*` and `--max-connections*` flags).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Deadline for a complete request head, and the longest a connection may sit idle.
    pub header_timeout: Duration,
    /// Open connections (HTTP and WebSocket) from one client address; 0: no cap.
    pub per_address: usize,
    /// Open connections in all; kept below the file-descriptor limit.
    pub total: usize,
}

/// Open connections per client address, and in all. A connection holds a [`Slot`]; the
/// counts fall when it is dropped, however the connection ends.
#[derive(Default)]
pub struct ConnectionCounts {
    inner: Mutex<Counts>,
    /// Connections closed at once because their address was at `--max-connections-per-address`.
    pub refused_per_address: AtomicU64,
    /// Connections closed at once because the server was at `--max-connections`.
    pub refused_total: AtomicU64,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

pub struct Slot {
    counts: Arc<ConnectionCounts>,
    ip: IpAddr,
}

/// A connection's slot, shared with every request it carries (as a request extension), so
/// a WebSocket upgraded from it keeps counting after hyper lets go of the connection.
#[derive(Clone)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<Slot>);

impl ConnectionCounts {
    /// Connections open right now (HTTP and WebSocket).
    pub fn open(&self) -> usize {
        self.inner.lock().map(|c| c.total).unwrap_or(0)
    }

    /// A slot for a new connection from `ip`, unless that would pass a cap.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, limits: &ConnectionLimits) -> Option<Slot> {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= limits.total {
            self.refused_total.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mine = c.per_address.get(&ip).copied().unwrap_or(0);
        if limits.per_address > 0 && mine >= limits.per_address {
            self.refused_per_address.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        c.total += 1;
        c.per_address.insert(ip, mine + 1);
        Some(Slot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.inner.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_address.remove(&self.ip);
            }
        }
    }
}

/// Descriptors kept free beyond those open now and those the pools may still open: for log
/// files, name lookups and connections the accept loop holds before it counts them.
pub const DESCRIPTOR_MARGIN: usize = 32;

/// How many descriptors the server needs for its own work: those open now (the pools'
/// first connections, the listener, logs), those its pools may still open, and a margin.
pub fn descriptor_reserve(open_now: usize, pools_may_open: usize) -> usize {
    open_now + pools_may_open + DESCRIPTOR_MARGIN
}

/// Descriptors this process holds right now (Linux: `/proc/self/fd`); 64 where that cannot
/// be read.
pub fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count())
        .unwrap_or(64)
}

/// Raises the soft open-files limit to the hard one and returns how many connections fit
/// under it with `reserve` descriptors left for the database, logs and the like.
pub fn connection_budget(reserve: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read or write the struct passed by pointer.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024usize.saturating_sub(reserve).max(16);
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        lim.rlim_cur
    };
    let soft = usize::try_from(soft).unwrap_or(usize::MAX).min(1 << 20);
    soft.saturating_sub(reserve).max(16)
}

/// Accepts until `shutdown`, serving each admitted connection on its own task.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    counts: Arc<ConnectionCounts>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors (EMFILE/ENFILE) or a connection reset before accept:
                // wait a moment and go on; connections that close free descriptors.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Some(slot) = counts.admit(peer.ip(), &limits) else {
            tracing::debug!(%peer, "connection refused: over a connection cap");
            drop(tcp);
            continue;
        };
        // Chat frames are small: without TCP_NODELAY, Nagle's algorithm and delayed ACKs
        // hold them back for tens of milliseconds.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let router = router.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(connection(tcp, peer, router, limits, slot, shutdown));
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    slot: Slot,
    shutdown: CancellationToken,
) {
    let slot = ConnectionSlot(Arc::new(slot));
    let held = slot.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(held.clone());
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error during shutdown");
            }
        }
    }
    // An upgraded WebSocket holds its own clone of the slot (see `ws::upgrade`).
    drop(slot);
}
