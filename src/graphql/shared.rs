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
use super::types::Message;
use super::{RequestAuth, RoomcastSchema, MAX_COMPLEXITY, MAX_DEPTH};
use crate::domain::error::DomainError;
use crate::domain::model;
use crate::domain::rooms::{Feed, RoomService};
use crate::domain::values::{MessageCursor, MessageId, RoomId};

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
}

type RenderSchema = Schema<RenderRoot, EmptyMutation, EmptySubscription>;

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
    pub room_id: String,
    pub after: Option<String>,
}

type CacheKey = (u64, MessageId);

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
    pub stats: SharingStats,
}

struct RenderCache {
    entries: HashMap<CacheKey, Arc<OnceCell<Arc<str>>>, BuildHasherDefault<RandomBits>>,
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
        if field.node.name.node.as_str() != "roomMessages" || !field.node.directives.is_empty() {
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
        let room_id = resolve("roomId")??;
        let after = resolve("after")?;

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
            room_id,
            after,
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

    /// The payload for `message` under `plan` if it was rendered already.
    fn cached(&self, plan: &SharedPlan, message: &model::Message) -> Option<Arc<str>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let payload = cache.entries.get(&(plan.key, message.id))?.get()?.clone();
        self.stats.reuses.fetch_add(1, Ordering::Relaxed);
        Some(payload)
    }

    fn slot(&self, key: CacheKey) -> (Arc<OnceCell<Arc<str>>>, bool) {
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

    /// The serialised `payload` of a `next` message for `message` under `plan`, executed at
    /// most once per (operation, message) while it stays in the cache.
    pub async fn render(&self, plan: &SharedPlan, message: &Arc<model::Message>) -> Arc<str> {
        let (cell, _) = self.slot((plan.key, message.id));
        let mut executed = false;
        let payload = cell
            .get_or_init(|| async {
                executed = true;
                let mut request = Request::new(plan.render_query.to_string())
                    .variables(plan.variables.clone())
                    .data(message.clone());
                if let Some(name) = &plan.operation_name {
                    request = request.operation_name(name.clone());
                }
                let mut response = self.schema.execute(request).await;
                ensure_codes(&mut response);
                serialise(&response)
            })
            .await
            .clone();
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
        let room = RoomId::parse(&plan.room_id).ok()?;
        let after = match &plan.after {
            Some(a) => Some(MessageCursor::parse("cursor", a).ok()?),
            None => None,
        };
        let feed = self
            .rooms
            .message_feed(&auth.viewer, room, after)
            .await
            .ok()?;
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
    feed: Feed<Arc<model::Message>>,
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
            let message = match ready!(this.feed.poll_next_unpin(cx)) {
                None => return Poll::Ready(None),
                Some(Err(error)) => {
                    return Poll::Ready(Some(this.shared.render_error(&this.plan, error)))
                }
                Some(Ok(message)) => message,
            };
            if let Some(payload) = this.shared.cached(&this.plan, &message) {
                return Poll::Ready(Some(payload));
            }
            let (shared, plan) = (this.shared.clone(), this.plan.clone());
            this.rendering = Some(Box::pin(
                async move { shared.render(&plan, &message).await },
            ));
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
