//! The ordering of a message feed as a pure state machine: which live messages to deliver,
//! which to hold until older ones arrive, which to drop as already seen, and when (and how
//! far) to read storage instead: after a cursor, across a gap that does not fill by itself,
//! after falling behind the live buffer. The feed's async loop only moves messages between
//! the bus, the store and the subscriber as this says.

use std::collections::BTreeMap;

/// What to read from storage: messages with `after < seq`, up to `up_to` (inclusive) or
/// everything there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CatchUp {
    pub after: i64,
    pub up_to: Option<i64>,
}

/// What became of a live message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Live {
    /// The next in sequence: `next_ready` hands it out.
    Deliver,
    /// Already delivered (or replayed from storage): dropped.
    Seen,
    /// It came before an older one: held until the older ones arrive (`next_ready` then
    /// hands them all out in order), or until the feed stops waiting (`waited_out`).
    Held,
    /// Messages are missing before it and the feed does not wait for them: storage is read
    /// up to and including it (the message itself is dropped and read back).
    Gap,
}

/// How many early messages a feed holds while it waits for older ones; one more and it reads
/// storage instead.
const HOLD_MAX: usize = 64;

/// Where a feed is: the last sequence number handed out, any pending read of storage, and
/// live messages that arrived early.
///
/// Messages are numbered when they are stored and published when their writer gets round to
/// it, so two published moments apart can arrive newest first. Reading storage for every such
/// swap would cost a query per subscriber per swap (under load, a query storm); instead an
/// early message is held briefly, and only a gap that does not fill (a publish that never
/// happened, a message from another node that is late) is read from storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sequencer<T> {
    last: i64,
    pending: Option<Option<i64>>,
    /// The message `live` just accepted in order, for `next_ready`.
    next: Option<T>,
    held: BTreeMap<i64, T>,
}

impl<T> Sequencer<T> {
    /// A feed that has delivered up to `last` (a cursor's position, or the room's newest
    /// message for a feed that starts now) and first reads what storage has after it.
    pub fn starting_after(last: i64) -> Self {
        Self {
            last,
            pending: Some(None),
            next: None,
            held: BTreeMap::new(),
        }
    }

    pub fn last(&self) -> i64 {
        self.last
    }

    /// The read of storage due now, if any (taken: asked again, it is None until the next
    /// gap or lag).
    pub fn take_catch_up(&mut self) -> Option<CatchUp> {
        self.pending.take().map(|up_to| CatchUp {
            after: self.last,
            up_to,
        })
    }

    /// A message read from storage was delivered.
    pub fn replayed(&mut self, seq: i64) {
        self.advance_to(seq);
    }

    /// A read of storage is finished. Up to a gap's message, everything is now accounted
    /// for: numbers storage did not return were deleted messages, not ones to wait for.
    pub fn caught_up(&mut self, read: CatchUp) {
        if let Some(seq) = read.up_to {
            self.advance_to(seq);
        }
    }

    fn advance_to(&mut self, seq: i64) {
        self.last = self.last.max(seq);
        // Held messages storage has now delivered are duplicates.
        while self
            .held
            .first_key_value()
            .is_some_and(|(&held, _)| held <= self.last)
        {
            self.held.pop_first();
        }
    }

    /// A live message `item` with sequence number `seq` arrived.
    pub fn live(&mut self, seq: i64, item: T) -> Live {
        if seq <= self.last || self.held.contains_key(&seq) {
            return Live::Seen;
        }
        if self.pending.is_none() && seq == self.last + 1 && self.next.is_none() {
            self.last = seq;
            self.next = Some(item);
            return Live::Deliver;
        }
        if self.pending.is_none() && self.held.len() < HOLD_MAX {
            self.held.insert(seq, item);
            return Live::Held;
        }
        self.read_through(seq);
        Live::Gap
    }

    /// Schedules a read of storage up to `seq` (and past anything held); held messages are
    /// dropped, to be read back.
    fn read_through(&mut self, seq: i64) {
        let newest_held = self.held.last_key_value().map(|(&s, _)| s);
        self.held.clear();
        // Reading up to the newer of two gaps covers both; a read to the end covers all.
        let up_to = [Some(seq), newest_held, self.pending.flatten()]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(seq);
        if self.pending != Some(None) {
            self.pending = Some(Some(up_to));
        }
    }

    /// The next message to deliver, in order: the one `live` just accepted, then any held
    /// ones it made contiguous.
    pub fn next_ready(&mut self) -> Option<T> {
        if let Some(item) = self.next.take() {
            return Some(item);
        }
        let (&seq, _) = self.held.first_key_value()?;
        if seq != self.last + 1 {
            return None;
        }
        self.last = seq;
        self.held.pop_first().map(|(_, item)| item)
    }

    /// Whether early messages wait for older ones (the feed then bounds the wait).
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// The feed stopped waiting for the older messages: read them from storage.
    pub fn waited_out(&mut self) {
        if let Some((&newest, _)) = self.held.last_key_value() {
            self.read_through(newest);
        }
    }

    /// The feed fell behind the live buffer (or the buffer was replaced): anything may have
    /// been missed, so read storage to its end.
    pub fn lagged(&mut self) {
        self.held.clear();
        self.pending = Some(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a sequencer the way the feed does: storage holds `stored` (seqs), of which
    /// those up to `newest_at_start` exist when the feed starts; a message exists from when
    /// it arrives live, and after a lag everything does. Live messages arrive in
    /// `arrivals`. Returns the seqs delivered, in order, and how many times storage was read
    /// after the feed's first read.
    fn run_counting(
        start: i64,
        newest_at_start: i64,
        stored: &[i64],
        arrivals: &[Arrival],
    ) -> (Vec<i64>, usize) {
        let mut s = Sequencer::starting_after(start);
        let mut delivered = Vec::new();
        let mut reads = 0;
        let mut horizon = newest_at_start;
        let drain = |s: &mut Sequencer<i64>, delivered: &mut Vec<i64>, horizon: i64| {
            let mut reads = 0;
            while let Some(read) = s.take_catch_up() {
                reads += 1;
                for &seq in stored.iter().filter(|&&q| {
                    q > read.after && q <= horizon && read.up_to.is_none_or(|u| q <= u)
                }) {
                    s.replayed(seq);
                    delivered.push(seq);
                }
                s.caught_up(read);
            }
            reads
        };
        drain(&mut s, &mut delivered, horizon);
        for a in arrivals {
            match *a {
                Arrival::Message(seq) => {
                    horizon = horizon.max(seq);
                    s.live(seq, seq);
                    while let Some(seq) = s.next_ready() {
                        delivered.push(seq);
                    }
                }
                Arrival::Lag => {
                    horizon = i64::MAX;
                    s.lagged();
                }
                Arrival::WaitOver => s.waited_out(),
            }
            reads += drain(&mut s, &mut delivered, horizon);
        }
        (delivered, reads)
    }

    fn run(start: i64, newest_at_start: i64, stored: &[i64], arrivals: &[Arrival]) -> Vec<i64> {
        run_counting(start, newest_at_start, stored, arrivals).0
    }

    #[derive(Clone, Copy)]
    enum Arrival {
        Message(i64),
        Lag,
        /// The feed's bound on waiting for a held message's elders passed.
        WaitOver,
    }
    use Arrival::{Lag, Message as M, WaitOver};

    #[test]
    fn a_new_feed_delivers_live_messages_in_order() {
        assert_eq!(
            run_counting(10, 10, &[1, 2, 10, 11, 12], &[M(11), M(12)]),
            (vec![11, 12], 0)
        );
    }

    #[test]
    fn a_resumed_feed_replays_after_its_cursor_then_goes_live_without_a_seam() {
        // Messages 4 and 5 were stored before the feed started; 5 also arrives live.
        assert_eq!(run(3, 5, &[1, 2, 3, 4, 5, 6], &[M(5), M(6)]), [4, 5, 6]);
    }

    #[test]
    fn duplicates_and_old_messages_are_dropped() {
        assert_eq!(run(0, 0, &[1, 2], &[M(1), M(1), M(2), M(1)]), [1, 2]);
        // A duplicate of a held message is dropped too.
        assert_eq!(run(0, 0, &[1, 2, 3], &[M(3), M(3), M(2), M(1)]), [1, 2, 3]);
    }

    #[test]
    fn swapped_messages_are_put_back_in_order_without_reading_storage() {
        assert_eq!(
            run_counting(0, 0, &[1, 2, 3], &[M(2), M(1), M(3)]),
            (vec![1, 2, 3], 0)
        );
        assert_eq!(
            run_counting(0, 0, &[1, 2, 3, 4], &[M(4), M(3), M(2), M(1)]),
            (vec![1, 2, 3, 4], 0)
        );
    }

    #[test]
    fn a_gap_that_does_not_fill_is_read_from_storage_up_to_the_newest_held_message() {
        // 2 and 3 were never received live; 4 and 5 wait, then come from storage with them.
        assert_eq!(
            run_counting(1, 1, &[1, 2, 3, 4, 5, 6], &[M(4), M(5), WaitOver, M(6)]),
            (vec![2, 3, 4, 5, 6], 1)
        );
    }

    #[test]
    fn deleted_messages_leave_holes_that_are_not_waited_for_twice() {
        // 3 was deleted: storage skips it, and 5 live is next after 4.
        assert_eq!(run(1, 1, &[1, 2, 4, 5], &[M(4), WaitOver, M(5)]), [2, 4, 5]);
    }

    #[test]
    fn a_full_hold_window_reads_storage_at_once() {
        let stored: Vec<i64> = (1..=HOLD_MAX as i64 + 2).collect();
        // 1 never arrives live; 2.. arrive and are held until one more than the window.
        let arrivals: Vec<Arrival> = (2..=HOLD_MAX as i64 + 2).map(M).collect();
        assert_eq!(run_counting(0, 0, &stored, &arrivals), (stored.clone(), 1));
    }

    #[test]
    fn after_lag_the_feed_reads_storage_to_its_end() {
        assert_eq!(
            run(0, 0, &[1, 2, 3, 4, 5], &[M(1), Lag, M(5)]),
            [1, 2, 3, 4, 5]
        );
        // A lag drops held messages: the read to the end brings them.
        assert_eq!(run(0, 0, &[1, 2, 3, 4], &[M(3), Lag, M(4)]), [1, 2, 3, 4]);
    }

    #[test]
    fn catch_up_reads_start_at_the_last_delivered_message() {
        let mut s = Sequencer::starting_after(7);
        assert_eq!(
            s.take_catch_up(),
            Some(CatchUp {
                after: 7,
                up_to: None
            })
        );
        assert_eq!(s.take_catch_up(), None, "taken once");
        s.replayed(9);
        assert_eq!(s.live(12, ()), Live::Held);
        assert_eq!(s.live(14, ()), Live::Held);
        assert!(s.holding());
        s.waited_out();
        assert!(!s.holding());
        assert_eq!(
            s.take_catch_up(),
            Some(CatchUp {
                after: 9,
                up_to: Some(14)
            }),
            "two gaps, one read"
        );
        s.lagged();
        assert_eq!(s.live(20, ()), Live::Gap, "a read is due: nothing is held");
        assert_eq!(
            s.take_catch_up(),
            Some(CatchUp {
                after: 9,
                up_to: None
            }),
            "a lag reads everything, a gap does not narrow it"
        );
        assert_eq!(s.last(), 9);
    }
}
