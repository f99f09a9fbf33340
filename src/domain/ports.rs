//! The domain's ports: what it needs from storage (`Store`) and from fan-out (`Bus`), with
//! the values that cross them. Adapters (`crate::store`, `crate::bus`) implement these and
//! import the domain; the domain never imports an adapter. An adapter's error names a kind
//! (`Conflict::UsernameTaken`), never words for users: `DomainError` turns kinds into text.
//!
//! Storage implementations must make each method atomic: a capacity check and its insert, a
//! ban and its membership removal, a message's sequence number and its row are each one
//! transaction.

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;
use tokio::sync::broadcast;

use super::model::{
    Ban, CreateRoom, Invite, JoinRequest, Membership, Message, ModerationAction, ModerationEntry,
    Notice, PresenceNote, Report, ReportStatus, Revocation, Role, Room, RoomAccess, RoomEvent,
    Timestamp, UpdateRoom, User,
};
use super::session::SessionTimes;
use super::terms::BlockedTerms;
use super::values::{
    EntryId, InviteCode, MessageId, Note, RecordCursor, ReportId, RoomCursor, RoomId, UserId,
};

/// Which uniqueness rule a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    UsernameTaken,
    AlreadyMember,
    AlreadyBanned,
    JoinRequestPending,
    /// The reporter already has an open report of this message.
    ReportOpen,
    /// The report was resolved or dismissed already.
    ReportDecided,
    /// The room has as many working invites as it may.
    TooManyInvites,
    /// Any other unique key (an id generated twice, which should not happen).
    Duplicate,
}

/// What a write expected to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Room,
    Membership,
    Ban,
    JoinRequest,
    Report,
    Message,
    /// An invite that is unknown, revoked, expired or used up (all alike to clients).
    Invite,
}

#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("room is full")]
    RoomFull(i64),
    /// The user is banned from the room (checked inside the writing transaction).
    #[error("banned from the room")]
    Banned,
    /// The row the write needs does not exist (any more).
    #[error("not found: {0:?}")]
    NotFound(Entity),
    /// The database cannot be reached or timed out.
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("storage failure")]
    Other(#[source] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A room to create (`Store::create_room`), with its owner's membership.
pub struct NewRoom {
    pub id: RoomId,
    pub owner: UserId,
    pub created_at: Timestamp,
    pub settings: CreateRoom,
}

/// Which rooms `Store::list_rooms` returns: those in creation order after `after` that are
/// not private or have `viewer` as a member, and whose name or topic contains `search`
/// (ignoring case), at most `limit` of them.
#[derive(Debug, Clone, Default)]
pub struct RoomQuery {
    pub viewer: Option<UserId>,
    pub search: Option<String>,
    pub after: Option<RoomCursor>,
    pub limit: u32,
}

/// A moderation log entry, written in the same transaction as the action it records (no
/// action without its entry, no entry without its action).
#[derive(Debug, Clone)]
pub struct Audit {
    pub room: RoomId,
    pub action: ModerationAction,
    pub actor: UserId,
    pub target: Option<UserId>,
    pub reason: Option<String>,
    pub at: Timestamp,
}

impl Audit {
    /// The entry's id: time-ordered, so a log page reads in insertion order.
    pub fn new_id() -> EntryId {
        EntryId::new()
    }
}

/// A membership to add (`Store::add_member`).
#[derive(Debug, Clone)]
pub struct NewMember {
    pub room: RoomId,
    pub user: UserId,
    pub role: Role,
    pub at: Timestamp,
    /// Recorded when an admin admitted them (added, or approved their request).
    pub audit: Option<Audit>,
    /// Admitted by this invite, whose use is counted in the same transaction (refused with
    /// `NotFound(Invite)` when it is no longer usable at `at`).
    pub invite: Option<InviteCode>,
}

/// A member's mute as `Store::set_mute` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mute {
    Off,
    /// Muted until `until`, or until lifted when `None`.
    On {
        until: Option<Timestamp>,
    },
}

impl Mute {
    /// The `muted` and `muted_until` columns.
    pub fn columns(self) -> (bool, Option<Timestamp>) {
        match self {
            Mute::Off => (false, None),
            Mute::On { until } => (true, until),
        }
    }
}

/// A mute that ends by itself at `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedMute {
    pub room: RoomId,
    pub user: UserId,
    pub until: Timestamp,
}

/// A ban that ends by itself at `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedBan {
    pub room: RoomId,
    pub user: UserId,
    pub until: Timestamp,
}

/// A ban to record (`Store::ban`), with its log entry (MEMBER_BANNED, and MESSAGES_PURGED
/// when the purge erased anything).
#[derive(Debug, Clone)]
pub struct NewBan {
    pub room: RoomId,
    pub user: UserId,
    pub by: UserId,
    pub reason: Option<Note>,
    pub at: Timestamp,
    /// None: until unbanned.
    pub expires_at: Option<Timestamp>,
    /// Erase the user's messages in the room posted at or after this time.
    pub purge_since: Option<Timestamp>,
}

/// What `Store::ban` did: the ban, and the messages its purge erased (oldest first).
#[derive(Debug, Clone)]
pub struct BanOutcome {
    pub ban: Ban,
    pub purged: Vec<MessageId>,
}

/// A report to record (`Store::create_report`).
#[derive(Debug, Clone)]
pub struct NewReport {
    pub id: ReportId,
    pub room: RoomId,
    pub message: MessageId,
    pub reporter: UserId,
    pub reason: String,
    pub at: Timestamp,
}

/// An admin's decision on an open report (`Store::decide_report`).
#[derive(Debug, Clone)]
pub struct ReportDecision {
    pub id: ReportId,
    /// RESOLVED or DISMISSED.
    pub status: ReportStatus,
    pub by: UserId,
    pub at: Timestamp,
    /// Erase the reported message too (as `delete_message` does).
    pub delete_message: bool,
}

/// What `Store::decide_report` did: the report as decided, and the message it erased.
#[derive(Debug, Clone)]
pub struct DecidedReport {
    pub report: Report,
    pub deleted: Option<MessageId>,
}

/// An invite to create (`Store::create_invite`).
#[derive(Debug, Clone)]
pub struct NewInvite {
    pub code: InviteCode,
    pub room: RoomId,
    pub by: UserId,
    pub max_uses: Option<i64>,
    pub expires_at: Option<Timestamp>,
    pub at: Timestamp,
    /// Most invites of the room that may still admit someone at `at` (this one included).
    pub limit: i64,
}

/// A newest-first page of a room's records after `after`.
#[derive(Debug, Clone, Copy)]
pub struct RecordPage {
    pub after: Option<RecordCursor>,
    pub limit: u32,
}

/// A join request to record (`Store::create_join_request`).
#[derive(Debug, Clone)]
pub struct NewJoinRequest {
    pub room: RoomId,
    pub user: UserId,
    pub message: Option<Note>,
    pub at: Timestamp,
}

/// A message to store (`Store::insert_message`); the store gives it its sequence number.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: MessageId,
    pub room: RoomId,
    pub author: User,
    pub body: String,
    pub at: Timestamp,
}

impl NewMessage {
    /// The message as stored with sequence number `seq`.
    pub fn stored_as(self, seq: i64) -> Message {
        Message {
            id: self.id,
            room_id: self.room,
            seq,
            author: self.author,
            body: self.body,
            created_at: self.at,
        }
    }
}

/// A page of history: up to `limit` messages with seq < `before` (or the newest), newest first.
#[derive(Debug, Clone, Copy)]
pub struct History {
    pub before: Option<i64>,
    pub limit: u32,
}

/// A catch-up read: up to `limit` messages with `after` < seq <= `up_to`, oldest first.
#[derive(Debug, Clone, Copy)]
pub struct CatchUp {
    pub after: i64,
    pub up_to: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- users and sessions
    async fn create_user(&self, user: &User, password_hash: &str) -> StoreResult<()>;
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The user and their password hash.
    async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>>;
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    async fn create_session(&self, hash: &[u8], user: UserId, at: Timestamp) -> StoreResult<()>;
    /// The user a session that was not revoked belongs to, and its times (whether it has
    /// expired is the domain's call: `domain::session`).
    async fn session(&self, hash: &[u8]) -> StoreResult<Option<(User, SessionTimes)>>;
    /// Records a use of the session (its idle lifetime starts again from `at`).
    async fn touch_session(&self, hash: &[u8], at: Timestamp) -> StoreResult<()>;
    async fn revoke_session(&self, hash: &[u8], at: Timestamp) -> StoreResult<()>;

    // --- rooms
    /// Creates the room and the owner's membership.
    async fn create_room(&self, room: NewRoom) -> StoreResult<Room>;
    async fn room(&self, id: RoomId) -> StoreResult<Option<Room>>;
    /// The room plus `user`'s membership and ban status, in one read.
    async fn room_access(
        &self,
        id: RoomId,
        user: Option<UserId>,
    ) -> StoreResult<Option<RoomAccess>>;
    async fn list_rooms(&self, query: RoomQuery) -> StoreResult<Vec<Room>>;
    async fn update_room(&self, id: RoomId, patch: UpdateRoom, audit: Audit) -> StoreResult<Room>;
    /// Replaces the room's blocked terms.
    async fn set_blocked_terms(
        &self,
        id: RoomId,
        terms: BlockedTerms,
        audit: Audit,
    ) -> StoreResult<Room>;
    async fn delete_room(&self, id: RoomId) -> StoreResult<bool>;

    // --- membership
    async fn membership(&self, room: RoomId, user: UserId) -> StoreResult<Option<Membership>>;
    async fn members(&self, room: RoomId) -> StoreResult<Vec<Membership>>;
    /// `user`'s memberships among `rooms` (one query, for a page of rooms).
    async fn memberships_in(&self, user: UserId, rooms: &[RoomId]) -> StoreResult<Vec<Membership>>;
    /// Adds a member unless they are banned (Banned), that would exceed `capacity`
    /// (RoomFull) or they already are one (Conflict), checked in the writing transaction.
    /// Also clears a pending join request of theirs.
    async fn add_member(&self, member: NewMember, capacity: i64) -> StoreResult<Membership>;
    /// Removes a member (never the owner); `audit` when an admin removed them.
    async fn remove_member(
        &self,
        room: RoomId,
        user: UserId,
        audit: Option<Audit>,
    ) -> StoreResult<bool>;
    async fn set_role(
        &self,
        room: RoomId,
        user: UserId,
        role: Role,
        audit: Audit,
    ) -> StoreResult<Membership>;
    /// `to` becomes OWNER and the owner until now ADMIN, in one transaction.
    async fn transfer_ownership(&self, room: RoomId, to: UserId, audit: Audit)
        -> StoreResult<Room>;
    async fn set_mute(
        &self,
        room: RoomId,
        user: UserId,
        mute: Mute,
        audit: Audit,
    ) -> StoreResult<Membership>;
    /// Slow mode: records a post by `user` at `at` unless their last one was less than
    /// `interval` before it. None: claimed; Some(last): refused, their last post was at
    /// `last`. Atomic, so posts through any node count.
    async fn claim_post(
        &self,
        room: RoomId,
        user: UserId,
        at: Timestamp,
        interval: chrono::Duration,
    ) -> StoreResult<Option<Timestamp>>;
    /// Ends the mute if it is still the timed mute that ends at `mute.until` (not lifted or
    /// replaced meanwhile); the membership when it did. Atomic, so of several nodes
    /// expiring the same mute only one announces it.
    async fn lift_mute(&self, mute: TimedMute) -> StoreResult<Option<Membership>>;
    /// Every timed mute still in force.
    async fn timed_mutes(&self) -> StoreResult<Vec<TimedMute>>;
    /// Moves `user`'s read marker forward to `seq` (never back): the membership, and
    /// whether the marker moved. NotFound(Membership) for a non-member.
    async fn mark_read(
        &self,
        room: RoomId,
        user: UserId,
        seq: i64,
    ) -> StoreResult<(Membership, bool)>;
    /// Messages by others after `user`'s read marker; None when they are not a member.
    /// The rooms `user` is a member of (at most `limit`, oldest first; only `only` when
    /// given), each with where the user has read up to, read together with the room's
    /// `last_seq` (which the unread count covers).
    async fn member_rooms(
        &self,
        user: UserId,
        only: Option<RoomId>,
        limit: u32,
    ) -> StoreResult<Vec<(Room, ReadState)>>;
    async fn unread_count(&self, room: RoomId, user: UserId) -> StoreResult<Option<i64>>;

    // --- bans and join requests
    /// Records the ban and, in the same transaction, removes the membership and any request,
    /// erases the messages of the purge window and writes the log entries.
    async fn ban(&self, ban: NewBan) -> StoreResult<BanOutcome>;
    async fn unban(&self, room: RoomId, user: UserId, audit: Audit) -> StoreResult<bool>;
    /// Ends the ban if it is still the timed ban that ends at `ban.until` (atomic, so of
    /// several nodes only one announces it).
    async fn lift_ban(&self, ban: TimedBan) -> StoreResult<bool>;
    /// Every timed ban still recorded.
    async fn timed_bans(&self) -> StoreResult<Vec<TimedBan>>;
    async fn bans(&self, room: RoomId) -> StoreResult<Vec<Ban>>;
    /// `user`'s ban in `room`, if any.
    async fn ban_of(&self, room: RoomId, user: UserId) -> StoreResult<Option<Ban>>;
    /// Records the request unless the user is banned (checked in the writing transaction).
    async fn create_join_request(&self, request: NewJoinRequest) -> StoreResult<JoinRequest>;
    async fn join_requests(&self, room: RoomId) -> StoreResult<Vec<JoinRequest>>;
    async fn join_request(&self, room: RoomId, user: UserId) -> StoreResult<Option<JoinRequest>>;
    /// Deletes the request; `audit` when an admin rejected it.
    async fn delete_join_request(
        &self,
        room: RoomId,
        user: UserId,
        audit: Option<Audit>,
    ) -> StoreResult<bool>;

    // --- messages
    /// Stores the message with the room's next sequence number.
    async fn insert_message(&self, message: NewMessage) -> StoreResult<Message>;
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>>;
    /// Erases the message (row and body); `audit` when someone other than the author did.
    async fn delete_message(&self, id: MessageId, audit: Option<Audit>) -> StoreResult<bool>;
    async fn messages_before(&self, room: RoomId, page: History) -> StoreResult<Vec<Message>>;
    async fn messages_after(&self, room: RoomId, read: CatchUp) -> StoreResult<Vec<Message>>;

    // --- moderation records
    /// The room's log, newest first.
    async fn moderation_log(
        &self,
        room: RoomId,
        page: RecordPage,
    ) -> StoreResult<Vec<ModerationEntry>>;
    /// Records a report (Conflict(ReportOpen) for a second open one by the same reporter).
    async fn create_report(&self, report: NewReport) -> StoreResult<Report>;
    async fn report(&self, id: ReportId) -> StoreResult<Option<Report>>;
    /// The room's reports in `status`, newest first.
    async fn reports(
        &self,
        room: RoomId,
        status: ReportStatus,
        page: RecordPage,
    ) -> StoreResult<Vec<Report>>;
    /// Decides an open report (Conflict(ReportDecided) if it is not open any more), erasing
    /// its message if asked, and writes the log entries, in one transaction.
    async fn decide_report(&self, decision: ReportDecision) -> StoreResult<DecidedReport>;
    async fn create_invite(&self, invite: NewInvite) -> StoreResult<Invite>;
    async fn invite(&self, code: InviteCode) -> StoreResult<Option<Invite>>;
    /// The room's invites that are not revoked and not expired at `now`, newest first.
    async fn invites(&self, room: RoomId, now: Timestamp) -> StoreResult<Vec<Invite>>;
    /// Revokes a usable invite; whether there was one.
    async fn revoke_invite(&self, code: InviteCode, audit: Audit) -> StoreResult<bool>;
}

// --- fan-out

/// After the store has accepted a message or a change, the domain publishes it on the
/// `Bus`; live feeds subscribe per room. A bus may drop or reorder items (lag, reconnects):
/// feeds repair that from the store using message sequence numbers, so the bus never has to
/// be reliable.
/// Where a member has read up to in a room, and how many messages by others follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadState {
    /// The read marker (a message seq; 0 before the first `markRead`).
    pub read_seq: i64,
    pub unread: i64,
}

pub trait Bus: Send + Sync + 'static {
    fn publish_message(&self, message: Arc<Message>);
    fn publish_event(&self, event: Arc<RoomEvent>);
    fn subscribe_messages(&self, room: RoomId) -> broadcast::Receiver<Arc<Message>>;
    fn subscribe_events(&self, room: RoomId) -> broadcast::Receiver<Arc<RoomEvent>>;
    /// Tells every node that a credential is no longer valid.
    fn publish_revocation(&self, revocation: Arc<Revocation>);
    /// Revocations from any node. A receiver that lags or is closed (the bus was reset)
    /// has missed some: its owner must re-check its credential in the store.
    fn subscribe_revocations(&self) -> broadcast::Receiver<Arc<Revocation>>;
    /// Delivers an event to this node's subscribers only (what every node works out for
    /// itself, such as presence changes).
    fn publish_event_here(&self, event: Arc<RoomEvent>);
    /// Tells every node (this one too) about the seats this node holds.
    fn publish_presence(&self, note: Arc<PresenceNote>);
    /// Presence notes from every node. A receiver that lags has missed some: the next beats
    /// put it right.
    fn subscribe_presence(&self) -> broadcast::Receiver<Arc<PresenceNote>>;
    /// Tells every node's viewer feeds (see `Notice`).
    fn publish_notice(&self, notice: Arc<Notice>);
    /// Notices from every node. A receiver that lags has missed some: its feed re-reads
    /// the viewer's rooms.
    fn subscribe_notices(&self) -> broadcast::Receiver<Arc<Notice>>;
}
