//! `viewerEvents` (issue 12): the signed-in viewer's own feed. Every variant, unread counts
//! that follow messages, markers and deletions without drifting, and a race between a
//! subscription starting and messages being sent.

use serde_json::{json, Value};

use crate::helpers::*;

const FEED: &str = "subscription { viewerEvents { __typename \
    ... on RoomActivity { room { id name } unreadCount lastMessage { body } } \
    ... on JoinRequestApproved { room { id } } \
    ... on JoinRequestRejected { roomId name } \
    ... on AddedToRoom { room { id } } \
    ... on RemovedFromRoom { roomId name reason by { id } banned } \
    ... on RoomListChanged { roomId } } }";

/// `who`'s viewer feed, open and registered (counted by the server's gauge).
async fn feed(app: &TestApp, who: &Session) -> WsClient {
    let before = viewer_feeds(app).await;
    let mut ws = app.ws(Some(&who.token)).await;
    ws.subscribe("v", FEED, json!({})).await;
    eventually(|| async { (viewer_feeds(app).await > before).then_some(()) }).await;
    ws
}

async fn viewer_feeds(app: &TestApp) -> f64 {
    sample(&app.metrics_text().await, "roomcast_viewer_feeds_open")
}

async fn next(ws: &mut WsClient) -> Value {
    ws.next_data("v").await["viewerEvents"].clone()
}

/// The next RoomActivity (other events in between fail the test).
async fn activity(ws: &mut WsClient) -> Value {
    let e = next(ws).await;
    assert_eq!(e["__typename"], "RoomActivity", "got {e}");
    e
}

/// Reads RoomActivity events until one shows `unread` (they are paced: several changes may
/// arrive as one); fails on any other kind of event.
async fn activity_until(ws: &mut WsClient, unread: i64) -> Value {
    loop {
        let e = activity(ws).await;
        if e["unreadCount"] == unread {
            return e;
        }
    }
}

/// A new user who has asked to join `room`.
async fn asking(app: &TestApp, room: &str) -> Session {
    let carol = app.register(&uname("carol")).await;
    app.post(
        Some(&carol.token),
        "mutation($r: ID!) { requestToJoin(roomId: $r) { createdAt } }",
        json!({"r": room}),
    )
    .await
    .ok();
    carol
}

/// A public room created by `owner` with `who` as members.
async fn room_with(app: &TestApp, owner: &Session, name: &str, who: &[&Session]) -> String {
    let room = app.create_room(owner, name, "PUBLIC").await;
    for w in who {
        app.join(w, &room).await.ok();
    }
    room
}

#[tokio::test]
async fn room_activity_counts_others_messages_and_follows_the_read_marker() {
    // Arrange
    let app = spawn_app().await;
    let (alice, bob) = (
        app.register(&uname("alice")).await,
        app.register(&uname("bob")).await,
    );
    let room = room_with(&app, &alice, "general", &[&bob]).await;
    let mut ws = feed(&app, &alice).await;

    // Act: bob writes.
    app.send(&bob, &room, "hello").await.ok();

    // Assert
    let e = activity(&mut ws).await;
    assert_eq!(e["room"], json!({"id": room, "name": "general"}));
    assert_eq!(e["unreadCount"], 1);
    assert_eq!(e["lastMessage"]["body"], "hello");

    // Act: alice's own message does not count; then she reads up to it.
    let mine = app.send(&alice, &room, "hi bob").await;
    let e = activity_until(&mut ws, 1).await;
    assert_eq!(e["lastMessage"]["body"], "hi bob");
    let cursor = mine.ok()["sendMessage"]["cursor"].clone();
    app.post(
        Some(&alice.token),
        "mutation($r: ID!, $c: String!) { markRead(roomId: $r, cursor: $c) { lastReadCursor } }",
        json!({"r": room, "c": cursor}),
    )
    .await
    .ok();

    // Assert
    let e = activity_until(&mut ws, 0).await;
    assert_eq!(e["lastMessage"]["body"], "hi bob");
}

#[tokio::test]
async fn a_burst_is_paced_and_ends_at_the_exact_count() {
    let app = spawn_app().await;
    let (alice, bob) = (
        app.register(&uname("alice")).await,
        app.register(&uname("bob")).await,
    );
    let room = room_with(&app, &alice, "busy", &[&bob]).await;
    let mut ws = feed(&app, &alice).await;

    for i in 0..40 {
        app.send(&bob, &room, &format!("m{i}")).await.ok();
    }

    let mut seen = 0;
    loop {
        let e = activity(&mut ws).await;
        seen += 1;
        let n = e["unreadCount"].as_i64().expect("count");
        assert!(n <= 40, "never more than were sent: {n}");
        if n == 40 {
            assert_eq!(e["lastMessage"]["body"], "m39");
            break;
        }
    }
    assert!(seen <= 40, "at most one per message ({seen})");
}

#[tokio::test]
async fn deleting_an_unread_message_lowers_the_count_and_the_newest_follows() {
    let app = spawn_app().await;
    let (alice, bob) = (
        app.register(&uname("alice")).await,
        app.register(&uname("bob")).await,
    );
    let room = room_with(&app, &alice, "edits", &[&bob]).await;
    app.send(&bob, &room, "first").await.ok();
    let second = app.send(&bob, &room, "second").await;
    let mut ws = feed(&app, &alice).await;

    let id = second.ok()["sendMessage"]["id"].clone();
    app.post(
        Some(&bob.token),
        "mutation($m: ID!) { deleteMessage(messageId: $m) }",
        json!({"m": id}),
    )
    .await
    .ok();

    let e = activity(&mut ws).await;
    assert_eq!(e["unreadCount"], 1);
    assert_eq!(e["lastMessage"]["body"], "first");
}

#[tokio::test]
async fn an_approved_request_is_told_and_the_room_is_watched_from_then_on() {
    let app = spawn_app().await;
    let c = cast(&app, "RESTRICTED").await;
    let carol = asking(&app, &c.room).await;
    let mut ws = feed(&app, &carol).await;

    app.act(&c.admin, "approveJoinRequest", &c.room, &carol.id)
        .await
        .ok();

    assert_eq!(
        next(&mut ws).await,
        json!({"__typename": "JoinRequestApproved", "room": {"id": c.room}})
    );
    app.send(&c.member, &c.room, "welcome").await.ok();
    assert_eq!(activity(&mut ws).await["lastMessage"]["body"], "welcome");
}

#[tokio::test]
async fn a_rejected_request_is_told_with_the_rooms_name() {
    let app = spawn_app().await;
    let c = cast(&app, "RESTRICTED").await;
    let carol = asking(&app, &c.room).await;
    let mut ws = feed(&app, &carol).await;

    app.act(&c.admin, "rejectJoinRequest", &c.room, &carol.id)
        .await
        .ok();

    assert_eq!(
        next(&mut ws).await,
        json!({"__typename": "JoinRequestRejected", "roomId": c.room, "name": "stage"})
    );
}

#[tokio::test]
async fn being_added_to_a_private_room_is_told_and_watched() {
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;
    let dave = app.register(&uname("dave")).await;
    let mut ws = feed(&app, &dave).await;

    app.act(&c.admin, "addMember", &c.room, &dave.id).await.ok();

    assert_eq!(
        next(&mut ws).await,
        json!({"__typename": "AddedToRoom", "room": {"id": c.room}})
    );
    app.send(&c.member, &c.room, "hi dave").await.ok();
    assert_eq!(activity(&mut ws).await["unreadCount"], 1);
}

#[tokio::test]
async fn a_kick_and_a_ban_are_told_with_who_and_why_and_the_room_goes_quiet() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let other = room_with(&app, &c.owner, "other", &[&c.member]).await;
    let mut ws = feed(&app, &c.member).await;

    app.post(
        Some(&c.admin.token),
        "mutation($r: ID!, $u: ID!) { removeMember(roomId: $r, userId: $u, reason: \"off topic\") }",
        json!({"r": c.room, "u": c.member.id}),
    )
    .await
    .ok();
    assert_eq!(
        next(&mut ws).await,
        json!({"__typename": "RemovedFromRoom", "roomId": c.room, "name": "stage",
               "reason": "off topic", "by": {"id": c.admin.id}, "banned": false})
    );
    // No longer watched: the next activity is the other room's.
    app.send(&c.owner, &c.room, "after the kick").await.ok();
    app.send(&c.owner, &other, "elsewhere").await.ok();
    assert_eq!(activity(&mut ws).await["lastMessage"]["body"], "elsewhere");

    app.post(
        Some(&c.owner.token),
        "mutation($r: ID!, $u: ID!) { banUser(roomId: $r, userId: $u, reason: \"spam\") { reason } }",
        json!({"r": other, "u": c.member.id}),
    )
    .await
    .ok();
    assert_eq!(
        next(&mut ws).await,
        json!({"__typename": "RemovedFromRoom", "roomId": other, "name": "other",
               "reason": "spam", "by": {"id": c.owner.id}, "banned": true})
    );
}

#[tokio::test]
async fn the_room_list_changes_for_listed_rooms_and_not_for_others_private_rooms() {
    let app = spawn_app().await;
    let (alice, bob) = (
        app.register(&uname("alice")).await,
        app.register(&uname("bob")).await,
    );
    let mine = room_with(&app, &alice, "mine", &[]).await;
    let mut ws = feed(&app, &alice).await;

    // Someone else's private room: nothing. Their public room: listed.
    app.create_room(&bob, "secret", "PRIVATE").await;
    let public = app.create_room(&bob, "open", "PUBLIC").await;
    assert_eq!(
        next(&mut ws).await,
        json!({"__typename": "RoomListChanged", "roomId": public})
    );
    // A room of hers renamed.
    app.post(
        Some(&alice.token),
        "mutation($r: ID!) { updateRoom(roomId: $r, input: {name: \"renamed\"}) { name } }",
        json!({"r": mine}),
    )
    .await
    .ok();
    assert_eq!(
        next(&mut ws).await,
        json!({"__typename": "RoomListChanged", "roomId": mine})
    );
    // She creates one herself (from another tab) and it is watched.
    let hers = app.create_room(&alice, "new", "PRIVATE").await;
    assert_eq!(
        next(&mut ws).await,
        json!({"__typename": "RoomListChanged", "roomId": hers})
    );
    app.send(&alice, &hers, "note to self").await.ok();
    let e = activity(&mut ws).await;
    assert_eq!(
        (e["room"]["id"].clone(), e["unreadCount"].clone()),
        (json!(hers), json!(0))
    );
}

#[tokio::test]
async fn anonymous_viewers_have_no_feed() {
    let app = spawn_app().await;
    let mut ws = app.ws(None).await;
    ws.subscribe("v", FEED, json!({})).await;
    assert_eq!(ws.expect_error_end("v").await, "UNAUTHENTICATED");
}

/// Messages sent while the feed starts are counted once each: storage counts up to the
/// room's last seq when it is read, live ones after it. Run many times.
#[tokio::test]
async fn messages_racing_the_feeds_start_are_counted_exactly_once() {
    let app = spawn_app().await;
    for round in 0..8 {
        let (alice, bob) = (
            app.register(&uname("alice")).await,
            app.register(&uname("bob")).await,
        );
        let room = room_with(&app, &alice, "race", &[&bob]).await;
        let sending = {
            let (app_url, token, room) = (app.url(), bob.token.clone(), room.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for i in 0..30 {
                    client
                        .post(&app_url)
                        .bearer_auth(&token)
                        .json(&json!({"query": "mutation($r: ID!, $b: String!) { sendMessage(roomId: $r, body: $b) { id } }",
                                      "variables": {"r": room, "b": format!("m{i}")}}))
                        .send()
                        .await
                        .expect("sent");
                }
            })
        };
        let mut ws = feed(&app, &alice).await;
        sending.await.expect("sender");
        let stored = app
            .post(
                Some(&alice.token),
                "query($r: ID!) { room(id: $r) { unreadCount } }",
                json!({"r": room}),
            )
            .await;
        assert_eq!(stored.ok()["room"]["unreadCount"], 30, "round {round}");
        // Alice's own message (which does not count) shows where the feed stands: 30,
        // never more on the way.
        app.send(&alice, &room, "done").await.ok();
        loop {
            let e = activity(&mut ws).await;
            let n = e["unreadCount"].as_i64().expect("count");
            assert!(n <= 30, "round {round}: counted {n}");
            if e["lastMessage"]["body"] == "done" {
                assert_eq!(n, 30, "round {round}");
                break;
            }
        }
    }
}
