//! Reading rooms, members, history, bans and join requests, each behind its permission check.

use super::*;

impl RoomService {
    pub async fn user_by_username(
        &self,
        viewer: &Viewer,
        username: &str,
    ) -> DomainResult<Option<crate::domain::model::User>> {
        viewer.require()?;
        Ok(self.store.user_by_username(username).await?)
    }

    pub async fn list_rooms(
        &self,
        viewer: &Viewer,
        first: PageSize,
        after: Option<RoomCursor>,
        search: Option<String>,
    ) -> DomainResult<RoomPage> {
        let search = search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(DomainError::bad_input(
                "search",
                "search must be at most 100 characters",
            ));
        }
        let mut rows = self
            .store
            .list_rooms(RoomQuery {
                viewer: viewer.user_id(),
                search,
                after,
                limit: first.get() + 1,
            })
            .await?;
        let has_more = rows.len() > first.get() as usize;
        rows.truncate(first.get() as usize);
        // The store pre-filters private rooms in SQL; the permission table has the last word.
        let mut rooms = Vec::with_capacity(rows.len());
        for room in rows {
            let access = if room.room_type == RoomType::Private {
                match self.store.room_access(room.id, viewer.user_id()).await? {
                    Some(a) => a,
                    None => continue,
                }
            } else {
                RoomAccess {
                    room: room.clone(),
                    membership: None,
                    banned: false,
                    ban_expires_at: None,
                }
            };
            if authorize(
                viewer.user_id(),
                &access,
                Action::ViewRoom,
                self.clock.now(),
            )
            .is_ok()
            {
                rooms.push(room);
            }
        }
        Ok(RoomPage { rooms, has_more })
    }

    /// The room if the viewer may see it; `None` for missing and hidden rooms alike.
    pub async fn room(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Option<Room>> {
        match self.authorized(viewer, room, Action::ViewRoom).await {
            Ok(access) => Ok(Some(access.room)),
            Err(DomainError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The viewer's memberships among `rooms`, by room: one read for a page of rooms.
    /// (Only the viewer's own memberships: nothing about a room the viewer cannot see.)
    pub async fn viewer_memberships(
        &self,
        viewer: &Viewer,
        rooms: &[RoomId],
    ) -> DomainResult<std::collections::HashMap<RoomId, Membership>> {
        let Some(user) = viewer.user_id() else {
            return Ok(Default::default());
        };
        let found = self.store.memberships_in(user, rooms).await?;
        Ok(found.into_iter().map(|m| (m.room_id, m)).collect())
    }

    pub async fn members(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Vec<Membership>> {
        self.authorized(viewer, room, Action::ViewMembers).await?;
        Ok(self.store.members(room).await?)
    }

    pub async fn messages(
        &self,
        viewer: &Viewer,
        room: RoomId,
        last: PageSize,
        before: Option<MessageCursor>,
    ) -> DomainResult<MessagePage> {
        let access = self.authorized(viewer, room, Action::ReadMessages).await?;
        // `before` may point one past the end (the seq a client expects next).
        let before = before
            .map(|c| c.position_in("before", room, access.room.last_seq + 1))
            .transpose()?;
        let mut rows = self
            .store
            .messages_before(
                room,
                History {
                    before,
                    limit: last.get() + 1,
                },
            )
            .await?;
        let has_older = rows.len() > last.get() as usize;
        rows.truncate(last.get() as usize);
        rows.reverse();
        Ok(MessagePage {
            messages: rows,
            has_older,
        })
    }

    pub async fn bans(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Vec<Ban>> {
        self.authorized(viewer, room, Action::ViewModeration)
            .await?;
        let now = self.clock.now();
        let mut bans = self.store.bans(room).await?;
        // A timed ban whose time is up is over, lifted or not yet.
        bans.retain(|ban| ban.expires_at.is_none_or(|until| until > now));
        Ok(bans)
    }

    /// The viewer's own ban in the room while it holds (who, why, until when); None when
    /// they are not banned, or anonymous. Only about the viewer, so no permission beyond
    /// seeing the room.
    pub async fn viewer_ban(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Option<Ban>> {
        let Some(user) = viewer.user_id() else {
            return Ok(None);
        };
        let now = self.clock.now();
        Ok(self
            .store
            .ban_of(room, user)
            .await?
            .filter(|ban| ban.expires_at.is_none_or(|until| until > now)))
    }

    pub async fn join_requests(
        &self,
        viewer: &Viewer,
        room: RoomId,
    ) -> DomainResult<Vec<JoinRequest>> {
        self.authorized(viewer, room, Action::ViewModeration)
            .await?;
        Ok(self.store.join_requests(room).await?)
    }
}

/// Read markers, unread counts and the newest message: where each member is in a room.
impl RoomService {
    /// Moves the viewer's read marker forward to `cursor` (never back); members only. A
    /// move is announced (`ReadMarkerMoved`) to the room's readers.
    #[tracing::instrument(skip_all, fields(room_id = %room))]
    pub async fn mark_read(
        &self,
        viewer: &Viewer,
        room: RoomId,
        cursor: MessageCursor,
    ) -> DomainResult<Membership> {
        let access = self.authorized(viewer, room, Action::MarkRead).await?;
        let user = viewer.require()?;
        let seq = cursor.position_in("cursor", room, access.room.last_seq)?;
        let (member, moved) = self.store.mark_read(room, user.id, seq).await?;
        if moved {
            self.publish(RoomEvent::ReadMarkerMoved {
                room_id: room,
                user: user.clone(),
                seq,
            });
        }
        Ok(member)
    }

    /// Messages by others after the viewer's read marker (deleted ones are gone, so they
    /// do not count); None for anyone who is not a member.
    pub async fn unread_count(&self, viewer: &Viewer, room: RoomId) -> DomainResult<Option<i64>> {
        match viewer.user_id() {
            Some(user) => Ok(self.store.unread_count(room, user).await?),
            None => Ok(None),
        }
    }

    /// The room's newest message, if the viewer may read the room (None otherwise, and for
    /// a room without messages).
    pub async fn last_message(
        &self,
        viewer: &Viewer,
        room: RoomId,
    ) -> DomainResult<Option<Message>> {
        match self.authorized(viewer, room, Action::ReadMessages).await {
            Ok(_) => {}
            Err(
                DomainError::NotFound(_)
                | DomainError::Forbidden(_)
                | DomainError::Banned
                | DomainError::Unauthenticated(_),
            ) => return Ok(None),
            Err(e) => return Err(e),
        }
        let page = History {
            before: None,
            limit: 1,
        };
        Ok(self.store.messages_before(room, page).await?.pop())
    }
}
