//! How long a session lives: an idle lifetime (since the token was last used) and an
//! absolute one (since sign-in). A pure judgement of stored times, so the rule is tested
//! with made-up times and the service only reads and writes them.

use chrono::Duration;

use super::model::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A token unused for this long stops working; `None`: never.
    pub idle: Option<Duration>,
    /// A token this old stops working, however often it is used; `None`: never.
    pub absolute: Option<Duration>,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Some(Duration::days(30)),
            absolute: Some(Duration::days(90)),
        }
    }
}

/// A session's stored times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The session is valid. `touch`: record `now` as its last use (done at most once per
    /// `touch_every`, so a busy token does not write on every request). `expires_at`: when
    /// it ends if not used again (counting this use); `None`: never.
    Live {
        touch: bool,
        expires_at: Option<Timestamp>,
    },
    Expired,
}

/// Longest gap between recorded uses; the idle lifetime is enforced to within this much.
const MAX_TOUCH_EVERY: Duration = Duration::hours(1);

impl SessionPolicy {
    /// No expiry at all.
    pub fn unlimited() -> Self {
        Self {
            idle: None,
            absolute: None,
        }
    }

    /// How often a used session's last use is written: an hour, or a 24th of the idle
    /// lifetime if that is shorter.
    pub fn touch_every(&self) -> Duration {
        match self.idle {
            Some(idle) => (idle / 24).min(MAX_TOUCH_EVERY),
            None => MAX_TOUCH_EVERY,
        }
    }

    pub fn judge(&self, times: SessionTimes, now: Timestamp) -> Verdict {
        let absolute_end = self.absolute.map(|a| times.created_at + a);
        let idle_end = self.idle.map(|i| times.last_used_at + i);
        if absolute_end.is_some_and(|end| now >= end) || idle_end.is_some_and(|end| now >= end) {
            return Verdict::Expired;
        }
        let touch = self.idle.is_some() && now - times.last_used_at >= self.touch_every();
        let last_use = if touch { now } else { times.last_used_at };
        let idle_end = self.idle.map(|i| last_use + i);
        let expires_at = match (absolute_end, idle_end) {
            (Some(a), Some(i)) => Some(a.min(i)),
            (a, i) => a.or(i),
        };
        Verdict::Live { touch, expires_at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn t0() -> Timestamp {
        DateTime::from_timestamp(1_750_000_000, 0).expect("in range")
    }

    fn fresh(at: Timestamp) -> SessionTimes {
        SessionTimes {
            created_at: at,
            last_used_at: at,
        }
    }

    /// The verdict on a session signed in (and last used) at `t0`, `elapsed` later.
    fn fresh_after(policy: &SessionPolicy, elapsed: Duration) -> Verdict {
        policy.judge(fresh(t0()), t0() + elapsed)
    }

    #[test]
    fn a_session_used_now_and_then_lives_until_its_absolute_end() {
        let policy = SessionPolicy::default();
        let mut times = fresh(t0());
        // Used every 29 days: never idle for 30, but ends 90 days after sign-in.
        for day in [29, 58, 87] {
            let now = t0() + Duration::days(day);
            match policy.judge(times, now) {
                Verdict::Live { touch, expires_at } => {
                    assert!(touch);
                    let expected = (now + Duration::days(30)).min(t0() + Duration::days(90));
                    assert_eq!(expires_at, Some(expected));
                    times.last_used_at = now;
                }
                Verdict::Expired => panic!("expired on day {day}"),
            }
        }
        let end = t0() + Duration::days(90);
        assert_eq!(policy.judge(times, end), Verdict::Expired);
    }

    #[test]
    fn a_session_unused_for_the_idle_lifetime_ends() {
        let policy = SessionPolicy::default();
        let just_before = Duration::days(30) - Duration::seconds(1);
        assert!(matches!(
            fresh_after(&policy, just_before),
            Verdict::Live { .. }
        ));
        assert_eq!(fresh_after(&policy, Duration::days(30)), Verdict::Expired);
    }

    #[test]
    fn uses_are_recorded_at_most_once_per_touch_interval() {
        let policy = SessionPolicy::default();
        assert_eq!(policy.touch_every(), Duration::hours(1));
        let untouched = Verdict::Live {
            touch: false,
            expires_at: Some(t0() + Duration::days(30)),
        };
        assert_eq!(fresh_after(&policy, Duration::minutes(59)), untouched);
        assert!(matches!(
            fresh_after(&policy, Duration::hours(1)),
            Verdict::Live { touch: true, .. }
        ));
        let short = SessionPolicy {
            idle: Some(Duration::minutes(48)),
            absolute: None,
        };
        assert_eq!(short.touch_every(), Duration::minutes(2));
    }

    #[test]
    fn without_lifetimes_a_session_never_ends() {
        let never = Verdict::Live {
            touch: false,
            expires_at: None,
        };
        let policy = SessionPolicy::unlimited();
        assert_eq!(fresh_after(&policy, Duration::days(10_000)), never);
    }
}
