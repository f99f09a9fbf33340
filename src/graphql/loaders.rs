//! Per-request batching of the viewer's per-room fields: a page of rooms asking
//! `viewerRole` costs one membership read, not one per room (async-graphql's `DataLoader`).
//! Nothing is cached between requests or between a socket's operations: the loader only
//! gathers the keys asked for at the same moment.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_graphql::dataloader::{DataLoader, Loader};

use super::error::to_gql;
use crate::domain::identity::Viewer;
use crate::domain::model::Role;
use crate::domain::rooms::RoomService;
use crate::domain::values::RoomId;

/// The viewer's role per room, for the rooms asked for together.
struct ViewerRoles {
    rooms: RoomService,
    viewer: Viewer,
}

impl Loader<RoomId> for ViewerRoles {
    type Value = Role;
    type Error = Arc<async_graphql::Error>;

    async fn load(&self, keys: &[RoomId]) -> Result<HashMap<RoomId, Role>, Self::Error> {
        let found = self
            .rooms
            .viewer_memberships(&self.viewer, keys)
            .await
            .map_err(|e| Arc::new(to_gql(e)))?;
        Ok(found.into_iter().map(|(room, m)| (room, m.role)).collect())
    }
}

/// A request's loaders, made on first use (the transport creates the request without the
/// services; the first resolver that needs a loader brings them).
#[derive(Clone, Default)]
pub(crate) struct ViewerLoaders {
    roles: Arc<OnceLock<DataLoader<ViewerRoles>>>,
}

impl ViewerLoaders {
    /// The viewer's role in `room` (None: not a member), batched with the other rooms of
    /// the same request that ask at the same time.
    pub(crate) async fn viewer_role(
        &self,
        rooms: &RoomService,
        viewer: &Viewer,
        room: RoomId,
    ) -> async_graphql::Result<Option<Role>> {
        if viewer.user_id().is_none() {
            return Ok(None);
        }
        let loader = self.roles.get_or_init(|| {
            DataLoader::new(
                ViewerRoles {
                    rooms: rooms.clone(),
                    viewer: viewer.clone(),
                },
                tokio::spawn,
            )
        });
        loader.load_one(room).await.map_err(|e| (*e).clone())
    }
}
