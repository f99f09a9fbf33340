//! Defects a hostile client could use (issue "Hardening"): each test here failed on commit
//! 50878bd and guards the fix. Documents that recurse or fan out, list-size bombs, stalls of
//! shared resources, feeds that outlive access, races on invariants, and sockets that
//! outlive their token.

use std::sync::Arc;

use futures_util::StreamExt;
use roomcast::bus::local::LocalBus;
use roomcast::domain::clock::{Clock, ManualClock};
use roomcast::domain::identity::{Identity, Viewer};
use roomcast::domain::model::RoomType;
use roomcast::domain::rooms::{CreateRoom, RoomService};
use roomcast::domain::values::{MessageBody, MessageCursor, Password, RoomId, RoomName, Username};
use serde_json::{json, Value};

use crate::helpers::*;

/// POSTs a document; (status, body).
async fn post_query(app: &TestApp, query: &str) -> (u16, Value) {
    let resp = app
        .http
        .post(app.url())
        .header("content-type", "application/json")
        .body(json!({"query": query}).to_string())
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

fn assert_refused(what: &str, status: u16, body: &Value) {
    assert_eq!(status, 200, "{what}: {body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{what}: {body}"
    );
    assert!(body["data"].is_null(), "{what}: nothing runs: {body}");
}

/// `{ __typename(x: [[[…]]]) }`, about 4 KB.
fn deep_list_literal() -> String {
    format!(
        "{{ __typename(x: {}1{}) }}",
        "[".repeat(2000),
        "]".repeat(2000)
    )
}

/// Fragments that each spread the next one twice, 22 levels (about 1 KB).
fn fragment_doubling() -> String {
    let mut doc = String::from("query { ...F0 }\n");
    for i in 0..22 {
        doc.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    doc.push_str("fragment F22 on Query { __typename }\n");
    doc
}

#[tokio::test]
async fn a_deeply_nested_literal_is_refused_over_http_without_crashing() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let (status, body) = post_query(&app, &deep_list_literal()).await;

    // Assert
    assert_refused("nested list", status, &body);
    let object = format!(
        "{{ __typename(x: {}1{}) }}",
        "{a: ".repeat(1500),
        "}".repeat(1500)
    );
    let (status, body) = post_query(&app, &object).await;
    assert_refused("nested object", status, &body);
    let (status, body) = post_query(&app, "{ __typename }").await;
    assert_eq!(
        (status, &body["data"]["__typename"]),
        (200, &json!("Query"))
    );
}

#[tokio::test]
async fn a_deeply_nested_literal_is_refused_over_graphql_ws_without_crashing() {
    // Arrange
    let app = spawn_app().await;
    let mut ws = app.ws(None).await;

    // Act
    ws.subscribe("deep", &deep_list_literal(), json!({})).await;

    // Assert
    let (ty, payload) = ws.next_for("deep").await;
    assert_eq!(ty, "error", "{payload}");
    assert_eq!(
        payload[0]["extensions"]["code"], "BAD_USER_INPUT",
        "{payload}"
    );
    ws.ping_pong().await;
}

#[tokio::test]
async fn fragment_fan_out_is_refused_before_validation() {
    // Arrange
    let app = spawn_app().await;
    let doc = fragment_doubling();
    assert!(doc.len() < 1200);

    // Act: several at once, as an attacker would.
    let results = futures_util::future::join_all((0..4).map(|_| post_query(&app, &doc))).await;

    // Assert
    for (status, body) in results {
        assert_refused("fragment doubling", status, &body);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("fragments")),
            "{body}"
        );
    }
    let mut ws = app.ws(None).await;
    ws.subscribe("f", &doc, json!({})).await;
    let (ty, payload) = ws.next_for("f").await;
    assert_eq!(
        (ty.as_str(), &payload[0]["extensions"]["code"]),
        ("error", &json!("BAD_USER_INPUT"))
    );
}

#[tokio::test]
async fn complexity_multiplies_by_page_sizes() {
    // Arrange
    let app = spawn_app().await;
    let one = "rooms(first: 100) { nodes { messages(last: 100) { nodes { body } } } }";
    let aliased = format!(
        "{{ {} }}",
        (0..25)
            .map(|i| format!("a{i}: {one}"))
            .collect::<Vec<_>>()
            .join(" ")
    );

    // Act
    let (status, body) = post_query(&app, &aliased).await;
    let (single_status, single) = post_query(&app, &format!("{{ {one} }}")).await;
    let with_variables = app
        .post(
            None,
            "query($n: Int) { rooms(first: $n) { nodes { messages(last: $n) { nodes { body } } } } }",
            json!({"n": 100}),
        )
        .await;

    // Assert
    assert_refused("25 aliases of 100 x 100", status, &body);
    // Even one such field is 10,000 messages: over the limit as well.
    assert_refused("100 x 100", single_status, &single);
    assert_eq!(
        with_variables.code(),
        "BAD_USER_INPUT",
        "sizes from variables count too: {:?}",
        with_variables.0
    );
    // An ordinary page still passes.
    let ok = app
        .post(
            None,
            "{ rooms(first: 100) { nodes { id name memberCount } } }",
            json!({}),
        )
        .await;
    ok.ok();
}

#[tokio::test]
async fn responses_larger_than_the_limit_are_refused_with_a_code() {
    // Arrange
    let app = spawn_with(|c| c.max_response_bytes = 2_000).await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "big", "PUBLIC").await;
    for i in 0..10 {
        app.send(&alice, &room, &format!("{i}{}", "x".repeat(300)))
            .await
            .ok();
    }

    // Act
    let r = app
        .post(
            Some(&alice.token),
            "query($r: ID!) { messages(roomId: $r, last: 10) { nodes { body } } }",
            json!({"r": room}),
        )
        .await;

    // Assert
    assert_eq!(r.code(), "BAD_USER_INPUT", "{:?}", r.0);
    assert!(r.message().contains("larger than"), "{:?}", r.0);
    let small = app
        .post(
            Some(&alice.token),
            "query($r: ID!) { messages(roomId: $r, last: 1) { nodes { seq } } }",
            json!({"r": room}),
        )
        .await;
    small.ok();
}

// ---------------------------------------------------------------- access loss mid-catch-up

struct Domain {
    rooms: RoomService,
    owner: Viewer,
    reader: Viewer,
    _db: TestDb,
}

/// The domain built directly (no transport), so a test can hold a feed mid-catch-up.
async fn domain() -> Domain {
    let db = fresh_db().await;
    let store = open_store(&db).await;
    let bus = Arc::new(LocalBus::new(1024));
    let rooms = domain_rooms(store.clone(), bus.clone());
    let identity = Identity::new(store, bus).await.expect("identity");
    let mut users = Vec::new();
    for prefix in ["owner", "reader"] {
        let (_, user) = identity
            .register(
                None,
                Username::parse(&uname(prefix)).expect("name"),
                Password::parse("password123").expect("pw"),
            )
            .await
            .expect("register");
        users.push(Viewer::User(user));
    }
    let reader = users.pop().expect("reader");
    let owner = users.pop().expect("owner");
    Domain {
        rooms,
        owner,
        reader,
        _db: db,
    }
}

/// Sends `n` messages concurrently (so they are grouped into few commits).
async fn send_many(d: &Domain, room: RoomId, n: usize, prefix: &str) {
    let sends = (0..n).map(|i| {
        d.rooms.send_message(
            &d.owner,
            room,
            MessageBody::parse(&format!("{prefix}{i}")).expect("body"),
        )
    });
    for r in futures_util::future::join_all(sends).await {
        r.expect("send");
    }
}

/// A reader resumes from the first message of a room with 300 stored (more than one
/// catch-up batch), reads one, loses access, then 300 more are posted: the very next item of
/// its feed is the refusal, in a PRIVATE room (ban) and a RESTRICTED room (kick).
#[tokio::test]
async fn access_lost_while_catching_up_ends_the_feed_before_the_next_delivery() {
    for (room_type, action, want) in [
        (RoomType::Private, "ban", "BANNED"),
        (RoomType::Restricted, "kick", "FORBIDDEN"),
        (RoomType::Public, "ban", "BANNED"),
    ] {
        // Arrange
        let d = domain().await;
        let room = d
            .rooms
            .create_room(
                &d.owner,
                CreateRoom {
                    name: RoomName::parse("catch-up").expect("name"),
                    room_type,
                    topic: None,
                    max_users: None,
                },
            )
            .await
            .expect("room")
            .id;
        let reader_id = d.reader.user_id().expect("user");
        d.rooms
            .add_member(&d.owner, room, reader_id)
            .await
            .expect("add reader");
        send_many(&d, room, 300, "before").await;
        let mut feed = d
            .rooms
            .message_feed(&d.reader, room, Some(MessageCursor { room: None, seq: 0 }))
            .await
            .expect("feed");
        let first = feed.next().await.expect("item").expect("first message");
        assert_eq!(first.seq, 1);

        // Act
        match action {
            "ban" => {
                d.rooms
                    .ban_user(&d.owner, room, reader_id, None, None, None)
                    .await
                    .expect("ban");
            }
            _ => {
                d.rooms
                    .remove_member(&d.owner, room, reader_id, None)
                    .await
                    .expect("kick");
            }
        }
        send_many(&d, room, 300, "after").await;

        // Assert
        let next = feed.next().await.expect("the feed ends with an error");
        match next {
            Err(e) => assert_eq!(e.code().as_str(), want, "{room_type:?}"),
            Ok(m) => panic!("{room_type:?}: delivered seq {} after losing access", m.seq),
        }
        assert!(
            feed.next().await.is_none(),
            "{room_type:?}: nothing after the error"
        );
    }
}

// ---------------------------------------------------------------- ban racing join

/// `joinRoom` and `banUser` at once, many times: a user is never left banned *and* a
/// member, on either backend.
#[tokio::test]
async fn a_ban_racing_a_join_never_leaves_a_banned_member() {
    // Arrange
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let room = app.create_room(&owner, "race", "PUBLIC").await;
    let state = "query($r: ID!) { roomMembers(roomId: $r) { user { id } } room(id: $r) { bans { user { id } } } }";

    for round in 0..60 {
        let user = app.register(&uname("racer")).await;
        // Act
        let (joined, banned) = tokio::join!(app.join(&user, &room), async {
            // Let the join's access check go first about half the time.
            if round % 2 == 0 {
                tokio::task::yield_now().await;
            }
            app.act(&owner, "banUser", &room, &user.id).await
        });
        banned.ok();

        // Assert
        let s = app
            .post(Some(&owner.token), state, json!({"r": room}))
            .await;
        let data = s.ok();
        let member = data["roomMembers"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["user"]["id"] == user.id.as_str());
        let is_banned = data["room"]["bans"]
            .as_array()
            .expect("bans")
            .iter()
            .any(|b| b["user"]["id"] == user.id.as_str());
        assert!(is_banned, "round {round}: the ban stands");
        assert!(
            !member,
            "round {round}: banned and a member (join said {:?})",
            joined.0
        );
        if joined.0.get("errors").is_some_and(|e| !e.is_null()) {
            assert_eq!(joined.code(), "BANNED", "round {round}: {:?}", joined.0);
        }
        let post = app.send(&user, &room, "still here?").await;
        assert_eq!(post.code(), "BANNED", "round {round}: {:?}", post.0);
    }
}

// ---------------------------------------------------------------- one socket, shared resources

/// One socket bursts 100 subscriptions (shared `roomMessages` replaying from the start, and
/// ordinary `roomEvents`) and then 1,000 more, reading nothing: other clients' reads still
/// answer, and every subscribe past the per-socket limit gets RATE_LIMITED.
#[tokio::test]
async fn a_burst_of_subscribes_on_one_socket_does_not_stall_other_clients() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "burst", "PUBLIC").await;
    for i in 0..5 {
        app.send(&alice, &room, &format!("m{i}")).await.ok();
    }
    let attacker = app.register(&uname("attacker")).await;
    let mut ws = app.ws(Some(&attacker.token)).await;
    let messages =
        "subscription($r: ID!, $a: String) { roomMessages(roomId: $r, after: $a) { seq body } }";
    let events = "subscription($r: ID!) { roomEvents(roomId: $r) { __typename } }";

    // Act
    for i in 0..1100 {
        let doc = [messages, events][i % 2];
        let cursor = roomcast::domain::values::MessageCursor { room: None, seq: 0 }.encode();
        ws.send(json!({"id": format!("op{i}"), "type": "subscribe",
                       "payload": {"query": doc, "variables": {"r": room, "a": cursor}}}))
            .await;
    }
    let other = async {
        let r = app
            .post(
                Some(&alice.token),
                "query($r: ID!) { messages(roomId: $r, last: 5) { nodes { body } } rooms { nodes { id } } }",
                json!({"r": room}),
            )
            .await;
        r.ok().clone()
    };
    let answered = tokio::time::timeout(WAIT, other).await;

    // Assert
    let data = answered.expect("another client's query answers while the burst is pending");
    assert_eq!(data["messages"]["nodes"].as_array().map(Vec::len), Some(5));
    let mut limited = 0;
    while limited < 1000 {
        let msg = ws.next_json().await;
        if msg["type"] == "error" {
            assert_eq!(
                msg["payload"][0]["extensions"]["code"], "RATE_LIMITED",
                "{msg}"
            );
            limited += 1;
        }
    }
    ws.ping_pong().await;
    app.send(&alice, &room, "still live").await.ok();
}

// ---------------------------------------------------------------- password hashing budget

/// 200 anonymous logins with unknown usernames at once: at most `--hash-workers` hashes run
/// at a time, the queue is bounded, and what does not fit is refused with
/// SERVICE_UNAVAILABLE instead of allocating another 19 MiB.
#[tokio::test]
async fn concurrent_logins_are_bounded_by_the_hashing_budget() {
    use std::sync::atomic::Ordering;
    // Arrange
    let app = spawn_with(|c| {
        c.hash_workers = 2;
        c.hash_queue = 8;
    })
    .await;
    let login =
        "mutation($u: String!) { login(username: $u, password: \"not the password\") { token } }";

    // Act
    let results = futures_util::future::join_all(
        (0..200).map(|i| app.post(None, login, json!({"u": format!("nobody{i}")}))),
    )
    .await;

    // Assert
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for r in &results {
        *codes.entry(r.code()).or_default() += 1;
    }
    let unavailable = codes.get("SERVICE_UNAVAILABLE").copied().unwrap_or(0);
    let wrong = codes.get("UNAUTHENTICATED").copied().unwrap_or(0);
    assert_eq!(unavailable + wrong, 200, "{codes:?}");
    assert!(unavailable > 0, "the bounded queue refuses some: {codes:?}");
    assert!(
        wrong >= 10,
        "the queue and workers still serve some: {codes:?}"
    );
    assert!(app.hashing.peak_running.load(Ordering::Relaxed) <= 2);
    assert_eq!(
        app.hashing.refused.load(Ordering::Relaxed) as usize,
        unavailable
    );
    // Once the burst is over, logins work again.
    let user = app.register(&uname("after")).await;
    let ok = app
        .post(
            None,
            "mutation($u: String!) { login(username: $u, password: \"password123\") { token } }",
            json!({"u": user.username}),
        )
        .await;
    ok.ok();
}

/// A taken username is refused before any hashing.
#[tokio::test]
async fn registering_a_taken_username_costs_no_hash() {
    use std::sync::atomic::Ordering;
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let before = app.hashing.computed.load(Ordering::Relaxed);

    // Act
    let r = app
        .post(
            None,
            "mutation($u: String!) { register(username: $u, password: \"password123\") { token } }",
            json!({"u": alice.username.to_uppercase()}),
        )
        .await;

    // Assert
    assert_eq!(r.code(), "CONFLICT", "{:?}", r.0);
    assert_eq!(app.hashing.computed.load(Ordering::Relaxed), before);
}

// ---------------------------------------------------------------- revoked tokens on open sockets

/// After `logout`, every socket opened with that token is closed with 4403 (graphql-ws
/// clients then reconnect with fresh `connectionParams`); sockets of other tokens of the
/// same user stay open.
#[tokio::test]
async fn logout_closes_the_sockets_opened_with_that_token() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "revoked", "PUBLIC").await;
    let second = app
        .post(
            None,
            "mutation($u: String!) { login(username: $u, password: \"password123\") { token } }",
            json!({"u": alice.username}),
        )
        .await;
    let other_token = second.ok()["login"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let mut revoked = app.ws(Some(&alice.token)).await;
    revoked.subscribe_messages("m", &room, None).await;
    revoked.ping_pong().await;
    let mut kept = app.ws(Some(&other_token)).await;
    kept.subscribe_messages("m", &room, None).await;
    kept.ping_pong().await;

    // Act
    app.post(Some(&alice.token), "mutation { logout }", json!({}))
        .await
        .ok();

    // Assert
    assert_eq!(revoked.expect_close().await, 4403);
    let post = app.send(&alice, &room, "with a revoked token").await;
    assert_eq!(post.code(), "UNAUTHENTICATED");
    let kept_alice = Session {
        token: other_token,
        ..alice.clone()
    };
    app.send(&kept_alice, &room, "still signed in").await.ok();
    assert_eq!(
        kept.next_data("m").await["roomMessages"]["body"],
        "still signed in"
    );
}

// ---------------------------------------------------------------- HTTP timeouts and caps

/// Reads until the server closes the connection (or WAIT passes); returns what it sent.
async fn read_until_closed(tcp: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(WAIT, tcp.read(&mut buf))
            .await
            .expect("the server closes the connection")
            .unwrap_or(0);
        if n == 0 {
            return String::from_utf8_lossy(&got).into_owned();
        }
        got.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn idle_and_dribbling_connections_are_closed_at_the_deadlines() {
    use tokio::io::AsyncWriteExt;
    // Arrange
    let app = spawn_with(|c| {
        c.http_header_timeout_ms = 300;
        c.http_body_timeout_ms = 300;
    })
    .await;

    // Act / Assert: a connection that never sends a byte.
    let mut idle = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    read_until_closed(&mut idle).await;

    // A request head dribbled a byte at a time never completes.
    let mut dribble = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let head = b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n";
    let dribbling = async {
        for b in head.iter().cycle() {
            if dribble.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(WAIT, dribbling)
        .await
        .expect("the server stops taking a head that never ends");

    // A body that does not arrive in time gets 408 with a coded JSON body.
    let mut slow = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    slow.write_all(
        b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"query\":",
    )
    .await
    .expect("write");
    let answer = read_until_closed(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("BAD_USER_INPUT"), "{answer}");

    // Ordinary clients are served throughout.
    app.post(None, "{ __typename }", json!({})).await.ok();
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    // Arrange
    let app = spawn_with(|c| c.max_connections_per_address = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(app.ws(None).await);
    }

    // Act: a fifth connection from the same address.
    let mut extra = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let refused = read_until_closed(&mut extra).await;

    // Assert
    assert_eq!(refused, "", "closed before anything is read or sent");
    // Closing one WebSocket frees its slot.
    let mut first = held.remove(0);
    first.socket.close(None).await.expect("close");
    drop(first);
    let answered = eventually(|| async {
        let resp = app
            .http
            .post(app.url())
            .json(&json!({"query": "{ __typename }"}))
            .send()
            .await
            .ok()?;
        let body: Value = resp.json().await.ok()?;
        (body["data"]["__typename"] == "Query").then_some(body)
    })
    .await;
    assert_eq!(answered["data"]["__typename"], "Query");
}

// ---------------------------------------------------------------- flood control

fn rate(s: &str) -> roomcast::domain::throttle::RateFlag {
    s.parse().expect("rate")
}

fn retry_after(r: &Gql) -> i64 {
    r.0["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_i64()
        .unwrap_or_else(|| panic!("retryAfterSeconds: {:?}", r.0))
}

#[tokio::test]
async fn messages_per_user_are_rate_limited_over_http_and_websocket() {
    // Arrange
    let app = spawn_with(|c| c.message_rate = rate("5/60s")).await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let room = app.create_room(&alice, "flood", "PUBLIC").await;
    app.join(&bob, &room).await.ok();

    // Act
    for i in 0..5 {
        app.send(&alice, &room, &format!("m{i}")).await.ok();
    }
    let over_http = app.send(&alice, &room, "one too many").await;
    let mut ws = app.ws(Some(&alice.token)).await;
    ws.subscribe(
        "send",
        "mutation($r: ID!) { sendMessage(roomId: $r, body: \"over ws\") { seq } }",
        json!({"r": room}),
    )
    .await;
    let (_, over_ws) = ws.next_for("send").await;

    // Assert
    assert_eq!(over_http.code(), "RATE_LIMITED", "{:?}", over_http.0);
    let wait = retry_after(&over_http);
    assert!((1..=12).contains(&wait), "one token per 12 s: {wait}");
    assert_eq!(
        over_ws["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{over_ws}"
    );
    // Another user has their own budget.
    app.send(&bob, &room, "hello").await.ok();
}

#[tokio::test]
async fn logins_are_throttled_per_account_and_per_address() {
    // Arrange: the default per-account rate (10/60s), and 15/60s per address.
    let app = spawn_with(|c| c.login_rate_per_address = rate("15/60s")).await;
    let victim = app.register(&uname("victim")).await;
    let login =
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }";

    // Act: 10 wrong passwords, then the right one.
    for _ in 0..10 {
        let r = app
            .post(
                None,
                login,
                json!({"u": victim.username, "p": "wrong password"}),
            )
            .await;
        assert_eq!(r.code(), "UNAUTHENTICATED");
    }
    let locked = app
        .post(
            None,
            login,
            json!({"u": victim.username.to_uppercase(), "p": "password123"}),
        )
        .await;

    // Assert
    assert_eq!(locked.code(), "RATE_LIMITED", "{:?}", locked.0);
    assert!(retry_after(&locked) >= 1);
    // The address has 4 attempts left (15 - 11), then it is throttled too, for any account.
    let other = app.register(&uname("other")).await;
    for _ in 0..4 {
        app.post(
            None,
            login,
            json!({"u": other.username, "p": "password123"}),
        )
        .await
        .ok();
    }
    let from_address = app
        .post(
            None,
            login,
            json!({"u": other.username, "p": "password123"}),
        )
        .await;
    assert_eq!(from_address.code(), "RATE_LIMITED", "{:?}", from_address.0);
}

#[tokio::test]
async fn registrations_per_address_are_throttled() {
    // Arrange
    let app = spawn_with(|c| c.register_rate_per_address = rate("3/600s")).await;
    for _ in 0..3 {
        app.register(&uname("ok")).await;
    }

    // Act
    let r = app
        .post(
            None,
            "mutation($u: String!) { register(username: $u, password: \"password123\") { token } }",
            json!({"u": uname("fourth")}),
        )
        .await;

    // Assert
    assert_eq!(r.code(), "RATE_LIMITED", "{:?}", r.0);
    assert!((1..=200).contains(&retry_after(&r)));
}

// ---------------------------------------------------------------- what outsiders can learn

#[tokio::test]
async fn delete_message_does_not_tell_a_hidden_message_from_a_missing_one() {
    // Arrange
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let outsider = app.register(&uname("outsider")).await;
    let room = app.create_room(&owner, "secret", "PRIVATE").await;
    let sent = app.send(&owner, &room, "hidden").await;
    let id = sent.ok()["sendMessage"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let delete = "mutation($m: ID!) { deleteMessage(messageId: $m) }";

    // Act
    let hidden = app
        .post(Some(&outsider.token), delete, json!({"m": id}))
        .await;
    let random = app
        .post(
            Some(&outsider.token),
            delete,
            json!({"m": uuid::Uuid::new_v4().to_string()}),
        )
        .await;

    // Assert
    assert_eq!(hidden.code(), "NOT_FOUND");
    assert_eq!(
        (hidden.code(), hidden.message()),
        (random.code(), random.message())
    );
}

#[tokio::test]
async fn outsiders_watching_a_public_room_see_neither_ban_details_nor_a_private_rename() {
    // Arrange
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let member = app.register(&uname("member")).await;
    let outsider = app.register(&uname("outsider")).await;
    let room = app.create_room(&owner, "open", "PUBLIC").await;
    app.join(&member, &room).await.ok();
    let mut ws = app.ws(Some(&outsider.token)).await;
    ws.subscribe_events("e", &room).await;
    ws.ping_pong().await;

    // Act: a ban, then a join everyone may see, then the room goes private and renamed.
    app.act(&owner, "banUser", &room, &member.id).await.ok();
    let late = app.register(&uname("late")).await;
    app.join(&late, &room).await.ok();
    let first = ws.next_data("e").await;
    app.post(
        Some(&owner.token),
        "mutation($r: ID!) { updateRoom(roomId: $r, input: {type: PRIVATE, name: \"hush\"}) { id } }",
        json!({"r": room}),
    )
    .await
    .ok();

    // Assert
    assert_eq!(first["roomEvents"]["__typename"], "MemberJoined", "{first}");
    let (ty, payload) = ws.next_for("e").await;
    assert_eq!(ty, "next");
    assert!(
        !payload.to_string().contains("hush"),
        "the new name reached an outsider: {payload}"
    );
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{payload}"
    );
}

#[tokio::test]
async fn a_cursor_from_another_room_is_refused() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let first = app.create_room(&alice, "one", "PUBLIC").await;
    let second = app.create_room(&alice, "two", "PUBLIC").await;
    let sent = app.send(&alice, &first, "in the first room").await;
    let cursor = sent.ok()["sendMessage"]["cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    app.send(&alice, &second, "in the second room").await.ok();

    // Act
    let mut ws = app.ws(Some(&alice.token)).await;
    ws.subscribe_messages("m", &second, Some(&cursor)).await;
    let history = app
        .post(
            Some(&alice.token),
            "query($r: ID!, $b: String) { messages(roomId: $r, before: $b) { nodes { body } } }",
            json!({"r": second, "b": cursor}),
        )
        .await;

    // Assert
    assert_eq!(ws.expect_error_end("m").await, "BAD_USER_INPUT");
    assert_eq!(history.code(), "BAD_USER_INPUT", "{:?}", history.0);
}

// ---------------------------------------------------------------- timed mutes

/// A timed mute whose end passed while the server was down is lifted in storage when the
/// server starts again (one scheduler, filled from storage), on either backend.
#[tokio::test]
async fn timed_mutes_are_lifted_after_a_restart() {
    use roomcast::domain::values::UserId;
    // Arrange: a member muted for an hour.
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let member = app.register(&uname("member")).await;
    let room = app.create_room(&owner, "quiet", "PUBLIC").await;
    app.join(&member, &room).await.ok();
    app.post(
        Some(&owner.token),
        "mutation($r: ID!, $u: ID!) { muteMember(roomId: $r, userId: $u, durationSeconds: 3600) { muted } }",
        json!({"r": room, "u": member.id}),
    )
    .await
    .ok();
    let db = app.stop().await;
    // While it is down, the mute's end passes (set directly in storage: no waiting).
    let (room_id, user_id) = (
        RoomId::parse(&room).expect("room id"),
        UserId::parse(&member.id).expect("user id"),
    );
    let store = open_store(&db).await;
    let ended = roomcast::domain::model::now() - chrono::Duration::seconds(5);
    store
        .set_mute(
            room_id,
            user_id,
            roomcast::domain::ports::Mute::On { until: Some(ended) },
            roomcast::domain::ports::Audit {
                room: room_id,
                action: roomcast::domain::model::ModerationAction::MemberMuted,
                actor: UserId::parse(&owner.id).expect("owner id"),
                target: Some(user_id),
                reason: None,
                at: ended,
            },
        )
        .await
        .expect("set");

    // Act
    let _restarted = spawn_on(&db, |_| {}).await;

    // Assert: lifted in storage, not only hidden by the read path.
    eventually(|| async {
        let m = store.membership(room_id, user_id).await.expect("read")?;
        (!m.muted && m.muted_until.is_none()).then_some(())
    })
    .await;
}

/// Unmuting frees the pending expiry instead of leaving it asleep until the old deadline.
#[tokio::test]
async fn unmuting_cancels_the_pending_expiry() {
    // Arrange
    let d = domain().await;
    let (rooms, owner, member) = (&d.rooms, &d.owner, &d.reader);
    let room = rooms
        .create_room(
            owner,
            CreateRoom {
                name: RoomName::parse("mutes").expect("name"),
                room_type: RoomType::Public,
                topic: None,
                max_users: None,
            },
        )
        .await
        .expect("room")
        .id;
    let member_id = member.user_id().expect("id");
    rooms.join_room(member, room).await.expect("join");

    // Act / Assert
    rooms
        .mute_member(
            owner,
            room,
            member_id,
            Some(roomcast::domain::values::MuteDuration::parse(3600).expect("d")),
        )
        .await
        .expect("mute");
    assert_eq!(rooms.pending_mute_expiries(), 1);
    rooms
        .unmute_member(owner, room, member_id)
        .await
        .expect("unmute");
    assert_eq!(rooms.pending_mute_expiries(), 0);
}

// --- defect 14: sessions expire

const VIEWER: &str = "{ viewer { id } }";

/// A token unused for 30 days stops working, and a token 90 days old stops working however
/// often it is used (the defaults), with UNAUTHENTICATED; signing in again gives a new one.
#[tokio::test]
async fn sessions_end_after_their_idle_and_absolute_lifetimes() {
    let clock = ManualClock::new();
    let db = fresh_db().await;
    let app = spawn_on_with_clock(&db, Arc::new(clock.clone()), |_| {}).await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let days = chrono::Duration::days;

    // Alice uses her token every 29 days; Bob never again.
    for day in [29, 58, 87] {
        clock.advance(days(29));
        let r = app.post(Some(&alice.token), VIEWER, json!({})).await;
        assert_eq!(r.ok()["viewer"]["id"], alice.id, "day {day}");
        if day == 29 {
            continue;
        }
        let r = app.post(Some(&bob.token), VIEWER, json!({})).await;
        assert_eq!(
            r.code(),
            "UNAUTHENTICATED",
            "day {day}: idle for {day} days"
        );
        assert!(r.message().contains("expired"), "{}", r.message());
    }
    // Day 90: 90 days after sign-in, used three days ago.
    clock.advance(days(3));
    let r = app.post(Some(&alice.token), VIEWER, json!({})).await;
    assert_eq!(r.code(), "UNAUTHENTICATED", "absolute lifetime");
    assert!(r.message().contains("expired"), "{}", r.message());
    // Signing in again works, and the new token lives on.
    let login = app
        .post(
            None,
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
            json!({"u": alice.username, "p": "password123"}),
        )
        .await;
    let token = login.ok()["login"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let r = app.post(Some(&token), VIEWER, json!({})).await;
    assert_eq!(r.ok()["viewer"]["id"], alice.id);
}

/// The lifetimes are flags; 0 turns one off.
#[tokio::test]
async fn session_lifetimes_follow_their_flags() {
    let clock = ManualClock::new();
    let db = fresh_db().await;
    let app = spawn_on_with_clock(&db, Arc::new(clock.clone()), |c| {
        c.session_idle_days = 0;
        c.session_lifetime_days = 2;
    })
    .await;
    let alice = app.register(&uname("alice")).await;
    clock.advance(chrono::Duration::days(1));
    let r = app.post(Some(&alice.token), VIEWER, json!({})).await;
    assert_eq!(r.ok()["viewer"]["id"], alice.id);
    clock.advance(chrono::Duration::days(1));
    let r = app.post(Some(&alice.token), VIEWER, json!({})).await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
}

/// The session's last use as storage has it (days since `start`).
async fn days_since_last_use(
    store: &dyn roomcast::store::Store,
    token: &str,
    start: roomcast::domain::model::Timestamp,
) -> i64 {
    let (_, times) = store
        .session(&roomcast::domain::identity::Token::from_client(token).hash())
        .await
        .expect("store answers")
        .expect("session exists");
    (times.last_used_at - start).num_days()
}

/// An open WebSocket counts as a use of its session (a tab left open keeps its session past
/// the idle lifetime), and it is closed with 4403 when the session reaches its absolute
/// lifetime, so graphql-ws clients reconnect with fresh `connectionParams`.
#[tokio::test]
async fn an_open_socket_keeps_its_session_alive_and_closes_with_4403_when_it_expires() {
    let clock = ManualClock::new();
    let start = clock.now();
    let db = fresh_db().await;
    let app = spawn_on_with_clock(&db, Arc::new(clock.clone()), |_| {}).await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "open tab", "PUBLIC").await;
    let store = open_store(&db).await;
    let mut ws = app.ws(Some(&alice.token)).await;
    ws.subscribe_messages("m", &room, None).await;
    ws.ping_pong().await;

    // Day 20: past half the idle lifetime, the socket records a use.
    clock.advance(chrono::Duration::days(20));
    eventually(|| async {
        (days_since_last_use(&*store, &alice.token, start).await >= 20).then_some(())
    })
    .await;
    // Day 45: 45 days after sign-in the token has not been used over HTTP at all, yet the
    // socket kept it alive (it records a use again).
    clock.advance(chrono::Duration::days(25));
    eventually(|| async {
        (days_since_last_use(&*store, &alice.token, start).await >= 45).then_some(())
    })
    .await;
    app.send(&alice, &room, "still here").await.ok();
    let (kind, _) = ws.next_for("m").await;
    assert_eq!(kind, "next", "the socket is still open and delivering");

    // Day 90: the absolute lifetime ends the socket.
    clock.advance(chrono::Duration::days(45));
    assert_eq!(ws.expect_close().await, 4403);
    let r = app.post(Some(&alice.token), VIEWER, json!({})).await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
}

// --- operators see attacks: /metrics and JSON logs

async fn metrics(app: &TestApp) -> (u16, String) {
    let resp = app
        .http
        .get(format!("http://{}/metrics", app.addr))
        .send()
        .await
        .expect("request sent");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

/// Refusals, flood limits, sockets, operations and storage show up in `/metrics`, counted
/// as they happen.
#[tokio::test]
async fn metrics_count_refusals_rate_limits_sockets_and_storage() {
    let app = spawn_with(|c| c.login_rate_per_account = rate("2/60s")).await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "metered", "PUBLIC").await;

    // Act: one bad token, one unknown room, three sign-ins for one account (the third is
    // over its rate), a socket with one subscription and a message delivered to it.
    let r = app.post(Some("not-a-token"), VIEWER, json!({})).await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
    let r = app
        .post(
            Some(&alice.token),
            "query($id: ID!) { room(id: $id) { name } }",
            json!({"id": uuid::Uuid::new_v4()}),
        )
        .await;
    let unknown_room = r.0["errors"][0]["extensions"]["code"].clone();
    let login = "mutation($u: String!) { login(username: $u, password: \"wrong\") { token } }";
    for _ in 0..3 {
        app.post(None, login, json!({"u": alice.username})).await;
    }
    let mut ws = app.ws(Some(&alice.token)).await;
    ws.subscribe_messages("m", &room, None).await;
    ws.ping_pong().await;
    app.send(&alice, &room, "counted").await.ok();
    assert_eq!(ws.next_for("m").await.0, "next");

    // Assert
    let (status, body) = metrics(&app).await;
    assert_eq!(status, 200);
    assert_eq!(
        sample(&body, r#"roomcast_errors_total{code="UNAUTHENTICATED"}"#),
        3.0,
        "bad token + 2 wrong passwords"
    );
    assert_eq!(
        sample(&body, r#"roomcast_errors_total{code="RATE_LIMITED"}"#),
        1.0
    );
    if let Some(code) = unknown_room.as_str() {
        assert!(sample(&body, &format!(r#"roomcast_errors_total{{code="{code}"}}"#)) >= 1.0);
    }
    assert_eq!(
        sample(
            &body,
            r#"roomcast_rate_limited_total{limit="logins_per_account"}"#
        ),
        1.0
    );
    assert_eq!(sample(&body, "roomcast_ws_connections_open"), 1.0);
    assert_eq!(sample(&body, "roomcast_ws_operations_open"), 1.0);
    assert_eq!(sample(&body, "roomcast_message_feeds_open"), 1.0);
    assert!(sample(&body, "roomcast_ws_next_frames_total") >= 1.0);
    assert!(sample(&body, "roomcast_store_calls_total") > 0.0);
    assert!(sample(&body, "roomcast_password_hashes_total") >= 3.0);
    assert!(sample(&body, "roomcast_connections_open") >= 1.0);

    // Closing the socket brings the gauges down.
    drop(ws);
    eventually(|| async {
        let (_, body) = metrics(&app).await;
        (sample(&body, "roomcast_ws_connections_open") == 0.0
            && sample(&body, "roomcast_ws_operations_open") == 0.0
            && sample(&body, "roomcast_message_feeds_open") == 0.0)
            .then_some(())
    })
    .await;
}

/// Every family `/metrics` writes has a help text and the type its name implies (`_total`:
/// counter), and every sample belongs to a family declared before it.
#[tokio::test]
async fn every_metrics_family_is_described_and_typed() {
    let app = spawn_app().await;
    let (_, body) = metrics(&app).await;
    let mut declared = std::collections::HashSet::new();
    let mut families = 0;
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(!help.trim().is_empty(), "{name} has no help text");
            families += 1;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            let want = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            assert_eq!(kind, want, "{name}");
            declared.insert(name.to_owned());
        } else {
            let name = line.split(['{', ' ']).next().unwrap_or("");
            assert!(declared.contains(name), "sample {line:?} before its family");
        }
    }
    assert!(families >= 20, "only {families} families");
    assert_eq!(families, declared.len(), "a HELP for every TYPE");
}

/// `--metrics off` removes the route (404 like any unknown path).
#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app = spawn_with(|c| c.metrics = roomcast::http::metrics::MetricsAccess::Off).await;
    let (status, _) = metrics(&app).await;
    assert_eq!(status, 404);
}

/// `--log-format json` writes one JSON object per log line.
#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    use tokio::io::AsyncBufReadExt;
    let db = fresh_db().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_roomcast"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--database-url", &db.url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("a log line in time")
        .expect("readable")
        .expect("a line");
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["level"], "INFO", "{line}");
    assert_eq!(v["message"], "starting roomcast", "{line}");
    let _ = child.kill().await;
}
