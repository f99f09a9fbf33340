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
        reason: Option<Note>,
    ) -> DomainResult<bool> {
        let target = self.act_on_member(viewer, room, user).await?;
        let actor = viewer.require()?;
        let reason = reason.map(Note::into_inner);
        let audit = self.audit(
            actor,
            room,
            ModerationAction::MemberRemoved,
            Some(user),
            reason.clone(),
        );
        if !self.store.remove_member(room, user, Some(audit)).await? {
            return Err(DomainError::NotFound(
                "that user is not a member of this room".into(),
            ));
        }
        self.publish(RoomEvent::MemberRemoved {
            room_id: room,
            user: target.user,
            by: actor.clone(),
            reason,
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
        let actor = viewer.require()?;
        let change = Some(role.as_str().to_uppercase());
        let audit = self.audit(
            actor,
            room,
            ModerationAction::RoleChanged,
            Some(user),
            change,
        );
        let member = self.store.set_role(room, user, role, audit).await?;
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
        let audit = self.audit(
            from,
            room,
            ModerationAction::OwnershipTransferred,
            Some(user),
            None,
        );
        let updated = self.store.transfer_ownership(room, user, audit).await?;
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
        let actor = viewer.require()?;
        let until = duration.map(|d| self.clock.now() + d.get());
        let length = duration.map(|d| format!("for {} s", d.get().num_seconds()));
        let audit = self.audit(
            actor,
            room,
            ModerationAction::MemberMuted,
            Some(user),
            length,
        );
        let member = self
            .store
            .set_mute(room, user, Mute::On { until }, audit)
            .await?;
        self.publish(RoomEvent::MemberMuted(member.clone()));
        // The lift is announced when its time is up, unless the mute changed meantime.
        match until {
            Some(until) => self.expiries.schedule(Expiring::Mute(room, user), until),
            None => self.expiries.cancel(Expiring::Mute(room, user)),
        }
        Ok(member)
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
        let actor = viewer.require()?;
        let audit = self.audit(
            actor,
            room,
            ModerationAction::MemberUnmuted,
            Some(user),
            None,
        );
        let member = self.store.set_mute(room, user, Mute::Off, audit).await?;
        self.expiries.cancel(Expiring::Mute(room, user));
        self.publish(RoomEvent::MemberUnmuted(member.clone()));
        Ok(member)
    }

    /// Bans `user` (for `duration`, or until unbanned) and erases their messages of the
    /// last `purge` (one `MessagesPurged` event), in one transaction with the log entries.
    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn ban_user(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
        reason: Option<Note>,
        duration: Option<BanDuration>,
        purge: Option<PurgeWindow>,
    ) -> DomainResult<Ban> {
        self.authorize_act_on(viewer, room, user).await?;
        let actor = viewer.require()?;
        let target = self.existing_user(user).await?;
        let now = self.clock.now();
        let expires_at = duration.map(|d| now + d.get());
        let ban = NewBan {
            room,
            user,
            by: actor.id,
            reason,
            at: now,
            expires_at,
            purge_since: purge.filter(|w| !w.get().is_zero()).map(|w| now - w.get()),
        };
        let outcome = self.store.ban(ban).await?;
        // The ban first: it ends the banned user's feeds before the purge is announced.
        self.publish(RoomEvent::MemberBanned(outcome.ban.clone()));
        if !outcome.purged.is_empty() {
            self.publish(RoomEvent::MessagesPurged {
                room_id: room,
                user: target,
                message_ids: outcome.purged,
            });
        }
        match expires_at {
            Some(until) => self.expiries.schedule(Expiring::Ban(room, user), until),
            None => self.expiries.cancel(Expiring::Ban(room, user)),
        }
        tracing::info!("user banned");
        Ok(outcome.ban)
    }

    /// Lifts a timed ban whose time is up, unless it was lifted or replaced meanwhile, and
    /// announces it (not a log entry: no one acted).
    pub(super) async fn expire_ban(&self, ban: TimedBan) -> DomainResult<()> {
        if self.store.lift_ban(ban).await? {
            let user = self.existing_user(ban.user).await?;
            self.publish(RoomEvent::MemberUnbanned {
                room_id: ban.room,
                user,
            });
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(room_id = %room, user_id = %user))]
    pub async fn unban_user(
        &self,
        viewer: &Viewer,
        room: RoomId,
        user: UserId,
    ) -> DomainResult<bool> {
        self.authorized(viewer, room, Action::Unban).await?;
        let actor = viewer.require()?;
        let target = self.existing_user(user).await?;
        let audit = self.audit(
            actor,
            room,
            ModerationAction::MemberUnbanned,
            Some(user),
            None,
        );
        self.expiries.cancel(Expiring::Ban(room, user));
        if !self.store.unban(room, user, audit).await? {
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
