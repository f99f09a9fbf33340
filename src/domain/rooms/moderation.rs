//! Acting on members: removing, roles, ownership, mutes (and their expiry) and bans.

use super::*;

impl RoomService {
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
        // The rule (authorize) judges the target's current role; a non-member is judged as a
        // MEMBER so the answer does not tell who is a member (NOT_FOUND follows if allowed).
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
        let updated = self.store.transfer_ownership(room, user).await?;
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
        let member = self.store.set_mute(room, user, Mute::On { until }).await?;
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

    pub(super) async fn expire_mute(&self, mute: TimedMute) -> DomainResult<()> {
        if let Some(member) = self.store.lift_mute(mute).await? {
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
        let member = self.store.set_mute(room, user, Mute::Off).await?;
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
        let ban = NewBan {
            room,
            user,
            by: actor.id,
            reason,
            at: self.clock.now(),
        };
        let ban = self.store.ban(ban).await?;
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
}
