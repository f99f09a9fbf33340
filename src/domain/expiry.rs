//! When timed mutes end: one queue of deadlines for the whole server instead of a sleeping
//! task per mute. The queue is a pure structure (tested with made-up times); `RoomService`
//! runs one task that sleeps until the earliest deadline, or until a new one is scheduled,
//! and lifts what is due. The queue is filled from storage when the service starts, so
//! expiries survive a restart.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use super::model::Timestamp;

/// Deadlines by key; a key has at most one (scheduling again replaces it).
#[derive(Debug)]
pub struct ExpiryQueue<K> {
    by_time: BTreeSet<(Timestamp, K)>,
    by_key: HashMap<K, Timestamp>,
}

impl<K> Default for ExpiryQueue<K> {
    fn default() -> Self {
        Self {
            by_time: BTreeSet::new(),
            by_key: HashMap::new(),
        }
    }
}

impl<K: Ord + Hash + Clone> ExpiryQueue<K> {
    pub fn schedule(&mut self, key: K, at: Timestamp) {
        if let Some(old) = self.by_key.insert(key.clone(), at) {
            self.by_time.remove(&(old, key.clone()));
        }
        self.by_time.insert((at, key));
    }

    pub fn cancel(&mut self, key: &K) {
        if let Some(at) = self.by_key.remove(key) {
            self.by_time.remove(&(at, key.clone()));
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Timestamp> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Removes and returns every entry due at `now`, earliest first.
    pub fn take_due(&mut self, now: Timestamp) -> Vec<(K, Timestamp)> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.by_time.first() {
            if *at > now {
                break;
            }
            if let Some((at, key)) = self.by_time.pop_first() {
                self.by_key.remove(&key);
                due.push((key, at));
            }
        }
        due
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn t(secs: i64) -> Timestamp {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap() + Duration::seconds(secs)
    }

    #[test]
    fn due_entries_come_out_in_order_and_only_when_due() {
        let mut q = ExpiryQueue::default();
        q.schedule("b", t(20));
        q.schedule("a", t(10));
        q.schedule("c", t(30));
        assert_eq!(q.next(), Some(t(10)));
        assert!(q.take_due(t(9)).is_empty());
        assert_eq!(q.take_due(t(20)), vec![("a", t(10)), ("b", t(20))]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.next(), Some(t(30)));
    }

    #[test]
    fn rescheduling_replaces_and_cancelling_frees() {
        let mut q = ExpiryQueue::default();
        q.schedule("a", t(10));
        q.schedule("a", t(50));
        assert_eq!(q.len(), 1);
        assert!(q.take_due(t(10)).is_empty(), "the old deadline is gone");
        q.cancel(&"a");
        assert!(q.is_empty());
        assert_eq!(q.next(), None);
        assert!(q.take_due(t(100)).is_empty());
    }
}
