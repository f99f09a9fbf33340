//! Typing indicators (issue 12): announced, throttled, lapsing by themselves on an injected
//! clock, ended by sending, refused like `sendMessage`.

use std::sync::Arc;

use chrono::Duration;
use roomcast::domain::clock::ManualClock;
use serde_json::{json, Value};

use crate::helpers::*;

const TYPING: &str = "mutation($r: ID!, $t: Boolean!) { setTyping(roomId: $r, typing: $t) }";
const EVENTS: &str = "subscription($r: ID!) { roomEvents(roomId: $r) { __typename \
    ... on TypingChanged { user { id } typing } ... on MemberJoined { member { user { id } } } } }";

async fn typing(app: &TestApp, who: &Session, room: &str, on: bool) -> Gql {
    app.post(Some(&who.token), TYPING, json!({"r": room, "t": on}))
        .await
}

async fn watch(app: &TestApp, who: &Session, room: &str) -> WsClient {
    let mut ws = app.ws(Some(&who.token)).await;
    ws.subscribe("e", EVENTS, json!({"r": room})).await;
    ws.ping_pong().await;
    ws
}

async fn next_event(ws: &mut WsClient) -> Value {
    ws.next_data("e").await["roomEvents"].clone()
}

fn typed(user: &Session, on: bool) -> Value {
    json!({"__typename": "TypingChanged", "user": {"id": user.id}, "typing": on})
}

/// Someone joins; their MemberJoined is the next event a watcher must see (so nothing was
/// announced in between).
async fn marker(app: &TestApp, room: &str) -> Value {
    let newcomer = app.register(&uname("marker")).await;
    app.join(&newcomer, room).await.ok();
    json!({"__typename": "MemberJoined", "member": {"user": {"id": newcomer.id}}})
}

#[tokio::test]
async fn typing_is_announced_throttled_and_lapses_six_seconds_after_the_last_call() {
    // Arrange
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    let mut ws = watch(&app, &c.owner, &c.room).await;
    app.feeds_open(0, 1).await;

    // Act and assert: announced once, the repeat a second later is quiet...
    typing(&app, &c.member, &c.room, true).await.ok();
    assert_eq!(next_event(&mut ws).await, typed(&c.member, true));
    clock.advance(Duration::seconds(1));
    typing(&app, &c.member, &c.room, true).await.ok();
    let quiet = marker(&app, &c.room).await;
    assert_eq!(next_event(&mut ws).await, quiet);
    // ...and the lapse comes 6 s after that repeat, not after the first call.
    clock.advance(Duration::seconds(5));
    let still = marker(&app, &c.room).await;
    assert_eq!(
        next_event(&mut ws).await,
        still,
        "no lapse at 6 s from the first"
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(next_event(&mut ws).await, typed(&c.member, false));
    // Once lapsed, the next call is announced at once.
    typing(&app, &c.member, &c.room, true).await.ok();
    assert_eq!(next_event(&mut ws).await, typed(&c.member, true));
}

#[tokio::test]
async fn a_repeat_two_seconds_after_the_announcement_is_announced_again() {
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    let mut ws = watch(&app, &c.owner, &c.room).await;
    app.feeds_open(0, 1).await;

    typing(&app, &c.member, &c.room, true).await.ok();
    clock.advance(Duration::seconds(2));
    typing(&app, &c.member, &c.room, true).await.ok();

    assert_eq!(next_event(&mut ws).await, typed(&c.member, true));
    assert_eq!(next_event(&mut ws).await, typed(&c.member, true));
}

#[tokio::test]
async fn sending_a_message_or_saying_so_ends_typing() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let mut ws = watch(&app, &c.owner, &c.room).await;
    app.feeds_open(0, 1).await;

    typing(&app, &c.member, &c.room, true).await.ok();
    app.send(&c.member, &c.room, "done typing").await.ok();
    typing(&app, &c.admin, &c.room, true).await.ok();
    typing(&app, &c.admin, &c.room, false).await.ok();
    // Stopping when not typing announces nothing.
    typing(&app, &c.admin, &c.room, false).await.ok();
    let end = marker(&app, &c.room).await;

    for want in [
        typed(&c.member, true),
        typed(&c.member, false),
        typed(&c.admin, true),
        typed(&c.admin, false),
        end,
    ] {
        assert_eq!(next_event(&mut ws).await, want);
    }
}

#[tokio::test]
async fn set_typing_is_refused_like_send_message() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let outsider = app.register(&uname("outsider")).await;
    let banned = app.member_of(&c.owner, &c.room, "banned").await;
    app.post(
        Some(&c.owner.token),
        "mutation($r: ID!, $u: ID!) { banUser(roomId: $r, userId: $u) { user { id } } }",
        json!({"r": c.room, "u": banned.id}),
    )
    .await
    .ok();
    app.post(
        Some(&c.owner.token),
        "mutation($r: ID!, $u: ID!) { muteMember(roomId: $r, userId: $u) { muted } }",
        json!({"r": c.room, "u": c.member.id}),
    )
    .await
    .ok();

    let muted = typing(&app, &c.member, &c.room, true).await;
    let not_member = typing(&app, &outsider, &c.room, true).await;
    let is_banned = typing(&app, &banned, &c.room, true).await;
    let anonymous = app
        .post(None, TYPING, json!({"r": c.room, "t": true}))
        .await;
    app.post(
        Some(&c.owner.token),
        "mutation($r: ID!) { updateRoom(roomId: $r, input: {postingPolicy: ADMINS}) { id } }",
        json!({"r": c.room}),
    )
    .await
    .ok();
    let other = app.member_of(&c.owner, &c.room, "other").await;
    let announcement = typing(&app, &other, &c.room, true).await;
    let admin = typing(&app, &c.admin, &c.room, true).await;

    assert_eq!(muted.code(), "MUTED");
    assert_eq!(not_member.code(), "FORBIDDEN");
    assert_eq!(is_banned.code(), "BANNED");
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    assert_eq!(announcement.code(), "FORBIDDEN");
    assert_eq!(admin.ok()["setTyping"], true);
}
