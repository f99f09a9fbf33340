//! The ordering of a message feed as a pure state machine: which live messages to deliver,
//! which to drop as already seen, and when (and how far) to read storage instead: after a
//! cursor, across a gap, after falling behind the live buffer. The feed's async loop only
//! moves messages between the bus, the store and the subscriber as this says.

/// What to read from storage: messages with `after < seq`, up to `up_to` (inclusive) or
/// everything there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CatchUp {
    pub after: i64,
    pub up_to: Option<i64>,
}

/// What to do with a live message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Live {
    /// The next in sequence: deliver it.
    Deliver,
    /// Already delivered (or replayed from storage): drop it.
    Seen,
    /// Messages are missing before it: read storage up to and including it.
    Gap,
}

/// Where a feed is: the last sequence number delivered, and any pending read of storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sequencer {
    last: i64,
    pending: Option<Option<i64>>,
}

impl Sequencer {
    /// A feed that has delivered up to `last` (a cursor's position, or the room's newest
    /// message for a feed that starts now) and first reads what storage has after it.
    pub fn starting_after(last: i64) -> Self {
        Self {
            last,
            pending: Some(None),
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
        self.last = self.last.max(seq);
    }

    /// A read of storage is finished. Up to a gap's message, everything is now accounted
    /// for: numbers storage did not return were deleted messages, not ones to wait for.
    pub fn caught_up(&mut self, read: CatchUp) {
        if let Some(seq) = read.up_to {
            self.last = self.last.max(seq);
        }
    }

    /// A live message with sequence number `seq` arrived.
    pub fn live(&mut self, seq: i64) -> Live {
        if seq <= self.last {
            Live::Seen
        } else if seq == self.last + 1 {
            self.last = seq;
            Live::Deliver
        } else {
            // Reading up to the newer of two gaps covers both.
            let up_to = match self.pending {
                Some(Some(earlier)) => earlier.max(seq),
                _ => seq,
            };
            if self.pending != Some(None) {
                self.pending = Some(Some(up_to));
            }
            Live::Gap
        }
    }

    /// The feed fell behind the live buffer (or the buffer was replaced): anything may have
    /// been missed, so read storage to its end.
    pub fn lagged(&mut self) {
        self.pending = Some(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a sequencer the way the feed does: storage holds `stored` (seqs), live
    /// messages arrive in `arrivals`; returns the seqs delivered, in order.
    fn run(start: i64, stored: &[i64], arrivals: &[Arrival]) -> Vec<i64> {
        let mut s = Sequencer::starting_after(start);
        let mut delivered = Vec::new();
        let drain = |s: &mut Sequencer, delivered: &mut Vec<i64>| {
            while let Some(read) = s.take_catch_up() {
                for &seq in stored
                    .iter()
                    .filter(|&&q| q > read.after && read.up_to.is_none_or(|u| q <= u))
                {
                    s.replayed(seq);
                    delivered.push(seq);
                }
                s.caught_up(read);
            }
        };
        drain(&mut s, &mut delivered);
        for a in arrivals {
            match *a {
                Arrival::Message(seq) => {
                    if s.live(seq) == Live::Deliver {
                        delivered.push(seq);
                    }
                }
                Arrival::Lag => s.lagged(),
            }
            drain(&mut s, &mut delivered);
        }
        delivered
    }

    #[derive(Clone, Copy)]
    enum Arrival {
        Message(i64),
        Lag,
    }
    use Arrival::{Lag, Message as M};

    #[test]
    fn a_new_feed_delivers_live_messages_in_order() {
        assert_eq!(run(10, &[1, 2, 10, 11, 12], &[M(11), M(12)]), [11, 12]);
    }

    #[test]
    fn a_resumed_feed_replays_after_its_cursor_then_goes_live_without_a_seam() {
        // Messages 4 and 5 were stored before the feed started; 5 also arrives live.
        assert_eq!(run(3, &[1, 2, 3, 4, 5, 6], &[M(5), M(6)]), [4, 5, 6]);
    }

    #[test]
    fn duplicates_and_old_messages_are_dropped() {
        assert_eq!(run(0, &[1, 2], &[M(1), M(1), M(2), M(1)]), [1, 2]);
    }

    #[test]
    fn a_gap_is_filled_from_storage_up_to_the_message_that_showed_it() {
        // 2 and 3 were not received live; 4 shows the gap and comes from storage too.
        assert_eq!(run(1, &[1, 2, 3, 4, 5], &[M(4), M(5)]), [2, 3, 4, 5]);
    }

    #[test]
    fn deleted_messages_leave_holes_that_are_not_waited_for() {
        // 3 was deleted: storage skips it, and 5 live is next after 4.
        assert_eq!(run(1, &[1, 2, 4, 5], &[M(4), M(5)]), [2, 4, 5]);
    }

    #[test]
    fn after_lag_the_feed_reads_storage_to_its_end() {
        assert_eq!(
            run(0, &[1, 2, 3, 4, 5], &[M(1), Lag, M(5)]),
            [1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn messages_out_of_order_are_delivered_once_in_order() {
        assert_eq!(run(0, &[1, 2, 3], &[M(2), M(1), M(3)]), [1, 2, 3]);
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
        assert_eq!(s.live(12), Live::Gap);
        assert_eq!(s.live(14), Live::Gap);
        assert_eq!(
            s.take_catch_up(),
            Some(CatchUp {
                after: 9,
                up_to: Some(14)
            }),
            "two gaps, one read"
        );
        s.lagged();
        assert_eq!(s.live(20), Live::Gap);
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
