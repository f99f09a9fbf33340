//! Sending and deleting messages.

use super::*;
use crate::domain::permissions::{blocked_terms_apply, slow_mode_interval, slow_mode_refusal};

impl RoomService {
    /// Loads the message `id` and the viewer's access to its room, if the viewer may
    /// `action` it. A hidden room answers "room not found", which would tell that the id
    /// exists: whoever may not read the room learns nothing about its messages, and every
    /// such refusal is the same "message not found" as an unknown id (a rule of its own,
    /// hiding, not a restatement of `authorize`).
    pub(super) async fn readable_message(
        &self,
        viewer: &Viewer,
        id: MessageId,
        action: Action,
    ) -> DomainResult<(Message, RoomAccess)> {
        let not_found = || DomainError::NotFound("message not found".into());
        let message = self.store.message(id).await?.ok_or_else(not_found)?;
        let access = self
            .store
            .room_access(message.room_id, viewer.user_id())
            .await?
            .ok_or_else(not_found)?;
        authorize(viewer.user_id(), &access, action, self.clock.now()).map_err(|e| match e {
            DomainError::Forbidden(_) | DomainError::NotFound(_) => not_found(),
            other => other,
        })?;
        Ok((message, access))
    }

    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn send_message(
        &self,
        viewer: &Viewer,
        room: RoomId,
        body: MessageBody,
    ) -> DomainResult<Arc<Message>> {
        let access = self
            .authorized_to_post(viewer, room, Action::SendMessage)
            .await?;
        let author = viewer.require()?;
        if blocked_terms_apply(&access)
            && access.room.blocked_terms.find_in(body.as_str()).is_some()
        {
            // Refused before anything is stored or counted.
            return Err(DomainError::BlockedContent);
        }
        self.throttles
            .messages
            .check(&author.id, "messages from you")?;
        let now = self.clock.now();
        if let Some(interval) = slow_mode_interval(&access) {
            // Claimed in storage, so posts through every node count.
            if let Some(last) = self
                .store
                .claim_post(room, author.id, now, interval)
                .await?
            {
                return Err(slow_mode_refusal(last, interval, now));
            }
        }
        let message = NewMessage {
            id: MessageId::new(),
            room,
            author: author.clone(),
            body: body.into_inner(),
            at: now,
        };
        let message = self.store.insert_message(message).await?;
        let message = Arc::new(message);
        self.bus.publish_message(message.clone());
        // Sending ends typing (after the message, so readers see it first).
        self.typing_ended(room, author);
        Ok(message)
    }

    #[tracing::instrument(skip_all, fields(message_id = %id))]
    pub async fn delete_message(&self, viewer: &Viewer, id: MessageId) -> DomainResult<MessageId> {
        viewer.require()?;
        let not_found = || DomainError::NotFound("message not found".into());
        let (message, access) = self
            .readable_message(viewer, id, Action::ReadMessages)
            .await?;
        authorize(
            viewer.user_id(),
            &access,
            Action::DeleteMessage {
                author: message.author.id,
            },
            self.clock.now(),
        )?;
        let actor = viewer.require()?;
        // Only a moderator's deletion is a moderation action.
        let audit = (message.author.id != actor.id).then(|| {
            self.audit(
                actor,
                message.room_id,
                ModerationAction::MessageDeleted,
                Some(message.author.id),
                None,
            )
        });
        if !self.store.delete_message(id, audit).await? {
            return Err(not_found());
        }
        self.publish(RoomEvent::MessageDeleted {
            room_id: message.room_id,
            message_id: id,
        });
        Ok(id)
    }
}
