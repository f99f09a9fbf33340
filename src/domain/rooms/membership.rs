//! Joining, asking to join, approving, leaving and adding members.

use super::*;

impl RoomService {
    /// Makes `user` a member (within the room's capacity; storage refuses a banned user in
    /// the same transaction) and announces it. `audit` when an admin admitted them;
    /// `invite` when a code did (its use is counted in the same transaction). The new
    /// member's own feed hears `how`.
    pub(super) async fn admit(
        &self,
        room: &Room,
        user: UserId,
        how: Admission,
        audit: Option<Audit>,
        invite: Option<InviteCode>,
    ) -> DomainResult<Membership> {
        let member = NewMember {
            room: room.id,
            user,
            role: Role::Member,
            at: self.clock.now(),
            audit,
            invite,
        };
        let member = self.store.add_member(member, self.capacity(room)).await?;
        self.publish(RoomEvent::MemberJoined(member.clone()));
        let mut room = room.clone();
        room.member_count += 1;
        self.bus
            .publish_notice(Arc::new(Notice::Admitted { room, user, how }));
        Ok(member)
    }

    fn capacity(&self, room: &Room) -> i64 {
        room.max_users
            .unwrap_or(self.rules.max_users_cap)
            .min(self.rules.max_users_cap)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn join_room(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Membership> {
        let access = self.authorized(viewer, room, Action::Join).await?;
        let user = viewer.require()?;
        self.admit(&access.room, user.id, Admission::Joined, None, None)
            .await
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
        let request = NewJoinRequest {
            room,
            user: user.id,
            message,
            at: self.clock.now(),
        };
        let request = self.store.create_join_request(request).await?;
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
        let actor = viewer.require()?;
        let audit = self.audit(
            actor,
            room,
            ModerationAction::JoinRequestApproved,
            Some(user),
            None,
        );
        self.admit(&access.room, user, Admission::Approved, Some(audit), None)
            .await
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn reject_join_request(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<bool> {
        let access = self
            .authorized(viewer, room, Action::DecideJoinRequest)
            .await?;
        let actor = viewer.require()?;
        let audit = self.audit(
            actor,
            room,
            ModerationAction::JoinRequestRejected,
            Some(user),
            None,
        );
        if !self
            .store
            .delete_join_request(room, user, Some(audit))
            .await?
        {
            return Err(DomainError::NotFound(
                "no pending join request from that user".into(),
            ));
        }
        self.bus.publish_notice(Arc::new(Notice::Rejected {
            room_id: room,
            name: access.room.name,
            user,
        }));
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn leave_room(&self, viewer: &Viewer, room: RoomId) -> DomainResult<bool> {
        let access = self.authorized(viewer, room, Action::Leave).await?;
        let user = viewer.require()?;
        if !self.store.remove_member(room, user.id, None).await? {
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
        // For a clear message only (defence in depth): storage refuses a member twice or a
        // banned user inside the insert's transaction, whoever races this.
        if let Some(target) = self.store.room_access(room, Some(user)).await? {
            if target.membership.is_some() {
                return Err(DomainError::Conflict(
                    "that user is already a member of this room".into(),
                ));
            }
            if target.is_banned_at(self.clock.now()) {
                return Err(DomainError::Conflict(
                    "that user is banned from this room: unban them first".into(),
                ));
            }
        }
        let actor = viewer.require()?;
        let audit = self.audit(actor, room, ModerationAction::MemberAdded, Some(user), None);
        self.admit(&access.room, user, Admission::Added, Some(audit), None)
            .await
    }
}
