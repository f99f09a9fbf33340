//! GraphQL output types. Thin wrappers around domain models: fields that need more data
//! (a room's members, its messages) call the domain service with the request's viewer.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, Object, Result, SimpleObject, Union, ID};
use chrono::{DateTime, Utc};

use super::error::GqlResultExt;
use super::{page_size, parse_message_cursor, request_scope};
use crate::domain::model;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "RoomType")]
pub enum RoomTypeGql {
    Public,
    Private,
    Restricted,
}

impl From<model::RoomType> for RoomTypeGql {
    fn from(t: model::RoomType) -> Self {
        match t {
            model::RoomType::Public => Self::Public,
            model::RoomType::Private => Self::Private,
            model::RoomType::Restricted => Self::Restricted,
        }
    }
}

impl From<RoomTypeGql> for model::RoomType {
    fn from(t: RoomTypeGql) -> Self {
        match t {
            RoomTypeGql::Public => Self::Public,
            RoomTypeGql::Private => Self::Private,
            RoomTypeGql::Restricted => Self::Restricted,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Role")]
pub enum RoleGql {
    Owner,
    Admin,
    Member,
}

impl From<model::Role> for RoleGql {
    fn from(r: model::Role) -> Self {
        match r {
            model::Role::Owner => Self::Owner,
            model::Role::Admin => Self::Admin,
            model::Role::Member => Self::Member,
        }
    }
}

impl From<RoleGql> for model::Role {
    fn from(r: RoleGql) -> Self {
        match r {
            RoleGql::Owner => Self::Owner,
            RoleGql::Admin => Self::Admin,
            RoleGql::Member => Self::Member,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "PostingPolicy", remote = "model::PostingPolicy")]
pub enum PostingPolicyGql {
    /// Every member may post.
    Members,
    /// Only the owner and admins may post (an announcement room).
    Admins,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ReportStatus", remote = "model::ReportStatus")]
pub enum ReportStatusGql {
    Open,
    Resolved,
    Dismissed,
}

/// What a moderation log entry records.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ModerationAction", remote = "model::ModerationAction")]
pub enum ModerationActionGql {
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

pub struct User(pub model::User);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn username(&self) -> &str {
        &self.0.username
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Opaque bearer token: send it as `Authorization: Bearer <token>` and in the graphql-ws
    /// `connection_init` payload `{"token": "..."}`.
    pub token: String,
    pub user: User,
}

pub struct Room(pub model::Room);

pub type RoomConnection = Connection<String, Room>;
pub type MessageConnection = Connection<String, Message>;
pub type ReportConnection = Connection<String, Report>;
pub type ModerationEntryConnection = Connection<String, ModerationEntry>;

/// A newest-first page of records as a connection, each keyed by its time and id.
fn record_page<T, G: async_graphql::OutputType>(
    page: model::Page<T>,
    has_previous: bool,
    key: impl Fn(&T) -> crate::domain::values::RecordCursor,
    wrap: impl Fn(T) -> G,
) -> Connection<String, G> {
    let mut conn = Connection::new(has_previous, page.has_more);
    conn.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(key(&item).encode(), wrap(item))),
    );
    conn
}

fn record_cursor(after: Option<&str>) -> Result<Option<crate::domain::values::RecordCursor>> {
    after
        .map(crate::domain::values::RecordCursor::parse)
        .transpose()
        .gql()
}

#[Object]
impl Room {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn topic(&self) -> Option<&str> {
        self.0.topic.as_deref()
    }
    #[graphql(name = "type")]
    async fn room_type(&self) -> RoomTypeGql {
        self.0.room_type.into()
    }
    /// Null: only the server-wide cap applies.
    async fn max_users(&self) -> Option<i64> {
        self.0.max_users
    }
    async fn member_count(&self) -> i64 {
        self.0.member_count
    }
    /// How many users have the room's messages or events open now, on any node (anyone who
    /// may read the room, members or not).
    async fn online_count(&self, ctx: &Context<'_>) -> i64 {
        ctx.data::<crate::domain::rooms::RoomService>()
            .map_or(0, |rooms| rooms.online_count(self.0.id) as i64)
    }
    async fn owner(&self) -> User {
        User(self.0.owner.clone())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Seconds a MEMBER waits between two messages (0: off; owner and admins are exempt).
    async fn slow_mode_seconds(&self) -> i64 {
        self.0.slow_mode_seconds
    }
    /// Who may post: MEMBERS, or ADMINS only (an announcement room).
    async fn posting_policy(&self) -> PostingPolicyGql {
        self.0.posting_policy.into()
    }
    /// Words and phrases a MEMBER's message may not contain. Admins only (others: FORBIDDEN).
    async fn blocked_terms(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let (rooms, viewer) = request_scope(ctx)?;
        rooms.blocked_terms(viewer, self.0.id).await.gql()
    }
    /// Reports of this room's messages in `status`, newest first. Admins only.
    #[graphql(complexity = "super::page_cost(first, child_complexity)")]
    async fn reports(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(ReportStatusGql::Open)")] status: Option<ReportStatusGql>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ReportConnection> {
        let (rooms, viewer) = request_scope(ctx)?;
        let first = page_size("first", first.unwrap_or(50))?;
        let cursor = record_cursor(after.as_deref())?;
        let status = status.unwrap_or(ReportStatusGql::Open).into();
        let page = rooms
            .reports(viewer, self.0.id, status, first, cursor)
            .await
            .gql()?;
        Ok(record_page(
            page,
            cursor.is_some(),
            |r| crate::domain::values::RecordCursor {
                created_at: r.created_at,
                id: r.id.0,
            },
            Report,
        ))
    }
    /// The moderation log, newest first. Admins only.
    #[graphql(complexity = "super::page_cost(first, child_complexity)")]
    async fn moderation_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ModerationEntryConnection> {
        let (rooms, viewer) = request_scope(ctx)?;
        let first = page_size("first", first.unwrap_or(50))?;
        let cursor = record_cursor(after.as_deref())?;
        let page = rooms
            .moderation_log(viewer, self.0.id, first, cursor)
            .await
            .gql()?;
        Ok(record_page(
            page,
            cursor.is_some(),
            |e| crate::domain::values::RecordCursor {
                created_at: e.created_at,
                id: e.id.0,
            },
            ModerationEntry,
        ))
    }
    /// Invite links that still work or were used up, newest first. Admins only.
    #[graphql(complexity = "super::list_cost(child_complexity)")]
    async fn invites(&self, ctx: &Context<'_>) -> Result<Vec<Invite>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let invites = rooms.invites(viewer, self.0.id).await.gql()?;
        Ok(invites.into_iter().map(Invite).collect())
    }
    /// Messages by others after the viewer's read marker (deleted ones do not count); null
    /// when the viewer is not a member.
    async fn unread_count(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        let (rooms, viewer) = request_scope(ctx)?;
        rooms.unread_count(viewer, self.0.id).await.gql()
    }
    /// The newest message; null when there is none or the viewer may not read the room.
    async fn last_message(&self, ctx: &Context<'_>) -> Result<Option<Message>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let last = rooms.last_message(viewer, self.0.id).await.gql()?;
        Ok(last.map(|m| Message(Arc::new(m))))
    }
    /// The viewer's own ban in this room (who, why, until when); null when not banned.
    async fn viewer_ban(&self, ctx: &Context<'_>) -> Result<Option<Ban>> {
        let (rooms, viewer) = request_scope(ctx)?;
        Ok(rooms.viewer_ban(viewer, self.0.id).await.gql()?.map(Ban))
    }
    /// The viewer's role; null when the viewer is not a member.
    async fn viewer_role(&self, ctx: &Context<'_>) -> Result<Option<RoleGql>> {
        let (rooms, _) = request_scope(ctx)?;
        let auth = super::request_auth(ctx)?;
        let role = auth
            .loaders
            .viewer_role(rooms, &auth.viewer, self.0.id)
            .await?;
        Ok(role.map(Into::into))
    }
    #[graphql(complexity = "super::list_cost(child_complexity)")]
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Member>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let members = rooms.members(viewer, self.0.id).await.gql()?;
        Ok(members.into_iter().map(Member).collect())
    }
    /// The newest `last` messages before `before` (a message cursor), oldest first.
    #[graphql(complexity = "super::page_cost(last, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] last: Option<i32>,
        before: Option<String>,
    ) -> Result<MessageConnection> {
        message_page(ctx, self.0.id, last, before).await
    }
    /// Admins only.
    #[graphql(complexity = "super::list_cost(child_complexity)")]
    async fn bans(&self, ctx: &Context<'_>) -> Result<Vec<Ban>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let bans = rooms.bans(viewer, self.0.id).await.gql()?;
        Ok(bans.into_iter().map(Ban).collect())
    }
    /// Admins only.
    #[graphql(complexity = "super::list_cost(child_complexity)")]
    async fn join_requests(&self, ctx: &Context<'_>) -> Result<Vec<JoinRequest>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let reqs = rooms.join_requests(viewer, self.0.id).await.gql()?;
        Ok(reqs.into_iter().map(JoinRequest).collect())
    }
}

pub async fn message_page(
    ctx: &Context<'_>,
    room: crate::domain::values::RoomId,
    last: Option<i32>,
    before: Option<String>,
) -> Result<MessageConnection> {
    let (rooms, viewer) = request_scope(ctx)?;
    let last = page_size("last", last.unwrap_or(50))?;
    let before = before.as_deref().map(parse_message_cursor).transpose()?;
    let page = rooms.messages(viewer, room, last, before).await.gql()?;
    let mut conn = Connection::new(page.has_older, false);
    conn.edges.extend(
        page.messages
            .into_iter()
            .map(|m| Edge::new(m.cursor().encode(), Message(Arc::new(m)))),
    );
    Ok(conn)
}

pub struct Member(pub model::Membership);

#[Object]
impl Member {
    async fn user(&self) -> User {
        User(self.0.user.clone())
    }
    async fn role(&self) -> RoleGql {
        self.0.role.into()
    }
    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.joined_at
    }
    /// Whether the member has the room's messages or events open now, on any node. Going
    /// offline is shown after a grace period (`--presence-grace-seconds`, 5 by default).
    async fn online(&self, ctx: &Context<'_>) -> bool {
        ctx.data::<crate::domain::rooms::RoomService>()
            .is_ok_and(|rooms| rooms.is_online(self.0.room_id, self.0.user.id))
    }
    /// Whether the member is muted now (a timed mute whose time is up no longer counts).
    async fn muted(&self, ctx: &Context<'_>) -> bool {
        self.0.is_muted_at(rules_now(ctx))
    }
    /// Where the member has read up to (a message cursor); null before their first
    /// `markRead`.
    async fn last_read_cursor(&self) -> Option<String> {
        (self.0.last_read_seq > 0).then(|| {
            crate::domain::values::MessageCursor::new(self.0.room_id, self.0.last_read_seq).encode()
        })
    }
    /// When a timed mute ends; null for an open-ended mute or when not muted.
    async fn muted_until(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        if self.0.is_muted_at(rules_now(ctx)) {
            self.0.muted_until
        } else {
            None
        }
    }
}

/// The time the rules of rooms go by (the room service's clock; the wall clock where a
/// schema runs without services, as when only rendering).
fn rules_now(ctx: &Context<'_>) -> DateTime<Utc> {
    ctx.data::<crate::domain::rooms::RoomService>()
        .map(|rooms| rooms.now())
        .unwrap_or_else(|_| model::now())
}

#[derive(Clone)]
pub struct Message(pub Arc<model::Message>);

#[Object]
impl Message {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn room_id(&self) -> ID {
        ID(self.0.room_id.to_string())
    }
    /// Per-room sequence number: every subscriber sees a room's messages in this order.
    async fn seq(&self) -> i64 {
        self.0.seq
    }
    /// Opaque position for `messages(before:)` and `roomMessages(after:)`.
    async fn cursor(&self) -> String {
        self.0.cursor().encode()
    }
    async fn author(&self) -> User {
        User(self.0.author.clone())
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct Ban(pub model::Ban);

#[Object]
impl Ban {
    async fn user(&self) -> User {
        User(self.0.user.clone())
    }
    async fn banned_by(&self) -> User {
        User(self.0.banned_by.clone())
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When a timed ban lifts by itself; null: until unbanned.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
}

/// A report of a message to the room's moderators.
pub struct Report(pub model::Report);

#[Object]
impl Report {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn room_id(&self) -> ID {
        ID(self.0.room_id.to_string())
    }
    /// The reported message; null once it was deleted.
    async fn message(&self) -> Option<Message> {
        self.0.message.clone().map(|m| Message(Arc::new(m)))
    }
    async fn reporter(&self) -> User {
        User(self.0.reporter.clone())
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn status(&self) -> ReportStatusGql {
        self.0.status.into()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn resolved_by(&self) -> Option<User> {
        self.0.resolved_by.clone().map(User)
    }
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
}

/// One line of a room's moderation log.
pub struct ModerationEntry(pub model::ModerationEntry);

#[Object]
impl ModerationEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn action(&self) -> ModerationActionGql {
        self.0.action.into()
    }
    async fn actor(&self) -> User {
        User(self.0.actor.clone())
    }
    async fn target(&self) -> Option<User> {
        self.0.target.clone().map(User)
    }
    /// The reason given (a ban's, a report's), or what changed (a room update, a role, a
    /// mute's length, how many messages a purge erased).
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An invite link's code and limits.
pub struct Invite(pub model::Invite);

#[Object]
impl Invite {
    /// At least 128 random bits; the link is `/invite/CODE`.
    async fn code(&self) -> &str {
        self.0.code.as_str()
    }
    async fn room(&self, ctx: &Context<'_>) -> Result<Room> {
        let (rooms, viewer) = request_scope(ctx)?;
        rooms
            .room(viewer, self.0.room_id)
            .await
            .gql()?
            .map(Room)
            .ok_or_else(
                || super::error::to_gql(crate::domain::error::DomainError::room_not_found()),
            )
    }
    async fn created_by(&self) -> User {
        User(self.0.created_by.clone())
    }
    /// Null: unlimited.
    async fn max_uses(&self) -> Option<i64> {
        self.0.max_uses
    }
    async fn uses(&self) -> i64 {
        self.0.uses
    }
    /// Null: never.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// What an invite code opens, for anyone signed in who holds it.
#[derive(SimpleObject)]
pub struct InvitePreview {
    pub room_id: ID,
    pub name: String,
    pub topic: Option<String>,
    #[graphql(name = "type")]
    pub room_type: RoomTypeGql,
    pub member_count: i64,
}

impl From<model::Room> for InvitePreview {
    fn from(room: model::Room) -> Self {
        Self {
            room_id: ID(room.id.to_string()),
            name: room.name,
            topic: room.topic,
            room_type: room.room_type.into(),
            member_count: room.member_count,
        }
    }
}

pub struct JoinRequest(pub model::JoinRequest);

#[Object]
impl JoinRequest {
    async fn user(&self) -> User {
        User(self.0.user.clone())
    }
    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

// ---------------------------------------------------------------------- room events

macro_rules! member_event {
    ($name:ident, $doc:literal) => {
        pub struct $name {
            pub inner: model::Membership,
        }

        #[doc = $doc]
        #[Object]
        impl $name {
            async fn room_id(&self) -> ID {
                ID(self.inner.room_id.to_string())
            }
            async fn member(&self) -> Member {
                Member(self.inner.clone())
            }
        }
    };
}

member_event!(MemberJoined, "Someone joined or was added to the room.");
member_event!(MemberMuted, "A member was muted.");
member_event!(
    MemberUnmuted,
    "A member was unmuted, or their timed mute ran out."
);
member_event!(MemberRoleChanged, "A member's role changed.");

/// A member left the room.
#[derive(SimpleObject)]
pub struct MemberLeft {
    pub room_id: ID,
    pub user: User,
}

/// A member was removed (kicked) by an admin.
#[derive(SimpleObject)]
pub struct MemberRemoved {
    pub room_id: ID,
    pub user: User,
    pub by: User,
    pub reason: Option<String>,
}

/// A user was banned.
#[derive(SimpleObject)]
pub struct MemberBanned {
    pub room_id: ID,
    pub ban: Ban,
}

/// A ban was lifted.
#[derive(SimpleObject)]
pub struct MemberUnbanned {
    pub room_id: ID,
    pub user: User,
}

/// Someone asked to join (delivered to admins only).
#[derive(SimpleObject)]
pub struct JoinRequested {
    pub room_id: ID,
    pub request: JoinRequest,
}

/// A message was deleted; drop it from views.
#[derive(SimpleObject)]
pub struct MessageDeleted {
    pub room_id: ID,
    pub message_id: ID,
}

/// The room's settings changed.
#[derive(SimpleObject)]
pub struct RoomUpdated {
    pub room_id: ID,
    pub room: Room,
}

/// The room was deleted; the subscription ends with NOT_FOUND right after this.
#[derive(SimpleObject)]
pub struct RoomDeleted {
    pub room_id: ID,
}

/// A ban's purge erased these messages of `user`; drop them from views.
#[derive(SimpleObject)]
pub struct MessagesPurged {
    pub room_id: ID,
    pub user: User,
    pub message_ids: Vec<ID>,
}

/// A message was reported (delivered to admins only).
#[derive(SimpleObject)]
pub struct MessageReported {
    pub report: Report,
}

/// A report was resolved or dismissed (delivered to admins only).
#[derive(SimpleObject)]
pub struct ReportDecided {
    pub report: Report,
}

/// Someone started or stopped typing (typing lapses by itself 6 s after the last
/// `setTyping(true)`, and sending a message ends it).
#[derive(SimpleObject)]
pub struct TypingChanged {
    pub room_id: ID,
    pub user: User,
    pub typing: bool,
}

/// A user came online in the room (opened its messages or events) or went offline (the
/// grace period after their last feed closed ran out, or their node stopped).
#[derive(SimpleObject)]
pub struct PresenceChanged {
    pub room_id: ID,
    pub user: User,
    pub online: bool,
}

/// A member's read marker moved forward.
#[derive(SimpleObject)]
pub struct ReadMarkerMoved {
    pub room_id: ID,
    pub user: User,
    /// The message cursor they have read up to.
    pub cursor: String,
}

/// A room of the viewer's changed: new messages, or their unread count moved. Sent at most
/// every 250 ms per room with the latest state. Ask for the count and the newest message
/// here: `room`'s own `unreadCount` and `lastMessage` would each read storage.
#[derive(SimpleObject)]
pub struct RoomActivity {
    pub room: Room,
    pub unread_count: i64,
    pub last_message: Option<Message>,
}

/// An admin approved the viewer's request to join.
#[derive(SimpleObject)]
pub struct JoinRequestApproved {
    pub room: Room,
}

/// An admin turned down the viewer's request to join.
#[derive(SimpleObject)]
pub struct JoinRequestRejected {
    pub room_id: ID,
    pub name: String,
}

/// An admin added the viewer to a room.
#[derive(SimpleObject)]
pub struct AddedToRoom {
    pub room: Room,
}

/// The viewer was removed from a room (kicked, or banned when `banned`).
#[derive(SimpleObject)]
pub struct RemovedFromRoom {
    pub room_id: ID,
    pub name: String,
    pub reason: Option<String>,
    pub by: Option<User>,
    pub banned: bool,
}

/// A room the viewer may see in `rooms` was created, changed or deleted, or the viewer
/// joined or left one (elsewhere): read the list again.
#[derive(SimpleObject)]
pub struct RoomListChanged {
    pub room_id: ID,
}

#[derive(Union)]
pub enum ViewerEvent {
    RoomActivity(RoomActivity),
    JoinRequestApproved(JoinRequestApproved),
    JoinRequestRejected(JoinRequestRejected),
    AddedToRoom(AddedToRoom),
    RemovedFromRoom(RemovedFromRoom),
    RoomListChanged(RoomListChanged),
}

impl From<model::ViewerEvent> for ViewerEvent {
    fn from(e: model::ViewerEvent) -> Self {
        use model::ViewerEvent as E;
        match e {
            E::RoomActivity { room, unread, last } => Self::RoomActivity(RoomActivity {
                room: Room(room),
                unread_count: unread,
                last_message: last.map(Message),
            }),
            E::JoinRequestApproved(room) => {
                Self::JoinRequestApproved(JoinRequestApproved { room: Room(room) })
            }
            E::JoinRequestRejected { room_id, name } => {
                Self::JoinRequestRejected(JoinRequestRejected {
                    room_id: id(room_id),
                    name,
                })
            }
            E::AddedToRoom(room) => Self::AddedToRoom(AddedToRoom { room: Room(room) }),
            E::RemovedFromRoom {
                room_id,
                name,
                reason,
                by,
                banned,
            } => Self::RemovedFromRoom(RemovedFromRoom {
                room_id: id(room_id),
                name,
                reason,
                by: by.map(User),
                banned,
            }),
            E::RoomListChanged(room_id) => Self::RoomListChanged(RoomListChanged {
                room_id: id(room_id),
            }),
        }
    }
}

#[derive(Union)]
pub enum RoomEvent {
    MemberJoined(MemberJoined),
    MemberLeft(MemberLeft),
    MemberRemoved(MemberRemoved),
    MemberBanned(MemberBanned),
    MemberUnbanned(MemberUnbanned),
    MemberMuted(MemberMuted),
    MemberUnmuted(MemberUnmuted),
    MemberRoleChanged(MemberRoleChanged),
    JoinRequested(JoinRequested),
    MessageDeleted(MessageDeleted),
    RoomUpdated(RoomUpdated),
    RoomDeleted(RoomDeleted),
    MessagesPurged(MessagesPurged),
    MessageReported(MessageReported),
    ReportDecided(ReportDecided),
    ReadMarkerMoved(ReadMarkerMoved),
    TypingChanged(TypingChanged),
    PresenceChanged(PresenceChanged),
}

fn id<T: ToString>(v: T) -> ID {
    ID(v.to_string())
}

impl From<&model::RoomEvent> for RoomEvent {
    fn from(e: &model::RoomEvent) -> Self {
        use model::RoomEvent as E;
        match e.clone() {
            E::MemberJoined(inner) => Self::MemberJoined(MemberJoined { inner }),
            E::MemberLeft { room_id, user } => Self::MemberLeft(MemberLeft {
                room_id: id(room_id),
                user: User(user),
            }),
            E::MemberRemoved {
                room_id,
                user,
                by,
                reason,
            } => Self::MemberRemoved(MemberRemoved {
                room_id: id(room_id),
                user: User(user),
                by: User(by),
                reason,
            }),
            E::MemberBanned(ban) => Self::MemberBanned(MemberBanned {
                room_id: id(ban.room_id),
                ban: Ban(ban),
            }),
            E::MemberUnbanned { room_id, user } => Self::MemberUnbanned(MemberUnbanned {
                room_id: id(room_id),
                user: User(user),
            }),
            E::MemberMuted(inner) => Self::MemberMuted(MemberMuted { inner }),
            E::MemberUnmuted(inner) => Self::MemberUnmuted(MemberUnmuted { inner }),
            E::MemberRoleChanged(inner) => Self::MemberRoleChanged(MemberRoleChanged { inner }),
            E::JoinRequested(request) => Self::JoinRequested(JoinRequested {
                room_id: id(request.room_id),
                request: JoinRequest(request),
            }),
            E::MessageDeleted {
                room_id,
                message_id,
            } => Self::MessageDeleted(MessageDeleted {
                room_id: id(room_id),
                message_id: id(message_id),
            }),
            E::RoomUpdated(room) => Self::RoomUpdated(RoomUpdated {
                room_id: id(room.id),
                room: Room(room),
            }),
            E::RoomDeleted { room_id } => Self::RoomDeleted(RoomDeleted {
                room_id: id(room_id),
            }),
            E::MessagesPurged {
                room_id,
                user,
                message_ids,
            } => Self::MessagesPurged(MessagesPurged {
                room_id: id(room_id),
                user: User(user),
                message_ids: message_ids.into_iter().map(id).collect(),
            }),
            E::MessageReported(report) => Self::MessageReported(MessageReported {
                report: Report(report),
            }),
            E::ReportDecided(report) => Self::ReportDecided(ReportDecided {
                report: Report(report),
            }),
            E::TypingChanged {
                room_id,
                user,
                until,
                ..
            } => Self::TypingChanged(TypingChanged {
                room_id: id(room_id),
                user: User(user),
                typing: until.is_some(),
            }),
            E::PresenceChanged {
                room_id,
                user,
                online,
            } => Self::PresenceChanged(PresenceChanged {
                room_id: id(room_id),
                user: User(user),
                online,
            }),
            E::ReadMarkerMoved { room_id, user, seq } => Self::ReadMarkerMoved(ReadMarkerMoved {
                room_id: id(room_id),
                user: User(user),
                cursor: crate::domain::values::MessageCursor::new(room_id, seq).encode(),
            }),
        }
    }
}
