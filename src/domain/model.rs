//! The nouns of roomcast as the domain sees them: users, rooms, memberships, messages, bans,
//! join requests and the events a room emits. Plain data, serialisable so the `Bus` can carry
//! it between nodes; no GraphQL or SQL types here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::terms::BlockedTerms;
use super::values::{
    EntryId, InviteCode, MaxUsers, MessageCursor, MessageId, ReportId, RoomId, RoomName, SlowMode,
    Topic, UserId,
};

pub type Timestamp = DateTime<Utc>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoomType {
    Public,
    Private,
    Restricted,
}

impl RoomType {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomType::Public => "public",
            RoomType::Private => "private",
            RoomType::Restricted => "restricted",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "public" => Some(RoomType::Public),
            "private" => Some(RoomType::Private),
            "restricted" => Some(RoomType::Restricted),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    pub id: RoomId,
    pub name: String,
    pub topic: Option<String>,
    pub room_type: RoomType,
    pub max_users: Option<i64>,
    pub member_count: i64,
    pub owner: User,
    pub created_at: Timestamp,
    /// Sequence number of the newest message ever stored in the room (0: none yet).
    pub last_seq: i64,
    /// Seconds a MEMBER waits between two messages (0: no slow mode).
    pub slow_mode_seconds: i64,
    pub posting_policy: PostingPolicy,
    /// Words and phrases a MEMBER's message may not contain (admins only may see them).
    pub blocked_terms: BlockedTerms,
}

/// Who may post in a room: everyone who is a member, or (announcement rooms) admins only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum PostingPolicy {
    #[default]
    Members,
    Admins,
}

impl PostingPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PostingPolicy::Members => "members",
            PostingPolicy::Admins => "admins",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "members" => Some(PostingPolicy::Members),
            "admins" => Some(PostingPolicy::Admins),
            _ => None,
        }
    }
}

/// Everything the permission check needs to know about one user and one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomAccess {
    pub room: Room,
    pub membership: Option<Membership>,
    /// Whether a ban row exists; a timed one stops counting at `ban_expires_at`.
    pub banned: bool,
    pub ban_expires_at: Option<Timestamp>,
}

impl RoomAccess {
    /// A timed ban whose time is up no longer counts, whether or not anything lifted it yet
    /// (so it ends on time on every node, whichever one lifts it).
    pub fn is_banned_at(&self, now: Timestamp) -> bool {
        self.banned && self.ban_expires_at.is_none_or(|until| until > now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub user: User,
    pub room_id: RoomId,
    pub role: Role,
    pub joined_at: Timestamp,
    /// Set for any mute; `muted_until` None with `muted` true means "until unmuted".
    pub muted: bool,
    pub muted_until: Option<Timestamp>,
    /// Sequence number of the newest message the member has read (0: none); only moves
    /// forward.
    #[serde(default)]
    pub last_read_seq: i64,
}

impl Membership {
    /// A timed mute whose time is up no longer counts, whether or not anything swept it yet.
    pub fn is_muted_at(&self, now: Timestamp) -> bool {
        self.muted && self.muted_until.is_none_or(|until| until > now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub room_id: RoomId,
    pub seq: i64,
    pub author: User,
    pub body: String,
    pub created_at: Timestamp,
}

impl Message {
    pub fn cursor(&self) -> MessageCursor {
        MessageCursor::new(self.room_id, self.seq)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub room_id: RoomId,
    pub user: User,
    pub banned_by: User,
    pub reason: Option<String>,
    pub created_at: Timestamp,
    /// When a timed ban lifts by itself; None: until unbanned.
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub room_id: RoomId,
    pub user: User,
    pub message: Option<String>,
    pub created_at: Timestamp,
}

/// A page of history, oldest first.
#[derive(Debug, Clone)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub has_older: bool,
}

/// A page of the room list, in creation order.
#[derive(Debug, Clone)]
pub struct RoomPage {
    pub rooms: Vec<Room>,
    pub has_more: bool,
}

/// A credential that stopped being valid: every node ends what was opened with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Revocation {
    /// A session (by the SHA-256 of its token, hex) was revoked by `logout`.
    Session { token_hash: String },
}

/// What a node tells the others about the seats it holds (see `domain::presence`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PresenceNote {
    /// `node` started (`online`) or stopped holding `user`'s seat in a room.
    Seat {
        node: uuid::Uuid,
        room_id: RoomId,
        user: User,
        online: bool,
    },
    /// Every seat `node` holds; sent every beat, it also proves the node alive.
    Beat {
        node: uuid::Uuid,
        seats: Vec<(RoomId, User)>,
    },
    /// `node` has just started: the others send their beats now.
    Hello { node: uuid::Uuid },
}

/// How a user came to be a member of a room (what their own feed is told).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Admission {
    /// They created the room.
    Created,
    /// They joined a public room, or by an invite.
    Joined,
    /// An admin approved their request.
    Approved,
    /// An admin added them.
    Added,
}

/// What the viewers' own feeds (`viewerEvents`) need to hear beyond the rooms they are in:
/// one channel for the whole cluster, each feed keeps what is about its viewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    /// `user` became a member of `room`.
    Admitted {
        room: Room,
        user: UserId,
        how: Admission,
    },
    /// An admin turned down `user`'s request to join.
    Rejected {
        room_id: RoomId,
        name: String,
        user: UserId,
    },
    /// A room anyone may see in `rooms` (public or restricted, or one that just stopped
    /// being so) was created, changed or deleted.
    Listed { room_id: RoomId },
}

/// What a viewer's own feed (`viewerEvents`) tells them.
#[derive(Debug, Clone)]
pub enum ViewerEvent {
    /// A room of theirs changed: new messages, or their unread count moved.
    RoomActivity {
        room: Room,
        unread: i64,
        last: Option<Arc<Message>>,
    },
    JoinRequestApproved(Room),
    JoinRequestRejected {
        room_id: RoomId,
        name: String,
    },
    AddedToRoom(Room),
    /// Kicked or banned.
    RemovedFromRoom {
        room_id: RoomId,
        name: String,
        reason: Option<String>,
        by: Option<User>,
        banned: bool,
    },
    /// A room they may see in `rooms` was created, changed or deleted (or they joined or
    /// left one themselves, elsewhere).
    RoomListChanged(RoomId),
}

/// Something that happened to a room, other than a message being posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomEvent {
    MemberJoined(Membership),
    MemberLeft {
        room_id: RoomId,
        user: User,
    },
    MemberRemoved {
        room_id: RoomId,
        user: User,
        by: User,
        /// Why, when the admin said.
        #[serde(default)]
        reason: Option<String>,
    },
    MemberBanned(Ban),
    MemberUnbanned {
        room_id: RoomId,
        user: User,
    },
    MemberMuted(Membership),
    MemberUnmuted(Membership),
    MemberRoleChanged(Membership),
    JoinRequested(JoinRequest),
    MessageDeleted {
        room_id: RoomId,
        message_id: MessageId,
    },
    RoomUpdated(Room),
    RoomDeleted {
        room_id: RoomId,
    },
    /// A ban's purge erased these messages of `user`.
    MessagesPurged {
        room_id: RoomId,
        user: User,
        message_ids: Vec<MessageId>,
    },
    /// Someone reported a message (for admins only).
    MessageReported(Report),
    /// An admin resolved or dismissed a report (for admins only).
    ReportDecided(Report),
    /// A member's read marker moved forward to `seq`.
    ReadMarkerMoved {
        room_id: RoomId,
        user: User,
        seq: i64,
    },
    /// `user` is typing until `until`, or stopped (None). A quiet refresh (`announced`
    /// false) only tells other nodes the new deadline; readers do not see it. `origin` is
    /// the node that published it (see `domain::typing`).
    TypingChanged {
        room_id: RoomId,
        user: User,
        until: Option<Timestamp>,
        announced: bool,
        origin: uuid::Uuid,
    },
    /// `user` came online in the room or went offline. Worked out by every node from the
    /// presence notes, and delivered on that node only (never published).
    PresenceChanged {
        room_id: RoomId,
        user: User,
        online: bool,
    },
}

impl RoomEvent {
    pub fn room_id(&self) -> RoomId {
        match self {
            RoomEvent::MemberJoined(m)
            | RoomEvent::MemberMuted(m)
            | RoomEvent::MemberUnmuted(m)
            | RoomEvent::MemberRoleChanged(m) => m.room_id,
            RoomEvent::MemberLeft { room_id, .. }
            | RoomEvent::MemberRemoved { room_id, .. }
            | RoomEvent::MemberUnbanned { room_id, .. }
            | RoomEvent::MessageDeleted { room_id, .. }
            | RoomEvent::MessagesPurged { room_id, .. }
            | RoomEvent::ReadMarkerMoved { room_id, .. }
            | RoomEvent::TypingChanged { room_id, .. }
            | RoomEvent::PresenceChanged { room_id, .. }
            | RoomEvent::RoomDeleted { room_id } => *room_id,
            RoomEvent::MessageReported(r) | RoomEvent::ReportDecided(r) => r.room_id,
            RoomEvent::MemberBanned(b) => b.room_id,
            RoomEvent::JoinRequested(r) => r.room_id,
            RoomEvent::RoomUpdated(r) => r.id,
        }
    }
}

/// The current time at the precision storage keeps (microseconds), so a value read back
/// equals the value written.
pub fn now() -> Timestamp {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// Validated input of `createRoom`.
#[derive(Debug, Clone)]
pub struct CreateRoom {
    pub name: RoomName,
    pub room_type: RoomType,
    pub topic: Option<Topic>,
    pub max_users: Option<MaxUsers>,
}

/// Validated input of `updateRoom`; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct UpdateRoom {
    pub name: Option<RoomName>,
    pub topic: Option<Option<Topic>>,
    pub room_type: Option<RoomType>,
    pub max_users: Option<Option<MaxUsers>>,
    pub slow_mode: Option<SlowMode>,
    pub posting_policy: Option<PostingPolicy>,
}

impl UpdateRoom {
    /// What this update changes in `room`, in words for the moderation log; None when it
    /// changes nothing (fields set to the values they have do not count).
    pub fn summary(&self, room: &Room) -> Option<String> {
        let mut changed = Vec::new();
        if self.name.as_ref().is_some_and(|n| n.as_str() != room.name) {
            changed.push("name".to_owned());
        }
        if let Some(topic) = &self.topic {
            if topic.as_ref().map(Topic::as_str) != room.topic.as_deref() {
                changed.push("topic".to_owned());
            }
        }
        if let Some(t) = self.room_type.filter(|t| *t != room.room_type) {
            changed.push(format!("type {}", t.as_str()));
        }
        if let Some(m) = self
            .max_users
            .filter(|m| m.map(MaxUsers::get) != room.max_users)
        {
            changed.push(match m {
                Some(m) => format!("max users {}", m.get()),
                None => "max users none".to_owned(),
            });
        }
        if let Some(s) = self
            .slow_mode
            .filter(|s| s.seconds() != room.slow_mode_seconds)
        {
            changed.push(format!("slow mode {} s", s.seconds()));
        }
        if let Some(p) = self.posting_policy.filter(|p| *p != room.posting_policy) {
            changed.push(format!("posting {}", p.as_str()));
        }
        (!changed.is_empty()).then(|| changed.join(", "))
    }
}

/// What a moderation log entry records. Stored by `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModerationAction {
    MemberAdded,
    MemberRemoved,
    MemberBanned,
    MemberUnbanned,
    MemberMuted,
    MemberUnmuted,
    RoleChanged,
    OwnershipTransferred,
    JoinRequestApproved,
    JoinRequestRejected,
    MessageDeleted,
    MessagesPurged,
    RoomUpdated,
    BlockedTermsChanged,
    ReportResolved,
    ReportDismissed,
    InviteCreated,
    InviteRevoked,
}

impl ModerationAction {
    pub const ALL: [ModerationAction; 18] = [
        ModerationAction::MemberAdded,
        ModerationAction::MemberRemoved,
        ModerationAction::MemberBanned,
        ModerationAction::MemberUnbanned,
        ModerationAction::MemberMuted,
        ModerationAction::MemberUnmuted,
        ModerationAction::RoleChanged,
        ModerationAction::OwnershipTransferred,
        ModerationAction::JoinRequestApproved,
        ModerationAction::JoinRequestRejected,
        ModerationAction::MessageDeleted,
        ModerationAction::MessagesPurged,
        ModerationAction::RoomUpdated,
        ModerationAction::BlockedTermsChanged,
        ModerationAction::ReportResolved,
        ModerationAction::ReportDismissed,
        ModerationAction::InviteCreated,
        ModerationAction::InviteRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModerationAction::MemberAdded => "member_added",
            ModerationAction::MemberRemoved => "member_removed",
            ModerationAction::MemberBanned => "member_banned",
            ModerationAction::MemberUnbanned => "member_unbanned",
            ModerationAction::MemberMuted => "member_muted",
            ModerationAction::MemberUnmuted => "member_unmuted",
            ModerationAction::RoleChanged => "role_changed",
            ModerationAction::OwnershipTransferred => "ownership_transferred",
            ModerationAction::JoinRequestApproved => "join_request_approved",
            ModerationAction::JoinRequestRejected => "join_request_rejected",
            ModerationAction::MessageDeleted => "message_deleted",
            ModerationAction::MessagesPurged => "messages_purged",
            ModerationAction::RoomUpdated => "room_updated",
            ModerationAction::BlockedTermsChanged => "blocked_terms_changed",
            ModerationAction::ReportResolved => "report_resolved",
            ModerationAction::ReportDismissed => "report_dismissed",
            ModerationAction::InviteCreated => "invite_created",
            ModerationAction::InviteRevoked => "invite_revoked",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One line of a room's moderation log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationEntry {
    pub id: EntryId,
    pub room_id: RoomId,
    pub action: ModerationAction,
    pub actor: User,
    pub target: Option<User>,
    /// The reason given (a ban's), or what changed (a room update, a role).
    pub reason: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReportStatus {
    Open,
    Resolved,
    Dismissed,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Open => "open",
            ReportStatus::Resolved => "resolved",
            ReportStatus::Dismissed => "dismissed",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "open" => Some(ReportStatus::Open),
            "resolved" => Some(ReportStatus::Resolved),
            "dismissed" => Some(ReportStatus::Dismissed),
            _ => None,
        }
    }
}

/// A report of a message to the room's moderators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub id: ReportId,
    pub room_id: RoomId,
    /// None once the message was deleted.
    pub message: Option<Message>,
    pub reporter: User,
    pub reason: String,
    pub status: ReportStatus,
    pub created_at: Timestamp,
    pub resolved_by: Option<User>,
    pub resolved_at: Option<Timestamp>,
}

/// An invite link's code and limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub code: InviteCode,
    pub room_id: RoomId,
    pub created_by: User,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub expires_at: Option<Timestamp>,
    pub revoked: bool,
    pub created_at: Timestamp,
}

impl Invite {
    /// Whether the code still admits someone at `now`.
    pub fn usable_at(&self, now: Timestamp) -> bool {
        !self.revoked
            && self.expires_at.is_none_or(|at| at > now)
            && self.max_uses.is_none_or(|max| self.uses < max)
    }
}

/// A page of a room's reports or moderation log, newest first.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}
