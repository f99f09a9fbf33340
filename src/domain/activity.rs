//! What a viewer's own feed (`viewerEvents`) keeps about each of their rooms, as pure state:
//! the unread count moved by live messages without a query (`Tally`), and the pacing that
//! sends at most one `RoomActivity` per room per `ACTIVITY_EVERY` with the latest state
//! (`Pacer`). The async shell is `rooms::viewer_feed`.

use std::collections::HashMap;
use std::sync::Arc;

use super::model::Message;
use super::ports::ReadState;
use super::values::{MessageId, RoomId, UserId};

/// The shortest time between two `RoomActivity` of one room on one feed: a busy room
/// updates a room list a few times a second, not once per message.
pub const ACTIVITY_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// A viewer's unread count in one room.
#[derive(Debug, Clone)]
pub struct Tally {
    read_seq: i64,
    unread: i64,
    /// The seq up to which `unread` was read from storage: live messages at or below it are
    /// already counted.
    horizon: i64,
    /// The newest message seen, when known.
    last: Option<Arc<Message>>,
}

impl Tally {
    /// As storage gave it: `state` read together with the room's `last_seq` (`horizon`).
    pub fn read(state: ReadState, horizon: i64, last: Option<Arc<Message>>) -> Self {
        Self {
            read_seq: state.read_seq,
            unread: state.unread,
            horizon,
            last,
        }
    }

    pub fn unread(&self) -> i64 {
        self.unread
    }

    pub fn last(&self) -> Option<&Arc<Message>> {
        self.last.as_ref()
    }

    /// A live message (each arrives once; possibly out of seq order).
    pub fn message(&mut self, m: &Arc<Message>, viewer: UserId) {
        if m.seq > self.horizon && m.seq > self.read_seq && m.author.id != viewer {
            self.unread += 1;
        }
        if self.last.as_ref().is_none_or(|l| m.seq > l.seq) {
            self.last = Some(m.clone());
        }
    }

    /// The viewer's marker moved to `seq`: whether the count must be read again (it moved
    /// forward).
    pub fn marker_moved(&mut self, seq: i64) -> bool {
        if seq <= self.read_seq {
            return false;
        }
        self.read_seq = seq;
        if self.unread == 0 {
            // Nothing unread before: still nothing (the marker only hides messages).
            return false;
        }
        true
    }

    /// Messages were deleted: whether the count or the last message may have changed (so
    /// must be read again). With nothing unread and another message as the newest, no
    /// deletion changes either.
    pub fn deleted(&self, ids: &[MessageId]) -> bool {
        self.unread > 0
            || match &self.last {
                Some(last) => ids.contains(&last.id),
                None => true,
            }
    }
}

/// Paces `RoomActivity` per room: the first change is sent at once, later ones at most once
/// per `every`, carrying the state at that time. `I` is an instant (monotonic in the shell).
#[derive(Debug)]
pub struct Pacer<I, D> {
    every: D,
    /// When each room last sent.
    sent: HashMap<RoomId, I>,
    /// Rooms changed but not sent yet, with when they may be.
    waiting: HashMap<RoomId, I>,
}

impl<I, D> Pacer<I, D>
where
    I: Copy + Ord + std::ops::Add<D, Output = I>,
    D: Copy,
{
    pub fn new(every: D) -> Self {
        Self {
            every,
            sent: HashMap::new(),
            waiting: HashMap::new(),
        }
    }

    /// `room` changed at `now`: true when it is to be sent now (and is counted as sent);
    /// otherwise it waits (see `due`).
    pub fn changed(&mut self, room: RoomId, now: I) -> bool {
        if self.waiting.contains_key(&room) {
            return false;
        }
        match self.sent.get(&room) {
            Some(at) if *at + self.every > now => {
                self.waiting.insert(room, *at + self.every);
                false
            }
            _ => {
                self.sent.insert(room, now);
                true
            }
        }
    }

    /// The rooms whose wait is over at `now` (counted as sent).
    pub fn due(&mut self, now: I) -> Vec<RoomId> {
        let due: Vec<RoomId> = self
            .waiting
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(r, _)| *r)
            .collect();
        for room in &due {
            self.waiting.remove(room);
            self.sent.insert(*room, now);
        }
        due
    }

    /// When the next waiting room may be sent.
    pub fn next(&self) -> Option<I> {
        self.waiting.values().min().copied()
    }

    /// The feed stopped watching `room`.
    pub fn forget(&mut self, room: RoomId) {
        self.sent.remove(&room);
        self.waiting.remove(&room);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::User;
    use chrono::Utc;

    fn user() -> User {
        User {
            id: UserId::new(),
            username: "u".into(),
            created_at: Utc::now(),
        }
    }

    fn msg(seq: i64, author: &User) -> Arc<Message> {
        Arc::new(Message {
            id: MessageId::new(),
            room_id: RoomId::new(),
            seq,
            author: author.clone(),
            body: "hi".into(),
            created_at: Utc::now(),
        })
    }

    #[test]
    fn others_messages_after_the_marker_count_once_and_own_never() {
        let (me, bob) = (user(), user());
        let mut t = Tally::read(
            ReadState {
                read_seq: 3,
                unread: 2,
            },
            5,
            None,
        );
        t.message(&msg(5, &bob), me.id); // already counted in storage
        t.message(&msg(7, &bob), me.id);
        t.message(&msg(6, &bob), me.id); // out of order: counts, is not the last
        t.message(&msg(8, &me), me.id);
        assert_eq!(t.unread(), 4);
        assert_eq!(t.last().map(|m| m.seq), Some(8));
    }

    #[test]
    fn a_marker_moving_forward_asks_for_a_recount_unless_nothing_was_unread() {
        let bob = user();
        let mut t = Tally::read(
            ReadState {
                read_seq: 0,
                unread: 0,
            },
            0,
            None,
        );
        assert!(!t.marker_moved(4), "nothing was unread");
        t.message(&msg(5, &bob), UserId::new());
        assert!(!t.marker_moved(3), "backwards");
        assert!(t.marker_moved(5));
    }

    #[test]
    fn deletions_need_a_recount_only_when_they_can_change_something() {
        let (me, bob) = (user(), user());
        let mut t = Tally::read(
            ReadState {
                read_seq: 9,
                unread: 0,
            },
            9,
            None,
        );
        assert!(t.deleted(&[MessageId::new()]), "the newest is unknown");
        let mine = msg(10, &me);
        t.message(&mine, me.id);
        assert!(
            !t.deleted(&[MessageId::new()]),
            "nothing unread, not the newest"
        );
        assert!(t.deleted(&[mine.id]), "the newest went");
        t.message(&msg(11, &bob), me.id);
        assert!(
            t.deleted(&[MessageId::new()]),
            "one unread: it may be that one"
        );
    }

    #[test]
    fn the_pacer_sends_the_first_change_at_once_and_then_once_per_period() {
        let room = RoomId::new();
        let mut p = Pacer::<u64, u64>::new(250);
        assert!(p.changed(room, 1000));
        assert!(!p.changed(room, 1100));
        assert!(!p.changed(room, 1200), "already waiting");
        assert_eq!(p.next(), Some(1250));
        assert!(p.due(1249).is_empty());
        assert_eq!(p.due(1250), vec![room]);
        assert_eq!(p.next(), None);
        assert!(!p.changed(room, 1300), "250 after the last send");
        assert_eq!(p.due(1500), vec![room]);
        assert!(p.changed(room, 2000), "quiet for long enough");
        p.forget(room);
        assert!(p.changed(room, 2001), "forgotten");
    }
}
