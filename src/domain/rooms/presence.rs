//! Presence: the async shell around `domain::presence::PresenceBook`. Every message and
//! events feed holds a `Seat` while it is open; the book says when that brings its user
//! online or (after the grace period, on the rules' clock) offline. Nodes exchange presence
//! notes on the bus; each node works out the changes itself and tells only its own readers.
//! Nothing here runs per message: only when feeds open and close, and once per beat.

use std::time::{Duration, Instant};

use super::*;
use crate::domain::model::{PresenceNote, User};
use crate::domain::presence::{Change, Outcome, PresenceBook};

/// How often a node sends its list of seats (which also proves it alive).
pub const BEAT: Duration = Duration::from_secs(1);
/// A node not heard from for this long is taken to be dead, and its seats are dropped.
pub const NODE_TIMEOUT: Duration = Duration::from_millis(3_500);

pub(super) struct Presence {
    /// This node, as the sender of its notes.
    node: uuid::Uuid,
    // A std Mutex: held only to touch the book, never across an await.
    book: std::sync::Mutex<PresenceBook<Instant>>,
}

impl Presence {
    pub(super) fn new() -> Self {
        Self {
            node: uuid::Uuid::new_v4(),
            book: std::sync::Mutex::default(),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, PresenceBook<Instant>> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A user's presence through one open feed; dropping it closes the feed's seat.
pub(super) struct Seat {
    service: RoomService,
    room: RoomId,
    user: UserId,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let until = self.service.clock.now() + self.service.rules.presence_grace;
        if self
            .service
            .presence
            .book()
            .closed(self.room, self.user, until)
        {
            self.service
                .expiries
                .schedule(Expiring::Presence(self.room, self.user), until);
        }
    }
}

impl RoomService {
    /// `user` opened a feed of `room` on this node.
    pub(super) fn seat(&self, room: RoomId, user: &User) -> Seat {
        let outcome = self.presence.book().opened(room, user);
        self.presence_outcome(room, outcome);
        Seat {
            service: self.clone(),
            room,
            user: user.id,
        }
    }

    /// A grace period is over: the user goes offline if no feed of theirs reopened here.
    pub(super) fn lapse_presence(&self, room: RoomId, user: UserId) {
        let now = self.clock.now();
        let outcome = self.presence.book().lapse(room, user, now);
        self.presence_outcome(room, outcome);
    }

    fn presence_outcome(&self, room: RoomId, outcome: Outcome) {
        if let Some((user, online)) = outcome.tell_others {
            self.bus.publish_presence(Arc::new(PresenceNote::Seat {
                node: self.presence.node,
                room_id: room,
                user,
                online,
            }));
        }
        self.tell_readers(outcome.change);
    }

    fn tell_readers(&self, changes: impl IntoIterator<Item = Change>) {
        for c in changes {
            self.bus
                .publish_event_here(Arc::new(RoomEvent::PresenceChanged {
                    room_id: c.room,
                    user: c.user,
                    online: c.online,
                }));
        }
    }

    fn beat(&self) {
        let seats = self.presence.book().mine();
        self.bus.publish_presence(Arc::new(PresenceNote::Beat {
            node: self.presence.node,
            seats,
        }));
    }

    /// Whether `user` has a feed of `room` open on any node (or just closed one, within the
    /// grace period).
    pub fn is_online(&self, room: RoomId, user: UserId) -> bool {
        self.presence.book().is_online(room, user)
    }

    /// How many users are online in `room`.
    pub fn online_count(&self, room: RoomId) -> usize {
        self.presence.book().online_count(room)
    }

    /// The one task that exchanges presence with the other nodes: hears their notes, sends
    /// this node's beat, and drops the nodes that went silent.
    pub(super) async fn keep_presence(self) {
        let mut notes = self.bus.subscribe_presence();
        self.bus.publish_presence(Arc::new(PresenceNote::Hello {
            node: self.presence.node,
        }));
        let mut beat = tokio::time::interval(BEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = beat.tick() => {
                    self.beat();
                    let dead_before = Instant::now().checked_sub(NODE_TIMEOUT);
                    if let Some(dead_before) = dead_before {
                        let changes = self.presence.book().sweep(dead_before);
                        self.tell_readers(changes);
                    }
                }
                note = notes.recv() => match note {
                    Ok(note) => self.heard(&note),
                    // Lost notes are put right by the next beats.
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => notes = self.bus.subscribe_presence(),
                }
            }
        }
    }

    fn heard(&self, note: &PresenceNote) {
        let now = Instant::now();
        match note {
            PresenceNote::Seat { node, .. }
            | PresenceNote::Beat { node, .. }
            | PresenceNote::Hello { node }
                if *node == self.presence.node => {}
            PresenceNote::Seat {
                node,
                room_id,
                user,
                online,
            } => {
                let change = self
                    .presence
                    .book()
                    .heard(*node, *room_id, user, *online, now);
                self.tell_readers(change);
            }
            PresenceNote::Beat { node, seats } => {
                let changes = self.presence.book().beat(*node, seats.iter().cloned(), now);
                self.tell_readers(changes);
            }
            PresenceNote::Hello { .. } => self.beat(),
        }
    }
}
