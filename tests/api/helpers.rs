//! Test harness: `spawn_app()` starts a real roomcast on port 0 with its own fresh database,
//! and clients that talk to it the way real clients do: GraphQL over HTTP POST, and a
//! graphql-ws (graphql-transport-ws) WebSocket client for subscriptions.

// Shared by every test module; not each uses every helper.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use roomcast::domain::clock::{SharedClock, SystemClock};
use roomcast::domain::throttle::RateFlag;
use roomcast::{App, Config};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// How long any single wait in a test may take before the test fails (never a fixed sleep).
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub http: reqwest::Client,
    pub database_url: String,
    /// The server's shared-subscription counters.
    pub sharing: std::sync::Arc<roomcast::graphql::shared::SharedMessages>,
    /// The server's password hashing counters.
    pub hashing: std::sync::Arc<roomcast::domain::hashing::HashStats>,
    shutdown: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Keeps the temporary database directory alive for the app's lifetime.
    dir: std::sync::Arc<tempfile::TempDir>,
}

pub struct TestDb {
    pub url: String,
    dir: std::sync::Arc<tempfile::TempDir>,
}

/// A fresh, empty database for one test.
pub async fn fresh_db() -> TestDb {
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
    // ROOMCAST_TEST_BACKEND=postgres: a new PostgreSQL database per test.
    if std::env::var("ROOMCAST_TEST_BACKEND").is_ok_and(|b| b == "postgres") {
        return TestDb {
            url: postgres_db().await,
            dir,
        };
    }
    let url = format!("sqlite://{}", dir.path().join("roomcast.db").display());
    TestDb { url, dir }
}

/// A new, empty database on the test PostgreSQL server (trust auth; ROOMCAST_TEST_POSTGRES
/// overrides `postgres://postgres@127.0.0.1:5432`), named rc_<unix secs>_<uuid>; returns
/// its URL. Databases of earlier tests, older than ten minutes and no longer connected to,
/// are dropped on the way, a few per call, so repeated runs do not fill the disk.
pub async fn postgres_db() -> String {
    use sqlx::Connection as _;
    let server = std::env::var("ROOMCAST_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let server = server.trim_end_matches('/').to_owned();
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("connect to the test PostgreSQL server");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'rc\\_%' AND CASE \
         WHEN split_part(datname, '_', 2) ~ '^[0-9]{1,18}$' \
         THEN split_part(datname, '_', 2)::bigint < $1 ELSE FALSE END \
         ORDER BY datname LIMIT 8",
    )
    .bind(now as i64 - 600)
    .fetch_all(&mut admin)
    .await
    .unwrap_or_default();
    for name in old {
        // Without FORCE: a database someone is still connected to stays.
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut admin)
            .await;
    }
    let name = format!("rc_{now}_{}", uuid::Uuid::new_v4().simple());
    let mut attempt = 0;
    // Concurrent CREATE DATABASE can collide on the template; try again shortly.
    while let Err(e) = sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
    {
        attempt += 1;
        assert!(attempt < 10, "creating test database {name}: {e}");
        tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
    }
    let _ = admin.close().await;
    format!("{server}/{name}")
}

/// The store behind `db`, opened directly (for domain-level tests without a server).
pub async fn open_store(db: &TestDb) -> std::sync::Arc<dyn roomcast::store::Store> {
    if db.url.starts_with("postgres") {
        let pool = roomcast::store::postgres::PoolSettings::default();
        std::sync::Arc::new(
            roomcast::store::postgres::PostgresStore::connect(&db.url, &pool)
                .await
                .expect("store"),
        )
    } else {
        std::sync::Arc::new(
            roomcast::store::sqlite::SqliteStore::connect(&db.url)
                .await
                .expect("store"),
        )
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db = fresh_db().await;
    spawn_on(&db, tweak).await
}

impl TestApp {
    /// The server's `/metrics` body.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("http://{}/metrics", self.addr))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body")
    }

    /// Waits until exactly `messages` roomMessages and `events` roomEvents feeds are open
    /// (access checked, listening to their room), as the server's gauges count them.
    pub async fn feeds_open(&self, messages: u64, events: u64) {
        eventually(|| async {
            let body = self.metrics_text().await;
            (sample(&body, "roomcast_message_feeds_open") == messages as f64
                && sample(&body, "roomcast_event_feeds_open") == events as f64)
                .then_some(())
        })
        .await;
    }
}

/// The sample `name{labels}` in a Prometheus text body, as a number.
pub fn sample(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in\n{body}"))
        .parse()
        .expect("a number")
}

impl TestApp {}

/// `spawn_with` on a server whose time-dependent rules read `clock`.
pub async fn spawn_with_clock(clock: SharedClock, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db = fresh_db().await;
    spawn_on_with_clock(&db, clock, tweak).await
}

/// Starts a server on an existing database (used to restart on the same file).
pub async fn spawn_on(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_on_with_clock(db, std::sync::Arc::new(SystemClock), tweak).await
}

/// `spawn_on` with the clock the server's time-dependent rules read (a `ManualClock`, moved
/// by the test).
pub async fn spawn_on_with_clock(
    db: &TestDb,
    clock: SharedClock,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = Config::with_database(db.url.clone());
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.playground_dir = db.dir.path().join("no-playground");
    // Every test client comes from 127.0.0.1 and many tests send or sign up in bulk: the
    // per-address and per-user flood limits are off unless a test turns them on (the
    // hardening tests do, and the defaults are tested there).
    config.message_rate = RateFlag(None);
    config.login_rate_per_address = RateFlag(None);
    config.register_rate_per_address = RateFlag(None);
    // Server pings would interleave with the exact message sequences protocol tests read;
    // the keep-alive test turns them on.
    config.ws_keepalive_ms = 0;
    tweak(&mut config);
    let app = App::build_with_clock(config, clock)
        .await
        .expect("app builds");
    let addr = app.local_addr();
    let shutdown = app.shutdown_token();
    let sharing = app.sharing_stats();
    let hashing = app.hash_stats();
    let handle = tokio::spawn(app.run_until_stopped());
    TestApp {
        addr,
        sharing,
        hashing,
        http: reqwest::Client::new(),
        database_url: db.url.clone(),
        shutdown,
        handle: Some(handle),
        dir: db.dir.clone(),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A GraphQL response body.
#[derive(Debug, Clone)]
pub struct Gql(pub Value);

impl Gql {
    /// The data, failing the test with the errors if there are any.
    pub fn ok(&self) -> &Value {
        assert!(
            self.0.get("errors").is_none_or(|e| e.is_null()),
            "unexpected errors: {}",
            self.0
        );
        &self.0["data"]
    }

    /// The `extensions.code` of the first error, failing the test if there is none.
    pub fn code(&self) -> String {
        self.0["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code, got {}", self.0))
            .to_owned()
    }

    pub fn message(&self) -> String {
        self.0["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

impl TestApp {
    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/graphql", self.addr)
    }

    /// Stops the server and waits for it to finish (closing sockets, finishing writes).
    pub async fn stop(mut self) -> TestDb {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server ran cleanly");
        }
        TestDb {
            url: self.database_url.clone(),
            dir: self.dir.clone(),
        }
    }

    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        let mut req = self
            .http
            .post(self.url())
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        Gql(resp.json().await.expect("json body"))
    }

    /// POSTs `body` as it is (for requests `post` cannot shape, e.g. with extensions).
    pub async fn post_body(&self, token: Option<&str>, body: Value) -> Gql {
        let mut req = self.http.post(self.url()).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        Gql(resp.json().await.expect("json body"))
    }

    /// Registers `username` (password "password123") and returns their session.
    pub async fn register(&self, username: &str) -> Session {
        let r = self
            .post(
                None,
                "mutation($u: String!, $p: String!) { register(username: $u, password: $p) { token user { id username } } }",
                json!({"u": username, "p": "password123"}),
            )
            .await;
        let d = &r.ok()["register"];
        Session {
            token: d["token"].as_str().expect("token").to_owned(),
            id: d["user"]["id"].as_str().expect("id").to_owned(),
            username: username.to_owned(),
        }
    }

    pub async fn create_room(&self, owner: &Session, name: &str, room_type: &str) -> String {
        let r = self
            .post(
                Some(&owner.token),
                "mutation($n: String!, $t: RoomType) { createRoom(input: {name: $n, type: $t}) { id } }",
                json!({"n": name, "t": room_type}),
            )
            .await;
        r.ok()["createRoom"]["id"]
            .as_str()
            .expect("room id")
            .to_owned()
    }

    pub async fn join(&self, who: &Session, room: &str) -> Gql {
        self.post(
            Some(&who.token),
            "mutation($r: ID!) { joinRoom(roomId: $r) { role } }",
            json!({"r": room}),
        )
        .await
    }

    pub async fn send(&self, who: &Session, room: &str, body: &str) -> Gql {
        self.post(
            Some(&who.token),
            "mutation($r: ID!, $b: String!) { sendMessage(roomId: $r, body: $b) { id seq cursor body } }",
            json!({"r": room, "b": body}),
        )
        .await
    }

    /// Runs a mutation `name(roomId: $r, userId: $u)` that returns a scalar or an object.
    pub async fn act(&self, who: &Session, mutation: &str, room: &str, user: &str) -> Gql {
        self.post(
            Some(&who.token),
            &format!(
                "mutation($r: ID!, $u: ID!) {{ {mutation}(roomId: $r, userId: $u) {} }}",
                selection_for(mutation)
            ),
            json!({"r": room, "u": user}),
        )
        .await
    }

    /// A graphql-ws connection, acknowledged, authenticated as `token` (None: anonymous).
    pub async fn ws(&self, token: Option<&str>) -> WsClient {
        let mut ws = WsClient::connect(&self.ws_url()).await;
        let payload = match token {
            Some(t) => json!({"token": t}),
            None => json!({}),
        };
        ws.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        let ack = ws.next_json().await;
        assert_eq!(ack["type"], "connection_ack", "expected ack, got {ack}");
        ws
    }
}

fn selection_for(mutation: &str) -> &'static str {
    match mutation {
        "removeMember" | "unbanUser" | "rejectJoinRequest" => "",
        "banUser" => "{ user { id } reason }",
        "transferOwnership" => "{ owner { id } }",
        _ => "{ role muted mutedUntil user { id } }",
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub id: String,
    pub username: String,
}

/// A unique, valid username for this test.
pub fn uname(prefix: &str) -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{}_{}", prefix, &suffix[..8])
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A minimal graphql-ws client: sends JSON messages, reads JSON messages, sees close codes.
pub struct WsClient {
    pub socket: Socket,
    /// Whether `next_for` returns `PresenceChanged` room events. They arrive whenever anyone
    /// opens or closes a feed of the room, so only the tests about presence ask for them
    /// (`with_presence`); the others read past them.
    pub presence: bool,
}

/// What a read from the socket produced.
#[derive(Debug)]
pub enum WsEvent {
    Json(Value),
    Closed(Option<u16>, String),
}

impl WsClient {
    pub async fn connect(url: &str) -> Self {
        Self::connect_with_protocol(url, Some("graphql-transport-ws")).await
    }

    pub async fn connect_with_protocol(url: &str, protocol: Option<&str>) -> Self {
        let mut request = url.into_client_request().expect("ws request");
        if let Some(p) = protocol {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_str(p).expect("header"),
            );
        }
        let (socket, _resp) = tokio_tungstenite::connect_async(request)
            .await
            .expect("ws connects");
        Self {
            socket,
            presence: false,
        }
    }

    /// This client's `next_for` also returns presence changes.
    pub fn with_presence(mut self) -> Self {
        self.presence = true;
        self
    }

    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("ws send");
    }

    /// The next protocol message or the close, within `WAIT`.
    pub async fn next_event(&mut self) -> WsEvent {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("timed out waiting for a WebSocket message");
            match frame {
                Some(Ok(Message::Text(t))) => {
                    return WsEvent::Json(
                        serde_json::from_str(t.as_str()).expect("server sent JSON"),
                    )
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f: CloseFrame| (Some(u16::from(f.code)), f.reason.to_string()))
                        .unwrap_or((None, String::new()));
                    return WsEvent::Closed(code, reason);
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return WsEvent::Closed(None, e.to_string()),
                None => return WsEvent::Closed(None, "eof".into()),
            }
        }
    }

    pub async fn next_json(&mut self) -> Value {
        match self.next_event().await {
            WsEvent::Json(v) => v,
            WsEvent::Closed(code, reason) => {
                panic!("socket closed ({code:?} {reason}) while expecting a message")
            }
        }
    }

    /// Waits for the server to close the socket; returns the close code.
    pub async fn expect_close(&mut self) -> u16 {
        loop {
            match self.next_event().await {
                WsEvent::Json(_) => continue,
                WsEvent::Closed(code, reason) => {
                    return code.unwrap_or_else(|| panic!("closed without a code: {reason}"))
                }
            }
        }
    }

    /// A round trip on the socket: every message sent before it (a subscribe) was handled.
    pub async fn ping_pong(&mut self) {
        self.send(json!({"type": "ping"})).await;
        while self.next_json().await["type"] != "pong" {}
    }

    /// Waits for both feeds "m" and "e" to end; returns their codes.
    pub async fn both_end(&mut self) -> (String, String) {
        let (mut m, mut e) = (None, None);
        while m.is_none() || e.is_none() {
            let msg = self.next_json().await;
            let errors = match msg["type"].as_str() {
                Some("next") => &msg["payload"]["errors"],
                Some("error") => &msg["payload"],
                _ => continue,
            };
            if let Some(code) = errors[0]["extensions"]["code"].as_str() {
                match msg["id"].as_str() {
                    Some("m") => m = Some(code.to_owned()),
                    Some("e") => e = Some(code.to_owned()),
                    _ => {}
                }
            }
        }
        (m.unwrap_or_default(), e.unwrap_or_default())
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// Subscribes to `roomMessages` with id `id`.
    pub async fn subscribe_messages(&mut self, id: &str, room: &str, after: Option<&str>) {
        self.subscribe(
            id,
            "subscription($r: ID!, $a: String) { roomMessages(roomId: $r, after: $a) { id seq cursor body author { username } } }",
            json!({"r": room, "a": after}),
        )
        .await;
    }

    pub async fn subscribe_events(&mut self, id: &str, room: &str) {
        self.subscribe(
            id,
            "subscription($r: ID!) { roomEvents(roomId: $r) { __typename \
               ... on MessageDeleted { messageId } \
               ... on MemberJoined { member { user { username } role } } \
               ... on MemberBanned { ban { user { username } reason } } \
               ... on MemberMuted { member { user { username } muted mutedUntil } } \
               ... on MemberUnmuted { member { user { username } muted } } \
               ... on MemberRemoved { user { username } } \
               ... on MemberLeft { user { username } } \
               ... on MemberRoleChanged { member { user { username } role } } \
               ... on JoinRequested { request { user { username } } } \
               ... on RoomUpdated { room { name type } } \
               ... on RoomDeleted { roomId } } }",
            json!({"r": room}),
        )
        .await;
    }

    /// The next message for operation `id` (skipping pings), as (type, payload).
    pub async fn next_for(&mut self, id: &str) -> (String, Value) {
        loop {
            let msg = self.next_json().await;
            match msg["type"].as_str() {
                Some("ping") => {
                    self.send(json!({"type": "pong"})).await;
                    continue;
                }
                Some("pong") => continue,
                _ => {}
            }
            let presence_change =
                msg["payload"]["data"]["roomEvents"]["__typename"] == "PresenceChanged";
            if presence_change && !self.presence {
                continue;
            }
            if msg["id"] == id {
                return (
                    msg["type"].as_str().unwrap_or("").to_owned(),
                    msg["payload"].clone(),
                );
            }
        }
    }

    /// The next `next` payload's data for `id`; fails on anything else.
    pub async fn next_data(&mut self, id: &str) -> Value {
        let (ty, payload) = self.next_for(id).await;
        assert_eq!(ty, "next", "expected next for {id}, got {ty}: {payload}");
        assert!(
            payload.get("errors").is_none_or(|e| e.is_null()),
            "errors: {payload}"
        );
        payload["data"].clone()
    }

    /// Expects the operation to end with an error code (a `next` carrying errors followed by
    /// `complete`, or an `error` message); returns the code.
    pub async fn expect_error_end(&mut self, id: &str) -> String {
        loop {
            let (ty, payload) = self.next_for(id).await;
            match ty.as_str() {
                "next" if payload.get("errors").is_some_and(|e| !e.is_null()) => {
                    let code = payload["errors"][0]["extensions"]["code"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned();
                    let (ty2, _) = self.next_for(id).await;
                    assert_eq!(ty2, "complete", "an error must end the operation");
                    return code;
                }
                "next" => continue,
                "error" => {
                    return payload[0]["extensions"]["code"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned()
                }
                other => panic!("expected an error for {id}, got {other}: {payload}"),
            }
        }
    }
}

/// Polls `f` until it returns Some, or fails after `WAIT`. For conditions with no event to
/// wait on (a timed mute lifting).
pub async fn eventually<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------ rooms and moderation helpers

/// A room owned by a fresh owner, with one admin and one plain member.
pub struct Cast {
    pub owner: Session,
    pub admin: Session,
    pub member: Session,
    pub room: String,
}

/// A room of `room_type` (PUBLIC, RESTRICTED, PRIVATE) with its cast.
pub async fn cast(app: &TestApp, room_type: &str) -> Cast {
    let owner = app.register(&uname("owner")).await;
    let room = app.create_room(&owner, "stage", room_type).await;
    let admin = app.admin_of(&owner, &room, "admin").await;
    let member = app.member_of(&owner, &room, "member").await;
    Cast {
        owner,
        admin,
        member,
        room,
    }
}

impl TestApp {
    /// `createRoom` with a full `CreateRoomInput` (e.g. `{"name": "x", "type": "RESTRICTED",
    /// "maxUsers": 2}`); returns the room id.
    pub async fn create_room_with(&self, owner: &Session, input: Value) -> String {
        let r = self
            .post(
                Some(&owner.token),
                "mutation($i: CreateRoomInput!) { createRoom(input: $i) { id } }",
                json!({"i": input}),
            )
            .await;
        r.ok()["createRoom"]["id"]
            .as_str()
            .expect("room id")
            .to_owned()
    }

    /// `setMemberRole(roomId, userId, role)`, selecting the member's role.
    pub async fn set_role(&self, who: &Session, room: &str, user: &str, role: &str) -> Gql {
        self.post(
            Some(&who.token),
            "mutation($r: ID!, $u: ID!, $role: Role!) { setMemberRole(roomId: $r, userId: $u, role: $role) { role user { id } } }",
            json!({"r": room, "u": user, "role": role}),
        )
        .await
    }

    /// Registers a new user and has `admin` add them to the room (any room type).
    pub async fn member_of(&self, admin: &Session, room: &str, prefix: &str) -> Session {
        let who = self.register(&uname(prefix)).await;
        self.act(admin, "addMember", room, &who.id).await.ok();
        who
    }

    /// Registers a new user, has `owner` add them to the room and make them an ADMIN.
    pub async fn admin_of(&self, owner: &Session, room: &str, prefix: &str) -> Session {
        let who = self.member_of(owner, room, prefix).await;
        self.set_role(owner, room, &who.id, "ADMIN").await.ok();
        who
    }
}

/// The string field `field` of every element of the array `v` (e.g. the ids of `nodes`).
pub fn strings(v: &Value, field: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|n| {
            n[field]
                .as_str()
                .unwrap_or_else(|| panic!("no string {field} in {n}"))
                .to_owned()
        })
        .collect()
}

/// A `RoomService` on `store` and `bus` with default rules and the system clock, for tests
/// that drive the domain directly.
pub fn domain_rooms(
    store: std::sync::Arc<dyn roomcast::store::Store>,
    bus: std::sync::Arc<dyn roomcast::bus::Bus>,
) -> roomcast::domain::rooms::RoomService {
    roomcast::domain::rooms::RoomService::new(
        store,
        bus,
        roomcast::domain::rooms::RoomRules::default(),
        Default::default(),
        Default::default(),
        std::sync::Arc::new(SystemClock),
    )
}

/// A `NewRoom` for tests that talk to the store directly, validated as the API would.
pub fn new_room(
    owner: roomcast::domain::values::UserId,
    name: &str,
    room_type: roomcast::domain::model::RoomType,
    topic: Option<&str>,
    max_users: Option<i32>,
) -> roomcast::store::NewRoom {
    use roomcast::domain::values::{MaxUsers, RoomName, Topic};
    roomcast::store::NewRoom {
        id: roomcast::domain::values::RoomId::new(),
        owner,
        created_at: roomcast::domain::model::now(),
        settings: roomcast::domain::model::CreateRoom {
            name: RoomName::parse(name).expect("room name"),
            room_type,
            topic: topic.and_then(|t| Topic::parse(t).expect("topic")),
            max_users: max_users.map(|n| MaxUsers::parse(n, 10_000).expect("max users")),
        },
    }
}
