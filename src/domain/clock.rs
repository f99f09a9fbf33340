//! The time the domain's time-dependent rules read: the system clock in production, a
//! manual one in tests, so a rule measured in days is tested without waiting for them.

use std::sync::Arc;

use chrono::SubsecRound;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use super::model::Timestamp;

pub trait Clock: Send + Sync + 'static {
    /// The current time at the precision storage keeps (microseconds).
    fn now(&self) -> Timestamp;
    /// Resolves once `now()` has reached `at`.
    fn sleep_until(&self, at: Timestamp) -> BoxFuture<'static, ()>;
}

pub type SharedClock = Arc<dyn Clock>;

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        super::model::now()
    }

    fn sleep_until(&self, at: Timestamp) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            // Re-checked after each sleep: the wall clock may have been set back meanwhile.
            loop {
                let left = at - super::model::now();
                match left.to_std() {
                    Ok(d) if !d.is_zero() => tokio::time::sleep(d).await,
                    _ => return,
                }
            }
        })
    }
}

/// A clock that moves only when told to (`advance`), waking whoever sleeps past the new time.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<Timestamp>>,
}

impl ManualClock {
    pub fn starting_at(at: Timestamp) -> Self {
        Self {
            now: Arc::new(watch::Sender::new(at.trunc_subsecs(6))),
        }
    }

    /// A manual clock set to the current wall-clock time.
    pub fn new() -> Self {
        Self::starting_at(super::model::now())
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|t| *t += by);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: Timestamp) -> BoxFuture<'static, ()> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // `wait_for` returns at once if the time has already come; it fails only when the
            // clock is dropped, and then time never comes.
            if rx.wait_for(|now| *now >= at).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_passes_its_time() {
        let clock = ManualClock::new();
        let start = clock.now();
        let mut sleeper = tokio::spawn(clock.sleep_until(start + Duration::days(2)));
        clock.advance(Duration::days(1));
        tokio::task::yield_now().await;
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), &mut sleeper)
                .await
                .is_err(),
            "woke a day early"
        );
        clock.advance(Duration::days(1));
        sleeper.await.expect("sleeper ends");
        assert_eq!(clock.now(), start + Duration::days(2));
    }

    #[tokio::test]
    async fn a_sleep_until_the_past_ends_at_once() {
        let clock = SystemClock;
        clock.sleep_until(clock.now() - Duration::seconds(1)).await;
        let manual = ManualClock::new();
        manual.sleep_until(manual.now()).await;
    }
}
