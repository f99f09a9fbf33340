//! Thin wrappers over Linux process facilities the harness needs: the open-files limit, a
//! process's resident memory and CPU time from `/proc`, and the socket option that lets tens of
//! thousands of client sockets share a source address.

use std::os::fd::AsRawFd;

use anyhow::{bail, Context, Result};

/// Raises the soft open-files limit to the hard limit and returns the new soft limit. The hard
/// limit itself cannot be raised without CAP_SYS_RESOURCE, so it caps connections per process.
pub fn raise_nofile_limit() -> Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            bail!("getrlimit: {}", std::io::Error::last_os_error());
        }
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            bail!("setrlimit: {}", std::io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// Resident set size of `pid` in KiB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS line")
}

/// User plus system CPU time of `pid`, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; fields after it are plain.
    let after = stat.rsplit_once(')').context("malformed stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after ')'.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Ok((utime + stime) as f64 / ticks)
}

/// CPU use of a process over an interval, as a fraction of one core.
pub struct CpuMeter {
    pid: u32,
    cpu: f64,
    at: std::time::Instant,
}

impl CpuMeter {
    pub fn start(pid: u32) -> Self {
        Self {
            pid,
            cpu: cpu_seconds(pid).unwrap_or(0.0),
            at: std::time::Instant::now(),
        }
    }

    /// Fraction of one core used since `start`.
    pub fn read(&self) -> f64 {
        let cpu = cpu_seconds(self.pid).unwrap_or(self.cpu);
        let wall = self.at.elapsed().as_secs_f64();
        if wall > 0.0 {
            (cpu - self.cpu) / wall
        } else {
            0.0
        }
    }
}

/// Defers the choice of source port from `bind` to `connect` (IP_BIND_ADDRESS_NO_PORT), so a
/// source address is limited per destination rather than globally by the ephemeral range.
pub fn bind_address_no_port(sock: &impl AsRawFd) {
    const IP_BIND_ADDRESS_NO_PORT: libc::c_int = 24;
    let one: libc::c_int = 1;
    // SAFETY: valid fd, pointer to a live c_int of the passed length. Failure only loses the
    // optimisation (ports are then allocated at bind time), so the result is ignored on purpose.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
