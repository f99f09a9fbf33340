//! Creating, changing and deleting rooms.

use super::*;

impl RoomService {
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
        let updated = self.store.update_room(room, input).await?;
        self.publish(RoomEvent::RoomUpdated(updated.clone()));
        Ok(updated)
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn delete_room(&self, viewer: &Viewer, room: RoomId) -> DomainResult<RoomId> {
        self.authorized(viewer, room, Action::DeleteRoom).await?;
        if !self.store.delete_room(room).await? {
            return Err(DomainError::room_not_found());
        }
        self.publish(RoomEvent::RoomDeleted { room_id: room });
        tracing::info!("room deleted");
        Ok(room)
    }
}
