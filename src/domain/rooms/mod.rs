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
    Admission, Ban, Invite, JoinRequest, Membership, Message, MessagePage, ModerationAction,
    ModerationEntry, Notice, Page, Report, ReportStatus, Role, Room, RoomAccess, RoomEvent,
    RoomPage, RoomType, Timestamp,
};
pub use super::model::{CreateRoom, UpdateRoom};
use super::permissions::{authorize, feed_verdict, may_see_event, Action};
use super::ports::{
    Audit, Bus, CatchUp, History, Mute, NewBan, NewInvite, NewJoinRequest, NewMember, NewMessage,
    NewReport, NewRoom, RecordPage, ReportDecision, RoomQuery, Store, TimedBan, TimedMute,
};
use super::terms::BlockedTerms;
use super::throttle::Throttles;
use super::values::{
    BanDuration, InviteCode, InviteLifetime, InviteUses, MessageBody, MessageCursor, MessageId,
    MuteDuration, Note, PageSize, PurgeWindow, RecordCursor, ReportId, ReportReason, RoomCursor,
    RoomId, UserId,
};

mod access_cache;
mod feeds;
mod invites;
mod lifecycle;
mod membership;
mod messages;
mod moderation;
mod presence;
mod reading;
mod reports;
mod sequence;
mod typing;
mod viewer_feed;

pub use viewer_feed::MAX_WATCHED_ROOMS;

/// Server-wide limits the rules depend on.
#[derive(Debug, Clone)]
pub struct RoomRules {
    /// The most members any room may have (and the upper bound of `maxUsers`).
    pub max_users_cap: i64,
    /// How long a user stays online after their last feed of a room closed (so a reload
    /// does not flicker).
    pub presence_grace: chrono::Duration,
}

/// The default of `--presence-grace-seconds`.
pub const PRESENCE_GRACE_SECONDS: u64 = 5;

impl Default for RoomRules {
    fn default() -> Self {
        Self {
            max_users_cap: 10_000,
            presence_grace: chrono::Duration::seconds(PRESENCE_GRACE_SECONDS as i64),
        }
    }
}

pub type Feed<T> = BoxStream<'static, DomainResult<T>>;

/// How often each node re-reads the timed mutes and bans in storage, to lift those set on
/// nodes that have gone away meanwhile.
const RELOAD_EXPIRIES: chrono::Duration = chrono::Duration::seconds(60);

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
    expiries: Arc<Expiries>,
    feeds: Arc<FeedStats>,
    clock: SharedClock,
    /// Access read for posting, kept until the room's events say it changed.
    access: Arc<access_cache::AccessCache>,
    /// Who is typing, as this node knows it.
    typing: Arc<typing::Typing>,
    /// Who is online where, as this node knows it.
    presence: Arc<presence::Presence>,
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
    /// `viewerEvents` feeds open right now.
    pub viewer_open: AtomicU64,
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

/// What ends by itself at a deadline: a timed mute or a timed ban of a user in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Expiring {
    Mute(RoomId, UserId),
    Ban(RoomId, UserId),
    Typing(RoomId, UserId),
    /// The grace period after a user's last feed of a room closed.
    Presence(RoomId, UserId),
}

/// The deadlines of timed mutes and bans, and the wake-up of the one task that lifts them.
#[derive(Default)]
struct Expiries {
    // A std Mutex: held only to touch the queue, never across an await.
    queue: std::sync::Mutex<ExpiryQueue<Expiring>>,
    wake: tokio::sync::Notify,
}

impl Expiries {
    fn queue(&self) -> std::sync::MutexGuard<'_, ExpiryQueue<Expiring>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Schedules `what` at `at` and wakes the task that lifts them.
    fn schedule(&self, what: Expiring, at: Timestamp) {
        self.queue().schedule(what, at);
        self.wake.notify_one();
    }

    fn cancel(&self, what: Expiring) {
        self.queue().cancel(&what);
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
            typing: Arc::new(typing::Typing::new(bus.clone())),
            presence: Arc::new(presence::Presence::new()),
            store,
            bus,
            rules: Arc::new(rules),
            tasks,
            shutdown,
            throttles: Arc::new(Throttles::unlimited()),
            expiries: Arc::default(),
            feeds: Arc::default(),
            clock,
        };
        let expirer = service.clone();
        service
            .tasks
            .spawn(async move { expirer.lift_when_due().await });
        let presence = service.clone();
        service
            .tasks
            .spawn(async move { presence.keep_presence().await });
        service
    }

    /// Loads the timed mutes and bans in storage into the queue (so expiries survive a
    /// restart, and a node learns those set on others).
    async fn load_expiries(&self) {
        match self.store.timed_mutes().await {
            Ok(all) => {
                let mut queue = self.expiries.queue();
                for mute in all {
                    queue.schedule(Expiring::Mute(mute.room, mute.user), mute.until);
                }
            }
            Err(e) => {
                tracing::warn!(error = ?e, "could not load timed mutes; they lift when next touched")
            }
        }
        match self.store.timed_bans().await {
            Ok(all) => {
                let mut queue = self.expiries.queue();
                for ban in all {
                    queue.schedule(Expiring::Ban(ban.room, ban.user), ban.until);
                }
            }
            Err(e) => {
                tracing::warn!(error = ?e, "could not load timed bans; they stop counting on time but are announced later")
            }
        }
    }

    /// The one task that ends timed mutes and bans: loads those in storage, then sleeps
    /// until the earliest deadline or a newly scheduled one. (A timed mute or ban already
    /// stops counting at its deadline without this: `is_muted_at`, `is_banned_at`; this
    /// clears it in storage and announces it.)
    async fn lift_when_due(self) {
        self.load_expiries().await;
        let mut reload_at = self.clock.now() + RELOAD_EXPIRIES;
        loop {
            if self.clock.now() >= reload_at {
                // Deadlines set on other nodes: if the node that set one is gone, this one
                // announces it (at most this late; the rules stop counting it on time).
                self.load_expiries().await;
                reload_at = self.clock.now() + RELOAD_EXPIRIES;
            }
            let due = self.expiries.queue().take_due(self.clock.now());
            for (what, until) in due {
                let done = match what {
                    Expiring::Mute(room, user) => {
                        self.expire_mute(TimedMute { room, user, until }).await
                    }
                    Expiring::Ban(room, user) => {
                        self.expire_ban(TimedBan { room, user, until }).await
                    }
                    Expiring::Typing(room, user) => {
                        self.lapse_typing(room, user).await;
                        Ok(())
                    }
                    Expiring::Presence(room, user) => {
                        self.lapse_presence(room, user);
                        Ok(())
                    }
                };
                if let Err(e) = done {
                    tracing::warn!(error = ?e, ?what, "could not lift an expired mute or ban");
                }
            }
            let next = self
                .expiries
                .queue()
                .next()
                .map_or(reload_at, |at| at.min(reload_at));
            let sleep = self.clock.sleep_until(next);
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.expiries.wake.notified() => {}
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

    /// How many timed mutes and bans wait to be lifted (for tests and metrics).
    pub fn pending_mute_expiries(&self) -> usize {
        self.expiries.queue().len()
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
        match authorize(viewer.user_id(), &access, action, self.clock.now()) {
            Ok(()) => Ok(access),
            Err(e) => Err(self.explained(e, room, viewer.user_id()).await),
        }
    }

    /// A BANNED refusal, with who banned the viewer, why and until when (read only when
    /// refusing, so the checks that pass cost nothing more). Any other refusal as it is.
    async fn explained(
        &self,
        refusal: DomainError,
        room: RoomId,
        user: Option<UserId>,
    ) -> DomainError {
        let (DomainError::Banned, Some(user)) = (&refusal, user) else {
            return refusal;
        };
        match self.store.ban_of(room, user).await {
            Ok(Some(ban)) => DomainError::banned_by(&ban),
            // Lifted meanwhile, or unreadable: the plain refusal still stands.
            _ => refusal,
        }
    }

    /// Access to post in a room, as `authorized` but answered from memory while nothing
    /// has happened to the room's memberships or settings since it was read (see
    /// `access_cache`). Only for actions whose verdict depends on those alone.
    async fn authorized_to_post(
        &self,
        viewer: &Viewer,
        room: RoomId,
        action: Action,
    ) -> DomainResult<Arc<RoomAccess>> {
        let Some(user) = viewer.user_id() else {
            return self.authorized(viewer, room, action).await.map(Arc::new);
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
        match authorize(Some(user), &access, action, self.clock.now()) {
            Ok(()) => Ok(access),
            Err(e) => Err(self.explained(e, room, Some(user)).await),
        }
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

    /// A log entry of `action` by the viewer in `room` at the rules' time.
    fn audit(
        &self,
        actor: &crate::domain::model::User,
        room: RoomId,
        action: ModerationAction,
        target: Option<UserId>,
        reason: Option<String>,
    ) -> Audit {
        Audit {
            room,
            action,
            actor: actor.id,
            target,
            reason,
            at: self.clock.now(),
        }
    }

    async fn existing_user(&self, user: UserId) -> DomainResult<crate::domain::model::User> {
        self.store
            .user_by_id(user)
            .await?
            .ok_or_else(|| DomainError::NotFound("user not found".into()))
    }
}
