//! Shared execution of `roomMessages` subscriptions.
//!
//! async-graphql executes a subscription's selection set and serialises the result for every
//! subscriber and every event, so the CPU cost of one message grows with the room's size.
//! Subscribers whose operation is the same (document, operation name and variables) would all
//! get byte-identical payloads, because nothing under `Message` depends on who is asking. This
//! module plans such subscriptions, executes the selection set once per (operation, message)
//! on a small render schema, caches the serialised payload, and lets every subscriber reuse it.
//! Each subscriber keeps its own domain feed (permissions, cursor, ordering, catch-up), so the
//! per-subscriber cost is a permission-checked channel read and a socket write.
//!
//! Invariant: every field reachable from `Message` must be viewer-independent. A test
//! compares shared and per-subscriber payloads to keep this true.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use async_graphql::parser::{parse_query, Pos};
use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Object, PathSegment, Request, Response, Schema,
    ServerError, Value, Variables, ID,
};
use async_graphql_value::Value as AstValue;
use tokio::sync::OnceCell;

use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};

use super::error::{ensure_codes, to_gql};
use super::types::{Message, ViewerEvent};
use super::{RequestAuth, RoomcastSchema, MAX_COMPLEXITY, MAX_DEPTH};
use crate::domain::error::DomainError;
use crate::domain::model;
use crate::domain::rooms::{Feed, RoomService};
use crate::domain::values::{MessageCursor, MessageId, RoomId};
use std::hash::BuildHasher;

/// Counters that show whether sharing happens (read by tests and the benchmark).
#[derive(Debug, Default)]
pub struct SharingStats {
    /// Subscriptions served through the shared path.
    pub shared_subscriptions: AtomicU64,
    /// Selection-set executions (one per distinct operation and message).
    pub renders: AtomicU64,
    /// Payloads delivered from the cache instead of being executed again.
    pub reuses: AtomicU64,
}

/// The render schema's root: named `Subscription` so `__typename` and fragments on the root
/// type resolve exactly as they do on the real subscription root.
struct RenderRoot;

#[Object(name = "Subscription")]
impl RenderRoot {
    async fn room_messages(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        after: Option<String>,
    ) -> async_graphql::Result<Message> {
        // The arguments are part of the field's signature (so documents validate the same);
        // the message to render is supplied by the caller.
        let _ = (room_id, after);
        let message = ctx.data::<Arc<model::Message>>().map_err(|_| {
            to_gql(DomainError::Internal(anyhow::anyhow!(
                "no message to render"
            )))
        })?;
        Ok(Message(message.clone()))
    }

    async fn viewer_events(&self, ctx: &Context<'_>) -> async_graphql::Result<ViewerEvent> {
        let event = ctx.data::<Arc<model::ViewerEvent>>().map_err(|_| {
            to_gql(DomainError::Internal(anyhow::anyhow!(
                "no viewer event to render"
            )))
        })?;
        Ok(ViewerEvent::from((**event).clone()))
    }
}

/// What the root field of a shared subscription is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SharedRoot {
    RoomMessages {
        room_id: String,
        after: Option<String>,
    },
    /// Shared only when the selection reads nothing that depends on the viewer beyond
    /// what the event carries (see `viewer_independent`).
    ViewerEvents,
}

/// Fields the viewer's feed may select directly on its events' types.
const VIEWER_EVENT_FIELDS: &[&str] = &[
    "__typename",
    "room",
    "unreadCount",
    "lastMessage",
    "roomId",
    "name",
    "reason",
    "by",
    "banned",
];

/// Fields deeper down (in a Room, a Message or a User) that read nothing about the viewer
/// and change only with the event that carries them.
const PLAIN_FIELDS: &[&str] = &[
    "__typename",
    "id",
    "name",
    "topic",
    "type",
    "maxUsers",
    "memberCount",
    "owner",
    "createdAt",
    "slowModeSeconds",
    "postingPolicy",
    "username",
    "roomId",
    "seq",
    "cursor",
    "author",
    "body",
];

/// Whether every field under `viewerEvents` is one whose value is the same for every viewer
/// given the same event (the Room fields that read the viewer's role, ban, unread count or
/// storage are not). Fragments are followed (to a bounded depth).
fn viewer_independent(
    set: &async_graphql::parser::types::SelectionSet,
    fragments: &HashMap<
        async_graphql::Name,
        async_graphql::Positioned<async_graphql::parser::types::FragmentDefinition>,
    >,
    depth: usize,
) -> bool {
    if depth > 8 {
        return false;
    }
    set.items.iter().all(|item| match &item.node {
        Selection::Field(f) => {
            let allowed = if depth == 0 {
                VIEWER_EVENT_FIELDS
            } else {
                PLAIN_FIELDS
            };
            f.node.directives.is_empty()
                && allowed.contains(&f.node.name.node.as_str())
                && viewer_independent(&f.node.selection_set.node, fragments, depth + 1)
        }
        Selection::InlineFragment(i) => {
            i.node.directives.is_empty()
                && viewer_independent(&i.node.selection_set.node, fragments, depth)
        }
        Selection::FragmentSpread(spread) => {
            spread.node.directives.is_empty()
                && fragments
                    .get(&spread.node.fragment_name.node)
                    .is_some_and(|f| {
                        viewer_independent(&f.node.selection_set.node, fragments, depth)
                    })
        }
    })
}

/// What a payload was rendered from: a message, or a room's activity (the room's state and
/// its newest message: the same for every viewer who sees the same; each viewer's unread
/// count is put in afterwards, see `Rendered`). The room's other fields go in as a
/// fingerprint under a key this process chose at random, so no one can make two states
/// look alike.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum ItemKey {
    Message(MessageId),
    Activity {
        room: RoomId,
        last: Option<MessageId>,
        room_state: u64,
    },
}

/// A rendered payload: whole, or (a room's activity whose selection has `unreadCount`) cut
/// where the count goes. The cut is made at a placeholder count this process chose at
/// random (a negative number of 16 digits, which no real count is, and which no one can
/// put in a message or a room name on purpose); each viewer's own count is put back in.
#[derive(Clone)]
enum Rendered {
    Whole(Arc<str>),
    Cut(Arc<[String]>),
}

impl Rendered {
    fn fill(&self, unread: Option<i64>) -> Arc<str> {
        match (self, unread) {
            (Rendered::Whole(payload), _) => payload.clone(),
            (Rendered::Cut(parts), Some(n)) => parts.join(&n.to_string()).into(),
            // Only room activity is cut, and it always has a count.
            (Rendered::Cut(parts), None) => parts.concat().into(),
        }
    }
}

type RenderSchema = Schema<RenderRoot, EmptyMutation, EmptySubscription>;

fn room_state(keys: &std::collections::hash_map::RandomState, room: &model::Room) -> u64 {
    let mut h = keys.build_hasher();
    (&room.name, &room.topic, room.member_count, room.max_users).hash(&mut h);
    (
        room.owner.id.0,
        &room.owner.username,
        room.slow_mode_seconds,
    )
        .hash(&mut h);
    room.created_at.timestamp_micros().hash(&mut h);
    format!("{:?} {:?}", room.room_type, room.posting_policy).hash(&mut h);
    h.finish()
}

/// A subscription that can take the shared path.
#[derive(Clone)]
pub struct SharedPlan {
    /// Identifies the operation: same key, same payload for the same message.
    key: u64,
    /// The document as the client sent it.
    original: Arc<str>,
    /// The document with its `subscription` keyword turned into `query`.
    render_query: Arc<str>,
    operation_name: Option<String>,
    variables: Variables,
    /// Where the root field is and what it answers as, for error items.
    response_key: String,
    field_pos: Pos,
    pub root: SharedRoot,
}

/// (operation, what is rendered).
type CacheKey = (u64, ItemKey);

/// Hashes a cache key by folding its bits: both halves are random already (a keyed hash of
/// the operation, a v4 UUID the server made), so SipHash's work on every delivery's lookup
/// buys nothing.
#[derive(Default)]
struct RandomBits(u64);

impl Hasher for RandomBits {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Renders shared `roomMessages` payloads. One per server.
pub struct SharedMessages {
    /// Off (`--shared-subscriptions false`): every subscription takes the ordinary path.
    enabled: bool,
    /// Opens each shared subscriber's own feed (access checks, cursor, ordering).
    rooms: RoomService,
    schema: RenderSchema,
    cache: Mutex<RenderCache>,
    /// One plan per distinct operation, shared by its subscribers (saves memory per socket).
    plans: Mutex<HashMap<u64, Weak<SharedPlan>>>,
    /// The key of room-state fingerprints (see `ItemKey`).
    fingerprints: std::collections::hash_map::RandomState,
    /// The count room activity is rendered with, to be replaced by each viewer's (see
    /// `Rendered`).
    placeholder: i64,
    pub stats: SharingStats,
}

struct RenderCache {
    entries: HashMap<CacheKey, Arc<OnceCell<Rendered>>, BuildHasherDefault<RandomBits>>,
    order: VecDeque<CacheKey>,
    capacity: usize,
}

fn const_string(value: &async_graphql::Value) -> Option<Option<String>> {
    match value {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        Value::Number(n) => Some(Some(n.to_string())),
        _ => None,
    }
}

/// Byte offset of a 1-based (line, column) position, counting columns in characters.
fn offset_of(text: &str, pos: Pos) -> Option<usize> {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == pos.line {
            let col = line.char_indices().nth(pos.column.checked_sub(1)?)?.0;
            return Some(offset + col);
        }
        offset += line.len();
    }
    None
}

/// Parsed render documents kept (one per distinct shared selection).
const RENDER_DOCUMENTS: usize = 256;

impl SharedMessages {
    /// Payloads of the most recent this-many (operation, message) pairs stay cached.
    const CACHE_ENTRIES: usize = 4096;

    pub fn new(rooms: RoomService, enabled: bool) -> Self {
        Self {
            enabled,
            rooms,
            schema: Schema::build(RenderRoot, EmptyMutation, EmptySubscription)
                .extension(super::limits::DocumentGuard::new(Arc::new(
                    super::limits::DocumentCache::new(RENDER_DOCUMENTS),
                )))
                .limit_depth(MAX_DEPTH)
                .limit_complexity(MAX_COMPLEXITY)
                .finish(),
            cache: Mutex::new(RenderCache {
                entries: HashMap::default(),
                order: VecDeque::new(),
                capacity: Self::CACHE_ENTRIES,
            }),
            stats: SharingStats::default(),
            plans: Mutex::new(HashMap::new()),
            fingerprints: std::collections::hash_map::RandomState::new(),
            placeholder: -rand::Rng::gen_range(
                &mut rand::thread_rng(),
                1_000_000_000_000_000..10_000_000_000_000_000i64,
            ),
        }
    }

    /// Returns a plan when the document is one `roomMessages` subscription without
    /// directives at the operation or root field; anything else takes the ordinary path.
    pub fn plan(
        &self,
        query: &str,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> Option<SharedPlan> {
        if !self.enabled {
            return None;
        }
        // Only an operation written with the `subscription` keyword can be one (the `{ ... }`
        // shorthand is a query), so most documents (every sendMessage sent over the socket)
        // are passed on without being parsed twice.
        if !query.contains("subscription") {
            return None;
        }
        // A document over the limits takes the ordinary path, which refuses it.
        super::limits::check_text(query).ok()?;
        let doc = parse_query(query).ok()?;
        let op = match (&doc.operations, operation_name) {
            (DocumentOperations::Single(op), _) => op,
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
            (DocumentOperations::Multiple(_), None) => return None,
        };
        if op.node.ty != OperationType::Subscription || !op.node.directives.is_empty() {
            return None;
        }
        let [item] = op.node.selection_set.node.items.as_slice() else {
            return None;
        };
        let Selection::Field(field) = &item.node else {
            return None;
        };
        if !field.node.directives.is_empty() {
            return None;
        }
        let viewer = match field.node.name.node.as_str() {
            "roomMessages" => false,
            "viewerEvents" => true,
            _ => return None,
        };
        if viewer
            && (!field.node.arguments.is_empty()
                || !viewer_independent(&field.node.selection_set.node, &doc.fragments, 0))
        {
            return None;
        }
        let resolve = |name: &str| -> Option<Option<String>> {
            let Some((_, value)) = field
                .node
                .arguments
                .iter()
                .find(|(n, _)| n.node.as_str() == name)
            else {
                return Some(None);
            };
            match &value.node {
                AstValue::Variable(var) => match variables.get(var) {
                    Some(v) => const_string(v),
                    None => {
                        let def = op
                            .node
                            .variable_definitions
                            .iter()
                            .find(|d| d.node.name.node == *var)?;
                        match def.node.default_value.as_ref() {
                            Some(d) => const_string(&d.node),
                            None => Some(None),
                        }
                    }
                },
                other => const_string(&other.clone().into_const()?),
            }
        };
        let root = if viewer {
            SharedRoot::ViewerEvents
        } else {
            SharedRoot::RoomMessages {
                room_id: resolve("roomId")??,
                after: resolve("after")?,
            }
        };

        let start = offset_of(query, op.pos)?;
        if !query.get(start..)?.starts_with("subscription") {
            return None;
        }
        let render_query = format!(
            "{}query{}",
            &query[..start],
            &query[start + "subscription".len()..]
        );

        let mut hasher = DefaultHasher::new();
        query.hash(&mut hasher);
        operation_name.hash(&mut hasher);
        serde_json::to_string(variables).ok()?.hash(&mut hasher);
        Some(SharedPlan {
            key: hasher.finish(),
            render_query: render_query.into(),
            original: query.into(),
            operation_name: operation_name.map(str::to_owned),
            variables: variables.clone(),
            response_key: field.node.response_key().node.to_string(),
            field_pos: field.pos,
            root,
        })
    }

    /// The shared copy of an identical plan, if a live subscriber holds one.
    fn intern(&self, plan: SharedPlan) -> Arc<SharedPlan> {
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = plans.get(&plan.key).and_then(Weak::upgrade) {
            if existing.original == plan.original
                && existing.operation_name == plan.operation_name
                && existing.variables == plan.variables
            {
                return existing;
            }
            return Arc::new(plan);
        }
        if plans.len() >= 1024 {
            plans.retain(|_, p| p.strong_count() > 0);
        }
        let plan = Arc::new(plan);
        plans.insert(plan.key, Arc::downgrade(&plan));
        plan
    }

    /// The payload for `item` under `plan` if it was rendered already.
    fn cached(&self, plan: &SharedPlan, item: &Item) -> Option<Arc<str>> {
        let key = item.key(&self.fingerprints)?;
        let rendered = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.entries.get(&(plan.key, key))?.get()?.clone()
        };
        self.stats.reuses.fetch_add(1, Ordering::Relaxed);
        Some(rendered.fill(item.unread()))
    }

    fn slot(&self, key: CacheKey) -> (Arc<OnceCell<Rendered>>, bool) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cell) = cache.entries.get(&key) {
            return (cell.clone(), false);
        }
        let cell = Arc::new(OnceCell::new());
        cache.entries.insert(key, cell.clone());
        cache.order.push_back(key);
        while cache.order.len() > cache.capacity {
            if let Some(old) = cache.order.pop_front() {
                cache.entries.remove(&old);
            }
        }
        (cell, true)
    }

    /// Executes `plan`'s selection on `item` (no cache).
    async fn execute(&self, plan: &SharedPlan, item: &Item) -> Arc<str> {
        let mut request =
            Request::new(plan.render_query.to_string()).variables(plan.variables.clone());
        request = match item {
            Item::Message(m) => request.data(m.clone()),
            Item::Viewer(e) => request.data(e.clone()),
        };
        self.execute_request(plan, request).await
    }

    /// Executes `plan`'s selection on a room's activity with the placeholder count, and
    /// cuts the payload where the count goes.
    async fn execute_template(&self, plan: &SharedPlan, item: &Item) -> Rendered {
        let Item::Viewer(event) = item else {
            return Rendered::Whole(self.execute(plan, item).await);
        };
        let model::ViewerEvent::RoomActivity { room, last, .. } = &**event else {
            return Rendered::Whole(self.execute(plan, item).await);
        };
        let placeholder = Arc::new(model::ViewerEvent::RoomActivity {
            room: room.clone(),
            unread: self.placeholder,
            last: last.clone(),
        });
        let request = Request::new(plan.render_query.to_string())
            .variables(plan.variables.clone())
            .data(placeholder);
        let payload = self.execute_request(plan, request).await;
        let mark = self.placeholder.to_string();
        let parts: Vec<String> = payload.split(mark.as_str()).map(str::to_owned).collect();
        if parts.len() == 1 {
            Rendered::Whole(payload)
        } else {
            Rendered::Cut(parts.into())
        }
    }

    async fn execute_request(&self, plan: &SharedPlan, mut request: Request) -> Arc<str> {
        if let Some(name) = &plan.operation_name {
            request = request.operation_name(name.clone());
        }
        let mut response = self.schema.execute(request).await;
        ensure_codes(&mut response);
        serialise(&response)
    }

    /// The serialised `payload` of a `next` message for `item` under `plan`, executed at
    /// most once per (operation, item) while it stays in the cache (items without a key,
    /// the rare viewer events other than room activity, every time).
    async fn render(&self, plan: &SharedPlan, item: &Item) -> Arc<str> {
        let Some(key) = item.key(&self.fingerprints) else {
            self.stats.renders.fetch_add(1, Ordering::Relaxed);
            return self.execute(plan, item).await;
        };
        let (cell, _) = self.slot((plan.key, key));
        let mut executed = false;
        let rendered = cell
            .get_or_init(|| async {
                executed = true;
                self.execute_template(plan, item).await
            })
            .await
            .clone();
        let payload = rendered.fill(item.unread());
        let counter = if executed {
            &self.stats.renders
        } else {
            &self.stats.reuses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        payload
    }

    /// The payload for a feed that ended with `error`, shaped exactly as async-graphql
    /// shapes an error item of a subscription stream.
    pub fn render_error(&self, plan: &SharedPlan, error: DomainError) -> Arc<str> {
        let err = to_gql(error);
        let mut server_error = ServerError::new(err.message.clone(), Some(plan.field_pos));
        server_error.extensions = err.extensions.clone();
        server_error.path = vec![PathSegment::Field(plan.response_key.clone())];
        let mut response = Response::from_errors(vec![server_error]);
        ensure_codes(&mut response);
        serialise(&response)
    }
}

impl SharedMessages {
    /// Opens the shared feed for `plan`: the document must validate against the real schema
    /// and the domain must accept the subscription. Returns None otherwise, and the caller
    /// runs the ordinary path, which reports the exact error a client would get anyway.
    pub async fn open(
        self: &Arc<Self>,
        schema: &RoomcastSchema,
        auth: &RequestAuth,
        plan: SharedPlan,
    ) -> Option<SharedFeed> {
        let mut check = Request::new(plan.original.to_string())
            .variables(plan.variables.clone())
            .data(auth.clone());
        if let Some(name) = &plan.operation_name {
            check = check.operation_name(name.clone());
        }
        // Executing a subscription over `execute` runs parsing and validation, then stops with
        // this one error: the document is valid.
        let checked = schema.execute(check).await;
        let valid = matches!(checked.errors.as_slice(), [e] if e.message == NOT_ON_THIS_TRANSPORT);
        if !valid {
            return None;
        }
        let feed: Feed<Item> = match &plan.root {
            SharedRoot::RoomMessages { room_id, after } => {
                let room = RoomId::parse(room_id).ok()?;
                let after = match after {
                    Some(a) => Some(MessageCursor::parse("cursor", a).ok()?),
                    None => None,
                };
                self.rooms
                    .message_feed(&auth.viewer, room, after)
                    .await
                    .ok()?
                    .map(|m| m.map(Item::Message))
                    .boxed()
            }
            SharedRoot::ViewerEvents => self
                .rooms
                .viewer_feed(&auth.viewer)
                .await
                .ok()?
                .map(|e| e.map(|e| Item::Viewer(Arc::new(e))))
                .boxed(),
        };
        self.stats
            .shared_subscriptions
            .fetch_add(1, Ordering::Relaxed);
        Some(SharedFeed {
            feed,
            shared: self.clone(),
            plan: self.intern(plan),
            rendering: None,
        })
    }
}

/// The payloads for one shared subscriber: its own feed's messages (its permissions, cursor
/// and order), each rendered once for every subscriber of the same operation.
pub struct SharedFeed {
    feed: Feed<Item>,
    shared: Arc<SharedMessages>,
    plan: Arc<SharedPlan>,
    /// A payload this subscriber is the first to ask for, being rendered (boxed: an
    /// execution future is large, and most deliveries find the payload ready).
    rendering: Option<BoxFuture<'static, Arc<str>>>,
}

impl Stream for SharedFeed {
    type Item = Arc<str>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Arc<str>>> {
        let this = self.get_mut();
        loop {
            if let Some(rendering) = &mut this.rendering {
                let payload = ready!(rendering.as_mut().poll(cx));
                this.rendering = None;
                return Poll::Ready(Some(payload));
            }
            let item = match ready!(this.feed.poll_next_unpin(cx)) {
                None => return Poll::Ready(None),
                Some(Err(error)) => {
                    return Poll::Ready(Some(this.shared.render_error(&this.plan, error)))
                }
                Some(Ok(item)) => item,
            };
            if let Some(payload) = this.shared.cached(&this.plan, &item) {
                return Poll::Ready(Some(payload));
            }
            let (shared, plan) = (this.shared.clone(), this.plan.clone());
            this.rendering = Some(Box::pin(async move { shared.render(&plan, &item).await }));
        }
    }
}

/// What a shared feed renders.
enum Item {
    Message(Arc<model::Message>),
    Viewer(Arc<model::ViewerEvent>),
}

impl Item {
    /// The viewer's count, for room activity.
    fn unread(&self) -> Option<i64> {
        match self {
            Item::Viewer(e) => match &**e {
                model::ViewerEvent::RoomActivity { unread, .. } => Some(*unread),
                _ => None,
            },
            Item::Message(_) => None,
        }
    }

    /// The cache key; None for what is not shared (viewer events other than activity).
    fn key(&self, fingerprints: &std::collections::hash_map::RandomState) -> Option<ItemKey> {
        match self {
            Item::Message(m) => Some(ItemKey::Message(m.id)),
            Item::Viewer(e) => match &**e {
                model::ViewerEvent::RoomActivity { room, last, .. } => Some(ItemKey::Activity {
                    room: room.id,
                    last: last.as_ref().map(|m| m.id),
                    room_state: room_state(fingerprints, room),
                }),
                _ => None,
            },
        }
    }
}

const NOT_ON_THIS_TRANSPORT: &str = "Subscriptions are not supported on this transport.";

fn serialise(response: &Response) -> Arc<str> {
    match serde_json::to_string(response) {
        Ok(s) => s.into(),
        Err(e) => {
            tracing::error!(error = %e, "serialising a shared payload");
            crate::graphql::error::internal_error_json().into()
        }
    }
}
