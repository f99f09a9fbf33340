//! Subscription resolvers: live messages and room events. The feeds come from the domain,
//! which already checked access and ends them when access is lost.

use async_graphql::{Context, Result, Subscription, ID};
use futures_util::{Stream, StreamExt};

use super::error::{to_gql, GqlResultExt};
use super::types::{Message, RoomEvent, ViewerEvent};
use super::{parse_message_cursor, request_scope};
use crate::domain::values::RoomId;

pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The room's messages in sequence order. With `after` (a message cursor), first replays
    /// everything posted after it, then continues live with no gap or duplicate.
    async fn room_messages(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<Message>>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let room = RoomId::parse(&room_id).gql()?;
        let after = after.as_deref().map(parse_message_cursor).transpose()?;
        let feed = rooms.message_feed(viewer, room, after).await.gql()?;
        Ok(feed.map(|item| item.map(Message).map_err(to_gql)))
    }

    /// Membership and moderation events of the room.
    async fn room_events(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
    ) -> Result<impl Stream<Item = Result<RoomEvent>>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let room = RoomId::parse(&room_id).gql()?;
        let feed = rooms.event_feed(viewer, room).await.gql()?;
        Ok(feed.map(|item| item.map(|e| RoomEvent::from(&*e)).map_err(to_gql)))
    }

    /// The signed-in viewer's own feed: activity in their rooms (unread count and newest
    /// message), requests approved or turned down, being added or removed, and changes to
    /// the room list. One subscription replaces polling `rooms`.
    async fn viewer_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<ViewerEvent>>> {
        let (rooms, viewer) = request_scope(ctx)?;
        let feed = rooms.viewer_feed(viewer).await.gql()?;
        Ok(feed.map(|item| item.map(ViewerEvent::from).map_err(to_gql)))
    }
}
