//! Shared execution of `roomMessages`: subscribers with the same operation share one
//! execution and one serialised payload per message, and receive exactly what per-subscriber
//! execution would have sent them (compared byte for byte against the ordinary path, which a
//! root-field directive forces).

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use crate::helpers::*;

const SELECTION: &str = "{ __typename id roomId seq cursor body createdAt \
    author { id username createdAt __typename } ...M }";
const FRAGMENT: &str = "fragment M on Message { alsoBody: body }";

fn doc(directive: &str) -> String {
    format!(
        "subscription Feed($r: ID!, $a: String) {{ feed: roomMessages(roomId: $r, after: $a) {directive} {SELECTION} }} {FRAGMENT}"
    )
}

/// The raw `payload` of the next message for `id`.
async fn next_payload(ws: &mut WsClient, id: &str) -> (String, Value) {
    ws.next_for(id).await
}

#[tokio::test]
async fn shared_payloads_equal_per_subscriber_execution_including_the_final_error() {
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let member = app.register(&uname("member")).await;
    let room = app.create_room(&owner, "shared", "PUBLIC").await;
    app.join(&member, &room).await.ok();
    let first = app.send(&owner, &room, "before subscribing").await;
    let cursor = first.ok()["sendMessage"]["cursor"]
        .as_str()
        .unwrap_or("")
        .to_owned();

    // Three subscribers on the shared path, one forced onto the ordinary path.
    let vars = json!({"r": room, "a": cursor});
    let mut shared = Vec::new();
    for _ in 0..3 {
        let mut ws = app.ws(Some(&member.token)).await;
        ws.send(json!({"id": "s", "type": "subscribe", "payload": {
            "query": doc(""), "operationName": "Feed", "variables": vars}}))
            .await;
        ws.ping_pong().await;
        shared.push(ws);
    }
    let mut ordinary = app.ws(Some(&member.token)).await;
    ordinary
        .send(json!({"id": "s", "type": "subscribe", "payload": {
            "query": doc("@include(if: true)"), "operationName": "Feed", "variables": vars}}))
        .await;
    ordinary.ping_pong().await;
    assert_eq!(
        app.sharing
            .stats
            .shared_subscriptions
            .load(Ordering::Relaxed),
        3
    );

    for n in 0..5 {
        app.send(
            &owner,
            &room,
            &format!("message {n} with \"quotes\" and ünïcode"),
        )
        .await
        .ok();
    }
    for _ in 0..5 {
        let want = next_payload(&mut ordinary, "s").await;
        assert_eq!(want.0, "next");
        assert!(
            want.1["data"]["feed"]["seq"].as_i64().is_some(),
            "{}",
            want.1
        );
        for ws in &mut shared {
            assert_eq!(
                next_payload(ws, "s").await,
                want,
                "shared payload differs from per-subscriber execution"
            );
        }
    }
    // Five messages, three shared subscribers: at most one execution per message.
    let renders = app.sharing.stats.renders.load(Ordering::Relaxed);
    let reuses = app.sharing.stats.reuses.load(Ordering::Relaxed);
    assert_eq!(renders, 5, "one execution per message");
    assert_eq!(reuses, 10, "the other subscribers reuse it");

    // The feed's end (a ban) is shaped identically too.
    app.act(&owner, "banUser", &room, &member.id).await.ok();
    let want = next_payload(&mut ordinary, "s").await;
    assert_eq!(want.1["errors"][0]["extensions"]["code"], "BANNED");
    assert_eq!(next_payload(&mut ordinary, "s").await.0, "complete");
    for ws in &mut shared {
        assert_eq!(next_payload(ws, "s").await, want);
        assert_eq!(next_payload(ws, "s").await.0, "complete");
    }
}

#[tokio::test]
async fn refused_or_invalid_shared_candidates_get_the_ordinary_errors() {
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let outsider = app.register(&uname("outsider")).await;
    let room = app.create_room(&owner, "restricted", "RESTRICTED").await;
    let mut ws = app.ws(Some(&outsider.token)).await;
    ws.subscribe_messages("m", &room, None).await;
    assert_eq!(ws.expect_error_end("m").await, "FORBIDDEN");
    ws.subscribe(
        "v",
        "subscription($r: ID!) { roomMessages(roomId: $r) { nope } }",
        json!({"r": room}),
    )
    .await;
    let (ty, payload) = ws.next_for("v").await;
    assert_eq!(ty, "error");
    assert_eq!(payload[0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(
        app.sharing
            .stats
            .shared_subscriptions
            .load(Ordering::Relaxed),
        0
    );
}

/// Under a burst, every subscriber of a shared operation gets each message once, in order,
/// in frames carrying its own operation id (UUIDs, as graphql-ws and Apollo send), however
/// the server batches its writes; two operations on one socket keep theirs apart.
#[tokio::test]
async fn each_subscriber_gets_frames_with_its_own_id_under_a_burst() {
    const N: i64 = 150;
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let room = app.create_room(&owner, "burst", "PUBLIC").await;
    let new_id = || uuid::Uuid::new_v4().to_string();
    // Three sockets; the first carries two operations on the same room.
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let id = new_id();
        let mut ws = app.ws(Some(&owner.token)).await;
        ws.subscribe_messages(&id, &room, None).await;
        sockets.push((ws, vec![id]));
    }
    let extra = new_id();
    sockets[0].0.subscribe_messages(&extra, &room, None).await;
    sockets[0].1.push(extra);
    app.feeds_open(4, 0).await;

    // All N at once, so they reach the feeds faster than one socket write each.
    let bodies: Vec<String> = (0..N).map(|n| format!("b{n}")).collect();
    let sends = bodies.iter().map(|body| app.send(&owner, &room, body));
    for sent in futures_util::future::join_all(sends).await {
        sent.ok();
    }

    for (ws, ids) in &mut sockets {
        let mut last: std::collections::HashMap<String, i64> =
            ids.iter().map(|id| (id.clone(), 0)).collect();
        while last.values().any(|&seq| seq < N) {
            let msg = ws.next_json().await;
            if msg["type"] != "next" {
                continue;
            }
            let id = msg["id"].as_str().unwrap_or_default().to_owned();
            let seq = msg["payload"]["data"]["roomMessages"]["seq"]
                .as_i64()
                .unwrap_or(-1);
            let Some(prev) = last.get_mut(&id) else {
                panic!("a frame for {id:?} on a socket that subscribed as {ids:?}");
            };
            assert_eq!(seq, *prev + 1, "operation {id}: in order, no gap or repeat");
            *prev = seq;
        }
    }
}

const VIEWER_DOC: &str = "subscription Mine { mine: viewerEvents DIRECTIVE { __typename \
    ... on RoomActivity { unreadCount room { id name memberCount owner { username } } \
    lastMessage { ...M } } \
    ... on RemovedFromRoom { roomId name reason banned by { username } } } } \
    fragment M on Message { id seq body author { username } }";

/// `viewerEvents` is shared too when its selection reads nothing viewer-specific: room
/// activity renders once per (room state, newest message, unread count), and every payload
/// equals what per-subscriber execution sends.
#[tokio::test]
async fn shared_viewer_feeds_equal_per_subscriber_execution() {
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let member = app.register(&uname("member")).await;
    let room = app.create_room(&owner, "shared", "PUBLIC").await;
    app.join(&member, &room).await.ok();
    let subscribe = |directive: &str| {
        json!({"id": "v", "type": "subscribe", "payload": {
            "query": VIEWER_DOC.replace("DIRECTIVE", directive), "operationName": "Mine"}})
    };
    let mut shared = Vec::new();
    for _ in 0..3 {
        let mut ws = app.ws(Some(&member.token)).await;
        ws.send(subscribe("")).await;
        shared.push(ws);
    }
    let mut ordinary = app.ws(Some(&member.token)).await;
    ordinary.send(subscribe("@include(if: true)")).await;
    // The owner shares the same document with another count (their own messages).
    let mut owner_shared = app.ws(Some(&owner.token)).await;
    owner_shared.send(subscribe("")).await;
    let mut owner_ordinary = app.ws(Some(&owner.token)).await;
    owner_ordinary.send(subscribe("@include(if: true)")).await;
    eventually(|| async {
        (sample(&app.metrics_text().await, "roomcast_viewer_feeds_open") == 6.0).then_some(())
    })
    .await;
    assert_eq!(
        app.sharing
            .stats
            .shared_subscriptions
            .load(Ordering::Relaxed),
        4
    );
    let renders_before = app.sharing.stats.renders.load(Ordering::Relaxed);

    for n in 1..=3 {
        app.send(&owner, &room, &format!("message {n} with \"quotes\""))
            .await
            .ok();
        let want = next_payload(&mut ordinary, "v").await;
        assert_eq!(want.1["data"]["mine"]["unreadCount"], n, "{}", want.1);
        for ws in &mut shared {
            assert_eq!(next_payload(ws, "v").await, want, "shared differs");
        }
        let owners = next_payload(&mut owner_ordinary, "v").await;
        assert_eq!(owners.1["data"]["mine"]["unreadCount"], 0, "{}", owners.1);
        assert_eq!(
            next_payload(&mut owner_shared, "v").await,
            owners,
            "the owner's shared payload carries the owner's count"
        );
    }
    let renders = app.sharing.stats.renders.load(Ordering::Relaxed) - renders_before;
    assert_eq!(
        renders, 3,
        "one execution per room state, whatever the counts"
    );

    // An event that is not room activity is rendered for each, identically.
    app.post(
        Some(&owner.token),
        "mutation($r: ID!, $u: ID!) { removeMember(roomId: $r, userId: $u, reason: \"bye\") }",
        json!({"r": room, "u": member.id}),
    )
    .await
    .ok();
    let want = next_payload(&mut ordinary, "v").await;
    assert_eq!(want.1["data"]["mine"]["__typename"], "RemovedFromRoom");
    for ws in &mut shared {
        assert_eq!(next_payload(ws, "v").await, want);
    }
}

/// A viewer feed selecting fields that depend on who asks (the viewer's role, their own
/// count on the room) is executed for its subscriber alone, and answers for them.
#[tokio::test]
async fn viewer_feeds_reading_viewer_specific_fields_are_not_shared() {
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let member = app.register(&uname("member")).await;
    let room = app.create_room(&owner, "mine", "PUBLIC").await;
    app.join(&member, &room).await.ok();
    let mut ws = app.ws(Some(&owner.token)).await;
    ws.subscribe(
        "v",
        "subscription { viewerEvents { ... on RoomActivity { room { viewerRole } } } }",
        json!({}),
    )
    .await;
    eventually(|| async {
        (sample(&app.metrics_text().await, "roomcast_viewer_feeds_open") == 1.0).then_some(())
    })
    .await;

    app.send(&member, &room, "hello").await.ok();

    assert_eq!(
        ws.next_data("v").await["viewerEvents"]["room"]["viewerRole"],
        "OWNER"
    );
    assert_eq!(
        app.sharing
            .stats
            .shared_subscriptions
            .load(Ordering::Relaxed),
        0
    );
}
