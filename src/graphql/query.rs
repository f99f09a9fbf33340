//! Query resolvers.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, Result, ID};

use super::error::GqlResultExt;
use super::types::{
    message_page, InvitePreview, Member, MessageConnection, Room, RoomConnection, User,
};
use super::{page_size, request_scope};
use crate::domain::values::{RoomCursor, RoomId};

pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// The signed-in user; null when anonymous.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let (_, viewer) = request_scope(ctx)?;
        Ok(viewer.require().ok().cloned().map(User))
    }

    async fn user(&self, ctx: &Context<'_>, username: String) -> Result<Option<User>> {
        let (rooms, viewer) = request_scope(ctx)?;
        Ok(rooms
            .user_by_username(viewer, &username)
            .await
            .gql()?
            .map(User))
    }

    /// Public and restricted rooms, plus the private rooms the viewer belongs to, oldest
    /// first. `search` matches name or topic.
    #[graphql(complexity = "super::page_cost(first, child_complexity)")]
    async fn rooms(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> Result<RoomConnection> {
        let (rooms, viewer) = request_scope(ctx)?;
        let first = page_size("first", first.unwrap_or(50))?;
        let after = after.as_deref().map(RoomCursor::parse).transpose().gql()?;
        let has_previous = after.is_some();
        let page = rooms.list_rooms(viewer, first, after, search).await.gql()?;
        let mut conn = Connection::new(has_previous, page.has_more);
        conn.edges.extend(page.rooms.into_iter().map(|r| {
            let cursor = RoomCursor {
                created_at: r.created_at,
                id: r.id,
            };
            Edge::new(cursor.encode(), Room(r))
        }));
        Ok(conn)
    }

    /// What an invite code opens (anyone signed in), or null when the code does not work
    /// (unknown, revoked, expired or used up alike).
    async fn invite(&self, ctx: &Context<'_>, code: String) -> Result<Option<InvitePreview>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let found = rooms.invite_preview(viewer, &code).await.gql()?;
        Ok(found.map(|(_, room)| InvitePreview::from(room)))
    }

    /// The room, or null when it does not exist or the viewer may not see it.
    async fn room(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Room>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let Ok(id) = RoomId::parse(&id) else {
            return Ok(None);
        };
        Ok(rooms.room(viewer, id).await.gql()?.map(Room))
    }

    #[graphql(complexity = "super::list_cost(child_complexity)")]
    async fn room_members(&self, ctx: &Context<'_>, room_id: ID) -> Result<Vec<Member>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let room = RoomId::parse(&room_id).gql()?;
        let members = rooms.members(viewer, room).await.gql()?;
        Ok(members.into_iter().map(Member).collect())
    }

    /// The newest `last` messages before `before`, oldest first.
    #[graphql(complexity = "super::page_cost(last, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        #[graphql(default = 50)] last: Option<i32>,
        before: Option<String>,
    ) -> Result<MessageConnection> {
        let room = RoomId::parse(&room_id).gql()?;
        message_page(ctx, room, last, before).await
    }
}
