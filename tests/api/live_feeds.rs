//! Live messages and events: one order for every subscriber, resume after a cursor, catch-up
//! after lag or an out-of-order publish, and feeds ending when access is lost.

use std::sync::Arc;

use futures_util::StreamExt;
use roomcast::bus::local::LocalBus;
use roomcast::bus::Bus;
use roomcast::domain::identity::{Identity, Viewer};
use roomcast::domain::rooms::{CreateRoom, RoomService};
use roomcast::domain::values::{MessageBody, MessageId, Password, RoomName, Username};
use roomcast::store::Store;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn concurrent_senders_reach_every_subscriber_in_one_order_without_gaps() {
    const SENDERS: usize = 4;
    const EACH: usize = 50;
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let room = app.create_room(&owner, "busy", "PUBLIC").await;
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        let s = app.register(&uname(&format!("s{i}"))).await;
        app.join(&s, &room).await.ok();
        senders.push(s);
    }
    let mut subscribers = Vec::new();
    for _ in 0..5 {
        let mut ws = app.ws(Some(&owner.token)).await;
        ws.subscribe_messages("m", &room, None).await;
        ws.ping_pong().await;
        subscribers.push(ws);
    }

    let sends = senders.iter().enumerate().map(|(i, s)| {
        let app = &app;
        let room = &room;
        async move {
            for n in 0..EACH {
                app.send(s, room, &format!("{i}:{n}")).await.ok();
            }
        }
    });
    futures_util::future::join_all(sends).await;

    let mut orders = Vec::new();
    for ws in &mut subscribers {
        let mut got = Vec::new();
        for _ in 0..SENDERS * EACH {
            let m = ws.next_data("m").await["roomMessages"].clone();
            got.push((
                m["seq"].as_i64().unwrap_or(-1),
                m["body"].as_str().unwrap_or("").to_owned(),
            ));
        }
        let seqs: Vec<i64> = got.iter().map(|(s, _)| *s).collect();
        let expected: Vec<i64> = (1..=(SENDERS * EACH) as i64).collect();
        assert_eq!(
            seqs, expected,
            "every subscriber sees seq 1..N in order, no gaps or duplicates"
        );
        orders.push(got);
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "all subscribers see one identical order"
    );
    // Each sender's own messages keep their send order.
    for i in 0..SENDERS {
        let mine: Vec<&String> = orders[0]
            .iter()
            .map(|(_, b)| b)
            .filter(|b| b.starts_with(&format!("{i}:")))
            .collect();
        let want: Vec<String> = (0..EACH).map(|n| format!("{i}:{n}")).collect();
        assert_eq!(mine, want.iter().collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn resuming_after_a_cursor_replays_then_continues_live_without_a_seam() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "resume", "PUBLIC").await;
    let mut cursors = Vec::new();
    for n in 1..=5 {
        let r = app.send(&alice, &room, &format!("m{n}")).await;
        cursors.push(
            r.ok()["sendMessage"]["cursor"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    let mut ws = app.ws(Some(&alice.token)).await;
    ws.subscribe_messages("r", &room, Some(&cursors[1])).await;
    for n in 3..=5 {
        assert_eq!(
            ws.next_data("r").await["roomMessages"]["body"],
            format!("m{n}")
        );
    }
    app.send(&alice, &room, "m6").await.ok();
    let live = ws.next_data("r").await;
    assert_eq!(live["roomMessages"]["body"], "m6");
    assert_eq!(live["roomMessages"]["seq"], 6);

    // A malformed cursor is refused with a code.
    ws.subscribe_messages("bad", &room, Some("garbage")).await;
    assert_eq!(ws.expect_error_end("bad").await, "BAD_USER_INPUT");
}

#[tokio::test]
async fn without_a_cursor_a_feed_starts_at_now() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "now", "PUBLIC").await;
    app.send(&alice, &room, "old").await.ok();
    let mut ws = app.ws(Some(&alice.token)).await;
    ws.subscribe_messages("n", &room, None).await;
    ws.ping_pong().await;
    app.send(&alice, &room, "new").await.ok();
    assert_eq!(ws.next_data("n").await["roomMessages"]["body"], "new");
}

/// Builds the domain directly (no transport) so the test controls the bus exactly.
async fn domain_with_capacity(
    capacity: usize,
) -> (RoomService, Arc<dyn Store>, Arc<LocalBus>, Viewer, TestDb) {
    let db = fresh_db().await;
    let store = open_store(&db).await;
    let bus = Arc::new(LocalBus::new(capacity));
    let rooms = domain_rooms(store.clone(), bus.clone());
    let identity = Identity::new(store.clone(), bus.clone())
        .await
        .expect("identity");
    let (_, user) = identity
        .register(
            None,
            Username::parse(&uname("dom")).expect("name"),
            Password::parse("password123").expect("pw"),
        )
        .await
        .expect("register");
    (rooms, store, bus, Viewer::User(user), db)
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_the_buffer_is_caught_up_from_the_store() {
    let (rooms, _store, _bus, viewer, _db) = domain_with_capacity(2).await;
    let room = rooms
        .create_room(
            &viewer,
            CreateRoom {
                name: RoomName::parse("lag").expect("name"),
                room_type: roomcast::domain::model::RoomType::Public,
                topic: None,
                max_users: None,
            },
        )
        .await
        .expect("room");
    let body = |s: &str| MessageBody::parse(s).expect("body");
    let mut feed = rooms
        .message_feed(&viewer, room.id, None)
        .await
        .expect("feed");
    rooms
        .send_message(&viewer, room.id, body("first"))
        .await
        .expect("send");
    let first = feed.next().await.expect("item").expect("ok");
    assert_eq!(first.seq, 1);

    // 20 messages while the feed is not polled: the 2-slot buffer overflows (Lagged).
    for n in 2..=21 {
        rooms
            .send_message(&viewer, room.id, body(&format!("m{n}")))
            .await
            .expect("send");
    }
    for want in 2..=21 {
        let m = feed.next().await.expect("item").expect("ok");
        assert_eq!(m.seq, want, "caught up in order, nothing skipped");
    }
    // The stale buffered copies are not delivered twice: the next item is the next message.
    rooms
        .send_message(&viewer, room.id, body("m22"))
        .await
        .expect("send");
    assert_eq!(feed.next().await.expect("item").expect("ok").seq, 22);
}

#[tokio::test]
async fn an_out_of_order_publish_is_filled_from_the_store_and_deduplicated() {
    let (rooms, store, bus, viewer, _db) = domain_with_capacity(16).await;
    let room = rooms
        .create_room(
            &viewer,
            CreateRoom {
                name: RoomName::parse("gap").expect("name"),
                room_type: roomcast::domain::model::RoomType::Public,
                topic: None,
                max_users: None,
            },
        )
        .await
        .expect("room");
    let mut feed = rooms
        .message_feed(&viewer, room.id, None)
        .await
        .expect("feed");
    let author = viewer.require().expect("user").clone();
    let mut stored = Vec::new();
    for n in 1..=3 {
        let m = store
            .insert_message(roomcast::domain::ports::NewMessage {
                id: MessageId::new(),
                room: room.id,
                author: author.clone(),
                body: format!("m{n}"),
                at: chrono::Utc::now(),
            })
            .await
            .expect("insert");
        stored.push(Arc::new(m));
    }
    // Seq 3 arrives first (as from a faster node), then 1 and 2.
    bus.publish_message(stored[2].clone());
    bus.publish_message(stored[0].clone());
    bus.publish_message(stored[1].clone());
    let mut seqs = Vec::new();
    for _ in 0..3 {
        seqs.push(feed.next().await.expect("item").expect("ok").seq);
    }
    assert_eq!(seqs, vec![1, 2, 3]);
    let m4 = rooms
        .send_message(&viewer, room.id, MessageBody::parse("m4").expect("body"))
        .await
        .expect("send");
    assert_eq!(feed.next().await.expect("item").expect("ok").seq, m4.seq);
}

struct Moderated {
    app: TestApp,
    owner: Session,
    member: Session,
    room: String,
    ws: WsClient,
}

async fn member_watching(room_type: &str) -> Moderated {
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let member = app.register(&uname("member")).await;
    let room = app.create_room(&owner, "watched", room_type).await;
    app.act(&owner, "addMember", &room, &member.id).await.ok();
    let mut ws = app.ws(Some(&member.token)).await;
    ws.subscribe_messages("m", &room, None).await;
    ws.subscribe_events("e", &room).await;
    // An operation starts on its own after the socket has read the subscribe, so a ping
    // round trip does not prove a feed is open (a kick before its access check is
    // NOT_FOUND, rightly). The server's gauges say when both feeds listen.
    app.feeds_open(1, 1).await;
    Moderated {
        app,
        owner,
        member,
        room,
        ws,
    }
}

#[tokio::test]
async fn a_ban_ends_both_feeds_with_banned() {
    let mut t = member_watching("PUBLIC").await;
    t.app
        .act(&t.owner, "banUser", &t.room, &t.member.id)
        .await
        .ok();
    assert_eq!(t.ws.both_end().await, ("BANNED".into(), "BANNED".into()));
    t.ws.subscribe_messages("again", &t.room, None).await;
    assert_eq!(t.ws.expect_error_end("again").await, "BANNED");
}

#[tokio::test]
async fn a_kick_ends_both_feeds_with_forbidden_and_a_public_room_can_be_resubscribed() {
    let mut t = member_watching("PUBLIC").await;
    t.app
        .act(&t.owner, "removeMember", &t.room, &t.member.id)
        .await
        .ok();
    assert_eq!(
        t.ws.both_end().await,
        ("FORBIDDEN".into(), "FORBIDDEN".into())
    );
    // Non-members may read public rooms, so a new subscription works.
    t.ws.subscribe_messages("again", &t.room, None).await;
    t.ws.ping_pong().await;
    t.app.send(&t.owner, &t.room, "still here").await.ok();
    assert_eq!(
        t.ws.next_data("again").await["roomMessages"]["body"],
        "still here"
    );
}

#[tokio::test]
async fn a_kick_from_a_private_room_ends_feeds_and_resubscribing_is_not_found() {
    let mut t = member_watching("PRIVATE").await;
    t.app
        .act(&t.owner, "removeMember", &t.room, &t.member.id)
        .await
        .ok();
    assert_eq!(
        t.ws.both_end().await,
        ("FORBIDDEN".into(), "FORBIDDEN".into())
    );
    t.ws.subscribe_messages("again", &t.room, None).await;
    assert_eq!(t.ws.expect_error_end("again").await, "NOT_FOUND");
}

#[tokio::test]
async fn deleting_the_room_ends_both_feeds_with_not_found_after_a_room_deleted_event() {
    let mut t = member_watching("PUBLIC").await;
    t.app
        .post(
            Some(&t.owner.token),
            "mutation($r: ID!) { deleteRoom(roomId: $r) }",
            json!({"r": t.room}),
        )
        .await
        .ok();
    let mut saw_deleted_event = false;
    let mut codes = std::collections::HashMap::new();
    while codes.len() < 2 {
        let msg = t.ws.next_json().await;
        if msg["type"] != "next" {
            continue;
        }
        let id = msg["id"].as_str().unwrap_or("").to_owned();
        if msg["payload"]["data"]["roomEvents"]["__typename"] == "RoomDeleted" {
            saw_deleted_event = true;
        }
        if let Some(code) = msg["payload"]["errors"][0]["extensions"]["code"].as_str() {
            codes.insert(id, code.to_owned());
        }
    }
    assert!(saw_deleted_event);
    assert_eq!(codes["m"], "NOT_FOUND");
    assert_eq!(codes["e"], "NOT_FOUND");
}

#[tokio::test]
async fn leaving_a_members_only_room_ends_feeds_but_leaving_a_public_room_does_not() {
    let mut t = member_watching("RESTRICTED").await;
    t.app
        .post(
            Some(&t.member.token),
            "mutation($r: ID!) { leaveRoom(roomId: $r) }",
            json!({"r": t.room}),
        )
        .await
        .ok();
    assert_eq!(
        t.ws.both_end().await,
        ("FORBIDDEN".into(), "FORBIDDEN".into())
    );

    let mut p = member_watching("PUBLIC").await;
    p.app
        .post(
            Some(&p.member.token),
            "mutation($r: ID!) { leaveRoom(roomId: $r) }",
            json!({"r": p.room}),
        )
        .await
        .ok();
    let left = p.ws.next_data("e").await;
    assert_eq!(left["roomEvents"]["__typename"], "MemberLeft");
    p.app
        .send(&p.owner, &p.room, "you can still read")
        .await
        .ok();
    assert_eq!(
        p.ws.next_data("m").await["roomMessages"]["body"],
        "you can still read"
    );
}

#[tokio::test]
async fn turning_a_public_room_restricted_ends_non_member_feeds() {
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let reader = app.register(&uname("reader")).await;
    let room = app.create_room(&owner, "open", "PUBLIC").await;
    let mut ws = app.ws(Some(&reader.token)).await;
    ws.subscribe_messages("m", &room, None).await;
    ws.ping_pong().await;
    app.post(
        Some(&owner.token),
        "mutation($r: ID!) { updateRoom(roomId: $r, input: {type: RESTRICTED}) { type } }",
        json!({"r": room}),
    )
    .await
    .ok();
    assert_eq!(ws.expect_error_end("m").await, "FORBIDDEN");
}

#[tokio::test]
async fn moderation_events_reach_readers_and_join_requests_reach_admins_only() {
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let member = app.register(&uname("member")).await;
    let asker = app.register(&uname("asker")).await;
    let room = app.create_room(&owner, "events", "RESTRICTED").await;
    app.act(&owner, "addMember", &room, &member.id).await.ok();
    let mut admin_ws = app.ws(Some(&owner.token)).await;
    admin_ws.subscribe_events("e", &room).await;
    let mut member_ws = app.ws(Some(&member.token)).await;
    member_ws.subscribe_events("e", &room).await;
    admin_ws.ping_pong().await;
    member_ws.ping_pong().await;

    app.post(
        Some(&asker.token),
        "mutation($r: ID!) { requestToJoin(roomId: $r, message: \"hi\") { createdAt } }",
        json!({"r": room}),
    )
    .await
    .ok();
    let sent = app.send(&member, &room, "to be deleted").await;
    let msg_id = sent.ok()["sendMessage"]["id"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    app.post(
        Some(&owner.token),
        "mutation($m: ID!) { deleteMessage(messageId: $m) }",
        json!({"m": msg_id}),
    )
    .await
    .ok();

    let a1 = admin_ws.next_data("e").await;
    assert_eq!(a1["roomEvents"]["__typename"], "JoinRequested");
    let a2 = admin_ws.next_data("e").await;
    assert_eq!(a2["roomEvents"]["__typename"], "MessageDeleted");
    assert_eq!(a2["roomEvents"]["messageId"], msg_id.as_str());
    // The plain member does not see the join request; the deletion is their next event.
    let m1 = member_ws.next_data("e").await;
    assert_eq!(m1["roomEvents"]["__typename"], "MessageDeleted");

    app.post(
        Some(&owner.token),
        "mutation($r: ID!, $u: ID!) { muteMember(roomId: $r, userId: $u, durationSeconds: 60) { muted } }",
        json!({"r": room, "u": member.id}),
    )
    .await
    .ok();
    let m2 = member_ws.next_data("e").await;
    assert_eq!(m2["roomEvents"]["__typename"], "MemberMuted");
    assert_eq!(m2["roomEvents"]["member"]["muted"], true);
}

#[tokio::test]
async fn a_timed_mute_announces_its_own_end() {
    let clock = roomcast::domain::clock::ManualClock::new();
    let app = spawn_with_clock(std::sync::Arc::new(clock.clone()), |_| {}).await;
    let owner = app.register(&uname("owner")).await;
    let member = app.register(&uname("member")).await;
    let room = app.create_room(&owner, "mute", "PUBLIC").await;
    app.join(&member, &room).await.ok();
    let mut ws = app.ws(Some(&owner.token)).await;
    ws.subscribe_events("e", &room).await;
    ws.ping_pong().await;
    app.post(
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
    // 59 s in: still muted. At 60 s the mute ends by itself, announced as an event.
    clock.advance(chrono::Duration::seconds(59));
    assert_eq!(app.send(&member, &room, "not yet").await.code(), "MUTED");
    clock.advance(chrono::Duration::seconds(1));
    let unmuted = ws.next_data("e").await;
    assert_eq!(unmuted["roomEvents"]["__typename"], "MemberUnmuted");
    assert_eq!(unmuted["roomEvents"]["member"]["muted"], false);
    app.send(&member, &room, "free again").await.ok();
}
