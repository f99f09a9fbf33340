//! Several roomcast nodes in one test process, sharing one fresh PostgreSQL database and a
//! Redis server the test starts (and kills, and restarts) itself: live messages and
//! moderation cross nodes, one order for every subscriber, nothing lost across a Redis
//! restart, and a cursor from one node resumes on any other. These tests always use
//! PostgreSQL (`ROOMCAST_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432`),
//! whatever `ROOMCAST_TEST_BACKEND` says, and need `redis-server` on the PATH.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// A `redis-server` child process on a free local port, killed on drop.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    async fn start() -> Self {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut server = Self { port, child: None };
            if server.launch().await {
                return server;
            }
        }
        panic!("could not start redis-server");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the process and waits until it answers PING; false if it exited instead
    /// (the port was taken in the meantime).
    async fn launch(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (is it installed?)");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).expect("redis url");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
                {
                    return true;
                }
            }
            let exited = self
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited {
                self.child = None;
                return false;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not come up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts a new, empty one on the same port.
    async fn restart(&mut self) {
        self.kill();
        assert!(self.launch().await, "redis-server restarts on its port");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Cluster {
    nodes: Vec<TestApp>,
    redis: RedisServer,
    /// The nodes' database.
    db: String,
}

/// `n` nodes on one new database and one new Redis.
async fn cluster(n: usize) -> Cluster {
    cluster_with_clock(n, std::sync::Arc::new(roomcast::domain::clock::SystemClock)).await
}

/// A cluster whose nodes all read `clock` (one manual clock moves them all).
async fn cluster_with_clock(n: usize, clock: roomcast::domain::clock::SharedClock) -> Cluster {
    let redis = RedisServer::start().await;
    let db = postgres_db().await;
    let mut nodes = Vec::new();
    for _ in 0..n {
        let (db, redis_url) = (db.clone(), redis.url());
        nodes.push(
            spawn_with_clock(clock.clone(), move |c| {
                c.database_url = db;
                c.redis_url = Some(redis_url);
            })
            .await,
        );
    }
    Cluster { nodes, redis, db }
}

/// A message subscription to `room` on `node` from now on, registered.
async fn watch(node: &TestApp, who: &Session, room: &str) -> WsClient {
    let mut ws = node.ws(Some(&who.token)).await;
    ws.subscribe_messages("m", room, None).await;
    ws.ping_pong().await;
    ws
}

/// The next message on subscription "m", as (seq, body).
async fn next_message(ws: &mut WsClient) -> (i64, String) {
    let m = ws.next_data("m").await["roomMessages"].clone();
    (
        m["seq"].as_i64().unwrap_or(-1),
        m["body"].as_str().unwrap_or("").to_owned(),
    )
}

/// Sends a message; fails the test if the mutation fails or takes longer than `WAIT`.
async fn send_ok(node: &TestApp, who: &Session, room: &str, body: &str) -> Value {
    let r = tokio::time::timeout(WAIT, node.send(who, room, body))
        .await
        .expect("sendMessage answered in time");
    r.ok()["sendMessage"].clone()
}

#[tokio::test]
async fn a_message_sent_on_one_node_arrives_once_and_in_order_on_every_node() {
    let c = cluster(3).await;
    let (a, b, cc) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
    let alice = a.register(&uname("alice")).await;
    let bob = b.register(&uname("bob")).await;
    let room = a.create_room(&alice, "crossing", "PUBLIC").await;
    b.join(&bob, &room).await.ok();
    let mut subscribers = vec![
        watch(a, &alice, &room).await,
        watch(b, &bob, &room).await,
        watch(cc, &bob, &room).await,
    ];
    for n in 1..=5 {
        send_ok(a, &alice, &room, &format!("m{n}")).await;
    }
    send_ok(b, &bob, &room, "m6").await;
    for ws in &mut subscribers {
        for n in 1..=6 {
            assert_eq!(next_message(ws).await, (n, format!("m{n}")));
        }
    }
    // Once: the next thing each subscriber sees is the next message, not a repeat.
    send_ok(cc, &bob, &room, "m7").await;
    for ws in &mut subscribers {
        assert_eq!(next_message(ws).await, (7, "m7".to_owned()));
    }
}

#[tokio::test]
async fn a_thousand_messages_from_every_node_reach_every_subscriber_in_one_order() {
    const SENDERS: usize = 5;
    const EACH: usize = 200;
    const TOTAL: usize = SENDERS * EACH;
    let c = cluster(3).await;
    let owner = c.nodes[0].register(&uname("owner")).await;
    let room = c.nodes[0].create_room(&owner, "busy", "PUBLIC").await;
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        let node = &c.nodes[i % c.nodes.len()];
        let s = node.register(&uname(&format!("s{i}"))).await;
        node.join(&s, &room).await.ok();
        senders.push(s);
    }
    let mut readers = Vec::new();
    for node in &c.nodes {
        for _ in 0..2 {
            let mut ws = watch(node, &owner, &room).await;
            readers.push(tokio::spawn(async move {
                let mut got = Vec::with_capacity(TOTAL);
                for _ in 0..TOTAL {
                    got.push(next_message(&mut ws).await);
                }
                got
            }));
        }
    }

    let sends = senders.iter().enumerate().map(|(i, s)| {
        let node = &c.nodes[i % c.nodes.len()];
        let room = &room;
        async move {
            for n in 0..EACH {
                send_ok(node, s, room, &format!("{i}:{n}")).await;
            }
        }
    });
    futures_util::future::join_all(sends).await;

    let mut orders = Vec::new();
    for reader in readers {
        orders.push(reader.await.expect("reader finished"));
    }
    let expected: Vec<i64> = (1..=TOTAL as i64).collect();
    for got in &orders {
        let seqs: Vec<i64> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, expected, "seq 1..N in order, no gaps or duplicates");
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "every subscriber on every node sees one identical order"
    );
    for i in 0..SENDERS {
        let mine: Vec<&str> = orders[0]
            .iter()
            .map(|(_, b)| b.as_str())
            .filter(|b| b.starts_with(&format!("{i}:")))
            .collect();
        let want: Vec<String> = (0..EACH).map(|n| format!("{i}:{n}")).collect();
        assert_eq!(mine, want, "sender {i}'s messages keep their send order");
    }
}

#[tokio::test]
async fn concurrent_joins_through_every_node_never_exceed_max_users() {
    let c = cluster(3).await;
    let owner = c.nodes[0].register(&uname("owner")).await;
    let room = c.nodes[0]
        .create_room_with(&owner, json!({"name": "trio", "maxUsers": 3}))
        .await;
    let mut users = Vec::new();
    for i in 0..12 {
        users.push(c.nodes[i % 3].register(&uname("u")).await);
    }
    let joins = users
        .iter()
        .enumerate()
        .map(|(i, u)| c.nodes[i % 3].join(u, &room));
    let results = futures_util::future::join_all(joins).await;
    let codes: Vec<String> = results
        .iter()
        .map(|r| {
            r.0["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("OK")
                .to_owned()
        })
        .collect();
    assert_eq!(codes.iter().filter(|c| *c == "OK").count(), 2, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| *c == "ROOM_FULL").count(),
        10,
        "{codes:?}"
    );
}

#[tokio::test]
async fn a_ban_on_one_node_ends_the_subscriptions_on_another() {
    let c = cluster(2).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let owner = a.register(&uname("owner")).await;
    let member = b.register(&uname("member")).await;
    let room = a.create_room(&owner, "moderated", "PUBLIC").await;
    b.join(&member, &room).await.ok();
    let mut ws = b.ws(Some(&member.token)).await;
    ws.subscribe_messages("m", &room, None).await;
    ws.subscribe_events("e", &room).await;
    ws.ping_pong().await;

    a.act(&owner, "banUser", &room, &member.id).await.ok();
    assert_eq!(ws.both_end().await, ("BANNED".into(), "BANNED".into()));
    ws.subscribe_messages("again", &room, None).await;
    assert_eq!(ws.expect_error_end("again").await, "BANNED");
}

#[tokio::test]
async fn a_kick_and_a_room_deletion_on_one_node_end_subscriptions_on_another() {
    let c = cluster(2).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let owner = a.register(&uname("owner")).await;
    let room = a.create_room(&owner, "members only", "RESTRICTED").await;
    let kicked = a.member_of(&owner, &room, "kicked").await;
    let stayer = a.member_of(&owner, &room, "stayer").await;
    let mut kicked_ws = b.ws(Some(&kicked.token)).await;
    kicked_ws.subscribe_messages("m", &room, None).await;
    kicked_ws.subscribe_events("e", &room).await;
    kicked_ws.ping_pong().await;
    let mut stayer_ws = b.ws(Some(&stayer.token)).await;
    stayer_ws.subscribe_messages("m", &room, None).await;
    stayer_ws.subscribe_events("e", &room).await;
    stayer_ws.ping_pong().await;

    a.act(&owner, "removeMember", &room, &kicked.id).await.ok();
    assert_eq!(
        kicked_ws.both_end().await,
        ("FORBIDDEN".into(), "FORBIDDEN".into())
    );

    a.post(
        Some(&owner.token),
        "mutation($r: ID!) { deleteRoom(roomId: $r) }",
        json!({"r": room}),
    )
    .await
    .ok();
    assert_eq!(
        stayer_ws.both_end().await,
        ("NOT_FOUND".into(), "NOT_FOUND".into())
    );
}

#[tokio::test]
async fn a_timed_mute_set_on_one_node_ends_everywhere() {
    let clock = roomcast::domain::clock::ManualClock::new();
    let c = cluster_with_clock(2, std::sync::Arc::new(clock.clone())).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let owner = a.register(&uname("owner")).await;
    let member = b.register(&uname("member")).await;
    let room = a.create_room(&owner, "quiet", "PUBLIC").await;
    b.join(&member, &room).await.ok();
    let mut ws = b.ws(Some(&owner.token)).await;
    ws.subscribe_events("e", &room).await;
    ws.ping_pong().await;

    // Time moves only when the test says so: the MUTED check runs inside the mute.
    a.post(
        Some(&owner.token),
        "mutation($r: ID!, $u: ID!) { muteMember(roomId: $r, userId: $u, durationSeconds: 60) { muted } }",
        json!({"r": room, "u": member.id}),
    )
    .await
    .ok();
    assert_eq!(
        ws.next_data("e").await["roomEvents"]["__typename"],
        "MemberMuted"
    );
    assert_eq!(b.send(&member, &room, "shh").await.code(), "MUTED");
    clock.advance(chrono::Duration::seconds(60));
    let unmuted = ws.next_data("e").await;
    assert_eq!(unmuted["roomEvents"]["__typename"], "MemberUnmuted");
    send_ok(b, &member, &room, "free again").await;
}

/// A timed ban with a purge set on node A: its events reach subscribers on B, it holds on B
/// at once, and it lifts on time even after A is gone (B finds the deadline in storage).
#[tokio::test]
async fn a_timed_ban_set_on_one_node_lifts_on_time_everywhere() {
    // Arrange
    let clock = roomcast::domain::clock::ManualClock::new();
    let mut c = cluster_with_clock(2, std::sync::Arc::new(clock.clone())).await;
    let b = c.nodes.pop().expect("node b");
    let a = c.nodes.pop().expect("node a");
    let owner = a.register(&uname("owner")).await;
    let member = b.register(&uname("member")).await;
    let room = a.create_room(&owner, "bans", "PUBLIC").await;
    b.join(&member, &room).await.ok();
    let spam = send_ok(&b, &member, &room, "spam").await["id"].clone();
    let mut ws = b.ws(Some(&owner.token)).await;
    ws.subscribe(
        "e",
        "subscription($r: ID!) { roomEvents(roomId: $r) { __typename            ... on MessagesPurged { messageIds } ... on MemberUnbanned { user { id } } } }",
        json!({"r": room}),
    )
    .await;
    ws.ping_pong().await;

    // Act: banned on A for a minute, with the last hour's messages purged.
    a.post(
        Some(&owner.token),
        "mutation($r: ID!, $u: ID!) { banUser(roomId: $r, userId: $u, durationSeconds: 60, deleteMessagesSeconds: 3600) { expiresAt } }",
        json!({"r": room, "u": member.id}),
    )
    .await
    .ok();

    // Assert: the ban and its purge reach B; B refuses the banned user.
    assert_eq!(
        ws.next_data("e").await["roomEvents"]["__typename"],
        "MemberBanned"
    );
    let purge = ws.next_data("e").await;
    assert_eq!(purge["roomEvents"]["messageIds"], json!([spam]));
    assert_eq!(b.join(&member, &room).await.code(), "BANNED");

    // Act: A goes away; the minute passes.
    a.stop().await;
    clock.advance(chrono::Duration::seconds(60));

    // Assert: B announces the lift and admits the user again.
    let unbanned = ws.next_data("e").await;
    assert_eq!(unbanned["roomEvents"]["__typename"], "MemberUnbanned");
    assert_eq!(unbanned["roomEvents"]["user"]["id"], member.id.as_str());
    b.join(&member, &room).await.ok();
}

/// Slow mode counts a member's posts through every node.
#[tokio::test]
async fn slow_mode_counts_posts_made_through_any_node() {
    let clock = roomcast::domain::clock::ManualClock::new();
    let c = cluster_with_clock(2, std::sync::Arc::new(clock.clone())).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let owner = a.register(&uname("owner")).await;
    let member = b.register(&uname("member")).await;
    let room = a.create_room(&owner, "slow", "PUBLIC").await;
    b.join(&member, &room).await.ok();
    a.post(
        Some(&owner.token),
        "mutation($r: ID!) { updateRoom(roomId: $r, input: {slowModeSeconds: 30}) { slowModeSeconds } }",
        json!({"r": room}),
    )
    .await
    .ok();

    send_ok(a, &member, &room, "via a").await;
    let on_b = b.send(&member, &room, "via b").await;
    clock.advance(chrono::Duration::seconds(30));
    send_ok(b, &member, &room, "via b, later").await;
    let on_a = a.send(&member, &room, "via a, too soon").await;

    assert_eq!(on_b.code(), "RATE_LIMITED");
    assert_eq!(on_b.0["errors"][0]["extensions"]["retryAfterSeconds"], 30);
    assert_eq!(on_a.code(), "RATE_LIMITED");
}

/// Typing crosses nodes: announced on A, seen on B; a repeat through B a second later is
/// not shown again; the lapse comes once, 6 s after the last call, from the node that took
/// it.
#[tokio::test]
async fn typing_crosses_nodes_throttled_and_lapses_once() {
    // Arrange
    let clock = roomcast::domain::clock::ManualClock::new();
    let c = cluster_with_clock(2, std::sync::Arc::new(clock.clone())).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let owner = a.register(&uname("owner")).await;
    let typist = b.register(&uname("typist")).await;
    let room = a.create_room(&owner, "typing", "PUBLIC").await;
    b.join(&typist, &room).await.ok();
    let mut ws = b.ws(Some(&owner.token)).await;
    ws.subscribe(
        "e",
        "subscription($r: ID!) { roomEvents(roomId: $r) { __typename \
           ... on TypingChanged { user { id } typing } ... on MemberJoined { member { user { id } } } } }",
        json!({"r": room}),
    )
    .await;
    ws.ping_pong().await;
    let vars = json!({"r": room});
    let set_typing = "mutation($r: ID!) { setTyping(roomId: $r) }";
    let typed =
        |on: bool| json!({"__typename": "TypingChanged", "user": {"id": typist.id}, "typing": on});

    // Act and assert
    a.post(Some(&typist.token), set_typing, vars.clone())
        .await
        .ok();
    assert_eq!(ws.next_data("e").await["roomEvents"], typed(true));
    clock.advance(chrono::Duration::seconds(1));
    b.post(Some(&typist.token), set_typing, vars.clone())
        .await
        .ok();
    let newcomer = a.register(&uname("newcomer")).await;
    a.join(&newcomer, &room).await.ok();
    assert_eq!(
        ws.next_data("e").await["roomEvents"]["__typename"],
        "MemberJoined",
        "the repeat through B is not shown"
    );
    clock.advance(chrono::Duration::seconds(5));
    let later = a.register(&uname("later")).await;
    a.join(&later, &room).await.ok();
    assert_eq!(
        ws.next_data("e").await["roomEvents"]["__typename"],
        "MemberJoined",
        "no lapse 6 s after the first call"
    );
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(ws.next_data("e").await["roomEvents"], typed(false));
    let last = a.register(&uname("last")).await;
    a.join(&last, &room).await.ok();
    assert_eq!(
        ws.next_data("e").await["roomEvents"]["__typename"],
        "MemberJoined",
        "the lapse is shown once"
    );
}

#[tokio::test]
async fn killing_and_restarting_redis_mid_stream_loses_nothing() {
    let mut c = cluster(2).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.register(&uname("alice")).await;
    let bob = b.register(&uname("bob")).await;
    let room = a.create_room(&alice, "weather", "PUBLIC").await;
    b.join(&bob, &room).await.ok();
    let mut subscribers = vec![watch(a, &alice, &room).await, watch(b, &bob, &room).await];
    for n in 1..=3 {
        send_ok(a, &alice, &room, &format!("m{n}")).await;
    }
    for ws in &mut subscribers {
        for n in 1..=3 {
            assert_eq!(next_message(ws).await, (n, format!("m{n}")));
        }
    }

    // Redis gone: both nodes keep taking messages and answering queries.
    c.redis.kill();
    for n in 4..=6 {
        send_ok(a, &alice, &room, &format!("m{n}")).await;
    }
    for n in 7..=8 {
        send_ok(b, &bob, &room, &format!("m{n}")).await;
    }
    let history = b
        .post(
            Some(&bob.token),
            "query($r: ID!) { room(id: $r) { messages(last: 20) { nodes { body } } } }",
            json!({"r": room}),
        )
        .await;
    assert_eq!(
        strings(&history.ok()["room"]["messages"]["nodes"], "body").len(),
        8,
        "history is served while Redis is down: {}",
        history.0
    );

    // Redis back (empty): every subscriber catches up, in order, without a new message.
    c.redis.restart().await;
    for ws in &mut subscribers {
        for n in 4..=8 {
            assert_eq!(next_message(ws).await, (n, format!("m{n}")));
        }
    }
    // And live fan-out works again, each message once.
    send_ok(b, &bob, &room, "m9").await;
    send_ok(a, &alice, &room, "m10").await;
    for ws in &mut subscribers {
        assert_eq!(next_message(ws).await, (9, "m9".to_owned()));
        assert_eq!(next_message(ws).await, (10, "m10".to_owned()));
    }
}

#[tokio::test]
async fn resuming_after_a_cursor_works_on_any_node() {
    let c = cluster(3).await;
    let (a, b, cc) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
    let alice = a.register(&uname("alice")).await;
    let room = a.create_room(&alice, "resume", "PUBLIC").await;
    let mut cursors = Vec::new();
    for n in 1..=5 {
        let sent = send_ok(a, &alice, &room, &format!("m{n}")).await;
        cursors.push(sent["cursor"].as_str().unwrap_or("").to_owned());
    }
    // A cursor handed out by node A resumes on B and on C.
    // (Replayed messages prove the live subscription: it is taken before the replay.)
    let mut on_b = b.ws(Some(&alice.token)).await;
    on_b.subscribe_messages("m", &room, Some(&cursors[1])).await;
    let mut on_c = cc.ws(Some(&alice.token)).await;
    on_c.subscribe_messages("m", &room, Some(&cursors[3])).await;
    for n in 3..=5 {
        assert_eq!(next_message(&mut on_b).await, (n, format!("m{n}")));
    }
    assert_eq!(next_message(&mut on_c).await, (5, "m5".to_owned()));
    send_ok(cc, &alice, &room, "m6").await;
    assert_eq!(next_message(&mut on_b).await, (6, "m6".to_owned()));
    assert_eq!(next_message(&mut on_c).await, (6, "m6".to_owned()));
}

#[tokio::test]
async fn a_logout_on_one_node_closes_that_tokens_sockets_on_another() {
    // Arrange
    let c = cluster(2).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.register(&uname("alice")).await;
    let room = a.create_room(&alice, "logout", "PUBLIC").await;
    let mut on_b = watch(b, &alice, &room).await;

    // Act
    a.post(Some(&alice.token), "mutation { logout }", json!({}))
        .await
        .ok();

    // Assert
    assert_eq!(on_b.expect_close().await, 4403);
}

#[tokio::test]
async fn a_right_to_post_kept_on_one_node_ends_when_a_ban_on_another_reaches_it() {
    // Arrange: the member posts on b, so b keeps their access to the room.
    let c = cluster(2).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let owner = a.register(&uname("owner")).await;
    let member = b.register(&uname("member")).await;
    let room = a.create_room(&owner, "kept", "PUBLIC").await;
    b.join(&member, &room).await.ok();
    send_ok(b, &member, &room, "before").await;
    send_ok(a, &member, &room, "before, on a").await;
    let mut ws = b.ws(Some(&member.token)).await;
    ws.subscribe_events("e", &room).await;
    ws.ping_pong().await;

    // Act: the ban is made on a; its event reaching b ends the member's feed there.
    a.act(&owner, "banUser", &room, &member.id).await.ok();
    // a forgets at once, not when its own event comes back from Redis.
    let on_a = a.send(&member, &room, "after, on a").await.code();
    assert_eq!(ws.expect_error_end("e").await, "BANNED");

    // Assert
    assert_eq!(on_a, "BANNED");
    assert_eq!(b.send(&member, &room, "after").await.code(), "BANNED");
}

#[tokio::test]
async fn a_session_kept_on_one_node_ends_when_a_logout_on_another_reaches_it() {
    // Arrange: the token is used on b (b keeps the session) and holds a socket there.
    let c = cluster(2).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.register(&uname("alice")).await;
    let me = "{ viewer { id } }";
    assert_eq!(
        b.post(Some(&alice.token), me, json!({})).await.ok()["viewer"]["id"],
        alice.id.as_str()
    );
    let room = a.create_room(&alice, "logout", "PUBLIC").await;
    let mut on_b = watch(b, &alice, &room).await;

    // Act: the logout on a reaching b closes the socket there.
    a.post(Some(&alice.token), "mutation { logout }", json!({}))
        .await
        .ok();
    let on_a = a.post(Some(&alice.token), me, json!({})).await.code();
    assert_eq!(on_b.expect_close().await, 4403);

    // Assert
    assert_eq!(on_a, "UNAUTHENTICATED");
    assert_eq!(
        b.post(Some(&alice.token), me, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
}

const PRESENCE_EVENTS: &str = "subscription($r: ID!) { roomEvents(roomId: $r) { __typename \
    ... on PresenceChanged { user { id } online } } }";

fn presence_of(user: &Session, online: bool) -> Value {
    json!({"__typename": "PresenceChanged", "user": {"id": user.id}, "online": online})
}

/// The next presence change of `user` on the watcher's "e" feed (others are skipped: the
/// watcher's own arrival, and any other reader's).
async fn next_presence_of(ws: &mut WsClient, user: &Session) -> Value {
    loop {
        let event = ws.next_data("e").await["roomEvents"].clone();
        if event["user"]["id"] == user.id.as_str() {
            return event;
        }
    }
}

/// `who`'s Member.online and the room's onlineCount, as `node` sees them.
async fn online_on(node: &TestApp, asker: &Session, room: &str, who: &Session) -> (bool, i64) {
    let r = node
        .post(
            Some(&asker.token),
            "query($r: ID!) { room(id: $r) { onlineCount members { user { id } online } } }",
            json!({"r": room}),
        )
        .await;
    let room = &r.ok()["room"];
    let online = room["members"]
        .as_array()
        .expect("members")
        .iter()
        .any(|m| m["user"]["id"] == who.id.as_str() && m["online"] == true);
    (online, room["onlineCount"].as_i64().expect("count"))
}

/// Presence crosses nodes: a feed opened on A makes its user online on B (event and
/// fields); closing it there shows them offline on B after the grace period, once.
#[tokio::test]
async fn presence_crosses_nodes_and_goes_offline_after_the_grace_period() {
    // Arrange
    let clock = roomcast::domain::clock::ManualClock::new();
    let c = cluster_with_clock(2, std::sync::Arc::new(clock.clone())).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let owner = a.register(&uname("owner")).await;
    let member = a.register(&uname("member")).await;
    let room = a.create_room(&owner, "presence", "PUBLIC").await;
    a.join(&member, &room).await.ok();
    let mut watcher = b.ws(Some(&owner.token)).await.with_presence();
    watcher
        .subscribe("e", PRESENCE_EVENTS, json!({"r": room}))
        .await;
    assert_eq!(
        next_presence_of(&mut watcher, &owner).await,
        presence_of(&owner, true)
    );

    // Act
    let mut ws = a.ws(Some(&member.token)).await;
    ws.subscribe_messages("m", &room, None).await;

    // Assert
    assert_eq!(
        next_presence_of(&mut watcher, &member).await,
        presence_of(&member, true)
    );
    assert_eq!(online_on(b, &owner, &room, &member).await, (true, 2));

    // Act: the feed on A closes; the grace period passes on the nodes' clock.
    drop(ws);
    a.feeds_open(0, 0).await;
    clock.advance(chrono::Duration::seconds(5));

    // Assert
    assert_eq!(
        next_presence_of(&mut watcher, &member).await,
        presence_of(&member, false)
    );
    assert_eq!(online_on(b, &owner, &room, &member).await, (false, 1));
}

/// A roomcast server in a process of its own, so that it can be killed with SIGKILL (no
/// shutdown, no goodbye to the other nodes).
struct Process {
    child: Child,
    addr: String,
}

impl Process {
    fn start(database_url: &str, redis_url: &str) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_roomcast"))
            .args(["--listen", "127.0.0.1:0"])
            .args(["--database-url", database_url, "--redis-url", redis_url])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the roomcast binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reads its first line");
        let addr = line
            .trim()
            .strip_prefix("roomcast listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Self { child, addr }
    }

    async fn ws(&self, token: &str) -> WsClient {
        let mut ws = WsClient::connect(&format!("ws://{}/graphql", self.addr)).await;
        ws.send(json!({"type": "connection_init", "payload": {"token": token}}))
            .await;
        assert_eq!(ws.next_json().await["type"], "connection_ack");
        ws
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A node killed with SIGKILL says nothing to anyone: the other nodes notice its silence
/// and drop its users' presence within the grace period plus a few seconds.
#[tokio::test]
async fn a_node_killed_with_sigkill_stops_counting_its_users_online() {
    // Arrange: node A in this process, node P in its own, on one database and one Redis.
    let c = cluster(1).await;
    let a = &c.nodes[0];
    let owner = a.register(&uname("owner")).await;
    let member = a.register(&uname("member")).await;
    let room = a.create_room(&owner, "presence", "PUBLIC").await;
    a.join(&member, &room).await.ok();
    let mut p = Process::start(&c.db, &c.redis.url());
    let mut watcher = a.ws(Some(&owner.token)).await.with_presence();
    watcher
        .subscribe("e", PRESENCE_EVENTS, json!({"r": room}))
        .await;
    assert_eq!(
        next_presence_of(&mut watcher, &owner).await,
        presence_of(&owner, true)
    );
    let mut ws = p.ws(&member.token).await;
    ws.subscribe_messages("m", &room, None).await;
    assert_eq!(
        next_presence_of(&mut watcher, &member).await,
        presence_of(&member, true)
    );

    // Act
    let killed = std::time::Instant::now();
    p.child.kill().expect("SIGKILL");
    p.child.wait().expect("reaped");

    // Assert: dropped within the grace period (5 s) plus a few seconds.
    assert_eq!(
        next_presence_of(&mut watcher, &member).await,
        presence_of(&member, false)
    );
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(5 + 4), "took {took:?}");
    assert_eq!(online_on(a, &owner, &room, &member).await, (false, 1));
    drop(ws);
}

/// The viewer's own feed hears across nodes: a request turned down on A, and messages
/// posted on A to a room they were let into on A, reach their feed on B.
#[tokio::test]
async fn viewer_feeds_hear_notices_and_messages_from_other_nodes() {
    // Arrange
    let c = cluster(2).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let owner = a.register(&uname("owner")).await;
    let carol = a.register(&uname("carol")).await;
    let room = a.create_room(&owner, "gated", "RESTRICTED").await;
    let request = "mutation($r: ID!) { requestToJoin(roomId: $r) { createdAt } }";
    a.post(Some(&carol.token), request, json!({"r": room}))
        .await
        .ok();
    let mut ws = b.ws(Some(&carol.token)).await;
    ws.subscribe(
        "v",
        "subscription { viewerEvents { __typename \
           ... on JoinRequestRejected { roomId name } ... on JoinRequestApproved { room { id } } \
           ... on RoomActivity { unreadCount lastMessage { body } } } }",
        json!({}),
    )
    .await;
    eventually(|| async {
        (sample(&b.metrics_text().await, "roomcast_viewer_feeds_open") == 1.0).then_some(())
    })
    .await;

    // Act and assert: turned down on A, told on B.
    a.act(&owner, "rejectJoinRequest", &room, &carol.id)
        .await
        .ok();
    assert_eq!(
        ws.next_data("v").await["viewerEvents"],
        json!({"__typename": "JoinRequestRejected", "roomId": room, "name": "gated"})
    );
    // Asked again and let in on A; a message on A counts on B.
    a.post(Some(&carol.token), request, json!({"r": room}))
        .await
        .ok();
    a.act(&owner, "approveJoinRequest", &room, &carol.id)
        .await
        .ok();
    assert_eq!(
        ws.next_data("v").await["viewerEvents"],
        json!({"__typename": "JoinRequestApproved", "room": {"id": room}})
    );
    send_ok(a, &owner, &room, "welcome").await;
    assert_eq!(
        ws.next_data("v").await["viewerEvents"],
        json!({"__typename": "RoomActivity", "unreadCount": 1, "lastMessage": {"body": "welcome"}})
    );
}
