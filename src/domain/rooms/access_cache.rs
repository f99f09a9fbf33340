//! Room access kept in memory for posting: `sendMessage` reads the sender's access on every
//! call, and it changes only by a room event. One `Recent` per room listens to that room's
//! events and forgets the member an event is about, or everyone in the room when the room
//! itself changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::model::{RoomAccess, RoomEvent};
use crate::domain::ports::Bus;
use crate::domain::recent::{Forget, Recent};
use crate::domain::values::{RoomId, UserId};

/// Rooms with kept access; beyond it, rooms not posted in since the last sweep go.
const CACHED_ROOMS: usize = 1024;
/// Members kept per room.
const CACHED_PER_ROOM: usize = 4096;

type RoomCache = Recent<UserId, Arc<RoomAccess>, Arc<RoomEvent>>;

pub struct AccessCache {
    bus: Arc<dyn Bus>,
    rooms: Mutex<HashMap<RoomId, Arc<RoomCache>>>,
}

/// What an event may change of who may post.
fn changed_by(event: &RoomEvent) -> Forget<UserId> {
    match event {
        RoomEvent::MemberJoined(m)
        | RoomEvent::MemberMuted(m)
        | RoomEvent::MemberUnmuted(m)
        | RoomEvent::MemberRoleChanged(m) => Forget::One(m.user.id),
        RoomEvent::MemberLeft { user, .. }
        | RoomEvent::MemberRemoved { user, .. }
        | RoomEvent::MemberUnbanned { user, .. } => Forget::One(user.id),
        RoomEvent::MemberBanned(ban) => Forget::One(ban.user.id),
        RoomEvent::JoinRequested(_)
        | RoomEvent::MessageDeleted { .. }
        | RoomEvent::MessagesPurged { .. }
        | RoomEvent::MessageReported(_)
        | RoomEvent::ReportDecided(_)
        | RoomEvent::ReadMarkerMoved { .. }
        | RoomEvent::TypingChanged { .. }
        | RoomEvent::PresenceChanged { .. } => Forget::Nothing,
        RoomEvent::RoomUpdated(_) | RoomEvent::RoomDeleted { .. } => Forget::All,
    }
}

fn changed_by_arc(event: &Arc<RoomEvent>) -> Forget<UserId> {
    changed_by(event)
}

impl AccessCache {
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        Self {
            bus,
            rooms: Mutex::default(),
        }
    }

    /// The room's cache, listening to its events from now on.
    pub fn room(&self, room: RoomId) -> Arc<RoomCache> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kept) = rooms.get(&room) {
            return kept.clone();
        }
        if rooms.len() >= CACHED_ROOMS {
            rooms.retain(|_, kept| kept.take_used());
            if rooms.len() >= CACHED_ROOMS {
                rooms.clear();
            }
        }
        let bus = self.bus.clone();
        let kept = Arc::new(Recent::new(
            move || bus.subscribe_events(room),
            changed_by_arc,
            CACHED_PER_ROOM,
        ));
        rooms.insert(room, kept.clone());
        kept
    }

    /// Forgets what `event`, just made on this node, changes.
    pub fn forget(&self, event: &RoomEvent) {
        let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kept) = rooms.get(&event.room_id()) {
            match changed_by(event) {
                Forget::Nothing => {}
                Forget::One(user) => kept.forget(&user),
                Forget::All => kept.forget_all(),
            }
        }
    }
}
