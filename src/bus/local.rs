//! In-process fan-out: one pair of bounded broadcast channels (messages, events) per room
//! with at least one subscriber. Channels of rooms nobody listens to are pruned on publish
//! and by [`LocalBus::prune_idle`], so memory follows live subscriptions, not room count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use super::Bus;
use crate::domain::model::{Message, Notice, PresenceNote, Revocation, RoomEvent};
use crate::domain::values::RoomId;

struct RoomChannels {
    messages: broadcast::Sender<Arc<Message>>,
    events: broadcast::Sender<Arc<RoomEvent>>,
}

impl RoomChannels {
    fn idle(&self) -> bool {
        self.messages.receiver_count() == 0 && self.events.receiver_count() == 0
    }
}

pub struct LocalBus {
    capacity: usize,
    // A std Mutex: the critical sections are a hash lookup and never await.
    rooms: Mutex<HashMap<RoomId, RoomChannels>>,
    /// One channel for the whole node: revocations are rare and every socket listens.
    revocations: broadcast::Sender<Arc<Revocation>>,
    /// Likewise for presence notes (a handful per second per node).
    presence: broadcast::Sender<Arc<PresenceNote>>,
    /// Likewise for the viewers' notices (memberships granted, requests turned down, rooms
    /// listed).
    notices: broadcast::Sender<Arc<Notice>>,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            rooms: Mutex::new(HashMap::new()),
            revocations: broadcast::channel(256).0,
            presence: broadcast::channel(4096).0,
            notices: broadcast::channel(1024).0,
        }
    }

    fn rooms(&self) -> MutexGuard<'_, HashMap<RoomId, RoomChannels>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts
        // and removes), so a poisoned lock is still safe to use.
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn channels<'a>(
        &self,
        rooms: &'a mut HashMap<RoomId, RoomChannels>,
        room: RoomId,
    ) -> &'a RoomChannels {
        rooms.entry(room).or_insert_with(|| RoomChannels {
            messages: broadcast::channel(self.capacity).0,
            events: broadcast::channel(self.capacity.min(256)).0,
        })
    }

    /// Drops the channels of rooms that have no subscribers left.
    pub fn prune_idle(&self) -> usize {
        let mut rooms = self.rooms();
        let before = rooms.len();
        rooms.retain(|_, ch| !ch.idle());
        before - rooms.len()
    }
}

impl Bus for LocalBus {
    fn publish_message(&self, message: Arc<Message>) {
        let mut rooms = self.rooms();
        if let Some(ch) = rooms.get(&message.room_id) {
            if ch.idle() {
                rooms.remove(&message.room_id);
            } else if ch.messages.send(message).is_err() {
                // Nobody is listening any more; nothing is lost, history is in the store.
                tracing::trace!("no message subscribers left");
            }
        }
    }

    fn publish_event(&self, event: Arc<RoomEvent>) {
        let room = event.room_id();
        let deleted = matches!(*event, RoomEvent::RoomDeleted { .. });
        let mut rooms = self.rooms();
        if let Some(ch) = rooms.get(&room) {
            if ch.events.send(event).is_err() {
                tracing::trace!("no event subscribers left");
            }
        }
        if deleted || rooms.get(&room).is_some_and(RoomChannels::idle) {
            rooms.remove(&room);
        }
    }

    fn subscribe_messages(&self, room: RoomId) -> broadcast::Receiver<Arc<Message>> {
        let mut rooms = self.rooms();
        self.channels(&mut rooms, room).messages.subscribe()
    }

    fn subscribe_events(&self, room: RoomId) -> broadcast::Receiver<Arc<RoomEvent>> {
        let mut rooms = self.rooms();
        self.channels(&mut rooms, room).events.subscribe()
    }

    fn publish_revocation(&self, revocation: Arc<Revocation>) {
        if self.revocations.send(revocation).is_err() {
            tracing::trace!("no open sockets to revoke");
        }
    }

    fn subscribe_revocations(&self) -> broadcast::Receiver<Arc<Revocation>> {
        self.revocations.subscribe()
    }

    fn publish_event_here(&self, event: Arc<RoomEvent>) {
        self.publish_event(event);
    }

    fn publish_presence(&self, note: Arc<PresenceNote>) {
        if self.presence.send(note).is_err() {
            tracing::trace!("no presence listener");
        }
    }

    fn subscribe_presence(&self) -> broadcast::Receiver<Arc<PresenceNote>> {
        self.presence.subscribe()
    }

    fn publish_notice(&self, notice: Arc<Notice>) {
        if self.notices.send(notice).is_err() {
            tracing::trace!("no viewer feed listening");
        }
    }

    fn subscribe_notices(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.notices.subscribe()
    }
}
