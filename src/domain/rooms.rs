//! The rules of rooms: every operation a user can perform on rooms, memberships and messages.
//! Each method loads the viewer's access, asks `permissions::authorize`, writes through the
//! `Store`, then publishes what happened on the `Bus`. Live feeds live here too, because
//! ending a feed on a ban or a kick is a rule of rooms, not a transport detail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::clock::{SharedClock, SystemClock};
use super::error::{DomainError, DomainResult};
use super::expiry::ExpiryQueue;
use super::identity::Viewer;
use super::model::{
    Ban, JoinRequest, Membership, Message, MessagePage, Role, Room, RoomAccess, RoomEvent,
    RoomPage, RoomType, Timestamp,
};
use super::permissions::{authorize, feed_verdict, may_see_event, Action};
use super::ports::{Bus, NewRoom, RoomPatch, Store};
use super::throttle::{ThrottleSettings, Throttles};
use super::values::{
    MaxUsers, MessageBody, MessageCursor, MessageId, MuteDuration, Note, PageSize, RoomCursor,
    RoomId, RoomName, Topic, UserId,
};

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

/// Validated input of `createRoom`.
pub struct CreateRoom {
    pub name: RoomName,
    pub room_type: RoomType,
    pub topic: Option<Topic>,
    pub max_users: Option<MaxUsers>,
}

/// Validated input of `updateRoom`; `None` leaves a field unchanged.
#[derive(Default)]
pub struct UpdateRoom {
    pub name: Option<RoomName>,
    pub topic: Option<Option<Topic>>,
    pub room_type: Option<RoomType>,
    pub max_users: Option<Option<MaxUsers>>,
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
}

/// How live feeds keep up, since start (read by `/metrics`).
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Message feeds open right now.
    pub open: AtomicU64,
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
struct OpenFeed(Arc<FeedStats>);

impl OpenFeed {
    fn new(stats: &Arc<FeedStats>) -> Self {
        stats.open.fetch_add(1, Ordering::Relaxed);
        Self(stats.clone())
    }
}

impl Drop for OpenFeed {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
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
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        rules: RoomRules,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        Self::with_clock(store, bus, rules, tasks, shutdown, Arc::new(SystemClock))
    }

    /// `new`, with the clock the rules of rooms read (timed mutes; a manual clock in tests).
    pub fn with_clock(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        rules: RoomRules,
        tasks: TaskTracker,
        shutdown: CancellationToken,
        clock: SharedClock,
    ) -> Self {
        let service = Self {
            store,
            bus,
            rules: Arc::new(rules),
            tasks,
            shutdown,
            throttles: Arc::new(Throttles::new(ThrottleSettings::unlimited())),
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
                for (room, user, until) in all {
                    queue.schedule((room, user), until);
                }
            }
            Err(e) => {
                tracing::warn!(error = ?e, "could not load timed mutes; they lift when next touched")
            }
        }
        loop {
            let due = self.mutes.queue().take_due(self.clock.now());
            for ((room, user), until) in due {
                if let Err(e) = self.expire_mute(room, user, until).await {
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

    fn publish(&self, event: RoomEvent) {
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

    // ------------------------------------------------------------------ reading

    pub async fn user_by_username(
        &self,
        viewer: &Viewer,
        username: &str,
    ) -> DomainResult<Option<crate::domain::model::User>> {
        viewer.require()?;
        Ok(self.store.user_by_username(username).await?)
    }

    pub async fn list_rooms(
        &self,
        viewer: &Viewer,
        first: PageSize,
        after: Option<RoomCursor>,
        search: Option<String>,
    ) -> DomainResult<RoomPage> {
        let search = search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(DomainError::bad_input(
                "search",
                "search must be at most 100 characters",
            ));
        }
        let mut rows = self
            .store
            .list_rooms(
                viewer.user_id(),
                search.as_deref(),
                after.as_ref(),
                first.get() + 1,
            )
            .await?;
        let has_more = rows.len() > first.get() as usize;
        rows.truncate(first.get() as usize);
        // The store pre-filters private rooms in SQL; the permission table has the last word.
        let mut rooms = Vec::with_capacity(rows.len());
        for room in rows {
            let access = if room.room_type == RoomType::Private {
                match self.store.room_access(room.id, viewer.user_id()).await? {
                    Some(a) => a,
                    None => continue,
                }
            } else {
                RoomAccess {
                    room: room.clone(),
                    membership: None,
                    banned: false,
                }
            };
            if authorize(
                viewer.user_id(),
                &access,
                Action::ViewRoom,
                self.clock.now(),
            )
            .is_ok()
            {
                rooms.push(room);
            }
        }
        Ok(RoomPage { rooms, has_more })
    }

    /// The room if the viewer may see it; `None` for missing and hidden rooms alike.
    pub async fn room(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Option<Room>> {
        match self.authorized(viewer, room, Action::ViewRoom).await {
            Ok(access) => Ok(Some(access.room)),
            Err(DomainError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn viewer_membership(
        &self,
        viewer: &Viewer,
        room: RoomId,
    ) -> DomainResult<Option<Membership>> {
        match viewer.user_id() {
            None => Ok(None),
            Some(user) => Ok(self.store.membership(room, user).await?),
        }
    }

    /// The viewer's memberships among `rooms`, by room: one read for a page of rooms.
    /// (Only the viewer's own memberships: nothing about a room the viewer cannot see.)
    pub async fn viewer_memberships(
        &self,
        viewer: &Viewer,
        rooms: &[RoomId],
    ) -> DomainResult<std::collections::HashMap<RoomId, Membership>> {
        let Some(user) = viewer.user_id() else {
            return Ok(Default::default());
        };
        let found = self.store.memberships_in(user, rooms).await?;
        Ok(found.into_iter().map(|m| (m.room_id, m)).collect())
    }

    pub async fn members(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Vec<Membership>> {
        self.authorized(viewer, room, Action::ViewMembers).await?;
        Ok(self.store.members(room).await?)
    }

    pub async fn messages(
        &self,
        viewer: &Viewer,
        room: RoomId,
        last: PageSize,
        before: Option<MessageCursor>,
    ) -> DomainResult<MessagePage> {
        let access = self.authorized(viewer, room, Action::ReadMessages).await?;
        // `before` may point one past the end (the seq a client expects next).
        let before = before
            .map(|c| c.position_in("before", room, access.room.last_seq + 1))
            .transpose()?;
        let mut rows = self
            .store
            .messages_before(room, before, last.get() + 1)
            .await?;
        let has_older = rows.len() > last.get() as usize;
        rows.truncate(last.get() as usize);
        rows.reverse();
        Ok(MessagePage {
            messages: rows,
            has_older,
        })
    }

    pub async fn bans(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Vec<Ban>> {
        self.authorized(viewer, room, Action::ViewModeration)
            .await?;
        Ok(self.store.bans(room).await?)
    }

    pub async fn join_requests(
        &self,
        viewer: &Viewer,
        room: RoomId,
    ) -> DomainResult<Vec<JoinRequest>> {
        self.authorized(viewer, room, Action::ViewModeration)
            .await?;
        Ok(self.store.join_requests(room).await?)
    }

    // ------------------------------------------------------------------ rooms

    #[tracing::instrument(skip_all)]
    pub async fn create_room(&self, viewer: &Viewer, input: CreateRoom) -> DomainResult<Room> {
        let owner = viewer.require()?;
        let room = self
            .store
            .create_room(NewRoom {
                id: RoomId::new(),
                name: input.name.into_inner(),
                topic: input.topic.map(Topic::into_inner),
                room_type: input.room_type,
                max_users: input.max_users.map(MaxUsers::get),
                owner: owner.id,
                created_at: self.clock.now(),
            })
            .await?;
        tracing::info!(room_id = %room.id, "room created");
        Ok(room)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn update_room(
        &self,
        viewer: &Viewer,
        room: RoomId,
        input: UpdateRoom,
    ) -> DomainResult<Room> {
        let access = self.authorized(viewer, room, Action::UpdateRoom).await?;
        if let Some(Some(max)) = input.max_users {
            if max.get() < access.room.member_count {
                return Err(DomainError::bad_input(
                    "maxUsers",
                    format!("the room already has {} members", access.room.member_count),
                ));
            }
        }
        let patch = RoomPatch {
            name: input.name.map(RoomName::into_inner),
            topic: input.topic.map(|t| t.map(Topic::into_inner)),
            room_type: input.room_type,
            max_users: input.max_users.map(|m| m.map(MaxUsers::get)),
        };
        let updated = self.store.update_room(room, patch).await?;
        self.publish(RoomEvent::RoomUpdated(updated.clone()));
        Ok(updated)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn delete_room(&self, viewer: &Viewer, room: RoomId) -> DomainResult<RoomId> {
        self.authorized(viewer, room, Action::DeleteRoom).await?;
        if !self.store.delete_room(room).await? {
            return Err(DomainError::room_not_found());
        }
        self.publish(RoomEvent::RoomDeleted { room_id: room });
        tracing::info!("room deleted");
        Ok(room)
    }

    // ------------------------------------------------------------------ membership

    fn capacity(&self, room: &Room) -> i64 {
        room.max_users
            .unwrap_or(self.rules.max_users_cap)
            .min(self.rules.max_users_cap)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn join_room(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Membership> {
        let access = self.authorized(viewer, room, Action::Join).await?;
        let user = viewer.require()?;
        let member = self
            .store
            .add_member(
                room,
                user.id,
                Role::Member,
                self.capacity(&access.room),
                self.clock.now(),
            )
            .await?;
        self.publish(RoomEvent::MemberJoined(member.clone()));
        Ok(member)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn request_to_join(
        &self,
        viewer: &Viewer,
        room: RoomId,
        message: Option<Note>,
    ) -> DomainResult<JoinRequest> {
        self.authorized(viewer, room, Action::RequestToJoin).await?;
        let user = viewer.require()?;
        let request = self
            .store
            .create_join_request(
                room,
                user.id,
                message.map(Note::into_inner),
                self.clock.now(),
            )
            .await?;
        self.publish(RoomEvent::JoinRequested(request.clone()));
        Ok(request)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn approve_join_request(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<Membership> {
        let access = self
            .authorized(viewer, room, Action::DecideJoinRequest)
            .await?;
        if self.store.join_request(room, user).await?.is_none() {
            return Err(DomainError::NotFound(
                "no pending join request from that user".into(),
            ));
        }
        let member = self
            .store
            .add_member(
                room,
                user,
                Role::Member,
                self.capacity(&access.room),
                self.clock.now(),
            )
            .await?;
        self.publish(RoomEvent::MemberJoined(member.clone()));
        Ok(member)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn reject_join_request(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<bool> {
        self.authorized(viewer, room, Action::DecideJoinRequest)
            .await?;
        if !self.store.delete_join_request(room, user).await? {
            return Err(DomainError::NotFound(
                "no pending join request from that user".into(),
            ));
        }
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn leave_room(&self, viewer: &Viewer, room: RoomId) -> DomainResult<bool> {
        let access = self.authorized(viewer, room, Action::Leave).await?;
        let user = viewer.require()?;
        if !self.store.remove_member(room, user.id).await? {
            return Err(DomainError::NotFound(
                "you are not a member of this room".into(),
            ));
        }
        self.publish(RoomEvent::MemberLeft {
            room_id: access.room.id,
            user: user.clone(),
        });
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn add_member(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<Membership> {
        let access = self.authorized(viewer, room, Action::AddMember).await?;
        self.existing_user(user).await?;
        if let Some(target) = self.store.room_access(room, Some(user)).await? {
            if target.membership.is_some() {
                return Err(DomainError::Conflict(
                    "that user is already a member of this room".into(),
                ));
            }
            if target.banned {
                return Err(DomainError::Conflict(
                    "that user is banned from this room: unban them first".into(),
                ));
            }
        }
        let member = self
            .store
            .add_member(
                room,
                user,
                Role::Member,
                self.capacity(&access.room),
                self.clock.now(),
            )
            .await?;
        self.publish(RoomEvent::MemberJoined(member.clone()));
        Ok(member)
    }

    /// Asks whether the viewer may act on `user` (remove, mute, ban); returns their
    /// membership, if any. Loaded first because the answer depends on the target's role.
    async fn authorize_act_on(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<Option<Membership>> {
        let target = self.store.membership(room, user).await?;
        let target_role = target.as_ref().map(|m| m.role);
        self.authorized(
            viewer,
            room,
            Action::ActOnMember {
                target: user,
                target_role,
            },
        )
        .await?;
        Ok(target)
    }

    /// Like `authorize_act_on`, for actions that need `user` to be a member.
    async fn act_on_member(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<Membership> {
        self.authorize_act_on(viewer, room, user)
            .await?
            .ok_or_else(|| DomainError::NotFound("that user is not a member of this room".into()))
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn remove_member(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<bool> {
        let target = self.act_on_member(viewer, room, user).await?;
        let actor = viewer.require()?;
        if !self.store.remove_member(room, user).await? {
            return Err(DomainError::NotFound(
                "that user is not a member of this room".into(),
            ));
        }
        self.publish(RoomEvent::MemberRemoved {
            room_id: room,
            user: target.user,
            by: actor.clone(),
        });
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn set_member_role(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
        role: Role,
    ) -> DomainResult<Membership> {
        // Authorize before revealing whether `user` is a member.
        let target = self.store.membership(room, user).await?;
        let target_role = target.as_ref().map_or(Role::Member, |m| m.role);
        self.authorized(viewer, room, Action::SetRole { target_role })
            .await?;
        let target = target.ok_or_else(|| {
            DomainError::NotFound("that user is not a member of this room".into())
        })?;
        if role == Role::Owner {
            return Err(DomainError::bad_input(
                "role",
                "use transferOwnership to make someone the owner",
            ));
        }
        if target.role == role {
            return Ok(target);
        }
        let member = self.store.set_role(room, user, role).await?;
        self.publish(RoomEvent::MemberRoleChanged(member.clone()));
        Ok(member)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn transfer_ownership(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<Room> {
        self.authorized(viewer, room, Action::TransferOwnership { target: user })
            .await?;
        let from = viewer.require()?;
        self.target_membership(room, user).await?;
        let updated = self.store.transfer_ownership(room, from.id, user).await?;
        for id in [user, from.id] {
            if let Some(m) = self.store.membership(room, id).await? {
                self.publish(RoomEvent::MemberRoleChanged(m));
            }
        }
        self.publish(RoomEvent::RoomUpdated(updated.clone()));
        Ok(updated)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn mute_member(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
        duration: Option<MuteDuration>,
    ) -> DomainResult<Membership> {
        self.act_on_member(viewer, room, user).await?;
        let until = duration.map(|d| self.clock.now() + d.get());
        let member = self.store.set_mute(room, user, true, until).await?;
        self.publish(RoomEvent::MemberMuted(member.clone()));
        match until {
            Some(until) => self.schedule_unmute(room, user, until),
            None => self.mutes.queue().cancel(&(room, user)),
        }
        Ok(member)
    }

    /// Announces the end of a timed mute when its time is up. The mute already stops counting
    /// at `until` without this (see `Membership::is_muted_at`); this clears it in storage and
    /// tells live views, unless the mute was changed in the meantime.
    fn schedule_unmute(&self, room: RoomId, user: UserId, until: Timestamp) {
        self.mutes.queue().schedule((room, user), until);
        self.mutes.wake.notify_one();
    }

    async fn expire_mute(&self, room: RoomId, user: UserId, until: Timestamp) -> DomainResult<()> {
        if let Some(member) = self.store.lift_mute(room, user, until).await? {
            self.publish(RoomEvent::MemberUnmuted(member));
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn unmute_member(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<Membership> {
        self.act_on_member(viewer, room, user).await?;
        let member = self.store.set_mute(room, user, false, None).await?;
        self.mutes.queue().cancel(&(room, user));
        self.publish(RoomEvent::MemberUnmuted(member.clone()));
        Ok(member)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn ban_user(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
        reason: Option<Note>,
    ) -> DomainResult<Ban> {
        self.authorize_act_on(viewer, room, user).await?;
        let actor = viewer.require()?;
        self.existing_user(user).await?;
        let ban = self
            .store
            .ban(
                room,
                user,
                actor.id,
                reason.map(Note::into_inner),
                self.clock.now(),
            )
            .await?;
        self.publish(RoomEvent::MemberBanned(ban.clone()));
        tracing::info!("user banned");
        Ok(ban)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn unban_user(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<bool> {
        self.authorized(viewer, room, Action::Unban).await?;
        let target = self.existing_user(user).await?;
        if !self.store.unban(room, user).await? {
            return Err(DomainError::NotFound(
                "that user is not banned from this room".into(),
            ));
        }
        self.publish(RoomEvent::MemberUnbanned {
            room_id: room,
            user: target,
        });
        Ok(true)
    }

    // ------------------------------------------------------------------ messages

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn send_message(
        &self,
        viewer: &Viewer,
        room: RoomId,
        body: MessageBody,
    ) -> DomainResult<Arc<Message>> {
        self.authorized(viewer, room, Action::SendMessage).await?;
        let author = viewer.require()?;
        self.throttles
            .messages
            .check(&author.id, "messages from you")?;
        let message = self
            .store
            .insert_message(
                MessageId::new(),
                room,
                author,
                body.into_inner(),
                self.clock.now(),
            )
            .await?;
        let message = Arc::new(message);
        self.bus.publish_message(message.clone());
        Ok(message)
    }

    #[tracing::instrument(skip_all, fields(message_id = %id))]
    pub async fn delete_message(&self, viewer: &Viewer, id: MessageId) -> DomainResult<MessageId> {
        viewer.require()?;
        let not_found = || DomainError::NotFound("message not found".into());
        let message = self.store.message(id).await?.ok_or_else(not_found)?;
        // Someone who cannot read the room must not learn the message exists.
        let access = self
            .store
            .room_access(message.room_id, viewer.user_id())
            .await?
            .ok_or_else(not_found)?;
        // A hidden room answers "room not found", which would tell that the id exists: every
        // refusal to read is the same "message not found" as an unknown id.
        authorize(
            viewer.user_id(),
            &access,
            Action::ReadMessages,
            self.clock.now(),
        )
        .map_err(|e| match e {
            DomainError::Forbidden(_) | DomainError::NotFound(_) => not_found(),
            other => other,
        })?;
        authorize(
            viewer.user_id(),
            &access,
            Action::DeleteMessage {
                author: message.author.id,
            },
            self.clock.now(),
        )?;
        if !self.store.delete_message(id).await? {
            return Err(not_found());
        }
        self.publish(RoomEvent::MessageDeleted {
            room_id: message.room_id,
            message_id: id,
        });
        Ok(id)
    }

    // ------------------------------------------------------------------ live feeds

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
        events: &mut broadcast::Receiver<Arc<RoomEvent>>,
        room_type: &mut RoomType,
    ) -> DomainResult<()> {
        loop {
            let event = match events.try_recv() {
                Ok(event) => Ok(event),
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                Err(TryRecvError::Closed) => Err(RecvError::Closed),
            };
            self.apply_event(user, room, events, room_type, event)
                .await?;
        }
    }

    /// What one room event (or a lost or closed event channel) means for a message feed:
    /// an error ends it; a change that may affect access is checked against storage.
    async fn apply_event(
        &self,
        user: UserId,
        room: RoomId,
        events: &mut broadcast::Receiver<Arc<RoomEvent>>,
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
                *events = self.bus.subscribe_events(room);
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
        let user = viewer.require()?.id;
        // Subscribe before reading the store, so nothing published in between is missed.
        let mut live = self.bus.subscribe_messages(room);
        let mut events = self.bus.subscribe_events(room);
        let access = self.authorized(viewer, room, Action::ReadMessages).await?;
        let mut last = match after {
            Some(c) => c.position_in("after", room, access.room.last_seq)?,
            None => access.room.last_seq,
        };
        let mut room_type = access.room.room_type;
        let this = self.clone();

        let stats = self.feeds.clone();
        let stream = async_stream::stream! {
            let _open = OpenFeed::new(&stats);
            // First replay what was posted after the cursor; later, fill gaps the same way.
            // `Some(up_to)`: read the store after `last` (up to `up_to`, or everything).
            let mut catch_up: Option<Option<i64>> = Some(None);
            loop {
                if let Some(up_to) = catch_up.take() {
                    'batches: loop {
                        // Access may be lost while a feed reads storage: room events are
                        // looked at before every batch and every delivery, not only live.
                        if let Err(e) = this.pending_verdict(user, room, &mut events, &mut room_type).await {
                            yield Err(e);
                            return;
                        }
                        match this.store.messages_after(room, last, up_to, CATCH_UP_BATCH).await {
                            Ok(batch) => {
                                let done = batch.len() < CATCH_UP_BATCH as usize;
                                for m in batch {
                                    if let Err(e) = this.pending_verdict(user, room, &mut events, &mut room_type).await {
                                        yield Err(e);
                                        return;
                                    }
                                    last = m.seq;
                                    stats.replayed.fetch_add(1, Ordering::Relaxed);
                                    yield Ok(Arc::new(m));
                                }
                                if done { break 'batches; }
                            }
                            Err(e) => { yield Err(e.into()); return; }
                        }
                    }
                    // Deleted messages leave holes; they are not gaps to wait for.
                    if let Some(seq) = up_to {
                        last = last.max(seq);
                    }
                }
                tokio::select! {
                    biased;
                    event = events.recv() => {
                        if let Err(e) = this.apply_event(user, room, &mut events, &mut room_type, event).await {
                            yield Err(e);
                            return;
                        }
                    }
                    message = live.recv() => {
                        match message {
                            Ok(m) if m.seq <= last => {}
                            Ok(m) if m.seq == last + 1 => {
                                last = m.seq;
                                yield Ok(m);
                            }
                            // A gap: fill it from the store up to this message.
                            Ok(m) => {
                                stats.gaps.fetch_add(1, Ordering::Relaxed);
                                catch_up = Some(Some(m.seq));
                            }
                            // We fell behind the buffer: catch up from the store.
                            Err(RecvError::Lagged(_)) => {
                                stats.lagged.fetch_add(1, Ordering::Relaxed);
                                catch_up = Some(None);
                            }
                            Err(RecvError::Closed) => {
                                stats.lagged.fetch_add(1, Ordering::Relaxed);
                                live = this.bus.subscribe_messages(room);
                                catch_up = Some(None);
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
        let user = viewer.require()?.id;
        let mut events = self.bus.subscribe_events(room);
        let access = self.authorized(viewer, room, Action::ReadMessages).await?;
        let mut role = access.membership.map(|m| m.role);
        let mut room_type = access.room.room_type;
        let this = self.clone();

        let stream = async_stream::stream! {
            loop {
                let recheck = match events.recv().await {
                    Ok(event) => {
                        match &*event {
                            RoomEvent::MemberRoleChanged(m) | RoomEvent::MemberJoined(m) if m.user.id == user => {
                                role = Some(m.role);
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
                        if may_see_event(role, &event) {
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
