//! The rules of rooms: every operation a user can perform on rooms, memberships and messages.
//! Each method loads the viewer's access, asks `permissions::authorize`, writes through the
//! `Store`, then publishes what happened on the `Bus`. Live feeds live here too, because
//! ending a feed on a ban or a kick is a rule of rooms, not a transport detail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::clock::SharedClock;
use super::error::{DomainError, DomainResult};
use super::expiry::ExpiryQueue;
use super::identity::Viewer;
use super::model::{
    Ban, JoinRequest, Membership, Message, MessagePage, Role, Room, RoomAccess, RoomEvent,
    RoomPage, RoomType, Timestamp,
};
pub use super::model::{CreateRoom, UpdateRoom};
use super::permissions::{authorize, feed_verdict, may_see_event, Action};
use super::ports::{
    Bus, CatchUp, History, Mute, NewBan, NewJoinRequest, NewMember, NewMessage, NewRoom, RoomQuery,
    Store, TimedMute,
};
use super::throttle::Throttles;
use super::values::{
    MessageBody, MessageCursor, MessageId, MuteDuration, Note, PageSize, RoomCursor, RoomId, UserId,
};

mod access_cache;
mod feeds;
mod lifecycle;
mod membership;
mod messages;
mod moderation;
mod reading;
mod sequence;

/// Server-wide limits the rules depend on.
#[derive(Debug, Clone)]
pub struct RoomRules {
    /// The most members any room may have (and the upper bound of `maxUsers`).
    pub max_users_cap: i64,
}

impl Default for RoomRules {
    fn default() -> Self {
        Self {
            max_users_cap: 10_000,
        }
    }
}

pub type Feed<T> = BoxStream<'static, DomainResult<T>>;

/// How many stored messages a feed reads per query while catching up.
const CATCH_UP_BATCH: u32 = 256;

#[derive(Clone)]
pub struct RoomService {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    rules: Arc<RoomRules>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    throttles: Arc<Throttles>,
    mutes: Arc<MuteExpiries>,
    feeds: Arc<FeedStats>,
    clock: SharedClock,
    /// Access read for posting, kept until the room's events say it changed.
    access: Arc<access_cache::AccessCache>,
}

/// How live feeds keep up, since start (read by `/metrics`).
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Message feeds open right now (counted from when their access check passed and they
    /// listen to the room).
    pub open: AtomicU64,
    /// Event feeds open right now (likewise).
    pub events_open: AtomicU64,
    /// Times a message feed fell behind its room's live buffer (or the buffer was reset)
    /// and caught up from storage.
    pub lagged: AtomicU64,
    /// Times a message feed saw a gap in sequence numbers and filled it from storage.
    pub gaps: AtomicU64,
    /// Messages delivered from storage rather than live (replays after a cursor and
    /// catch-ups after lag or a gap).
    pub replayed: AtomicU64,
    /// Times an events feed fell behind and re-checked access.
    pub events_lagged: AtomicU64,
}

/// Counts a message feed as open until dropped.
struct OpenFeed(Arc<FeedStats>, fn(&FeedStats) -> &AtomicU64);

impl OpenFeed {
    fn new(stats: &Arc<FeedStats>, which: fn(&FeedStats) -> &AtomicU64) -> Self {
        which(stats).fetch_add(1, Ordering::Relaxed);
        Self(stats.clone(), which)
    }
}

impl Drop for OpenFeed {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_sub(1, Ordering::Relaxed);
    }
}

/// The deadlines of timed mutes and the wake-up of the one task that lifts them.
#[derive(Default)]
struct MuteExpiries {
    // A std Mutex: held only to touch the queue, never across an await.
    queue: std::sync::Mutex<ExpiryQueue<(RoomId, UserId)>>,
    wake: tokio::sync::Notify,
}

impl MuteExpiries {
    fn queue(&self) -> std::sync::MutexGuard<'_, ExpiryQueue<(RoomId, UserId)>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl RoomService {
    /// `clock` is what the rules of rooms read for time (timed mutes; a manual clock in tests).
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        rules: RoomRules,
        tasks: TaskTracker,
        shutdown: CancellationToken,
        clock: SharedClock,
    ) -> Self {
        let service = Self {
            access: Arc::new(access_cache::AccessCache::new(bus.clone())),
            store,
            bus,
            rules: Arc::new(rules),
            tasks,
            shutdown,
            throttles: Arc::new(Throttles::unlimited()),
            mutes: Arc::default(),
            feeds: Arc::default(),
            clock,
        };
        let expirer = service.clone();
        service
            .tasks
            .spawn(async move { expirer.lift_mutes_when_due().await });
        service
    }

    /// The one task that ends timed mutes: loads those in storage (so expiries survive a
    /// restart), then sleeps until the earliest deadline or a newly scheduled one.
    async fn lift_mutes_when_due(self) {
        match self.store.timed_mutes().await {
            Ok(all) => {
                let mut queue = self.mutes.queue();
                for mute in all {
                    queue.schedule((mute.room, mute.user), mute.until);
                }
            }
            Err(e) => {
                tracing::warn!(error = ?e, "could not load timed mutes; they lift when next touched")
            }
        }
        loop {
            let due = self.mutes.queue().take_due(self.clock.now());
            for ((room, user), until) in due {
                if let Err(e) = self.expire_mute(TimedMute { room, user, until }).await {
                    tracing::warn!(error = ?e, "could not clear an expired mute");
                }
            }
            let next = self.mutes.queue().next();
            let clock = self.clock.clone();
            let sleep = async move {
                match next {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.mutes.wake.notified() => {}
                _ = sleep => {}
            }
        }
    }

    /// The time the rules of rooms go by.
    pub fn now(&self) -> crate::domain::model::Timestamp {
        self.clock.now()
    }

    /// How live feeds keep up (for metrics).
    pub fn feed_stats(&self) -> Arc<FeedStats> {
        self.feeds.clone()
    }

    /// How many timed mutes wait to be lifted (for tests and metrics).
    pub fn pending_mute_expiries(&self) -> usize {
        self.mutes.queue().len()
    }

    /// The same service with these flood limits (`new` has none).
    pub fn with_throttles(mut self, throttles: Arc<Throttles>) -> Self {
        self.throttles = throttles;
        self
    }

    pub fn rules(&self) -> &RoomRules {
        &self.rules
    }

    /// Loads the viewer's access to a room and asks the permission table about `action`.
    async fn authorized(
        &self,
        viewer: &Viewer,
        room: RoomId,
        action: Action,
    ) -> DomainResult<RoomAccess> {
        let access = self
            .store
            .room_access(room, viewer.user_id())
            .await?
            .ok_or_else(DomainError::room_not_found)?;
        authorize(viewer.user_id(), &access, action, self.clock.now())?;
        Ok(access)
    }

    /// Access to post in a room, as `authorized` but answered from memory while nothing
    /// has happened to the room's memberships or settings since it was read (see
    /// `access_cache`). Only for actions whose verdict depends on those alone.
    async fn authorized_to_post(
        &self,
        viewer: &Viewer,
        room: RoomId,
        action: Action,
    ) -> DomainResult<()> {
        let Some(user) = viewer.user_id() else {
            return self.authorized(viewer, room, action).await.map(drop);
        };
        let kept = self.access.room(room);
        let access = match kept.get(&user) {
            Ok(access) => access,
            Err(ticket) => {
                let access = Arc::new(
                    self.store
                        .room_access(room, Some(user))
                        .await?
                        .ok_or_else(DomainError::room_not_found)?,
                );
                kept.keep(user, access.clone(), ticket);
                access
            }
        };
        authorize(Some(user), &access, action, self.clock.now())
    }

    fn publish(&self, event: RoomEvent) {
        // Forgotten here at once; other nodes forget when the event reaches them.
        self.access.forget(&event);
        self.bus.publish_event(Arc::new(event));
    }

    async fn target_membership(&self, room: RoomId, user: UserId) -> DomainResult<Membership> {
        self.store
            .membership(room, user)
            .await?
            .ok_or_else(|| DomainError::NotFound("that user is not a member of this room".into()))
    }

    async fn existing_user(&self, user: UserId) -> DomainResult<crate::domain::model::User> {
        self.store
            .user_by_id(user)
            .await?
            .ok_or_else(|| DomainError::NotFound("user not found".into()))
    }
}
