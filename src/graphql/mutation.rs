//! Mutation resolvers: parse arguments into validated domain values (the edge), then call
//! the domain.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, Result, ID};

use super::error::GqlResultExt;
use super::types::{
    AuthPayload, Ban, Invite, JoinRequest, Member, Message, PostingPolicyGql, Report, RoleGql,
    Room, RoomTypeGql, User,
};
use super::{identity, request_auth, request_scope};
use crate::domain::error::DomainError;
use crate::domain::identity::Token;
use crate::domain::model::ReportStatus;
use crate::domain::rooms::{CreateRoom, UpdateRoom};
use crate::domain::terms::BlockedTerms;
use crate::domain::values::{
    BanDuration, InviteCode, InviteLifetime, InviteUses, MaxUsers, MessageBody, MessageId,
    MuteDuration, Note, Password, PurgeWindow, ReportId, ReportReason, RoomId, RoomName, SlowMode,
    Topic, UserId, Username,
};

#[derive(InputObject)]
pub struct CreateRoomInput {
    /// 1-100 characters after trimming.
    name: String,
    #[graphql(name = "type", default_with = "Some(RoomTypeGql::Public)")]
    room_type: Option<RoomTypeGql>,
    /// Up to 500 characters.
    topic: Option<String>,
    /// 1 to the server cap; null: only the server cap applies.
    max_users: Option<i32>,
}

/// Omitted fields stay as they are; an explicit null clears `topic` or `maxUsers`.
#[derive(InputObject)]
pub struct UpdateRoomInput {
    name: Option<String>,
    topic: MaybeUndefined<String>,
    #[graphql(name = "type")]
    room_type: Option<RoomTypeGql>,
    max_users: MaybeUndefined<i32>,
    /// 0 (off) to 21600: seconds a MEMBER waits between two messages.
    slow_mode_seconds: Option<i32>,
    /// ADMINS: only the owner and admins may post (an announcement room).
    posting_policy: Option<PostingPolicyGql>,
}

fn room_id(id: &ID) -> Result<RoomId> {
    RoomId::parse(id).gql()
}

fn user_id(id: &ID) -> Result<UserId> {
    UserId::parse(id).gql()
}

pub struct MutationRoot;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Creates an account and signs in.
    async fn register(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> Result<AuthPayload> {
        let username = Username::parse(&username).gql()?;
        let password = Password::parse(&password).gql()?;
        let client = request_auth(ctx)?.client;
        let (token, user) = identity(ctx)?
            .register(client, username, password)
            .await
            .gql()?;
        Ok(AuthPayload {
            token: token.into_string(),
            user: User(user),
        })
    }

    /// Signs in. A wrong username and a wrong password get the same UNAUTHENTICATED error.
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> Result<AuthPayload> {
        let client = request_auth(ctx)?.client;
        let (token, user) = identity(ctx)?
            .login(client, &username, &password)
            .await
            .gql()?;
        Ok(AuthPayload {
            token: token.into_string(),
            user: User(user),
        })
    }

    /// Revokes the token this request was made with.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let auth = request_auth(ctx)?;
        let token = auth
            .token
            .as_deref()
            .ok_or_else(DomainError::unauthenticated)
            .gql()?;
        identity(ctx)?
            .logout(&Token::from_client(token))
            .await
            .gql()?;
        Ok(true)
    }

    async fn create_room(&self, ctx: &Context<'_>, input: CreateRoomInput) -> Result<Room> {
        let (rooms, viewer) = request_scope(ctx)?;
        viewer.require().gql()?;
        let cap = rooms.rules().max_users_cap;
        let input = CreateRoom {
            name: RoomName::parse(&input.name).gql()?,
            room_type: input.room_type.unwrap_or(RoomTypeGql::Public).into(),
            topic: input
                .topic
                .as_deref()
                .map(Topic::parse)
                .transpose()
                .gql()?
                .flatten(),
            max_users: input
                .max_users
                .map(|m| MaxUsers::parse(m, cap))
                .transpose()
                .gql()?,
        };
        Ok(Room(rooms.create_room(viewer, input).await.gql()?))
    }

    async fn update_room(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        input: UpdateRoomInput,
    ) -> Result<Room> {
        let (rooms, viewer) = request_scope(ctx)?;
        let room = self::room_id(&room_id)?;
        let cap = rooms.rules().max_users_cap;
        let update = UpdateRoom {
            name: input
                .name
                .as_deref()
                .map(RoomName::parse)
                .transpose()
                .gql()?,
            topic: match input.topic {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(t) => Some(Topic::parse(&t).gql()?),
            },
            room_type: input.room_type.map(Into::into),
            max_users: match input.max_users {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(m) => Some(Some(MaxUsers::parse(m, cap).gql()?)),
            },
            slow_mode: input
                .slow_mode_seconds
                .map(SlowMode::parse)
                .transpose()
                .gql()?,
            posting_policy: input.posting_policy.map(Into::into),
        };
        Ok(Room(rooms.update_room(viewer, room, update).await.gql()?))
    }

    /// Deletes the room with its history. Owner or admins.
    async fn delete_room(&self, ctx: &Context<'_>, room_id: ID) -> Result<ID> {
        let (rooms, viewer) = request_scope(ctx)?;
        let id = rooms
            .delete_room(viewer, self::room_id(&room_id)?)
            .await
            .gql()?;
        Ok(ID(id.to_string()))
    }

    async fn join_room(&self, ctx: &Context<'_>, room_id: ID) -> Result<Member> {
        let (rooms, viewer) = request_scope(ctx)?;
        Ok(Member(
            rooms
                .join_room(viewer, self::room_id(&room_id)?)
                .await
                .gql()?,
        ))
    }

    /// Asks to join a RESTRICTED room; an admin approves or rejects.
    async fn request_to_join(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        message: Option<String>,
    ) -> Result<JoinRequest> {
        let (rooms, viewer) = request_scope(ctx)?;
        let note = Note::parse("message", message.as_deref()).gql()?;
        let req = rooms
            .request_to_join(viewer, self::room_id(&room_id)?, note)
            .await
            .gql()?;
        Ok(JoinRequest(req))
    }

    async fn approve_join_request(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        user_id: ID,
    ) -> Result<Member> {
        let (rooms, viewer) = request_scope(ctx)?;
        let m = rooms
            .approve_join_request(viewer, self::room_id(&room_id)?, self::user_id(&user_id)?)
            .await
            .gql()?;
        Ok(Member(m))
    }

    async fn reject_join_request(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        user_id: ID,
    ) -> Result<bool> {
        let (rooms, viewer) = request_scope(ctx)?;
        rooms
            .reject_join_request(viewer, self::room_id(&room_id)?, self::user_id(&user_id)?)
            .await
            .gql()
    }

    /// The owner cannot leave (CONFLICT) until ownership is transferred.
    async fn leave_room(&self, ctx: &Context<'_>, room_id: ID) -> Result<bool> {
        let (rooms, viewer) = request_scope(ctx)?;
        rooms
            .leave_room(viewer, self::room_id(&room_id)?)
            .await
            .gql()
    }

    async fn add_member(&self, ctx: &Context<'_>, room_id: ID, user_id: ID) -> Result<Member> {
        let (rooms, viewer) = request_scope(ctx)?;
        let m = rooms
            .add_member(viewer, self::room_id(&room_id)?, self::user_id(&user_id)?)
            .await
            .gql()?;
        Ok(Member(m))
    }

    /// Kicks a member; they may rejoin where the room type allows. `reason` (up to 500
    /// characters) is shown to them and kept in the moderation log.
    async fn remove_member(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        user_id: ID,
        reason: Option<String>,
    ) -> Result<bool> {
        let (rooms, viewer) = request_scope(ctx)?;
        let reason = Note::parse("reason", reason.as_deref()).gql()?;
        rooms
            .remove_member(
                viewer,
                self::room_id(&room_id)?,
                self::user_id(&user_id)?,
                reason,
            )
            .await
            .gql()
    }

    /// Owner only; ADMIN or MEMBER.
    async fn set_member_role(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        user_id: ID,
        role: RoleGql,
    ) -> Result<Member> {
        let (rooms, viewer) = request_scope(ctx)?;
        let m = rooms
            .set_member_role(
                viewer,
                self::room_id(&room_id)?,
                self::user_id(&user_id)?,
                role.into(),
            )
            .await
            .gql()?;
        Ok(Member(m))
    }

    /// Owner only; the old owner becomes an ADMIN.
    async fn transfer_ownership(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        user_id: ID,
    ) -> Result<Room> {
        let (rooms, viewer) = request_scope(ctx)?;
        let r = rooms
            .transfer_ownership(viewer, self::room_id(&room_id)?, self::user_id(&user_id)?)
            .await
            .gql()?;
        Ok(Room(r))
    }

    /// Null duration: until unmuted.
    async fn mute_member(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        user_id: ID,
        duration_seconds: Option<i32>,
    ) -> Result<Member> {
        let (rooms, viewer) = request_scope(ctx)?;
        let duration = duration_seconds
            .map(MuteDuration::parse)
            .transpose()
            .gql()?;
        let m = rooms
            .mute_member(
                viewer,
                self::room_id(&room_id)?,
                self::user_id(&user_id)?,
                duration,
            )
            .await
            .gql()?;
        Ok(Member(m))
    }

    async fn unmute_member(&self, ctx: &Context<'_>, room_id: ID, user_id: ID) -> Result<Member> {
        let (rooms, viewer) = request_scope(ctx)?;
        let m = rooms
            .unmute_member(viewer, self::room_id(&room_id)?, self::user_id(&user_id)?)
            .await
            .gql()?;
        Ok(Member(m))
    }

    /// Bans a user. `durationSeconds` (60 to 31,622,400) makes it lift by itself; null:
    /// until unbanned. `deleteMessagesSeconds` (0 to 604,800) erases the user's messages
    /// posted in that many seconds before now (one MessagesPurged event).
    async fn ban_user(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        user_id: ID,
        reason: Option<String>,
        duration_seconds: Option<i32>,
        delete_messages_seconds: Option<i32>,
    ) -> Result<Ban> {
        let (rooms, viewer) = request_scope(ctx)?;
        let reason = Note::parse("reason", reason.as_deref()).gql()?;
        let duration = duration_seconds.map(BanDuration::parse).transpose().gql()?;
        let purge = delete_messages_seconds
            .map(PurgeWindow::parse)
            .transpose()
            .gql()?;
        let b = rooms
            .ban_user(
                viewer,
                self::room_id(&room_id)?,
                self::user_id(&user_id)?,
                reason,
                duration,
                purge,
            )
            .await
            .gql()?;
        Ok(Ban(b))
    }

    /// Replaces the room's blocked terms (at most 100, each 1-50 characters). Admins.
    async fn set_blocked_terms(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        terms: Vec<String>,
    ) -> Result<Room> {
        let (rooms, viewer) = request_scope(ctx)?;
        let room = self::room_id(&room_id)?;
        let terms = BlockedTerms::parse(&terms).gql()?;
        Ok(Room(
            rooms.set_blocked_terms(viewer, room, terms).await.gql()?,
        ))
    }

    /// Reports a message to the room's admins (anyone who may read it); reason 1-500.
    async fn report_message(
        &self,
        ctx: &Context<'_>,
        message_id: ID,
        reason: String,
    ) -> Result<Report> {
        let (rooms, viewer) = request_scope(ctx)?;
        let id = MessageId::parse(&message_id).gql()?;
        let reason = ReportReason::parse(&reason).gql()?;
        Ok(Report(
            rooms.report_message(viewer, id, reason).await.gql()?,
        ))
    }

    /// Resolves an open report, erasing its message too when `deleteMessage`. Admins.
    async fn resolve_report(
        &self,
        ctx: &Context<'_>,
        report_id: ID,
        #[graphql(default = false)] delete_message: bool,
    ) -> Result<Report> {
        let (rooms, viewer) = request_scope(ctx)?;
        let id = ReportId::parse(&report_id).gql()?;
        let report = rooms
            .decide_report(viewer, id, ReportStatus::Resolved, delete_message)
            .await
            .gql()?;
        Ok(Report(report))
    }

    /// Dismisses an open report. Admins.
    async fn dismiss_report(&self, ctx: &Context<'_>, report_id: ID) -> Result<Report> {
        let (rooms, viewer) = request_scope(ctx)?;
        let id = ReportId::parse(&report_id).gql()?;
        let report = rooms
            .decide_report(viewer, id, ReportStatus::Dismissed, false)
            .await
            .gql()?;
        Ok(Report(report))
    }

    /// Creates an invite link (admins; any room type). `maxUses` 1-10,000 (null:
    /// unlimited); `expiresInSeconds` 60-2,592,000 (null: never).
    async fn create_invite(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        max_uses: Option<i32>,
        expires_in_seconds: Option<i32>,
    ) -> Result<Invite> {
        let (rooms, viewer) = request_scope(ctx)?;
        let room = self::room_id(&room_id)?;
        let max_uses = max_uses.map(InviteUses::parse).transpose().gql()?;
        let lifetime = expires_in_seconds
            .map(InviteLifetime::parse)
            .transpose()
            .gql()?;
        let invite = rooms
            .create_invite(viewer, room, max_uses, lifetime)
            .await
            .gql()?;
        Ok(Invite(invite))
    }

    /// Revokes an invite link (admins of its room).
    async fn revoke_invite(&self, ctx: &Context<'_>, code: String) -> Result<bool> {
        let (rooms, viewer) = request_scope(ctx)?;
        let code = InviteCode::parse(&code).gql()?;
        rooms.revoke_invite(viewer, code).await.gql()
    }

    /// Joins the room an invite opens, whatever its type, without approval. Unknown,
    /// revoked, expired and used-up codes: NOT_FOUND; banned: BANNED; full: ROOM_FULL;
    /// already a member: CONFLICT.
    async fn join_by_invite(&self, ctx: &Context<'_>, code: String) -> Result<Member> {
        let (rooms, viewer) = request_scope(ctx)?;
        viewer.require().gql()?;
        let code = InviteCode::parse(&code).gql()?;
        Ok(Member(rooms.join_by_invite(viewer, code).await.gql()?))
    }

    async fn unban_user(&self, ctx: &Context<'_>, room_id: ID, user_id: ID) -> Result<bool> {
        let (rooms, viewer) = request_scope(ctx)?;
        rooms
            .unban_user(viewer, self::room_id(&room_id)?, self::user_id(&user_id)?)
            .await
            .gql()
    }

    /// Says the viewer is typing in the room (or stopped: `typing: false`). Whoever may send
    /// messages may. Typing lapses 6 s after the last `setTyping(true)`; repeating it within
    /// 2 s of the last announcement announces nothing new; sending a message ends it.
    async fn set_typing(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        #[graphql(default = true)] typing: bool,
    ) -> Result<bool> {
        let (rooms, viewer) = request_scope(ctx)?;
        let room = self::room_id(&room_id)?;
        rooms.set_typing(viewer, room, typing).await.gql()
    }

    /// Moves the viewer's read marker forward to `cursor` (a message cursor of this room);
    /// a cursor before the marker leaves it where it is. Members only.
    async fn mark_read(&self, ctx: &Context<'_>, room_id: ID, cursor: String) -> Result<Member> {
        let (rooms, viewer) = request_scope(ctx)?;
        let room = self::room_id(&room_id)?;
        let cursor = crate::domain::values::MessageCursor::parse("cursor", &cursor).gql()?;
        Ok(Member(rooms.mark_read(viewer, room, cursor).await.gql()?))
    }

    /// Stored (with its sequence number) before this returns and before anyone receives it.
    async fn send_message(&self, ctx: &Context<'_>, room_id: ID, body: String) -> Result<Message> {
        let (rooms, viewer) = request_scope(ctx)?;
        let room = self::room_id(&room_id)?;
        let body = MessageBody::parse(&body).gql()?;
        Ok(Message(rooms.send_message(viewer, room, body).await.gql()?))
    }

    /// Erases the message; authors may delete their own, admins any.
    async fn delete_message(&self, ctx: &Context<'_>, message_id: ID) -> Result<ID> {
        let (rooms, viewer) = request_scope(ctx)?;
        let id = MessageId::parse(&message_id).gql()?;
        let id = rooms.delete_message(viewer, id).await.gql()?;
        Ok(ID(id.to_string()))
    }
}
