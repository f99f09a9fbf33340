//! Invite links: admins create and revoke codes that admit people to any room type without
//! approval, within a number of uses and a lifetime.

use super::*;

/// Most invites of a room that may still admit someone: enough for any real use, and it
/// keeps `Room.invites` a bounded list.
pub const MAX_WORKING_INVITES: i64 = 100;

impl RoomService {
    /// The invite behind `code` if it still admits someone now. Unknown, revoked, expired
    /// and used-up codes are all the same NOT_FOUND.
    async fn usable_invite(&self, code: &InviteCode) -> DomainResult<Invite> {
        self.store
            .invite(code.clone())
            .await?
            .filter(|invite| invite.usable_at(self.clock.now()))
            .ok_or_else(DomainError::invite_not_found)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn create_invite(
        &self,
        viewer: &Viewer,
        room: RoomId,
        max_uses: Option<InviteUses>,
        lifetime: Option<InviteLifetime>,
    ) -> DomainResult<Invite> {
        self.authorized(viewer, room, Action::ManageInvites).await?;
        let actor = viewer.require()?;
        let now = self.clock.now();
        let invite = self
            .store
            .create_invite(NewInvite {
                code: InviteCode::generate(),
                room,
                by: actor.id,
                max_uses: max_uses.map(InviteUses::get),
                expires_at: lifetime.map(|l| now + l.get()),
                at: now,
                limit: MAX_WORKING_INVITES,
            })
            .await?;
        Ok(invite)
    }

    /// Revokes a code (admins of its room), used up or not, as `Room.invites` lists it; a
    /// revoked or unknown code is NOT_FOUND.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_invite(&self, viewer: &Viewer, code: InviteCode) -> DomainResult<bool> {
        let actor = viewer.require()?;
        let invite = self
            .store
            .invite(code.clone())
            .await?
            .filter(|invite| !invite.revoked)
            .ok_or_else(DomainError::invite_not_found)?;
        self.authorized(viewer, invite.room_id, Action::ManageInvites)
            .await
            .map_err(|e| match e {
                DomainError::NotFound(_) => DomainError::invite_not_found(),
                other => other,
            })?;
        let audit = self.audit(
            actor,
            invite.room_id,
            ModerationAction::InviteRevoked,
            None,
            None,
        );
        if !self.store.revoke_invite(code, audit).await? {
            return Err(DomainError::invite_not_found());
        }
        Ok(true)
    }

    /// The room's invites that still work or were used up (admins).
    pub async fn invites(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Vec<Invite>> {
        self.authorized(viewer, room, Action::ManageInvites).await?;
        Ok(self.store.invites(room, self.clock.now()).await?)
    }

    /// What a code opens, for anyone signed in: the room, or None when the code does not
    /// work (whatever the reason).
    pub async fn invite_preview(
        &self,
        viewer: &Viewer,
        code: &str,
    ) -> DomainResult<Option<(Invite, Room)>> {
        viewer.require()?;
        let Ok(code) = InviteCode::parse(code) else {
            return Ok(None);
        };
        let invite = match self.usable_invite(&code).await {
            Ok(invite) => invite,
            Err(DomainError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(self
            .store
            .room(invite.room_id)
            .await?
            .map(|room| (invite, room)))
    }

    /// Joins the room a code opens, whatever its type, without approval. The code is
    /// checked first (NOT_FOUND), then the viewer (BANNED, CONFLICT for a member), then the
    /// room's capacity (ROOM_FULL); the use is counted in the joining transaction, so a
    /// code with one use admits one person however many try at once.
    #[tracing::instrument(skip_all)]
    pub async fn join_by_invite(
        &self,
        viewer: &Viewer,
        code: InviteCode,
    ) -> DomainResult<Membership> {
        let user = viewer.require()?;
        let invite = self.usable_invite(&code).await?;
        let access = self
            .authorized(viewer, invite.room_id, Action::JoinByInvite)
            .await
            .map_err(|e| match e {
                DomainError::NotFound(_) => DomainError::invite_not_found(),
                other => other,
            })?;
        self.admit(&access.room, user.id, Admission::Joined, None, Some(code))
            .await
    }
}
