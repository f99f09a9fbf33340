//! Presence (issue 12): a user is online in a room while a `roomMessages` or `roomEvents`
//! feed of theirs is open; going offline is announced after the grace period (on an injected
//! clock here), and a reload within it shows nothing.

use std::sync::Arc;

use chrono::Duration;
use roomcast::domain::clock::ManualClock;
use serde_json::{json, Value};

use crate::helpers::*;

const EVENTS: &str = "subscription($r: ID!) { roomEvents(roomId: $r) { __typename \
    ... on PresenceChanged { roomId user { id } online } \
    ... on MemberJoined { member { user { id } } } } }";
const ROOM: &str = "query($r: ID!) { room(id: $r) { onlineCount members { user { id } online } } }";

/// The owner watching the room's events (their own feed makes them online first).
async fn watch(app: &TestApp, who: &Session, room: &str) -> WsClient {
    let mut ws = app.ws(Some(&who.token)).await.with_presence();
    ws.subscribe("e", EVENTS, json!({"r": room})).await;
    let me = ws.next_data("e").await["roomEvents"].clone();
    assert_eq!(me, presence(room, who, true), "the watcher's own arrival");
    ws
}

async fn next_event(ws: &mut WsClient) -> Value {
    ws.next_data("e").await["roomEvents"].clone()
}

fn presence(room: &str, user: &Session, online: bool) -> Value {
    json!({"__typename": "PresenceChanged", "roomId": room, "user": {"id": user.id}, "online": online})
}

/// Someone joins; their MemberJoined must be the next event a watcher sees (so nothing was
/// announced in between).
async fn marker(app: &TestApp, room: &str) -> Value {
    let newcomer = app.register(&uname("marker")).await;
    app.join(&newcomer, room).await.ok();
    json!({"__typename": "MemberJoined", "member": {"user": {"id": newcomer.id}}})
}

/// (onlineCount, whether `who` is shown online among the members), as `asker` sees them.
async fn online(app: &TestApp, asker: &Session, room: &str, who: &Session) -> (i64, bool) {
    let r = app.post(Some(&asker.token), ROOM, json!({"r": room})).await;
    let room = &r.ok()["room"];
    let member = room["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"]["id"] == who.id.as_str())
        .expect("a member");
    (
        room["onlineCount"].as_i64().expect("count"),
        member["online"].as_bool().expect("online"),
    )
}

#[tokio::test]
async fn a_feed_brings_a_member_online_and_closing_it_shows_offline_after_the_grace_period() {
    // Arrange
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    let mut watcher = watch(&app, &c.owner, &c.room).await;
    assert_eq!(online(&app, &c.owner, &c.room, &c.member).await, (1, false));

    // Act: the member opens the room's messages.
    let mut ws = app.ws(Some(&c.member.token)).await;
    ws.subscribe_messages("m", &c.room, None).await;

    // Assert
    assert_eq!(
        next_event(&mut watcher).await,
        presence(&c.room, &c.member, true)
    );
    assert_eq!(online(&app, &c.owner, &c.room, &c.member).await, (2, true));

    // Act: the member closes their socket; the grace period runs on the injected clock.
    drop(ws);
    app.feeds_open(0, 1).await;
    clock.advance(Duration::seconds(4));
    assert_eq!(
        online(&app, &c.owner, &c.room, &c.member).await,
        (2, true),
        "still online within the grace period"
    );
    let quiet = marker(&app, &c.room).await;
    assert_eq!(
        next_event(&mut watcher).await,
        quiet,
        "nothing announced yet"
    );
    clock.advance(Duration::seconds(1));

    // Assert
    assert_eq!(
        next_event(&mut watcher).await,
        presence(&c.room, &c.member, false)
    );
    assert_eq!(online(&app, &c.owner, &c.room, &c.member).await, (1, false));
}

#[tokio::test]
async fn a_reload_within_the_grace_period_announces_nothing() {
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    let mut watcher = watch(&app, &c.owner, &c.room).await;
    let mut ws = app.ws(Some(&c.member.token)).await;
    ws.subscribe_messages("m", &c.room, None).await;
    assert_eq!(
        next_event(&mut watcher).await,
        presence(&c.room, &c.member, true)
    );

    // The page reloads: the socket closes and a new one opens 3 s later.
    drop(ws);
    app.feeds_open(0, 1).await;
    clock.advance(Duration::seconds(3));
    let mut again = app.ws(Some(&c.member.token)).await;
    again.subscribe_messages("m", &c.room, None).await;
    app.feeds_open(1, 1).await;
    clock.advance(Duration::seconds(10));

    let quiet = marker(&app, &c.room).await;
    assert_eq!(
        next_event(&mut watcher).await,
        quiet,
        "no offline, no online"
    );
    assert_eq!(online(&app, &c.owner, &c.room, &c.member).await, (2, true));
}

#[tokio::test]
async fn a_member_with_two_feeds_stays_online_until_both_close() {
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    let mut watcher = watch(&app, &c.owner, &c.room).await;
    let mut messages = app.ws(Some(&c.member.token)).await;
    messages.subscribe_messages("m", &c.room, None).await;
    let mut events = app.ws(Some(&c.member.token)).await;
    events.subscribe_events("e", &c.room).await;
    assert_eq!(
        next_event(&mut watcher).await,
        presence(&c.room, &c.member, true)
    );
    app.feeds_open(1, 2).await;

    drop(messages);
    app.feeds_open(0, 2).await;
    clock.advance(Duration::seconds(6));
    let quiet = marker(&app, &c.room).await;
    assert_eq!(
        next_event(&mut watcher).await,
        quiet,
        "the events feed holds"
    );

    drop(events);
    app.feeds_open(0, 1).await;
    clock.advance(Duration::seconds(5));
    assert_eq!(
        next_event(&mut watcher).await,
        presence(&c.room, &c.member, false)
    );
}

#[tokio::test]
async fn a_reader_who_is_not_a_member_counts_online_but_is_not_listed() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let mut watcher = watch(&app, &c.owner, &c.room).await;
    let outsider = app.register(&uname("outsider")).await;

    let mut ws = app.ws(Some(&outsider.token)).await;
    ws.subscribe_messages("m", &c.room, None).await;

    assert_eq!(
        next_event(&mut watcher).await,
        presence(&c.room, &outsider, true)
    );
    let r = app
        .post(Some(&c.owner.token), ROOM, json!({"r": c.room}))
        .await;
    assert_eq!(r.ok()["room"]["onlineCount"], 2);
    let members = r.ok()["room"]["members"]
        .as_array()
        .expect("members")
        .clone();
    assert_eq!(members.len(), 3, "owner, admin and member only");
    assert!(members
        .iter()
        .all(|m| m["user"]["id"] != outsider.id.as_str()));
}

#[tokio::test]
async fn a_banned_members_feeds_end_and_they_go_offline_after_the_grace_period() {
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    let mut watcher = watch(&app, &c.owner, &c.room).await;
    let mut ws = app.ws(Some(&c.member.token)).await;
    ws.subscribe_messages("m", &c.room, None).await;
    assert_eq!(
        next_event(&mut watcher).await,
        presence(&c.room, &c.member, true)
    );

    app.act(&c.owner, "banUser", &c.room, &c.member.id)
        .await
        .ok();
    assert_eq!(ws.expect_error_end("m").await, "BANNED");
    assert_eq!(next_event(&mut watcher).await["__typename"], "MemberBanned");
    app.feeds_open(0, 1).await;
    clock.advance(Duration::seconds(5));

    assert_eq!(
        next_event(&mut watcher).await,
        presence(&c.room, &c.member, false)
    );
}

#[tokio::test]
async fn the_grace_period_is_a_flag_and_zero_means_at_once() {
    let app = spawn_with(|c| c.presence_grace_seconds = 0).await;
    let c = cast(&app, "PUBLIC").await;
    let mut watcher = watch(&app, &c.owner, &c.room).await;
    let mut ws = app.ws(Some(&c.member.token)).await;
    ws.subscribe_messages("m", &c.room, None).await;
    assert_eq!(
        next_event(&mut watcher).await,
        presence(&c.room, &c.member, true)
    );

    drop(ws);

    assert_eq!(
        next_event(&mut watcher).await,
        presence(&c.room, &c.member, false)
    );
}
