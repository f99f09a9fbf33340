//! Flood control: token buckets keyed by user, account or client address.
//!
//! A [`Rate`] of `30/10s` allows bursts of 30 and refills one token every 10/30 s. The
//! bucket arithmetic is a pure function of the instants it is given, so it is unit-tested
//! with made-up times; the service calls it with `tokio::time::Instant::now()`, which tests
//! of the whole server can pause and advance.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::error::DomainError;
use super::values::UserId;

/// At most `burst` events at once, refilled evenly over `period`. `None` (written `off`)
/// means no limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: u32,
    pub period: Duration,
}

/// A rate flag: `N/Ps` (N events per P seconds, bursts up to N), or `off`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateFlag(pub Option<Rate>);

impl FromStr for RateFlag {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        let bad = || format!("`{s}`: expected N/Ps (e.g. 30/10s) or off");
        let (n, p) = s.split_once('/').ok_or_else(bad)?;
        let burst: u32 = n.trim().parse().map_err(|_| bad())?;
        let secs: u64 = p
            .trim()
            .strip_suffix('s')
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        if burst == 0 || secs == 0 {
            return Err(bad());
        }
        Ok(Self(Some(Rate {
            burst,
            period: Duration::from_secs(secs),
        })))
    }
}

impl fmt::Display for RateFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(r) => write!(f, "{}/{}s", r.burst, r.period.as_secs()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Rate {
    fn per_second(&self) -> f64 {
        f64::from(self.burst) / self.period.as_secs_f64()
    }

    /// Takes one token from `bucket` at `now`: the bucket after, or how long until a token
    /// is back.
    fn take(&self, bucket: Option<Bucket>, now: Instant) -> Result<Bucket, Duration> {
        let full = f64::from(self.burst);
        let mut b = bucket.unwrap_or(Bucket {
            tokens: full,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_second()).min(full);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(b)
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - b.tokens) / self.per_second(),
            ))
        }
    }

    fn is_full(&self, b: &Bucket, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens + elapsed * self.per_second() >= f64::from(self.burst)
    }
}

/// Buckets for one kind of key. Full buckets are forgotten (they equal no bucket), so memory
/// follows the keys that were active within one period.
pub struct Limiter<K> {
    rate: Option<Rate>,
    buckets: Mutex<HashMap<K, Bucket>>,
    /// Events refused for being over the rate, since start.
    refused: AtomicU64,
}

/// Past this many buckets, full ones are swept before adding another.
const SWEEP_AT: usize = 4096;

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(rate: Option<Rate>) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
        }
    }

    /// Events refused for being over the rate, since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Counts one event for `key` at `now`; `Err(retry_after)` when over the rate.
    pub fn check_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= SWEEP_AT && !buckets.contains_key(key) {
            buckets.retain(|_, b| !rate.is_full(b, now));
        }
        let bucket = rate.take(buckets.get(key).copied(), now).inspect_err(|_| {
            self.refused.fetch_add(1, Ordering::Relaxed);
        })?;
        buckets.insert(key.clone(), bucket);
        Ok(())
    }

    pub fn check(&self, key: &K, what: &str) -> Result<(), DomainError> {
        self.check_at(key, Instant::now())
            .map_err(|wait| DomainError::rate_limited(what, wait))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

/// Every limiter of the server, one per `--*-rate*` flag.
pub struct Throttles {
    /// `sendMessage` per user.
    pub messages: Limiter<UserId>,
    /// `login` attempts per account (by username, whatever the outcome).
    pub logins_by_account: Limiter<String>,
    /// `login` attempts per client address.
    pub logins_by_address: Limiter<IpAddr>,
    /// `register` per client address.
    pub registrations: Limiter<IpAddr>,
}

impl Throttles {
    /// The limiters, in the order of the fields; `None` lets everything through.
    pub fn new(rates: [Option<Rate>; 4]) -> Self {
        let [messages, logins_by_account, logins_by_address, registrations] = rates;
        Self {
            messages: Limiter::new(messages),
            logins_by_account: Limiter::new(logins_by_account),
            logins_by_address: Limiter::new(logins_by_address),
            registrations: Limiter::new(registrations),
        }
    }

    /// No limits (domain-level use and tests that measure something else).
    pub fn unlimited() -> Self {
        Self::new([None; 4])
    }

    /// Refusals since start, per limit (named as the metrics name them).
    pub fn refusals(&self) -> [(&'static str, u64); 4] {
        [
            ("messages_per_user", self.messages.refused()),
            ("logins_per_account", self.logins_by_account.refused()),
            ("logins_per_address", self.logins_by_address.refused()),
            ("registrations_per_address", self.registrations.refused()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(burst: u32, secs: u64) -> Rate {
        Rate {
            burst,
            period: Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_burst_passes_then_waits_for_the_refill() {
        let limiter = Limiter::new(Some(rate(3, 3)));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(&"a", t0).is_ok());
        }
        let wait = limiter.check_at(&"a", t0).expect_err("over the burst");
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        // Other keys have their own buckets.
        assert!(limiter.check_at(&"b", t0).is_ok());
        // One token per second comes back.
        let t1 = t0 + Duration::from_millis(999);
        assert!(limiter.check_at(&"a", t1).is_err());
        let t2 = t0 + Duration::from_millis(1001);
        assert!(limiter.check_at(&"a", t2).is_ok());
        assert!(limiter.check_at(&"a", t2).is_err());
    }

    #[test]
    fn full_buckets_are_forgotten_when_many_keys_pile_up() {
        let limiter = Limiter::new(Some(rate(1, 1)));
        let t0 = Instant::now();
        for k in 0..SWEEP_AT {
            limiter.check_at(&k, t0).expect("first");
        }
        assert_eq!(limiter.len(), SWEEP_AT);
        let later = t0 + Duration::from_secs(2);
        limiter.check_at(&usize::MAX, later).expect("new key");
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn rates_parse_and_print() {
        assert_eq!(
            "30/10s".parse::<RateFlag>(),
            Ok(RateFlag(Some(rate(30, 10))))
        );
        assert_eq!("off".parse::<RateFlag>(), Ok(RateFlag(None)));
        assert!("0/10s".parse::<RateFlag>().is_err());
        assert!("30/10".parse::<RateFlag>().is_err());
        assert_eq!(RateFlag(Some(rate(10, 60))).to_string(), "10/60s");
        let off = Limiter::<u8>::new(None);
        for _ in 0..1000 {
            assert!(off.check_at(&0, Instant::now()).is_ok());
        }
    }
}
