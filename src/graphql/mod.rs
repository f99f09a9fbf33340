//! The GraphQL API: schema construction, the per-request context, and the resolvers. Resolvers
//! translate arguments into validated domain values, call the domain services and wrap the
//! results; they hold no SQL and no permission logic.

pub mod error;
pub mod limits;
mod loaders;
mod mutation;
pub mod persisted;
mod query;
pub mod shared;
mod subscription;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, Schema};

use crate::domain::error::DomainError;
use crate::domain::identity::{Identity, Viewer};
use crate::domain::rooms::RoomService;
use crate::domain::values::{MessageCursor, PageSize};
use error::{to_gql, GqlResultExt};

pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

pub type RoomcastSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Who is making this request, and with which token (needed by `logout`).
#[derive(Clone, Default)]
pub struct RequestAuth {
    pub viewer: Viewer,
    pub token: Option<String>,
    /// The client's address, for per-address throttles (None when unknown).
    pub client: Option<std::net::IpAddr>,
    /// When the session ends unless used again (a WebSocket re-checks it then).
    pub session_expires_at: Option<crate::domain::model::Timestamp>,
    /// Batches the viewer's per-room fields of one request (see `loaders`).
    pub(crate) loaders: loaders::ViewerLoaders,
}

/// Query limits that keep a hostile document from costing more than a page of work.
pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 2_000;

/// Default page size of `first`/`last` when a client leaves it out.
const DEFAULT_PAGE: i32 = 50;
/// What an unpaged list (members, bans, join requests) is assumed to hold when costing a
/// query: a room may have thousands of members, so such lists are priced like a full page.
const UNPAGED_LIST_ESTIMATE: usize = 100;

/// Cost of a paged field: its selection once per item it may return, so aliases times page
/// sizes cannot slip under the complexity limit.
pub(crate) fn page_cost(size: Option<i32>, child_complexity: usize) -> usize {
    let n = size.unwrap_or(DEFAULT_PAGE).clamp(1, PageSize::MAX as i32) as usize;
    n.saturating_mul(child_complexity).saturating_add(1)
}

/// Cost of an unpaged list field (see `UNPAGED_LIST_ESTIMATE`).
pub(crate) fn list_cost(child_complexity: usize) -> usize {
    UNPAGED_LIST_ESTIMATE
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// Builds the schema. With `services` None the schema can only be printed, not executed.
/// `documents` caches parsed documents (see `limits::DocumentCache`).
pub fn build_schema(
    services: Option<(RoomService, Identity)>,
    documents: Arc<limits::DocumentCache>,
) -> RoomcastSchema {
    let mut builder = Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .extension(limits::DocumentGuard::new(documents))
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(16)
        // Not returned by any field: exported so generated clients can switch on the codes
        // of `extensions.code`.
        .register_output_type::<crate::error_code::ErrorCode>();
    if let Some((rooms, identity)) = services {
        builder = builder.data(rooms).data(identity);
    }
    builder.finish()
}

/// The SDL of the API, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(None, Arc::new(limits::DocumentCache::new(0))).sdl()
}

fn internal(what: &str) -> async_graphql::Error {
    to_gql(DomainError::Internal(anyhow::anyhow!(
        "{what} missing from the GraphQL context"
    )))
}

/// The room service and the viewer of the current request.
pub(crate) fn request_scope<'a>(
    ctx: &'a Context<'_>,
) -> async_graphql::Result<(&'a RoomService, &'a Viewer)> {
    let rooms = ctx
        .data::<RoomService>()
        .map_err(|_| internal("RoomService"))?;
    let auth = ctx
        .data::<RequestAuth>()
        .map_err(|_| internal("RequestAuth"))?;
    Ok((rooms, &auth.viewer))
}

pub(crate) fn identity<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Identity> {
    ctx.data::<Identity>().map_err(|_| internal("Identity"))
}

pub(crate) fn request_auth<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a RequestAuth> {
    ctx.data::<RequestAuth>()
        .map_err(|_| internal("RequestAuth"))
}

pub(crate) fn page_size(field: &'static str, raw: i32) -> async_graphql::Result<PageSize> {
    PageSize::parse(field, raw).gql()
}

pub(crate) fn parse_message_cursor(raw: &str) -> async_graphql::Result<MessageCursor> {
    MessageCursor::parse("cursor", raw).gql()
}
