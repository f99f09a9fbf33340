//! Fan-out between nodes through Redis pub/sub. Every item is published as JSON on its
//! room's channel (`roomcast:room:<id>`); each node holds one pattern subscription
//! (`roomcast:room:*`) on one connection and re-broadcasts what arrives into a [`LocalBus`],
//! so a node's own items come back through Redis exactly once, like everybody else's.
//! Publishing is fire-and-forget: items go through a bounded queue to a task that publishes
//! them, in order, on a separate multiplexed connection.
//!
//! Redis is not trusted to be there. When a publish fails the item is delivered to this
//! node's subscribers only and a warning is logged; the mutation that produced it already
//! succeeded, its data is in the store. Live feeds are then brought up to date from the
//! store by replacing the local channels: every feed sees its channel close, subscribes
//! again and re-reads the store. That happens on a node whenever its subscription is
//! (re)established, and on every node when a node that had to drop items can publish again
//! (it then announces that on `roomcast:resync`, retrying until it can, even if nothing
//! else is published), so nothing stored while Redis was away stays missing, even in a
//! room that has gone quiet.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt;
use rand::Rng;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::local::LocalBus;
use super::Bus;
use crate::config::redact_url;
use crate::domain::model::{Message, Notice, PresenceNote, Revocation, RoomEvent};
use crate::domain::values::RoomId;

const CHANNEL_PREFIX: &str = "roomcast:room:";
const CHANNEL_PATTERN: &str = "roomcast:room:*";
/// "Some items were not published: re-read the store." Carries no data.
const RESYNC_CHANNEL: &str = "roomcast:resync";
/// Revoked credentials, for every node.
const REVOCATION_CHANNEL: &str = "roomcast:revocations";
/// Which node holds which seats (presence), for every node.
const PRESENCE_CHANNEL: &str = "roomcast:presence";
/// What viewers' own feeds hear beyond their rooms, for every node.
const NOTICE_CHANNEL: &str = "roomcast:notices";
/// Items waiting to be published; beyond this they are delivered locally only.
const OUTBOX_CAPACITY: usize = 8192;
/// Most items sent to Redis in one pipeline.
const BATCH: usize = 128;
/// Bound on connecting, subscribing and each publish round trip.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How often an idle subscription proves its connection is alive.
const PROBE_EVERY: Duration = Duration::from_secs(10);
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How hard the bus tries to reach Redis (the `--redis-*` flags).
#[derive(Debug, Clone, Copy)]
pub struct RedisSettings {
    /// Attempts per publish batch, each on a fresh connection after a failure.
    pub publish_attempts: u32,
    /// Longest wait between reconnect attempts (the backoff doubles up to it).
    pub max_backoff: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            publish_attempts: 2,
            max_backoff: MAX_BACKOFF,
        }
    }
}

/// What travels on a room channel.
#[derive(Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
enum Outgoing<'a> {
    Message(&'a Message),
    Event(&'a RoomEvent),
    Revocation(&'a Revocation),
    Presence(&'a PresenceNote),
    Notice(&'a Notice),
}

#[derive(Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
enum Incoming {
    Message(Message),
    // Boxed: an event (a room with its settings) is far larger than the other kinds.
    Event(Box<RoomEvent>),
    Revocation(Revocation),
    Presence(PresenceNote),
    Notice(Box<Notice>),
}

/// An item in a form this node can still deliver itself if Redis will not take it.
enum Item {
    Message(Arc<Message>),
    Event(Arc<RoomEvent>),
    Revocation(Arc<Revocation>),
    Presence(Arc<PresenceNote>),
    Notice(Arc<Notice>),
}

struct Publish {
    channel: String,
    payload: String,
    item: Item,
}

/// The local channels, replaceable as a whole.
struct Shared {
    capacity: usize,
    local: Mutex<Arc<LocalBus>>,
    /// Some item was delivered on this node only; the other nodes must be told to resync.
    owes_resync: AtomicBool,
}

impl Shared {
    fn local(&self) -> Arc<LocalBus> {
        // Only ever replaced whole, so a poisoned lock still holds a usable value.
        self.local.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces every local channel. Once the old bus is dropped its receivers report
    /// `Closed`, and feeds answer that by subscribing again and re-reading the store.
    fn reset(&self) {
        let fresh = Arc::new(LocalBus::new(self.capacity));
        let old = std::mem::replace(
            &mut *self.local.lock().unwrap_or_else(|p| p.into_inner()),
            fresh,
        );
        drop(old);
    }

    /// Delivers an item that could not go through Redis to this node's subscribers, and
    /// remembers to tell the other nodes.
    fn deliver_here_only(&self, item: Item) {
        self.owes_resync.store(true, Ordering::SeqCst);
        self.deliver(item);
    }

    fn deliver(&self, item: Item) {
        match item {
            Item::Message(m) => self.local().publish_message(m),
            Item::Event(e) => self.local().publish_event(e),
            Item::Revocation(r) => self.local().publish_revocation(r),
            Item::Presence(p) => self.local().publish_presence(p),
            Item::Notice(n) => self.local().publish_notice(n),
        }
    }
}

pub struct RedisBus {
    shared: Arc<Shared>,
    outbox: mpsc::Sender<Publish>,
    /// Set while the outbox overflows, so the warning is logged once per episode.
    overflowing: AtomicBool,
}

fn room_channel(room: RoomId) -> String {
    format!("{CHANNEL_PREFIX}{room}")
}

impl RedisBus {
    /// Starts the subscriber and publisher tasks (on `tasks`, stopped by `shutdown`) and
    /// waits up to a few seconds for the subscription. A Redis that is not there yet is not
    /// an error: the node serves anyway and the tasks keep trying to reach it.
    pub async fn start(
        url: &str,
        capacity: usize,
        settings: RedisSettings,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let client = Client::open(url)
            .with_context(|| format!("parsing the Redis URL {}", redact_url(url)))?;
        let shared = Arc::new(Shared {
            capacity: capacity.max(1),
            local: Mutex::new(Arc::new(LocalBus::new(capacity))),
            owes_resync: AtomicBool::new(false),
        });
        let (outbox, queue) = mpsc::channel(OUTBOX_CAPACITY);
        // None until the first attempt to subscribe has succeeded (Some(true)) or failed.
        let (ready_tx, mut ready) = watch::channel(None);
        let target = redact_url(url);
        tasks.spawn(subscriber(
            client.clone(),
            shared.clone(),
            ready_tx,
            shutdown.clone(),
            target.clone(),
            settings,
        ));
        tasks.spawn(publisher(client, queue, shared.clone(), shutdown, settings));
        if timeout(IO_TIMEOUT * 2, ready.wait_for(Option::is_some))
            .await
            .is_err()
        {
            tracing::warn!(redis = %target, "Redis does not answer yet; live updates stay on this node until it does");
        }
        Ok(Self {
            shared,
            outbox,
            overflowing: false.into(),
        })
    }

    /// Drops the local channels of rooms nobody on this node listens to.
    pub fn prune_idle(&self) -> usize {
        self.shared.local().prune_idle()
    }

    fn enqueue(&self, channel: String, encoded: serde_json::Result<String>, item: Item) {
        let payload = match encoded {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "could not encode a bus item; delivering it on this node only");
                return self.shared.deliver_here_only(item);
            }
        };
        let publish = Publish {
            channel,
            payload,
            item,
        };
        match self.outbox.try_send(publish) {
            Ok(()) => {
                if self.overflowing.swap(false, Ordering::Relaxed) {
                    tracing::info!("the Redis outbox has room again");
                }
            }
            Err(mpsc::error::TrySendError::Full(p)) => {
                if !self.overflowing.swap(true, Ordering::Relaxed) {
                    tracing::warn!("the Redis outbox is full; delivering on this node only");
                }
                self.shared.deliver_here_only(p.item);
            }
            // Shutting down: the publisher is gone.
            Err(mpsc::error::TrySendError::Closed(p)) => self.shared.deliver(p.item),
        }
    }
}

impl Bus for RedisBus {
    fn publish_message(&self, message: Arc<Message>) {
        let encoded = serde_json::to_string(&Outgoing::Message(&message));
        self.enqueue(
            room_channel(message.room_id),
            encoded,
            Item::Message(message),
        );
    }

    fn publish_event(&self, event: Arc<RoomEvent>) {
        let encoded = serde_json::to_string(&Outgoing::Event(&event));
        self.enqueue(room_channel(event.room_id()), encoded, Item::Event(event));
    }

    fn publish_revocation(&self, revocation: Arc<Revocation>) {
        let encoded = serde_json::to_string(&Outgoing::Revocation(&revocation));
        self.enqueue(
            REVOCATION_CHANNEL.to_owned(),
            encoded,
            Item::Revocation(revocation),
        );
    }

    fn subscribe_revocations(&self) -> broadcast::Receiver<Arc<Revocation>> {
        self.shared.local().subscribe_revocations()
    }

    fn publish_event_here(&self, event: Arc<RoomEvent>) {
        self.shared.local().publish_event(event);
    }

    fn publish_presence(&self, note: Arc<PresenceNote>) {
        let encoded = serde_json::to_string(&Outgoing::Presence(&note));
        self.enqueue(PRESENCE_CHANNEL.to_owned(), encoded, Item::Presence(note));
    }

    fn subscribe_presence(&self) -> broadcast::Receiver<Arc<PresenceNote>> {
        self.shared.local().subscribe_presence()
    }

    fn publish_notice(&self, notice: Arc<Notice>) {
        let encoded = serde_json::to_string(&Outgoing::Notice(&notice));
        self.enqueue(NOTICE_CHANNEL.to_owned(), encoded, Item::Notice(notice));
    }

    fn subscribe_notices(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.shared.local().subscribe_notices()
    }

    fn subscribe_messages(&self, room: RoomId) -> broadcast::Receiver<Arc<Message>> {
        self.shared.local().subscribe_messages(room)
    }

    fn subscribe_events(&self, room: RoomId) -> broadcast::Receiver<Arc<RoomEvent>> {
        self.shared.local().subscribe_events(room)
    }
}

/// Exponential backoff with jitter, so restarted Redis is not hit by every node at once.
struct Backoff(Duration, Duration);

impl Backoff {
    fn new(max: Duration) -> Self {
        Self(MIN_BACKOFF, max.max(MIN_BACKOFF))
    }

    fn reset(&mut self) {
        self.0 = MIN_BACKOFF;
    }

    fn next(&mut self) -> Duration {
        let base = self.0;
        self.0 = (self.0 * 2).min(self.1);
        let jitter = rand::thread_rng().gen_range(0..=base.as_millis() as u64 / 2);
        base + Duration::from_millis(jitter)
    }
}

fn dispatch(shared: &Shared, msg: &redis::Msg) {
    if msg.get_channel_name() == RESYNC_CHANNEL {
        tracing::info!("a node could not publish for a while; live feeds re-read storage");
        return shared.reset();
    }
    match serde_json::from_slice::<Incoming>(msg.get_payload_bytes()) {
        Ok(Incoming::Message(m)) => shared.local().publish_message(Arc::new(m)),
        Ok(Incoming::Event(e)) => shared.local().publish_event(Arc::new(*e)),
        Ok(Incoming::Revocation(r)) => shared.local().publish_revocation(Arc::new(r)),
        Ok(Incoming::Presence(p)) => shared.local().publish_presence(Arc::new(p)),
        Ok(Incoming::Notice(n)) => shared.local().publish_notice(Arc::new(*n)),
        Err(e) => tracing::warn!(
            channel = %msg.get_channel_name(),
            error = %e,
            "ignoring an unreadable item from Redis"
        ),
    }
}

/// Opens the node's pub/sub connection and subscribes to every room channel and to resync
/// notices.
async fn subscribe(client: &Client) -> anyhow::Result<redis::aio::PubSub> {
    let mut pubsub = timeout(IO_TIMEOUT, client.get_async_pubsub())
        .await
        .context("timed out connecting")?
        .context("connecting")?;
    timeout(IO_TIMEOUT, pubsub.psubscribe(CHANNEL_PATTERN))
        .await
        .context("timed out subscribing")?
        .context("subscribing")?;
    timeout(
        IO_TIMEOUT,
        pubsub.subscribe(&[
            RESYNC_CHANNEL,
            REVOCATION_CHANNEL,
            PRESENCE_CHANNEL,
            NOTICE_CHANNEL,
        ]),
    )
    .await
    .context("timed out subscribing")?
    .context("subscribing")?;
    Ok(pubsub)
}

/// Keeps one pattern subscription alive for the node: reconnects with backoff, and after
/// each (re)subscription makes every live feed re-read the store.
async fn subscriber(
    client: Client,
    shared: Arc<Shared>,
    ready: watch::Sender<Option<bool>>,
    shutdown: CancellationToken,
    target: String,
    settings: RedisSettings,
) {
    let mut backoff = Backoff::new(settings.max_backoff);
    let mut failures = 0u32;
    loop {
        let attempt = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = subscribe(&client) => r,
        };
        match attempt {
            Ok(pubsub) => {
                backoff.reset();
                if failures > 0 {
                    tracing::info!(redis = %target, "subscribed to Redis again; live feeds catch up from storage");
                } else {
                    tracing::info!(redis = %target, "subscribed to Redis");
                }
                failures = 0;
                // Anything published before the subscription took effect is in the store.
                shared.reset();
                ready.send_replace(Some(true));
                let (mut sink, mut stream) = pubsub.split();
                let mut probe = tokio::time::interval_at(Instant::now() + PROBE_EVERY, PROBE_EVERY);
                let lost = loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        msg = stream.next() => match msg {
                            Some(msg) => {
                                dispatch(&shared, &msg);
                                probe.reset();
                            }
                            None => break "connection closed".to_owned(),
                        },
                        _ = probe.tick() => {
                            // Subscribing again is a no-op round trip that proves the link.
                            match timeout(IO_TIMEOUT, sink.psubscribe(CHANNEL_PATTERN)).await {
                                Ok(Ok(())) => {}
                                Ok(Err(e)) => break e.to_string(),
                                Err(_) => break "no answer to a liveness probe".to_owned(),
                            }
                        }
                    }
                };
                tracing::warn!(redis = %target, reason = %lost, "lost the Redis subscription; reconnecting");
            }
            Err(e) => {
                failures += 1;
                // The node starts without waiting any longer; this task keeps trying.
                ready.send_if_modified(|r| r.is_none() && r.replace(false).is_none());
                if failures == 1 {
                    tracing::warn!(redis = %target, error = format!("{e:#}"), "cannot subscribe to Redis; retrying");
                } else {
                    tracing::debug!(redis = %target, error = format!("{e:#}"), "still cannot subscribe to Redis");
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff.next()) => {}
        }
    }
}

/// The publishing side: one multiplexed connection, opened on demand.
struct Publisher {
    client: Client,
    shared: Arc<Shared>,
    conn: Option<MultiplexedConnection>,
    /// No reconnect attempt before this, so a Redis outage does not slow the queue down.
    retry_at: Option<Instant>,
    backoff: Backoff,
    publish_attempts: u32,
    /// Set from the first failure to the next success, so an outage warns once.
    degraded: bool,
    /// Items delivered on this node only since the last successful publish.
    failed: u64,
}

impl Publisher {
    async fn connection(&mut self) -> Option<&mut MultiplexedConnection> {
        if self.conn.is_none() {
            if self.retry_at.is_some_and(|t| Instant::now() < t) {
                return None;
            }
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(IO_TIMEOUT)
                .set_response_timeout(IO_TIMEOUT);
            match self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await
            {
                Ok(conn) => {
                    self.conn = Some(conn);
                    self.retry_at = None;
                }
                Err(e) => {
                    self.retry_at = Some(Instant::now() + self.backoff.next());
                    self.note_failure(&e);
                    return None;
                }
            }
        }
        self.conn.as_mut()
    }

    fn note_failure(&mut self, e: &redis::RedisError) {
        if !std::mem::replace(&mut self.degraded, true) {
            tracing::warn!(error = %e, "cannot publish to Redis; live updates stay on this node until it is back");
        } else {
            tracing::debug!(error = %e, "still cannot publish to Redis");
        }
    }

    /// Publishes `batch` in order, then the resync notice if one is owed, retrying on a
    /// fresh connection up to `--redis-publish-attempts` times; what cannot be published is delivered on this node only.
    async fn publish(&mut self, batch: Vec<Publish>) {
        let resync = self.shared.owes_resync.swap(false, Ordering::SeqCst);
        if batch.is_empty() && !resync {
            return;
        }
        let mut pipe = redis::pipe();
        for p in &batch {
            pipe.cmd("PUBLISH").arg(&p.channel).arg(&p.payload).ignore();
        }
        if resync {
            // After the items: whoever acts on it finds them in the store, like the rest.
            pipe.cmd("PUBLISH").arg(RESYNC_CHANNEL).arg("{}").ignore();
        }
        for _attempt in 0..self.publish_attempts.max(1) {
            let Some(conn) = self.connection().await else {
                break;
            };
            match pipe.query_async::<()>(conn).await {
                Ok(()) => {
                    self.backoff.reset();
                    if std::mem::replace(&mut self.degraded, false) {
                        tracing::info!(
                            delivered_here_only = self.failed,
                            "publishing to Redis again; other nodes re-read storage"
                        );
                    }
                    self.failed = 0;
                    return;
                }
                Err(e) => {
                    self.conn = None;
                    self.note_failure(&e);
                }
            }
        }
        if self.retry_at.is_none() {
            self.retry_at = Some(Instant::now() + self.backoff.next());
        }
        if resync {
            self.shared.owes_resync.store(true, Ordering::SeqCst);
        }
        self.failed += batch.len() as u64;
        for p in batch {
            self.shared.deliver_here_only(p.item);
        }
    }
}

async fn publisher(
    client: Client,
    mut queue: mpsc::Receiver<Publish>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    settings: RedisSettings,
) {
    let mut publisher = Publisher {
        client,
        shared,
        conn: None,
        retry_at: None,
        backoff: Backoff::new(settings.max_backoff),
        publish_attempts: settings.publish_attempts,
        degraded: false,
        failed: 0,
    };
    loop {
        // A resync notice is owed even if nothing else is ever published again: keep trying.
        let owed = publisher.shared.owes_resync.load(Ordering::SeqCst);
        let retry_at = publisher.retry_at.unwrap_or_else(Instant::now);
        let first = tokio::select! {
            _ = shutdown.cancelled() => break,
            item = queue.recv() => match item {
                Some(item) => item,
                None => return,
            },
            _ = tokio::time::sleep_until(retry_at), if owed => {
                publisher.publish(Vec::new()).await;
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        publisher.publish(batch).await;
    }
    // Shutting down: publish what is already queued, briefly, then stop.
    queue.close();
    let mut rest = Vec::new();
    while let Ok(item) = queue.try_recv() {
        rest.push(item);
    }
    if !rest.is_empty() && timeout(IO_TIMEOUT, publisher.publish(rest)).await.is_err() {
        tracing::warn!("shutting down before the last items reached Redis; they are stored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::User;
    use crate::domain::values::{MessageId, UserId};

    #[test]
    fn items_round_trip_as_json() {
        let user = User {
            id: UserId::new(),
            username: "ada".into(),
            created_at: chrono::Utc::now(),
        };
        let message = Message {
            id: MessageId::new(),
            room_id: RoomId::new(),
            seq: 7,
            author: user.clone(),
            body: "hi".into(),
            created_at: chrono::Utc::now(),
        };
        let json = serde_json::to_string(&Outgoing::Message(&message)).expect("encodes");
        assert!(json.starts_with(r#"{"kind":"message","data":"#), "{json}");
        match serde_json::from_str::<Incoming>(&json).expect("decodes") {
            Incoming::Message(m) => assert_eq!(m, message),
            _ => panic!("expected a message"),
        }
        let event = RoomEvent::MemberLeft {
            room_id: message.room_id,
            user,
        };
        let json = serde_json::to_string(&Outgoing::Event(&event)).expect("encodes");
        match serde_json::from_str::<Incoming>(&json).expect("decodes") {
            Incoming::Event(e) => assert_eq!(*e, event),
            _ => panic!("expected an event"),
        }
        let revocation = Revocation::Session {
            token_hash: "ab01".into(),
        };
        let json = serde_json::to_string(&Outgoing::Revocation(&revocation)).expect("encodes");
        match serde_json::from_str::<Incoming>(&json).expect("decodes") {
            Incoming::Revocation(r) => assert_eq!(r, revocation),
            _ => panic!("expected a revocation"),
        }
    }

    #[tokio::test]
    async fn without_redis_items_still_reach_this_nodes_subscribers() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let bus = RedisBus::start(
            &format!("redis://127.0.0.1:{port}/"),
            16,
            RedisSettings::default(),
            &tasks,
            shutdown.clone(),
        )
        .await
        .expect("an unreachable Redis does not stop the node");
        let room = RoomId::new();
        let mut events = bus.subscribe_events(room);
        let event = Arc::new(RoomEvent::RoomDeleted { room_id: room });
        bus.publish_event(event.clone());
        let got = timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("delivered in time")
            .expect("delivered");
        assert_eq!(got, event);
        assert!(
            bus.shared.owes_resync.load(Ordering::SeqCst),
            "the other nodes are told to re-read storage once Redis is back"
        );
        shutdown.cancel();
        tasks.close();
        timeout(Duration::from_secs(10), tasks.wait())
            .await
            .expect("the bus tasks stop on shutdown");
    }

    #[test]
    fn backoff_grows_to_a_cap() {
        let mut b = Backoff::new(MAX_BACKOFF);
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            last = b.next();
        }
        assert!(
            last >= MAX_BACKOFF && last <= MAX_BACKOFF * 3 / 2,
            "{last:?}"
        );
        b.reset();
        assert!(b.next() <= MIN_BACKOFF * 3 / 2);
    }
}
