//! `viewerEvents`: the signed-in viewer's own feed. It listens to the messages and events of
//! every room they are a member of (the same live channels `roomMessages` reads, so a message
//! costs each member's feed one counter step, never a query) and to the cluster's notices
//! (rooms they were let into, requests turned down, rooms listed). Unread counts are kept by
//! `activity::Tally` and read again from storage only when a marker of theirs moves or a
//! deletion may change them; `activity::Pacer` sends at most one `RoomActivity` per room per
//! `ACTIVITY_EVERY`.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::time::Instant;

use futures_util::stream::{self, Stream};
use futures_util::FutureExt;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamMap;

use super::*;
use crate::domain::activity::{Pacer, Tally, ACTIVITY_EVERY};
use crate::domain::model::{Admission, Notice, User, ViewerEvent};

/// The most rooms one feed watches (the oldest memberships first); rooms beyond it are
/// still listed by `rooms`, they only send no `RoomActivity`.
pub const MAX_WATCHED_ROOMS: u32 = 500;

/// Items a feed drains per wake-up before it sends what changed (so a burst becomes one
/// `RoomActivity` per room, and a busy feed still yields to others).
const DRAIN: usize = 256;

enum Input {
    Message(Arc<Message>),
    Event(Arc<RoomEvent>),
    /// Some items were lost (lag) or the channel was replaced (closed): read again.
    Missed,
}

type Source = Pin<Box<dyn Stream<Item = Input> + Send>>;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Channel {
    Messages,
    Events,
}

/// A live channel as a source of inputs (`wrap` says which kind); a lag, or the channel's
/// end (the bus was reset), is a `Missed`.
fn source<T: Send + Sync + 'static>(
    rx: broadcast::Receiver<Arc<T>>,
    wrap: fn(Arc<T>) -> Input,
) -> Source {
    let live = BroadcastStream::new(rx).map(move |item| match item {
        Ok(v) => wrap(v),
        Err(BroadcastStreamRecvError::Lagged(_)) => Input::Missed,
    });
    Box::pin(live.chain(stream::once(async { Input::Missed })))
}

/// One watched room.
struct Watched {
    room: Room,
    tally: Tally,
}

/// The state of one viewer feed.
struct ViewerFeed {
    service: RoomService,
    me: User,
    rooms: HashMap<RoomId, Watched>,
    sources: StreamMap<(RoomId, Channel), Source>,
    pacer: Pacer<Instant, std::time::Duration>,
    out: VecDeque<ViewerEvent>,
}

impl ViewerFeed {
    /// Starts listening to `room` (before reading storage, so nothing is missed between).
    fn listen(&mut self, room: RoomId) {
        let bus = &self.service.bus;
        self.sources.insert(
            (room, Channel::Messages),
            source(bus.subscribe_messages(room), Input::Message),
        );
        self.sources.insert(
            (room, Channel::Events),
            source(bus.subscribe_events(room), Input::Event),
        );
    }

    fn stop(&mut self, room: RoomId) {
        self.sources.remove(&(room, Channel::Messages));
        self.sources.remove(&(room, Channel::Events));
        self.rooms.remove(&room);
        self.pacer.forget(room);
    }

    /// Reads the viewer's rooms (all of them, or `only` one) from storage and watches them.
    /// Returns the rooms it found.
    async fn load(&mut self, only: Option<RoomId>) -> DomainResult<Vec<Room>> {
        let found = self
            .service
            .store
            .member_rooms(self.me.id, only, MAX_WATCHED_ROOMS)
            .await?;
        let mut rooms = Vec::with_capacity(found.len());
        for (room, state) in found {
            if !self.rooms.contains_key(&room.id) && self.rooms.len() >= MAX_WATCHED_ROOMS as usize
            {
                continue;
            }
            let last = match self.rooms.get(&room.id) {
                Some(w) => w.tally.last().cloned(),
                None => None,
            };
            self.rooms.insert(
                room.id,
                Watched {
                    tally: Tally::read(state, room.last_seq, last),
                    room: room.clone(),
                },
            );
            rooms.push(room);
        }
        Ok(rooms)
    }

    /// Reads the viewer's rooms, listens to those not heard yet, then reads every count
    /// (after listening, so what came in between is counted by storage; the horizon keeps it
    /// from being counted twice). Returns the rooms newly watched.
    async fn watch_all(&mut self) -> DomainResult<Vec<RoomId>> {
        let before: std::collections::HashSet<RoomId> = self.rooms.keys().copied().collect();
        let found = self
            .service
            .store
            .member_rooms(self.me.id, None, MAX_WATCHED_ROOMS)
            .await?;
        for (room, _) in &found {
            if !before.contains(&room.id) {
                self.listen(room.id);
            }
        }
        let rooms = self.load(None).await?;
        Ok(rooms
            .into_iter()
            .map(|r| r.id)
            .filter(|id| !before.contains(id))
            .collect())
    }

    /// Reads one room's count (and newest message) again; marks it changed.
    async fn recount(&mut self, room: RoomId) -> DomainResult<()> {
        let newest = newest(self.service.store.clone(), room).await?;
        let found = self
            .service
            .store
            .member_rooms(self.me.id, Some(room), 1)
            .await?;
        // None: no longer a member; the event saying so comes on the room's channel.
        if let Some((fresh, state)) = found.into_iter().next() {
            let last = newest.filter(|m| m.seq <= fresh.last_seq);
            self.rooms.insert(
                room,
                Watched {
                    tally: Tally::read(state, fresh.last_seq, last),
                    room: fresh,
                },
            );
            self.changed(room);
        }
        Ok(())
    }

    fn changed(&mut self, room: RoomId) {
        if self.pacer.changed(room, Instant::now()) {
            self.send_activity(room);
        }
    }

    fn send_activity(&mut self, room: RoomId) {
        if let Some(w) = self.rooms.get(&room) {
            self.out.push_back(ViewerEvent::RoomActivity {
                room: w.room.clone(),
                unread: w.tally.unread(),
                last: w.tally.last().cloned(),
            });
        }
    }

    fn send_due(&mut self) {
        for room in self.pacer.due(Instant::now()) {
            self.send_activity(room);
        }
    }

    /// Watches a room the viewer was just let into and says so.
    async fn admitted(&mut self, room: Room, how: Admission) -> DomainResult<()> {
        if !self.rooms.contains_key(&room.id) {
            self.listen(room.id);
            if self.load(Some(room.id)).await?.is_empty() {
                // Gone again already (or beyond the watch limit).
                self.stop(room.id);
            }
        }
        self.out.push_back(match how {
            Admission::Approved => ViewerEvent::JoinRequestApproved(room),
            Admission::Added => ViewerEvent::AddedToRoom(room),
            Admission::Created | Admission::Joined => ViewerEvent::RoomListChanged(room.id),
        });
        Ok(())
    }

    async fn notice(&mut self, notice: &Notice) -> DomainResult<()> {
        match notice {
            Notice::Admitted { room, user, how } if *user == self.me.id => {
                self.admitted(room.clone(), *how).await?;
            }
            Notice::Rejected {
                room_id,
                name,
                user,
            } if *user == self.me.id => {
                self.out.push_back(ViewerEvent::JoinRequestRejected {
                    room_id: *room_id,
                    name: name.clone(),
                });
            }
            // The rooms the viewer is in say so on their own channel.
            Notice::Listed { room_id } if !self.rooms.contains_key(room_id) => {
                self.out.push_back(ViewerEvent::RoomListChanged(*room_id));
            }
            _ => {}
        }
        Ok(())
    }

    async fn input(&mut self, room: RoomId, input: Input) -> DomainResult<()> {
        let me = self.me.id;
        match input {
            Input::Message(m) => {
                if let Some(w) = self.rooms.get_mut(&room) {
                    w.tally.message(&m, me);
                    self.changed(room);
                }
            }
            Input::Missed => {
                // Listen again (a closed channel was replaced) and read the count again.
                if self.rooms.contains_key(&room) {
                    self.listen(room);
                    self.recount(room).await?;
                }
            }
            Input::Event(event) => self.event(room, &event).await?,
        }
        Ok(())
    }

    /// Messages of `room` were deleted: reads the count again if that may change it.
    async fn deleted(&mut self, room: RoomId, ids: &[MessageId]) -> DomainResult<()> {
        if self.rooms.get(&room).is_some_and(|w| w.tally.deleted(ids)) {
            self.recount(room).await?;
        }
        Ok(())
    }

    async fn event(&mut self, room: RoomId, event: &RoomEvent) -> DomainResult<()> {
        let me = self.me.id;
        let name = || {
            self.rooms
                .get(&room)
                .map(|w| w.room.name.clone())
                .unwrap_or_default()
        };
        match event {
            RoomEvent::MemberRemoved {
                user, by, reason, ..
            } if user.id == me => {
                self.out.push_back(ViewerEvent::RemovedFromRoom {
                    room_id: room,
                    name: name(),
                    reason: reason.clone(),
                    by: Some(by.clone()),
                    banned: false,
                });
                self.stop(room);
            }
            RoomEvent::MemberBanned(ban) if ban.user.id == me => {
                self.out.push_back(ViewerEvent::RemovedFromRoom {
                    room_id: room,
                    name: name(),
                    reason: ban.reason.clone(),
                    by: Some(ban.banned_by.clone()),
                    banned: true,
                });
                self.stop(room);
            }
            RoomEvent::MemberLeft { user, .. } if user.id == me => {
                self.out.push_back(ViewerEvent::RoomListChanged(room));
                self.stop(room);
            }
            RoomEvent::RoomDeleted { .. } => {
                self.out.push_back(ViewerEvent::RoomListChanged(room));
                self.stop(room);
            }
            RoomEvent::RoomUpdated(updated) => {
                if let Some(w) = self.rooms.get_mut(&room) {
                    w.room = updated.clone();
                }
                self.out.push_back(ViewerEvent::RoomListChanged(room));
            }
            RoomEvent::ReadMarkerMoved { user, seq, .. } if user.id == me => {
                let recount = match self.rooms.get_mut(&room) {
                    Some(w) => w.tally.marker_moved(*seq),
                    None => false,
                };
                if recount {
                    self.recount(room).await?;
                }
            }
            RoomEvent::MessageDeleted { message_id, .. } => {
                self.deleted(room, std::slice::from_ref(message_id)).await?;
            }
            RoomEvent::MessagesPurged { message_ids, .. } => {
                self.deleted(room, message_ids).await?;
            }
            RoomEvent::MemberJoined(_) => {
                if let Some(w) = self.rooms.get_mut(&room) {
                    w.room.member_count += 1;
                }
            }
            RoomEvent::MemberLeft { .. } | RoomEvent::MemberRemoved { .. } => {
                if let Some(w) = self.rooms.get_mut(&room) {
                    w.room.member_count = (w.room.member_count - 1).max(0);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl RoomService {
    /// The signed-in viewer's own feed: activity in their rooms, being let in, turned down,
    /// added or removed, and changes to the room list. Ends only with the connection (or an
    /// error reading storage).
    pub async fn viewer_feed(&self, viewer: &Viewer) -> DomainResult<Feed<ViewerEvent>> {
        let me = viewer.require()?.clone();
        // Listen before reading storage, so nothing in between is missed.
        let mut notices = self.bus.subscribe_notices();
        let mut feed = ViewerFeed {
            service: self.clone(),
            me,
            rooms: HashMap::new(),
            sources: StreamMap::new(),
            pacer: Pacer::new(ACTIVITY_EVERY),
            out: VecDeque::new(),
        };
        feed.watch_all().await?;
        let stats = self.feeds.clone();
        let stream = async_stream::stream! {
            let _open = OpenFeed::new(&stats, |s| &s.viewer_open);
            let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
            loop {
                while let Some(event) = feed.out.pop_front() {
                    yield Ok(event);
                }
                let step = tokio::select! {
                    notice = notices.recv() => match notice {
                        Ok(n) => feed.notice(&n).await,
                        Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => {
                            if matches!(notice, Err(RecvError::Closed)) {
                                notices = feed.service.bus.subscribe_notices();
                            }
                            // Missed notices: read the rooms again; any new one is a change.
                            feed.watch_all().await.map(|new| {
                                for room in new {
                                    feed.out.push_back(ViewerEvent::RoomListChanged(room));
                                }
                            })
                        }
                    },
                    Some(((room, _), input)) = feed.sources.next(), if !feed.sources.is_empty() => {
                        let mut result = feed.input(room, input).await;
                        // Take in what else is already there before sending anything.
                        for _ in 0..DRAIN {
                            if result.is_err() { break; }
                            match feed.sources.next().now_or_never() {
                                Some(Some(((room, _), input))) => result = feed.input(room, input).await,
                                _ => break,
                            }
                        }
                        result
                    }
                    _ = wait_for(&mut timer) => {
                        feed.send_due();
                        Ok(())
                    }
                };
                if let Err(e) = step {
                    yield Err(e);
                    return;
                }
                timer = feed.pacer.next().map(|at| {
                    Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(at)))
                });
            }
        };
        Ok(stream.boxed())
    }
}

/// The newest message of `room` (for display; the count does not depend on it).
async fn newest(store: Arc<dyn Store>, room: RoomId) -> DomainResult<Option<Arc<Message>>> {
    let page = History {
        before: None,
        limit: 1,
    };
    Ok(store.messages_before(room, page).await?.pop().map(Arc::new))
}

/// Waits on the timer, if there is one; never resolves without.
async fn wait_for(timer: &mut Option<Pin<Box<tokio::time::Sleep>>>) {
    match timer {
        Some(t) => t.as_mut().await,
        None => std::future::pending().await,
    }
}
