//! Creating, changing and deleting rooms.

use super::*;

impl RoomService {
    /// Tells every viewer feed that a room anyone may see in `rooms` changed (`before` and
    /// `after` the change: a room that turned private, or stopped being so, counts too).
    fn listed(&self, before: &Room, after: &Room) {
        if before.room_type != RoomType::Private || after.room_type != RoomType::Private {
            self.bus
                .publish_notice(Arc::new(Notice::Listed { room_id: after.id }));
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn create_room(&self, viewer: &Viewer, input: CreateRoom) -> DomainResult<Room> {
        let owner = viewer.require()?;
        let room = self
            .store
            .create_room(NewRoom {
                id: RoomId::new(),
                owner: owner.id,
                created_at: self.clock.now(),
                settings: input,
            })
            .await?;
        tracing::info!(room_id = %room.id, "room created");
        self.bus.publish_notice(Arc::new(Notice::Admitted {
            room: room.clone(),
            user: owner.id,
            how: Admission::Created,
        }));
        self.listed(&room, &room);
        Ok(room)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn update_room(
        &self,
        viewer: &Viewer,
        room: RoomId,
        input: UpdateRoom,
    ) -> DomainResult<Room> {
        let access = self.authorized(viewer, room, Action::UpdateRoom).await?;
        if let Some(Some(max)) = input.max_users {
            if max.get() < access.room.member_count {
                return Err(DomainError::bad_input(
                    "maxUsers",
                    format!("the room already has {} members", access.room.member_count),
                ));
            }
        }
        let Some(summary) = input.summary(&access.room) else {
            // Nothing to change: no write, no event, no log entry.
            return Ok(access.room);
        };
        let actor = viewer.require()?;
        let audit = self.audit(
            actor,
            room,
            ModerationAction::RoomUpdated,
            None,
            Some(summary),
        );
        let updated = self.store.update_room(room, input, audit).await?;
        self.publish(RoomEvent::RoomUpdated(updated.clone()));
        self.listed(&access.room, &updated);
        Ok(updated)
    }

    /// Replaces the room's blocked terms (admins). Announced as a room update, so every
    /// node's posting checks read the new list.
    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn set_blocked_terms(
        &self,
        viewer: &Viewer,
        room: RoomId,
        terms: BlockedTerms,
    ) -> DomainResult<Room> {
        self.authorized(viewer, room, Action::SetBlockedTerms)
            .await?;
        let actor = viewer.require()?;
        let summary = Some(format!("{} terms", terms.as_slice().len()));
        let audit = self.audit(
            actor,
            room,
            ModerationAction::BlockedTermsChanged,
            None,
            summary,
        );
        let updated = self.store.set_blocked_terms(room, terms, audit).await?;
        self.publish(RoomEvent::RoomUpdated(updated.clone()));
        Ok(updated)
    }

    /// The room's blocked terms (admins; others FORBIDDEN).
    pub async fn blocked_terms(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Vec<String>> {
        let access = self
            .authorized(viewer, room, Action::ViewBlockedTerms)
            .await?;
        Ok(access.room.blocked_terms.into_inner())
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn delete_room(&self, viewer: &Viewer, room: RoomId) -> DomainResult<RoomId> {
        let access = self.authorized(viewer, room, Action::DeleteRoom).await?;
        if !self.store.delete_room(room).await? {
            return Err(DomainError::room_not_found());
        }
        self.publish(RoomEvent::RoomDeleted { room_id: room });
        self.listed(&access.room, &access.room);
        tracing::info!("room deleted");
        Ok(room)
    }
}
