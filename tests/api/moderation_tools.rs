//! The moderation tools of issue 11 that act on posting and membership: timed bans and their
//! purge window, slow mode, announcement rooms and blocked terms. (Reports, the audit log
//! and invites: `reports_invites.rs`; across nodes: `cluster.rs`.)

use std::sync::Arc;

use chrono::Duration;
use roomcast::domain::clock::{Clock, ManualClock};
use serde_json::{json, Value};

use crate::helpers::*;

const BAN: &str = "mutation($r: ID!, $u: ID!, $why: String, $d: Int, $p: Int) { \
    banUser(roomId: $r, userId: $u, reason: $why, durationSeconds: $d, deleteMessagesSeconds: $p) \
    { user { id } reason expiresAt } }";
const BANS: &str = "query($id: ID!) { room(id: $id) { bans { user { id } expiresAt } } }";
const UPDATE: &str = "mutation($r: ID!, $i: UpdateRoomInput!) { updateRoom(roomId: $r, input: $i) \
    { slowModeSeconds postingPolicy } }";
const SET_TERMS: &str =
    "mutation($r: ID!, $t: [String!]!) { setBlockedTerms(roomId: $r, terms: $t) { id } }";
const TERMS: &str = "query($id: ID!) { room(id: $id) { blockedTerms } }";
const HISTORY: &str = "query($r: ID!) { messages(roomId: $r, last: 100) { nodes { id body } } }";
const EVENTS: &str = "subscription($r: ID!) { roomEvents(roomId: $r) { __typename \
    ... on MemberBanned { ban { user { id } expiresAt } } \
    ... on MemberUnbanned { user { id } } \
    ... on MessagesPurged { user { id } messageIds } \
    ... on MemberJoined { member { user { id } } } } }";

async fn ban(
    app: &TestApp,
    who: &Session,
    room: &str,
    user: &str,
    duration: Option<i64>,
    purge: Option<i64>,
) -> Gql {
    app.post(
        Some(&who.token),
        BAN,
        json!({"r": room, "u": user, "why": "spam", "d": duration, "p": purge}),
    )
    .await
}

async fn update(app: &TestApp, who: &Session, room: &str, input: Value) -> Gql {
    app.post(Some(&who.token), UPDATE, json!({"r": room, "i": input}))
        .await
}

async fn set_terms(app: &TestApp, who: &Session, room: &str, terms: Value) -> Gql {
    app.post(Some(&who.token), SET_TERMS, json!({"r": room, "t": terms}))
        .await
}

async fn bodies(app: &TestApp, who: &Session, room: &str) -> Vec<String> {
    let r = app
        .post(Some(&who.token), HISTORY, json!({"r": room}))
        .await;
    strings(&r.ok()["messages"]["nodes"], "body")
}

/// The id of a message `who` sends (which must be accepted).
async fn post(app: &TestApp, who: &Session, room: &str, body: &str) -> String {
    let r = app.send(who, room, body).await;
    r.ok()["sendMessage"]["id"]
        .as_str()
        .expect("message id")
        .to_owned()
}

fn extension(r: &Gql, name: &str) -> Value {
    r.0["errors"][0]["extensions"][name].clone()
}

async fn watch_events(app: &TestApp, who: &Session, room: &str) -> WsClient {
    let mut ws = app.ws(Some(&who.token)).await;
    ws.subscribe("e", EVENTS, json!({"r": room})).await;
    app.feeds_open(0, 1).await;
    ws
}

// ------------------------------------------------------------------ timed bans and purge

#[tokio::test]
async fn a_timed_ban_lifts_by_itself_on_time_with_an_event() {
    // Arrange
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    let mut admin_view = watch_events(&app, &c.admin, &c.room).await;

    // Act
    let start = clock.now();
    let banned = ban(&app, &c.admin, &c.room, &c.member.id, Some(3600), None).await;
    let listed = app
        .post(Some(&c.admin.token), BANS, json!({"id": c.room}))
        .await;
    clock.advance(Duration::seconds(3599));
    let too_soon = app.join(&c.member, &c.room).await;
    clock.advance(Duration::seconds(1));
    let ban_event = admin_view.next_data("e").await;
    let unbanned = admin_view.next_data("e").await;
    let rejoined = app.join(&c.member, &c.room).await;

    // Assert
    let expires = banned.ok()["banUser"]["expiresAt"].clone();
    let ends = chrono::DateTime::parse_from_rfc3339(expires.as_str().unwrap_or_default())
        .expect("expiresAt is a time");
    assert_eq!(ends, start + Duration::hours(1), "an hour after it was set");
    assert_eq!(listed.ok()["room"]["bans"][0]["expiresAt"], expires);
    assert_eq!(too_soon.code(), "BANNED");
    assert_eq!(ban_event["roomEvents"]["__typename"], "MemberBanned");
    assert_eq!(unbanned["roomEvents"]["__typename"], "MemberUnbanned");
    assert_eq!(unbanned["roomEvents"]["user"]["id"], c.member.id.as_str());
    rejoined.ok();
    let after = app
        .post(Some(&c.admin.token), BANS, json!({"id": c.room}))
        .await;
    assert_eq!(after.ok()["room"]["bans"], json!([]));
}

#[tokio::test]
async fn a_permanent_ban_has_no_end_and_unbanning_a_timed_ban_cancels_its_lift() {
    // Arrange
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    let other = app.member_of(&c.owner, &c.room, "other").await;

    // Act
    let forever = ban(&app, &c.admin, &c.room, &other.id, None, None).await;
    ban(&app, &c.admin, &c.room, &c.member.id, Some(60), None)
        .await
        .ok();
    let unban = app.act(&c.admin, "unbanUser", &c.room, &c.member.id).await;
    let banned_again = ban(&app, &c.admin, &c.room, &c.member.id, None, None).await;
    clock.advance(Duration::seconds(120));
    let still_banned = app.join(&c.member, &c.room).await;

    // Assert
    assert_eq!(forever.ok()["banUser"]["expiresAt"], Value::Null);
    unban.ok();
    assert_eq!(banned_again.ok()["banUser"]["expiresAt"], Value::Null);
    assert_eq!(
        still_banned.code(),
        "BANNED",
        "the first ban's lift must not end the second"
    );
    assert_eq!(app.join(&other, &c.room).await.code(), "BANNED");
}

#[tokio::test]
async fn ban_lengths_and_purge_windows_are_bounded() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let cases = [
        (Some(59), None, Some("durationSeconds")),
        (Some(31_622_401), None, Some("durationSeconds")),
        (None, Some(-1), Some("deleteMessagesSeconds")),
        (None, Some(604_801), Some("deleteMessagesSeconds")),
        (Some(31_622_400), Some(604_800), None),
    ];
    for (duration, purge, field) in cases {
        let r = ban(&app, &c.admin, &c.room, &c.member.id, duration, purge).await;
        match field {
            Some(field) => {
                assert_eq!(r.code(), "BAD_USER_INPUT", "{duration:?} {purge:?}");
                assert_eq!(extension(&r, "field"), field);
            }
            None => {
                r.ok();
            }
        }
    }
}

#[tokio::test]
async fn a_purge_erases_the_window_everywhere_and_is_announced_once() {
    // Arrange: the member posts once, two hours pass, then posts twice; a bystander posts.
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    let bystander = app.member_of(&c.owner, &c.room, "bystander").await;
    let first = post(&app, &bystander, &c.room, "before everything").await;
    post(&app, &c.member, &c.room, "old news").await;
    clock.advance(Duration::hours(2));
    let recent = [
        post(&app, &c.member, &c.room, "spam one").await,
        post(&app, &c.member, &c.room, "spam two").await,
    ];
    post(&app, &bystander, &c.room, "i saw that").await;
    let mut view = watch_events(&app, &bystander, &c.room).await;

    // Act
    let banned = ban(&app, &c.admin, &c.room, &c.member.id, None, Some(3600)).await;

    // Assert: the ban, then one purge event naming exactly the window's messages.
    banned.ok();
    let ban_event = view.next_data("e").await;
    assert_eq!(ban_event["roomEvents"]["__typename"], "MemberBanned");
    let purge = view.next_data("e").await;
    assert_eq!(purge["roomEvents"]["__typename"], "MessagesPurged");
    assert_eq!(purge["roomEvents"]["user"]["id"], c.member.id.as_str());
    assert_eq!(purge["roomEvents"]["messageIds"], json!(recent));
    // Gone from history...
    assert_eq!(
        bodies(&app, &bystander, &c.room).await,
        ["before everything", "old news", "i saw that"]
    );
    // ...and from replay after a cursor.
    let mut replay = app.ws(Some(&bystander.token)).await;
    let first_cursor = app
        .post(
            Some(&bystander.token),
            "query($r: ID!) { messages(roomId: $r, last: 100) { edges { cursor node { id } } } }",
            json!({"r": c.room}),
        )
        .await;
    let edges = first_cursor.ok()["messages"]["edges"].clone();
    assert_eq!(edges[0]["node"]["id"], first.as_str());
    let after = edges[0]["cursor"].as_str().expect("cursor").to_owned();
    replay.subscribe_messages("m", &c.room, Some(&after)).await;
    let mut replayed = Vec::new();
    for _ in 0..2 {
        replayed.push(replay.next_data("m").await["roomMessages"]["body"].clone());
    }
    assert_eq!(replayed, [json!("old news"), json!("i saw that")]);
    // A live message arrives next: nothing purged was queued in between.
    post(&app, &bystander, &c.room, "after the purge").await;
    assert_eq!(
        replay.next_data("m").await["roomMessages"]["body"],
        "after the purge"
    );
}

#[tokio::test]
async fn a_purge_that_finds_nothing_announces_nothing() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let mut view = watch_events(&app, &c.owner, &c.room).await;

    ban(&app, &c.admin, &c.room, &c.member.id, None, Some(600))
        .await
        .ok();
    let outsider = app.register(&uname("late")).await;
    app.join(&outsider, &c.room).await.ok();

    assert_eq!(
        view.next_data("e").await["roomEvents"]["__typename"],
        "MemberBanned"
    );
    assert_eq!(
        view.next_data("e").await["roomEvents"]["__typename"],
        "MemberJoined",
        "no empty purge event in between"
    );
}

#[tokio::test]
async fn a_timed_ban_whose_end_passed_while_down_is_lifted_at_start() {
    // Arrange: a ban of one minute, then the server stops.
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    ban(&app, &c.admin, &c.room, &c.member.id, Some(60), None)
        .await
        .ok();
    let db = app.stop().await;

    // Act: time passes while it is down; it starts again.
    clock.advance(Duration::seconds(61));
    let app = spawn_on_with_clock(&db, Arc::new(clock.clone()), |_| {}).await;

    // Assert: lifted in storage by the scheduler, not only ignored by the rules.
    eventually(|| async {
        let r = app
            .post(Some(&c.admin.token), BANS, json!({"id": c.room}))
            .await;
        (r.ok()["room"]["bans"] == json!([])).then_some(())
    })
    .await;
    app.join(&c.member, &c.room).await.ok();
}

// ------------------------------------------------------------------ slow mode

#[tokio::test]
async fn slow_mode_makes_members_wait_and_says_how_long() {
    // Arrange
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    let set = update(&app, &c.admin, &c.room, json!({"slowModeSeconds": 30})).await;

    // Act
    let first = app.send(&c.member, &c.room, "one").await;
    let second = app.send(&c.member, &c.room, "two").await;
    clock.advance(Duration::seconds(10));
    let third = app.send(&c.member, &c.room, "three").await;
    clock.advance(Duration::seconds(20));
    let fourth = app.send(&c.member, &c.room, "four").await;

    // Assert
    assert_eq!(set.ok()["updateRoom"]["slowModeSeconds"], 30);
    first.ok();
    assert_eq!(second.code(), "RATE_LIMITED");
    assert_eq!(extension(&second, "retryAfterSeconds"), 30);
    assert_eq!(extension(&third, "retryAfterSeconds"), 20);
    fourth.ok();
    assert_eq!(bodies(&app, &c.owner, &c.room).await, ["one", "four"]);
}

#[tokio::test]
async fn the_owner_and_admins_are_exempt_from_slow_mode() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    update(&app, &c.owner, &c.room, json!({"slowModeSeconds": 600}))
        .await
        .ok();
    for who in [&c.owner, &c.admin] {
        for n in 0..3 {
            app.send(who, &c.room, &format!("note {n}")).await.ok();
        }
    }
    // Turning it off frees members at once.
    app.send(&c.member, &c.room, "first").await.ok();
    assert_eq!(
        app.send(&c.member, &c.room, "second").await.code(),
        "RATE_LIMITED"
    );
    update(&app, &c.owner, &c.room, json!({"slowModeSeconds": 0}))
        .await
        .ok();
    app.send(&c.member, &c.room, "second").await.ok();
}

#[tokio::test]
async fn slow_mode_is_bounded() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    for bad in [-1, 21_601] {
        let r = update(&app, &c.owner, &c.room, json!({"slowModeSeconds": bad})).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{bad}");
        assert_eq!(extension(&r, "field"), "slowModeSeconds");
    }
    let max = update(&app, &c.owner, &c.room, json!({"slowModeSeconds": 21_600})).await;
    assert_eq!(max.ok()["updateRoom"]["slowModeSeconds"], 21_600);
    let by_member = update(&app, &c.member, &c.room, json!({"slowModeSeconds": 0})).await;
    assert_eq!(by_member.code(), "FORBIDDEN");
}

/// Many sends at once under slow mode: exactly one is accepted, every time.
#[tokio::test]
async fn racing_sends_under_slow_mode_let_exactly_one_through() {
    let clock = ManualClock::new();
    let app = Arc::new(spawn_with_clock(Arc::new(clock.clone()), |_| {}).await);
    let c = cast(&app, "PUBLIC").await;
    update(&app, &c.owner, &c.room, json!({"slowModeSeconds": 60}))
        .await
        .ok();
    for round in 0..10 {
        let mut sends = Vec::new();
        for n in 0..8 {
            let (app, member, room) = (app.clone(), c.member.clone(), c.room.clone());
            sends.push(tokio::spawn(async move {
                app.send(&member, &room, &format!("r{round} n{n}")).await
            }));
        }
        let mut accepted = 0;
        for send in sends {
            let r = send.await.expect("send task");
            if r.0["errors"].is_null() {
                accepted += 1;
            } else {
                assert_eq!(r.code(), "RATE_LIMITED");
            }
        }
        assert_eq!(accepted, 1, "round {round}");
        clock.advance(Duration::seconds(60));
    }
}

// ------------------------------------------------------------------ announcement rooms

#[tokio::test]
async fn announcement_rooms_let_only_admins_post() {
    // Arrange: the member has posted (so their right to post is kept in memory).
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    app.send(&c.member, &c.room, "before").await.ok();

    // Act
    let set = update(&app, &c.owner, &c.room, json!({"postingPolicy": "ADMINS"})).await;
    let member = app.send(&c.member, &c.room, "may I?").await;
    let admin = app.send(&c.admin, &c.room, "announcement").await;
    let owner = app.send(&c.owner, &c.room, "another").await;
    update(&app, &c.owner, &c.room, json!({"postingPolicy": "MEMBERS"}))
        .await
        .ok();
    let again = app.send(&c.member, &c.room, "thanks").await;

    // Assert
    assert_eq!(set.ok()["updateRoom"]["postingPolicy"], "ADMINS");
    assert_eq!(member.code(), "FORBIDDEN");
    admin.ok();
    owner.ok();
    again.ok();
    assert_eq!(
        bodies(&app, &c.owner, &c.room).await,
        ["before", "announcement", "another", "thanks"]
    );
    let room = app
        .post(
            None,
            "query($id: ID!) { room(id: $id) { slowModeSeconds postingPolicy } }",
            json!({"id": c.room}),
        )
        .await;
    assert_eq!(
        room.ok()["room"],
        json!({"slowModeSeconds": 0, "postingPolicy": "MEMBERS"})
    );
}

// ------------------------------------------------------------------ blocked terms

#[tokio::test]
async fn blocked_terms_refuse_members_messages_and_store_nothing() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    set_terms(&app, &c.admin, &c.room, json!(["ass", "bad word"]))
        .await
        .ok();
    let mut live = app.ws(Some(&c.owner.token)).await;
    live.subscribe_messages("m", &c.room, None).await;
    app.feeds_open(1, 0).await;

    // Act
    let results = [
        app.send(&c.member, &c.room, "a class act").await,
        app.send(&c.member, &c.room, "you ASS!").await,
        app.send(&c.member, &c.room, "such a Ｂａｄ,  WORD").await,
        app.send(&c.member, &c.room, "bad words are fine").await,
        app.send(&c.admin, &c.room, "admins may say ass").await,
    ];

    // Assert
    let codes: Vec<String> = results
        .iter()
        .map(|r| {
            if r.0["errors"].is_null() {
                "OK".to_owned()
            } else {
                r.code()
            }
        })
        .collect();
    assert_eq!(
        codes,
        ["OK", "BLOCKED_CONTENT", "BLOCKED_CONTENT", "OK", "OK"]
    );
    let stored = ["a class act", "bad words are fine", "admins may say ass"];
    assert_eq!(bodies(&app, &c.owner, &c.room).await, stored);
    for body in stored {
        assert_eq!(live.next_data("m").await["roomMessages"]["body"], body);
    }
}

#[tokio::test]
async fn blocked_terms_are_for_admins_and_bounded() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;

    let set = set_terms(
        &app,
        &c.admin,
        &c.room,
        json!(["  spoiler  ", "Spoiler", "end  game"]),
    )
    .await;
    let seen_by_admin = app
        .post(Some(&c.admin.token), TERMS, json!({"id": c.room}))
        .await;
    let seen_by_member = app
        .post(Some(&c.member.token), TERMS, json!({"id": c.room}))
        .await;
    let set_by_member = set_terms(&app, &c.member, &c.room, json!([])).await;

    set.ok();
    assert_eq!(
        seen_by_admin.ok()["room"]["blockedTerms"],
        json!(["spoiler", "end game"]),
        "trimmed, inner spaces collapsed, duplicates dropped"
    );
    assert_eq!(seen_by_member.code(), "FORBIDDEN");
    assert_eq!(set_by_member.code(), "FORBIDDEN");
    let too_many: Vec<String> = (0..101).map(|n| format!("t{n}")).collect();
    for bad in [json!(too_many), json!(["x".repeat(51)]), json!(["  "])] {
        let r = set_terms(&app, &c.admin, &c.room, bad).await;
        assert_eq!(r.code(), "BAD_USER_INPUT");
        assert_eq!(extension(&r, "field"), "terms");
    }
    let hundred: Vec<String> = (0..100).map(|n| format!("t{n}")).collect();
    set_terms(&app, &c.admin, &c.room, json!(hundred))
        .await
        .ok();
    set_terms(&app, &c.admin, &c.room, json!(["x".repeat(50)]))
        .await
        .ok();
    set_terms(&app, &c.admin, &c.room, json!([])).await.ok();
    app.send(&c.member, &c.room, "spoiler: no filter now")
        .await
        .ok();
}

/// An admin who leaves a public room may still read it, but reports are for admins: they
/// stop at the leave, on the same open feed.
#[tokio::test]
async fn an_admin_who_leaves_a_public_room_stops_receiving_reports() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let mut ws = app.ws(Some(&c.admin.token)).await;
    ws.subscribe(
        "e",
        "subscription($r: ID!) { roomEvents(roomId: $r) { __typename } }",
        json!({"r": c.room}),
    )
    .await;
    app.feeds_open(0, 1).await;
    let message = post(&app, &c.owner, &c.room, "report me").await;
    let report = |token: String| {
        let (app, message) = (&app, message.clone());
        async move {
            app.post(
                Some(&token),
                "mutation($m: ID!) { reportMessage(messageId: $m, reason: \"rude\") { id } }",
                json!({"m": message}),
            )
            .await
        }
    };

    // Act
    report(c.member.token.clone()).await.ok();
    let first = ws.next_data("e").await;
    app.post(
        Some(&c.admin.token),
        "mutation($r: ID!) { leaveRoom(roomId: $r) }",
        json!({"r": c.room}),
    )
    .await
    .ok();
    let left = ws.next_data("e").await;
    let other = app.member_of(&c.owner, &c.room, "other").await;
    report(other.token.clone()).await.ok();
    let newcomer = app.register(&uname("newcomer")).await;
    app.join(&newcomer, &c.room).await.ok();

    // Assert
    assert_eq!(first["roomEvents"]["__typename"], "MessageReported");
    assert_eq!(left["roomEvents"]["__typename"], "MemberLeft");
    assert_eq!(
        ws.next_data("e").await["roomEvents"]["__typename"],
        "MemberJoined",
        "other's join"
    );
    assert_eq!(
        ws.next_data("e").await["roomEvents"]["__typename"],
        "MemberJoined",
        "the newcomer's join, with no report in between"
    );
}

/// The last item of a feed ended by access loss: its error's extensions.
async fn ending_extensions(ws: &mut WsClient, id: &str) -> Value {
    loop {
        let (ty, payload) = ws.next_for(id).await;
        assert_eq!(ty, "next", "{payload}");
        if let Some(error) = payload["errors"].get(0) {
            assert_eq!(ws.next_for(id).await.0, "complete");
            return error["extensions"].clone();
        }
    }
}

/// A feed that ends because a moderator took access away says who did it and why in its
/// error, so no client depends on which of two subscriptions delivers first.
#[tokio::test]
async fn a_feed_ended_by_a_ban_or_a_kick_says_who_and_why() {
    // Arrange: a member and another member each reading the room live.
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let other = app.member_of(&c.owner, &c.room, "other").await;
    let mut banned = app.ws(Some(&c.member.token)).await;
    banned.subscribe_messages("m", &c.room, None).await;
    let mut kicked = app.ws(Some(&other.token)).await;
    kicked.subscribe_events("e", &c.room).await;
    app.feeds_open(1, 1).await;

    // Act
    ban(&app, &c.admin, &c.room, &c.member.id, Some(3600), None)
        .await
        .ok();
    let kick = app
        .post(
            Some(&c.admin.token),
            "mutation($r: ID!, $u: ID!) { removeMember(roomId: $r, userId: $u, reason: \"cool off\") }",
            json!({"r": c.room, "u": other.id}),
        )
        .await;

    // Assert
    let ban_end = ending_extensions(&mut banned, "m").await;
    assert_eq!(ban_end["code"], "BANNED");
    assert_eq!(
        ban_end["by"],
        json!({"id": c.admin.id, "username": c.admin.username})
    );
    assert_eq!(ban_end["reason"], "spam");
    assert!(ban_end["expiresAt"].is_string(), "{ban_end}");
    kick.ok();
    let kick_end = ending_extensions(&mut kicked, "e").await;
    assert_eq!(kick_end["code"], "FORBIDDEN");
    assert_eq!(
        kick_end["by"],
        json!({"id": c.admin.id, "username": c.admin.username})
    );
    assert_eq!(kick_end["reason"], "cool off");
    assert!(kick_end.get("expiresAt").is_none());
}

/// Whatever a banned user tries in the room, the refusal says who banned them, why and
/// until when, so a client can say "You are banned" with the reason and the end time.
#[tokio::test]
async fn every_banned_refusal_says_who_why_and_until_when() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let forever = app.member_of(&c.owner, &c.room, "forever").await;
    ban(&app, &c.admin, &c.room, &c.member.id, Some(3600), None)
        .await
        .ok();
    app.post(
        Some(&c.admin.token),
        "mutation($r: ID!, $u: ID!) { banUser(roomId: $r, userId: $u) { user { id } } }",
        json!({"r": c.room, "u": forever.id}),
    )
    .await
    .ok();

    // Act
    let join = app.join(&c.member, &c.room).await;
    let send = app.send(&c.member, &c.room, "let me back").await;
    let mut ws = app.ws(Some(&c.member.token)).await;
    ws.subscribe_messages("m", &c.room, None).await;
    let feed = ending_extensions(&mut ws, "m").await;
    let permanent = app.join(&forever, &c.room).await;

    // Assert
    let by = json!({"id": c.admin.id, "username": c.admin.username});
    for ext in [
        extension(&join, "code"),
        extension(&send, "code"),
        feed["code"].clone(),
    ] {
        assert_eq!(ext, "BANNED");
    }
    for ext in [
        &join.0["errors"][0]["extensions"],
        &send.0["errors"][0]["extensions"],
        &feed,
    ] {
        assert_eq!(ext["by"], by, "{ext}");
        assert_eq!(ext["reason"], "spam");
        assert!(ext["expiresAt"].is_string(), "{ext}");
    }
    assert_eq!(permanent.code(), "BANNED");
    assert_eq!(extension(&permanent, "by"), by);
    assert_eq!(extension(&permanent, "reason"), Value::Null);
    assert_eq!(extension(&permanent, "expiresAt"), Value::Null);
}

/// A banned user can see the room in the list and, on it, their own ban; no one else's.
#[tokio::test]
async fn room_viewer_ban_shows_the_viewers_own_ban_while_it_holds() {
    // Arrange
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;
    ban(&app, &c.admin, &c.room, &c.member.id, Some(60), None)
        .await
        .ok();
    let query = "query($r: ID!) { room(id: $r) { viewerBan { reason expiresAt bannedBy { id } user { id } } } }";
    let view = |who: Option<&Session>| {
        let token = who.map(|w| w.token.clone());
        let app = &app;
        let vars = json!({"r": c.room});
        async move { app.post(token.as_deref(), query, vars).await }
    };

    // Act
    let banned = view(Some(&c.member)).await;
    let admin = view(Some(&c.admin)).await;
    let anonymous = view(None).await;
    clock.advance(Duration::seconds(60));
    let after = view(Some(&c.member)).await;

    // Assert
    let ban_seen = &banned.ok()["room"]["viewerBan"];
    assert_eq!(ban_seen["reason"], "spam");
    assert_eq!(ban_seen["bannedBy"]["id"], c.admin.id.as_str());
    assert_eq!(ban_seen["user"]["id"], c.member.id.as_str());
    assert!(ban_seen["expiresAt"].is_string());
    assert_eq!(admin.ok()["room"]["viewerBan"], Value::Null);
    assert_eq!(anonymous.ok()["room"]["viewerBan"], Value::Null);
    assert_eq!(
        after.ok()["room"]["viewerBan"],
        Value::Null,
        "over when its time is up"
    );
}
