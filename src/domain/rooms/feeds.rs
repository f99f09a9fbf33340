//! Live feeds: messages in sequence order with replay, gap filling and catch-up, and room
//! events; both end as soon as the viewer loses access.

use std::pin::Pin;
use std::time::Duration;

use futures_util::FutureExt;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::sequence::{Live, Sequencer};
use super::*;
use crate::on_wake::OnWake;

/// A message feed's view of its room's events: polled only when an event arrived, so the
/// many deliveries between two events do not each look at the event channel.
type Events = OnWake<BroadcastStream<Arc<RoomEvent>>>;

fn events_of(receiver: broadcast::Receiver<Arc<RoomEvent>>) -> Events {
    OnWake::new(BroadcastStream::new(receiver))
}

/// The channel's answer in `recv`'s terms (the stream ends when the channel closes).
fn as_received(
    item: Option<Result<Arc<RoomEvent>, BroadcastStreamRecvError>>,
) -> Result<Arc<RoomEvent>, RecvError> {
    match item {
        Some(Ok(event)) => Ok(event),
        Some(Err(BroadcastStreamRecvError::Lagged(n))) => Err(RecvError::Lagged(n)),
        None => Err(RecvError::Closed),
    }
}

/// How long a feed waits for messages that were overtaken by newer ones (published out of
/// order by concurrent senders, or late from another node) before it reads them from
/// storage. Swaps on one node resolve within one scheduler pass.
const REORDER_WAIT: Duration = Duration::from_millis(50);

/// Waits on the timer, if there is one; never resolves without.
async fn wait_for(timer: &mut Option<Pin<Box<tokio::time::Sleep>>>) {
    match timer {
        Some(t) => t.as_mut().await,
        None => std::future::pending().await,
    }
}

impl RoomService {
    /// Re-reads the viewer's access after something that may have changed it.
    async fn recheck(&self, user: UserId, room: RoomId) -> DomainResult<RoomAccess> {
        let access = self
            .store
            .room_access(room, Some(user))
            .await?
            .ok_or_else(|| DomainError::NotFound("this room was deleted".into()))?;
        authorize(Some(user), &access, Action::ReadMessages, self.clock.now())?;
        Ok(access)
    }

    /// Applies every room event already waiting for a message feed, without waiting for
    /// more; an error means the viewer has lost access and the feed must end now.
    async fn pending_verdict(
        &self,
        user: UserId,
        room: RoomId,
        events: &mut Events,
        room_type: &mut RoomType,
    ) -> DomainResult<()> {
        while let Some(item) = events.next().now_or_never() {
            self.apply_event(user, room, events, room_type, as_received(item))
                .await?;
        }
        Ok(())
    }

    /// What one room event (or a lost or closed event channel) means for a message feed:
    /// an error ends it; a change that may affect access is checked against storage.
    async fn apply_event(
        &self,
        user: UserId,
        room: RoomId,
        events: &mut Events,
        room_type: &mut RoomType,
        event: Result<Arc<RoomEvent>, RecvError>,
    ) -> DomainResult<()> {
        let recheck = match event {
            Ok(event) => {
                if let Some(err) = feed_verdict(user, *room_type, &event) {
                    return Err(err);
                }
                matches!(*event, RoomEvent::RoomUpdated(_))
            }
            Err(RecvError::Lagged(_)) => true,
            Err(RecvError::Closed) => {
                *events = events_of(self.bus.subscribe_events(room));
                true
            }
        };
        if recheck {
            *room_type = self.recheck(user, room).await?.room.room_type;
        }
        Ok(())
    }

    /// Messages of a room in sequence order: first those after `after` from the store, then
    /// live ones, with no gap or duplicate at the seam. A gap in the live stream (lag, a
    /// message published out of order) is filled from the store. Ends with an error when the
    /// viewer loses the right to read the room.
    pub async fn message_feed(
        &self,
        viewer: &Viewer,
        room: RoomId,
        after: Option<MessageCursor>,
    ) -> DomainResult<Feed<Arc<Message>>> {
        let me = viewer.require()?;
        let user = me.id;
        // Subscribe before reading the store, so nothing published in between is missed.
        let mut live = self.bus.subscribe_messages(room);
        let mut events = events_of(self.bus.subscribe_events(room));
        let access = self.authorized(viewer, room, Action::ReadMessages).await?;
        let start = match after {
            Some(c) => c.position_in("after", room, access.room.last_seq)?,
            None => access.room.last_seq,
        };
        let mut room_type = access.room.room_type;
        let this = self.clone();

        let stats = self.feeds.clone();
        let seat = self.seat(room, me);
        let stream = async_stream::stream! {
            let _open = OpenFeed::new(&stats, |s| &s.open);
            let _seat = seat;
            // The order (replay, live, gaps, lag) is the sequencer's; this loop moves
            // messages. First it replays what was posted after the cursor.
            let mut sequence = Sequencer::starting_after(start);
            // Bounds a wait for messages that were overtaken (made on first use).
            let mut hold: Option<Pin<Box<tokio::time::Sleep>>> = None;
            loop {
                while let Some(read) = sequence.take_catch_up() {
                    'batches: loop {
                        // Access may be lost while a feed reads storage: room events are
                        // looked at before every batch and every delivery, not only live.
                        if let Err(e) = this.pending_verdict(user, room, &mut events, &mut room_type).await {
                            yield Err(e);
                            return;
                        }
                        match this.store.messages_after(room, CatchUp { after: sequence.last(), up_to: read.up_to, limit: CATCH_UP_BATCH }).await {
                            Ok(batch) => {
                                let done = batch.len() < CATCH_UP_BATCH as usize;
                                for m in batch {
                                    if let Err(e) = this.pending_verdict(user, room, &mut events, &mut room_type).await {
                                        yield Err(e);
                                        return;
                                    }
                                    sequence.replayed(m.seq);
                                    stats.replayed.fetch_add(1, Ordering::Relaxed);
                                    yield Ok(Arc::new(m));
                                }
                                if done { break 'batches; }
                            }
                            Err(e) => { yield Err(e.into()); return; }
                        }
                    }
                    sequence.caught_up(read);
                }
                tokio::select! {
                    biased;
                    event = events.next() => {
                        if let Err(e) = this.apply_event(user, room, &mut events, &mut room_type, as_received(event)).await {
                            yield Err(e);
                            return;
                        }
                    }
                    _ = wait_for(&mut hold), if sequence.holding() => {
                        // The older messages did not arrive live in time: read them.
                        sequence.waited_out();
                        stats.gaps.fetch_add(1, Ordering::Relaxed);
                    }
                    message = live.recv() => {
                        match message {
                            Ok(m) => {
                                let was_holding = sequence.holding();
                                match sequence.live(m.seq, m) {
                                    Live::Held if !was_holding => {
                                        // Bound the wait for the messages before it.
                                        let until = tokio::time::Instant::now() + REORDER_WAIT;
                                        match hold.as_mut() {
                                            Some(timer) => timer.as_mut().reset(until),
                                            None => hold = Some(Box::pin(tokio::time::sleep_until(until))),
                                        }
                                    }
                                    Live::Gap => {
                                        stats.gaps.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Live::Deliver | Live::Seen | Live::Held => {}
                                }
                                while let Some(m) = sequence.next_ready() {
                                    yield Ok(m);
                                }
                            }
                            // We fell behind the buffer: catch up from the store.
                            Err(RecvError::Lagged(_)) => {
                                stats.lagged.fetch_add(1, Ordering::Relaxed);
                                sequence.lagged();
                            }
                            Err(RecvError::Closed) => {
                                stats.lagged.fetch_add(1, Ordering::Relaxed);
                                live = this.bus.subscribe_messages(room);
                                sequence.lagged();
                            }
                        }
                    }
                }
            }
        };
        Ok(stream.boxed())
    }

    /// Moderation and membership events of a room, as they happen. Ends (after delivering
    /// the event itself) when the viewer is banned, removed, leaves a members-only room, or
    /// the room is deleted.
    pub async fn event_feed(
        &self,
        viewer: &Viewer,
        room: RoomId,
    ) -> DomainResult<Feed<Arc<RoomEvent>>> {
        let me = viewer.require()?;
        let user = me.id;
        let mut events = self.bus.subscribe_events(room);
        let access = self.authorized(viewer, room, Action::ReadMessages).await?;
        let mut role = access.membership.map(|m| m.role);
        let mut typing = crate::domain::typing::TypingView::default();
        let mut room_type = access.room.room_type;
        let this = self.clone();

        let stats = self.feeds.clone();
        let seat = self.seat(room, me);
        let stream = async_stream::stream! {
            let _open = OpenFeed::new(&stats, |s| &s.events_open);
            let _seat = seat;
            loop {
                let recheck = match events.recv().await {
                    Ok(event) => {
                        match &*event {
                            RoomEvent::MemberRoleChanged(m) | RoomEvent::MemberJoined(m) if m.user.id == user => {
                                role = Some(m.role);
                            }
                            // Still reading a public room, but no longer an admin of it:
                            // reports and join requests stop here.
                            RoomEvent::MemberLeft { user: u, .. }
                            | RoomEvent::MemberRemoved { user: u, .. } if u.id == user => {
                                role = None;
                            }
                            RoomEvent::RoomUpdated(r) => room_type = r.room_type,
                            _ => {}
                        }
                        if let Some(err) = feed_verdict(user, room_type, &event) {
                            yield Ok(event);
                            yield Err(err);
                            return;
                        }
                        // A change to the room may take the viewer's access away (a room
                        // turned private): checked before the change itself is shown.
                        if matches!(*event, RoomEvent::RoomUpdated(_)) {
                            match this.recheck(user, room).await {
                                Ok(access) => {
                                    role = access.membership.map(|m| m.role);
                                    room_type = access.room.room_type;
                                }
                                Err(e) => { yield Err(e); return; }
                            }
                        }
                        let shown = match &*event {
                            RoomEvent::TypingChanged { user: u, until, announced, .. } => {
                                typing.show(u.id, *until, *announced)
                            }
                            _ => may_see_event(role, &event),
                        };
                        if shown {
                            yield Ok(event);
                        }
                        false
                    }
                    Err(RecvError::Lagged(n)) => {
                        this.feeds.events_lagged.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(missed = n, "event feed fell behind; re-checking access");
                        true
                    }
                    Err(RecvError::Closed) => {
                        events = this.bus.subscribe_events(room);
                        true
                    }
                };
                if recheck {
                    match this.recheck(user, room).await {
                        Ok(access) => {
                            role = access.membership.map(|m| m.role);
                            room_type = access.room.room_type;
                        }
                        Err(e) => { yield Err(e); return; }
                    }
                }
            }
        };
        Ok(stream.boxed())
    }
}
