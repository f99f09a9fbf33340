//! The nouns of roomcast as the domain sees them: users, rooms, memberships, messages, bans,
//! join requests and the events a room emits. Plain data, serialisable so the `Bus` can carry
//! it between nodes; no GraphQL or SQL types here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::values::{MaxUsers, MessageCursor, MessageId, RoomId, RoomName, Topic, UserId};

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
}

/// Everything the permission check needs to know about one user and one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomAccess {
    pub room: Room,
    pub membership: Option<Membership>,
    pub banned: bool,
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
            | RoomEvent::RoomDeleted { room_id } => *room_id,
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
}
