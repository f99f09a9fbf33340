//! A `Store` wrapper that runs every call on its own task, so a database connection is held
//! only while its query makes progress.
//!
//! A query future holds a pool connection from acquire to completion, but only moves when
//! its caller polls it. A caller that stops polling mid-query (a WebSocket task busy with
//! another operation or blocked writing to a slow reader, a feed its consumer stopped
//! reading) would keep the connection, and enough of them starve every other client of the
//! pool. Spawned, the query runs to the end and returns its connection whatever the caller
//! does; the caller only waits for the result. The cost is one task per call, small next to
//! a query.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::{Store, StoreError, StoreResult};
use crate::domain::model::{
    Ban, Invite, JoinRequest, Membership, Message, ModerationEntry, Report, ReportStatus, Role,
    Room, RoomAccess, Timestamp, UpdateRoom, User,
};
use crate::domain::ports::{
    Audit, BanOutcome, CatchUp, DecidedReport, History, Mute, NewBan, NewInvite, NewJoinRequest,
    NewMember, NewMessage, NewReport, NewRoom, ReadState, RecordPage, ReportDecision, RoomQuery,
    TimedBan, TimedMute,
};
use crate::domain::session::SessionTimes;
use crate::domain::terms::BlockedTerms;
use crate::domain::values::{InviteCode, MessageId, ReportId, RoomId, UserId};

pub struct Detached {
    inner: Arc<dyn Store>,
    stats: Arc<StoreStats>,
}

/// What storage calls cost, since start (read by `/metrics`).
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Calls made.
    pub calls: AtomicU64,
    /// Calls running right now (waiting for a pool connection or querying).
    pub in_flight: AtomicU64,
    /// Total time calls took, waiting for a connection included, in microseconds.
    pub busy_micros: AtomicU64,
    /// Calls that failed because the database could not be reached in time (for
    /// PostgreSQL: no pool connection within `--db-acquire-timeout-ms`).
    pub unavailable: AtomicU64,
    /// Calls that failed otherwise.
    pub failed: AtomicU64,
}

impl Detached {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> Arc<StoreStats> {
        self.stats.clone()
    }

    async fn detach<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Future<Output = StoreResult<T>> + Send + 'static,
    {
        let stats = &self.stats;
        stats.calls.fetch_add(1, Ordering::Relaxed);
        // Counted out on drop: a caller may stop waiting (its task is cancelled).
        let _running = Running::start(stats);
        let result = tokio::spawn(work)
            .await
            .map_err(|e| StoreError::Other(anyhow::anyhow!("storage task failed: {e}")))
            .and_then(|r| r);
        match &result {
            Err(StoreError::Unavailable(_)) => {
                stats.unavailable.fetch_add(1, Ordering::Relaxed);
            }
            Err(StoreError::Other(_)) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        result
    }
}

/// One call in flight: counted in `in_flight` and, when it ends, in `busy_micros`.
struct Running<'a> {
    stats: &'a StoreStats,
    started: std::time::Instant,
}

impl<'a> Running<'a> {
    fn start(stats: &'a StoreStats) -> Self {
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            stats,
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        let micros = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats.busy_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// `call!(self, |store| store.method(args))`: runs the call on its own task with a clone of
/// the inner store; arguments must be owned (moved into the task).
macro_rules! call {
    ($self:ident, |$s:ident| $body:expr) => {{
        let $s = $self.inner.clone();
        $self.detach(async move { $body.await }).await
    }};
}

#[async_trait]
impl Store for Detached {
    async fn create_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        let (user, hash) = (user.clone(), password_hash.to_owned());
        call!(self, |s| s.create_user(&user, &hash))
    }
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        call!(self, |s| s.user_by_id(id))
    }
    async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let username = username.to_owned();
        call!(self, |s| s.user_credentials(&username))
    }
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let username = username.to_owned();
        call!(self, |s| s.user_by_username(&username))
    }
    async fn create_session(&self, hash: &[u8], user: UserId, at: Timestamp) -> StoreResult<()> {
        let hash = hash.to_vec();
        call!(self, |s| s.create_session(&hash, user, at))
    }
    async fn session(&self, hash: &[u8]) -> StoreResult<Option<(User, SessionTimes)>> {
        let hash = hash.to_vec();
        call!(self, |s| s.session(&hash))
    }
    async fn touch_session(&self, hash: &[u8], at: Timestamp) -> StoreResult<()> {
        let hash = hash.to_vec();
        call!(self, |s| s.touch_session(&hash, at))
    }
    async fn revoke_session(&self, hash: &[u8], at: Timestamp) -> StoreResult<()> {
        let hash = hash.to_vec();
        call!(self, |s| s.revoke_session(&hash, at))
    }
    async fn memberships_in(&self, user: UserId, rooms: &[RoomId]) -> StoreResult<Vec<Membership>> {
        let rooms = rooms.to_vec();
        call!(self, |s| s.memberships_in(user, &rooms))
    }
    async fn create_room(&self, room: NewRoom) -> StoreResult<Room> {
        call!(self, |s| s.create_room(room))
    }
    async fn room(&self, id: RoomId) -> StoreResult<Option<Room>> {
        call!(self, |s| s.room(id))
    }
    async fn room_access(
        &self,
        id: RoomId,
        user: Option<UserId>,
    ) -> StoreResult<Option<RoomAccess>> {
        call!(self, |s| s.room_access(id, user))
    }
    async fn list_rooms(&self, query: RoomQuery) -> StoreResult<Vec<Room>> {
        call!(self, |s| s.list_rooms(query))
    }
    async fn update_room(&self, id: RoomId, patch: UpdateRoom, audit: Audit) -> StoreResult<Room> {
        call!(self, |s| s.update_room(id, patch, audit))
    }
    async fn set_blocked_terms(
        &self,
        id: RoomId,
        terms: BlockedTerms,
        audit: Audit,
    ) -> StoreResult<Room> {
        call!(self, |s| s.set_blocked_terms(id, terms, audit))
    }
    async fn delete_room(&self, id: RoomId) -> StoreResult<bool> {
        call!(self, |s| s.delete_room(id))
    }
    async fn membership(&self, room: RoomId, user: UserId) -> StoreResult<Option<Membership>> {
        call!(self, |s| s.membership(room, user))
    }
    async fn members(&self, room: RoomId) -> StoreResult<Vec<Membership>> {
        call!(self, |s| s.members(room))
    }
    async fn add_member(&self, member: NewMember, capacity: i64) -> StoreResult<Membership> {
        call!(self, |s| s.add_member(member, capacity))
    }
    async fn remove_member(
        &self,
        room: RoomId,
        user: UserId,
        audit: Option<Audit>,
    ) -> StoreResult<bool> {
        call!(self, |s| s.remove_member(room, user, audit))
    }
    async fn set_role(
        &self,
        room: RoomId,
        user: UserId,
        role: Role,
        audit: Audit,
    ) -> StoreResult<Membership> {
        call!(self, |s| s.set_role(room, user, role, audit))
    }
    async fn transfer_ownership(
        &self,
        room: RoomId,
        to: UserId,
        audit: Audit,
    ) -> StoreResult<Room> {
        call!(self, |s| s.transfer_ownership(room, to, audit))
    }
    async fn set_mute(
        &self,
        room: RoomId,
        user: UserId,
        mute: Mute,
        audit: Audit,
    ) -> StoreResult<Membership> {
        call!(self, |s| s.set_mute(room, user, mute, audit))
    }
    async fn claim_post(
        &self,
        room: RoomId,
        user: UserId,
        at: Timestamp,
        interval: chrono::Duration,
    ) -> StoreResult<Option<Timestamp>> {
        call!(self, |s| s.claim_post(room, user, at, interval))
    }
    async fn lift_mute(&self, mute: TimedMute) -> StoreResult<Option<Membership>> {
        call!(self, |s| s.lift_mute(mute))
    }
    async fn timed_mutes(&self) -> StoreResult<Vec<TimedMute>> {
        call!(self, |s| s.timed_mutes())
    }
    async fn mark_read(
        &self,
        room: RoomId,
        user: UserId,
        seq: i64,
    ) -> StoreResult<(Membership, bool)> {
        call!(self, |s| s.mark_read(room, user, seq))
    }
    async fn member_rooms(
        &self,
        user: UserId,
        only: Option<RoomId>,
        limit: u32,
    ) -> StoreResult<Vec<(Room, ReadState)>> {
        call!(self, |s| s.member_rooms(user, only, limit))
    }
    async fn unread_count(&self, room: RoomId, user: UserId) -> StoreResult<Option<i64>> {
        call!(self, |s| s.unread_count(room, user))
    }
    async fn ban(&self, ban: NewBan) -> StoreResult<BanOutcome> {
        call!(self, |s| s.ban(ban))
    }
    async fn unban(&self, room: RoomId, user: UserId, audit: Audit) -> StoreResult<bool> {
        call!(self, |s| s.unban(room, user, audit))
    }
    async fn lift_ban(&self, ban: TimedBan) -> StoreResult<bool> {
        call!(self, |s| s.lift_ban(ban))
    }
    async fn timed_bans(&self) -> StoreResult<Vec<TimedBan>> {
        call!(self, |s| s.timed_bans())
    }
    async fn bans(&self, room: RoomId) -> StoreResult<Vec<Ban>> {
        call!(self, |s| s.bans(room))
    }
    async fn ban_of(&self, room: RoomId, user: UserId) -> StoreResult<Option<Ban>> {
        call!(self, |s| s.ban_of(room, user))
    }
    async fn create_join_request(&self, request: NewJoinRequest) -> StoreResult<JoinRequest> {
        call!(self, |s| s.create_join_request(request))
    }
    async fn join_requests(&self, room: RoomId) -> StoreResult<Vec<JoinRequest>> {
        call!(self, |s| s.join_requests(room))
    }
    async fn join_request(&self, room: RoomId, user: UserId) -> StoreResult<Option<JoinRequest>> {
        call!(self, |s| s.join_request(room, user))
    }
    async fn delete_join_request(
        &self,
        room: RoomId,
        user: UserId,
        audit: Option<Audit>,
    ) -> StoreResult<bool> {
        call!(self, |s| s.delete_join_request(room, user, audit))
    }
    async fn insert_message(&self, message: NewMessage) -> StoreResult<Message> {
        call!(self, |s| s.insert_message(message))
    }
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        call!(self, |s| s.message(id))
    }
    async fn delete_message(&self, id: MessageId, audit: Option<Audit>) -> StoreResult<bool> {
        call!(self, |s| s.delete_message(id, audit))
    }
    async fn messages_before(&self, room: RoomId, page: History) -> StoreResult<Vec<Message>> {
        call!(self, |s| s.messages_before(room, page))
    }
    async fn messages_after(&self, room: RoomId, read: CatchUp) -> StoreResult<Vec<Message>> {
        call!(self, |s| s.messages_after(room, read))
    }
    async fn moderation_log(
        &self,
        room: RoomId,
        page: RecordPage,
    ) -> StoreResult<Vec<ModerationEntry>> {
        call!(self, |s| s.moderation_log(room, page))
    }
    async fn create_report(&self, report: NewReport) -> StoreResult<Report> {
        call!(self, |s| s.create_report(report))
    }
    async fn report(&self, id: ReportId) -> StoreResult<Option<Report>> {
        call!(self, |s| s.report(id))
    }
    async fn reports(
        &self,
        room: RoomId,
        status: ReportStatus,
        page: RecordPage,
    ) -> StoreResult<Vec<Report>> {
        call!(self, |s| s.reports(room, status, page))
    }
    async fn decide_report(&self, decision: ReportDecision) -> StoreResult<DecidedReport> {
        call!(self, |s| s.decide_report(decision))
    }
    async fn create_invite(&self, invite: NewInvite) -> StoreResult<Invite> {
        call!(self, |s| s.create_invite(invite))
    }
    async fn invite(&self, code: InviteCode) -> StoreResult<Option<Invite>> {
        call!(self, |s| s.invite(code))
    }
    async fn invites(&self, room: RoomId, now: Timestamp) -> StoreResult<Vec<Invite>> {
        call!(self, |s| s.invites(room, now))
    }
    async fn revoke_invite(&self, code: InviteCode, audit: Audit) -> StoreResult<bool> {
        call!(self, |s| s.revoke_invite(code, audit))
    }
}
