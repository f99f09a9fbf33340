//! Typing indicators: the async shell around `domain::typing::TypingBook`. Each node keeps a
//! book and hears the typing events of the rooms it has typists in (drained before every
//! decision, so a refresh made on another node counts); a `setTyping` is published on the
//! room's events like any other change.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;
use crate::domain::model::User;
use crate::domain::typing::TypingBook;

pub(super) struct Typing {
    bus: Arc<dyn Bus>,
    /// This node, as the origin of the typing events it publishes.
    origin: uuid::Uuid,
    // std Mutexes: held only to touch the maps, never across an await; `rooms` before
    // `book` when both are held.
    book: Mutex<TypingBook>,
    /// The event receivers of the rooms with typists in the book.
    rooms: Mutex<HashMap<RoomId, broadcast::Receiver<Arc<RoomEvent>>>>,
}

impl Typing {
    pub(super) fn new(bus: Arc<dyn Bus>) -> Self {
        Self {
            bus,
            origin: uuid::Uuid::new_v4(),
            book: Mutex::default(),
            rooms: Mutex::default(),
        }
    }

    /// Whether this node has typists of `room` in its book (a send checks this first: one
    /// short lock, nothing more, in the rooms where no one types).
    fn has_typists(&self, room: RoomId) -> bool {
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&room)
    }

    /// Runs `f` on the book after taking in what other nodes published about `room`'s
    /// typists. `listen`: start hearing the room if this node does not yet.
    fn with_book<T>(&self, room: RoomId, listen: bool, f: impl FnOnce(&mut TypingBook) -> T) -> T {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        if !rooms.contains_key(&room) && listen {
            rooms.insert(room, self.bus.subscribe_events(room));
        }
        if let Some(receiver) = rooms.get_mut(&room) {
            loop {
                match receiver.try_recv() {
                    Ok(event) => {
                        if let RoomEvent::TypingChanged {
                            user,
                            until,
                            announced,
                            origin,
                            ..
                        } = &*event
                        {
                            if *origin != self.origin {
                                book.heard((room, user.id), *until, *announced);
                            }
                        }
                    }
                    // Some were lost: the deadlines already known stand.
                    Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                    Err(broadcast::error::TryRecvError::Closed) => {
                        *receiver = self.bus.subscribe_events(room);
                        break;
                    }
                    Err(broadcast::error::TryRecvError::Empty) => break,
                }
            }
        }
        let out = f(&mut book);
        if !book.has_room(room) {
            rooms.remove(&room);
        }
        out
    }
}

impl RoomService {
    fn typing_event(&self, room: RoomId, user: &User, until: Option<Timestamp>, announced: bool) {
        self.publish(RoomEvent::TypingChanged {
            room_id: room,
            user: user.clone(),
            until,
            announced,
            origin: self.typing.origin,
        });
    }

    /// `setTyping`: whoever may post may say they are typing (the same rule as
    /// `sendMessage`: members, not muted, admins in an announcement room).
    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn set_typing(
        &self,
        viewer: &Viewer,
        room: RoomId,
        typing: bool,
    ) -> DomainResult<bool> {
        self.authorized_to_post(viewer, room, Action::SendMessage)
            .await?;
        let user = viewer.require()?;
        let now = self.clock.now();
        let key = (room, user.id);
        if typing {
            let started = self
                .typing
                .with_book(room, true, |book| book.start(key, now));
            self.expiries
                .schedule(Expiring::Typing(room, user.id), started.until);
            self.typing_event(room, user, Some(started.until), started.announce);
        } else {
            self.typing_ended(room, user);
        }
        Ok(true)
    }

    /// Ends `user`'s typing in `room` now, announcing it if this node knew them to be typing.
    pub(super) fn typing_ended(&self, room: RoomId, user: &User) {
        if !self.typing.has_typists(room) {
            return;
        }
        let now = self.clock.now();
        if self
            .typing
            .with_book(room, false, |book| book.stop((room, user.id), now))
        {
            self.expiries.cancel(Expiring::Typing(room, user.id));
            self.typing_event(room, user, None, true);
        }
    }

    /// A typing deadline came: announces the lapse if it is still due and this node made the
    /// latest refresh.
    pub(super) async fn lapse_typing(&self, room: RoomId, user: UserId) {
        let now = self.clock.now();
        if !self
            .typing
            .with_book(room, false, |book| book.lapse((room, user), now))
        {
            return;
        }
        match self.store.user_by_id(user).await {
            Ok(Some(user)) => self.typing_event(room, &user, None, true),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = ?e, "could not announce a typing lapse"),
        }
    }
}
