//! Who is typing where, as one node knows it: a pure book of typists, kept apart from the
//! async shell (`RoomService::set_typing`) so its rules are tested with made-up times.
//!
//! The rules: `setTyping(true)` announces the typist unless they were announced less than
//! `THROTTLE` ago (then it only extends their time); typing lapses `LAPSE` after the last
//! `setTyping(true)`, and the lapse is announced; `setTyping(false)` or sending a message
//! ends it at once. Nodes share the book through the room's events: every `setTyping(true)`
//! is published, announced or not (a quiet refresh), so every node that hears the room
//! knows the latest deadline; the node that made the latest refresh announces the lapse.

use std::collections::HashMap;

use chrono::Duration;

use super::model::Timestamp;
use super::values::{RoomId, UserId};

/// How long typing lasts after the last `setTyping(true)`.
pub const LAPSE: Duration = Duration::seconds(6);
/// Repeated `setTyping(true)` within this long of the last announcement announce nothing.
pub const THROTTLE: Duration = Duration::seconds(2);

pub type Typist = (RoomId, UserId);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    until: Timestamp,
    announced_at: Timestamp,
    /// This node made the latest refresh, so it announces the lapse.
    mine: bool,
}

/// What a `setTyping(true)` is to be published as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// Typing now lasts until then.
    pub until: Timestamp,
    /// Shown to readers (a new typist, or the last announcement is `THROTTLE` old);
    /// otherwise a quiet refresh that only tells other nodes the new deadline.
    pub announce: bool,
}

#[derive(Debug, Default)]
pub struct TypingBook {
    typists: HashMap<Typist, Entry>,
}

impl TypingBook {
    /// A `setTyping(true)` made on this node at `now`.
    pub fn start(&mut self, who: Typist, now: Timestamp) -> Started {
        let until = now + LAPSE;
        match self.typists.get_mut(&who) {
            Some(e) if e.until > now && now - e.announced_at < THROTTLE => {
                e.until = until;
                e.mine = true;
                Started {
                    until,
                    announce: false,
                }
            }
            _ => {
                self.typists.insert(
                    who,
                    Entry {
                        until,
                        announced_at: now,
                        mine: true,
                    },
                );
                Started {
                    until,
                    announce: true,
                }
            }
        }
    }

    /// A `setTyping(false)` or a message sent by `who`: whether they were typing (so the end
    /// is announced).
    pub fn stop(&mut self, who: Typist, now: Timestamp) -> bool {
        self.typists.remove(&who).is_some_and(|e| e.until > now)
    }

    /// Someone's typing as published by any node (this one's own events come back too).
    pub fn heard(&mut self, who: Typist, until: Option<Timestamp>, announced: bool) {
        let Some(until) = until else {
            self.typists.remove(&who);
            return;
        };
        let announced_at = until - LAPSE;
        match self.typists.get_mut(&who) {
            Some(e) if e.until >= until => {
                if announced && announced_at > e.announced_at {
                    e.announced_at = announced_at;
                }
            }
            Some(e) => {
                // A later refresh made elsewhere: that node owns the lapse now.
                e.until = until;
                e.mine = false;
                if announced {
                    e.announced_at = announced_at;
                }
            }
            None => {
                self.typists.insert(
                    who,
                    Entry {
                        until,
                        announced_at: if announced {
                            announced_at
                        } else {
                            until - LAPSE - THROTTLE
                        },
                        mine: false,
                    },
                );
            }
        }
    }

    /// At a lapse deadline: whether `who` stopped typing by lapse and this node is the one to
    /// announce it. Forgets them when their time is up, whoever announces.
    pub fn lapse(&mut self, who: Typist, now: Timestamp) -> bool {
        match self.typists.get(&who) {
            Some(e) if e.until <= now => {
                let mine = e.mine;
                self.typists.remove(&who);
                mine
            }
            _ => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.typists.is_empty()
    }

    /// Whether any typist of `room` is still in the book.
    pub fn has_room(&self, room: RoomId) -> bool {
        self.typists.keys().any(|(r, _)| *r == room)
    }
}

/// What one reader's events feed has shown of who is typing. Nodes that have not heard each
/// other yet may each announce the same typist; the feed shows a start only when it has not
/// shown that typist start within `THROTTLE`, and an end only for a typist it shows as
/// typing, so every reader sees the rules hold whichever nodes announced.
#[derive(Debug, Default)]
pub struct TypingView {
    /// Typists shown as typing, with the time their last shown start was announced.
    shown: HashMap<UserId, Timestamp>,
}

impl TypingView {
    /// Whether the feed shows this typing event (`until` None: an end).
    pub fn show(&mut self, user: UserId, until: Option<Timestamp>, announced: bool) -> bool {
        match until {
            None => self.shown.remove(&user).is_some(),
            Some(_) if !announced => false,
            Some(until) => {
                let at = until - LAPSE;
                let fresh = self
                    .shown
                    .get(&user)
                    .is_none_or(|last| at - *last >= THROTTLE);
                if fresh {
                    self.shown.insert(user, at);
                }
                fresh
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn t(ms: i64) -> Timestamp {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap() + Duration::milliseconds(ms)
    }

    fn who() -> Typist {
        (RoomId::new(), UserId::new())
    }

    #[test]
    fn repeated_starts_within_the_throttle_only_extend() {
        let mut book = TypingBook::default();
        let w = who();
        assert_eq!(
            book.start(w, t(0)),
            Started {
                until: t(6_000),
                announce: true
            }
        );
        assert_eq!(
            book.start(w, t(1_999)),
            Started {
                until: t(7_999),
                announce: false
            }
        );
        assert_eq!(
            book.start(w, t(2_000)),
            Started {
                until: t(8_000),
                announce: true
            }
        );
    }

    #[test]
    fn typing_lapses_six_seconds_after_the_last_start() {
        let mut book = TypingBook::default();
        let w = who();
        book.start(w, t(0));
        book.start(w, t(1_000));
        assert!(!book.lapse(w, t(6_000)), "extended to 7 s");
        assert!(book.lapse(w, t(7_000)));
        assert!(book.is_empty());
        assert!(!book.lapse(w, t(7_000)), "announced once");
        // After a lapse, the next start is announced again at once.
        assert!(book.start(w, t(7_500)).announce);
    }

    #[test]
    fn stopping_ends_typing_and_is_announced_only_for_a_typist() {
        let mut book = TypingBook::default();
        let w = who();
        assert!(!book.stop(w, t(0)), "not typing: nothing to announce");
        book.start(w, t(0));
        assert!(book.stop(w, t(100)));
        assert!(!book.lapse(w, t(6_000)), "no lapse after a stop");
        book.start(w, t(10_000));
        assert!(!book.stop(w, t(16_000)), "already lapsed");
    }

    #[test]
    fn a_later_refresh_elsewhere_takes_the_lapse_over() {
        let (mut a, mut b) = (TypingBook::default(), TypingBook::default());
        let w = who();
        let first = a.start(w, t(0));
        b.heard(w, Some(first.until), first.announce);
        a.heard(w, Some(first.until), first.announce);
        // B refreshes a second later, within the throttle: quiet.
        let second = b.start(w, t(1_000));
        assert!(!second.announce, "B knows A announced a second ago");
        a.heard(w, Some(second.until), second.announce);
        assert!(!a.lapse(w, t(6_000)), "not yet: B's refresh runs to 7 s");
        assert!(!a.lapse(w, t(7_000)), "B announces it, not A");
        assert!(b.lapse(w, t(7_000)));
    }

    #[test]
    fn a_feed_shows_one_start_per_throttle_and_ends_only_what_it_showed() {
        let mut view = TypingView::default();
        let user = UserId::new();
        assert!(!view.show(user, None, true), "an end of no one shown");
        assert!(view.show(user, Some(t(6_000)), true));
        assert!(
            !view.show(user, Some(t(7_000)), true),
            "another node's start a second later"
        );
        assert!(!view.show(user, Some(t(7_500)), false), "a quiet refresh");
        assert!(
            view.show(user, Some(t(8_000)), true),
            "two seconds after the shown one"
        );
        assert!(view.show(user, None, true));
        assert!(!view.show(user, None, true), "ended once");
    }

    #[test]
    fn an_end_heard_from_elsewhere_forgets_the_typist() {
        let mut book = TypingBook::default();
        let w = who();
        book.start(w, t(0));
        book.heard(w, None, true);
        assert!(!book.has_room(w.0));
        assert!(!book.stop(w, t(10)));
    }
}
