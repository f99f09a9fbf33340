//! Read markers and unread counts (issue 12): `markRead` moves forward only and is stored;
//! `Room.unreadCount` counts others' messages after the marker, deleted ones not; and
//! `Room.lastMessage` shows the newest message to those who may read it.

use serde_json::{json, Value};

use crate::helpers::*;

const MARK: &str = "mutation($r: ID!, $c: String!) { markRead(roomId: $r, cursor: $c) { lastReadCursor user { id } } }";
const ROOM: &str = "query($r: ID!) { room(id: $r) { unreadCount lastMessage { id body } } }";
const EVENTS: &str = "subscription($r: ID!) { roomEvents(roomId: $r) { __typename \
    ... on ReadMarkerMoved { user { id } cursor } ... on MemberJoined { member { user { id } } } } }";

/// Sends a message and returns its cursor.
async fn cursor_of(app: &TestApp, who: &Session, room: &str, body: &str) -> String {
    app.send(who, room, body).await.ok()["sendMessage"]["cursor"]
        .as_str()
        .expect("cursor")
        .to_owned()
}

async fn mark(app: &TestApp, who: &Session, room: &str, cursor: &str) -> Gql {
    app.post(Some(&who.token), MARK, json!({"r": room, "c": cursor}))
        .await
}

async fn room_view(app: &TestApp, who: Option<&Session>, room: &str) -> Value {
    let r = app
        .post(who.map(|w| w.token.as_str()), ROOM, json!({"r": room}))
        .await;
    r.ok()["room"].clone()
}

#[tokio::test]
async fn unread_counts_others_messages_after_the_marker_and_the_marker_only_moves_forward() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let first = cursor_of(&app, &c.owner, &c.room, "one").await;
    let second = cursor_of(&app, &c.owner, &c.room, "two").await;
    cursor_of(&app, &c.member, &c.room, "my own").await;
    let third = cursor_of(&app, &c.admin, &c.room, "three").await;

    // Act
    let before = room_view(&app, Some(&c.member), &c.room).await;
    let marked = mark(&app, &c.member, &c.room, &second).await;
    let after_mark = room_view(&app, Some(&c.member), &c.room).await;
    let back = mark(&app, &c.member, &c.room, &first).await;
    let after_back = room_view(&app, Some(&c.member), &c.room).await;
    mark(&app, &c.member, &c.room, &third).await.ok();
    let all_read = room_view(&app, Some(&c.member), &c.room).await;

    // Assert: the member's own message never counts.
    assert_eq!(before["unreadCount"], 3);
    assert_eq!(marked.ok()["markRead"]["lastReadCursor"], second.as_str());
    assert_eq!(after_mark["unreadCount"], 1);
    assert_eq!(
        back.ok()["markRead"]["lastReadCursor"],
        second.as_str(),
        "a cursor before the marker leaves it where it is"
    );
    assert_eq!(after_back["unreadCount"], 1);
    assert_eq!(all_read["unreadCount"], 0);
    assert_eq!(all_read["lastMessage"]["body"], "three");
}

#[tokio::test]
async fn deleted_and_purged_messages_do_not_count_as_unread() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let other = app.member_of(&c.owner, &c.room, "other").await;
    let gone = app.send(&c.owner, &c.room, "deleted soon").await.ok()["sendMessage"]["id"].clone();
    cursor_of(&app, &other, &c.room, "spam a").await;
    cursor_of(&app, &other, &c.room, "spam b").await;
    cursor_of(&app, &c.admin, &c.room, "stays").await;
    assert_eq!(
        room_view(&app, Some(&c.member), &c.room).await["unreadCount"],
        4
    );

    app.post(
        Some(&c.owner.token),
        "mutation($m: ID!) { deleteMessage(messageId: $m) }",
        json!({"m": gone}),
    )
    .await
    .ok();
    app.post(
        Some(&c.owner.token),
        "mutation($r: ID!, $u: ID!) { banUser(roomId: $r, userId: $u, deleteMessagesSeconds: 3600) { user { id } } }",
        json!({"r": c.room, "u": other.id}),
    )
    .await
    .ok();

    assert_eq!(
        room_view(&app, Some(&c.member), &c.room).await["unreadCount"],
        1
    );
}

#[tokio::test]
async fn unread_count_is_for_members_and_last_message_for_readers() {
    let app = spawn_app().await;
    let public = cast(&app, "PUBLIC").await;
    let restricted = cast(&app, "RESTRICTED").await;
    let outsider = app.register(&uname("outsider")).await;
    cursor_of(&app, &public.owner, &public.room, "public news").await;
    cursor_of(&app, &restricted.owner, &restricted.room, "members only").await;

    let public_outsider = room_view(&app, Some(&outsider), &public.room).await;
    let public_anonymous = room_view(&app, None, &public.room).await;
    let restricted_outsider = room_view(&app, Some(&outsider), &restricted.room).await;
    let restricted_member = room_view(&app, Some(&restricted.member), &restricted.room).await;

    assert_eq!(
        public_outsider,
        json!({"unreadCount": null, "lastMessage": {"id": public_outsider["lastMessage"]["id"], "body": "public news"}})
    );
    assert_eq!(
        public_anonymous,
        json!({"unreadCount": null, "lastMessage": null})
    );
    assert_eq!(
        restricted_outsider,
        json!({"unreadCount": null, "lastMessage": null})
    );
    assert_eq!(restricted_member["unreadCount"], 1);
    assert_eq!(restricted_member["lastMessage"]["body"], "members only");
}

#[tokio::test]
async fn mark_read_is_for_members_with_a_cursor_of_the_room() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let private = cast(&app, "PRIVATE").await;
    let outsider = app.register(&uname("outsider")).await;
    let here = cursor_of(&app, &c.owner, &c.room, "here").await;
    let elsewhere = cursor_of(&app, &private.owner, &private.room, "elsewhere").await;
    let banned = app.member_of(&c.owner, &c.room, "banned").await;
    app.post(
        Some(&c.owner.token),
        "mutation($r: ID!, $u: ID!) { banUser(roomId: $r, userId: $u) { user { id } } }",
        json!({"r": c.room, "u": banned.id}),
    )
    .await
    .ok();

    let cases = [
        (mark(&app, &outsider, &c.room, &here).await, "FORBIDDEN"),
        (mark(&app, &banned, &c.room, &here).await, "BANNED"),
        (
            mark(&app, &outsider, &private.room, &elsewhere).await,
            "NOT_FOUND",
        ),
        (
            mark(&app, &c.member, &c.room, &elsewhere).await,
            "BAD_USER_INPUT",
        ),
        (
            mark(&app, &c.member, &c.room, "not a cursor").await,
            "BAD_USER_INPUT",
        ),
    ];
    for (r, want) in cases {
        assert_eq!(r.code(), want, "{:?}", r.0);
    }
    let anonymous = app.post(None, MARK, json!({"r": c.room, "c": here})).await;
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_moved_marker_is_announced_once_and_a_stale_one_not_at_all() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let first = cursor_of(&app, &c.owner, &c.room, "one").await;
    let second = cursor_of(&app, &c.owner, &c.room, "two").await;
    let mut ws = app.ws(Some(&c.owner.token)).await;
    ws.subscribe("e", EVENTS, json!({"r": c.room})).await;
    app.feeds_open(0, 1).await;

    // Act
    mark(&app, &c.member, &c.room, &second).await.ok();
    mark(&app, &c.member, &c.room, &first).await.ok();
    mark(&app, &c.member, &c.room, &second).await.ok();
    let newcomer = app.register(&uname("newcomer")).await;
    app.join(&newcomer, &c.room).await.ok();

    // Assert
    let moved = ws.next_data("e").await["roomEvents"].clone();
    assert_eq!(
        moved,
        json!({"__typename": "ReadMarkerMoved", "user": {"id": c.member.id}, "cursor": second})
    );
    assert_eq!(
        ws.next_data("e").await["roomEvents"]["__typename"],
        "MemberJoined",
        "no event for markers that did not move"
    );
}

#[tokio::test]
async fn read_markers_survive_a_restart() {
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let first = cursor_of(&app, &c.owner, &c.room, "one").await;
    cursor_of(&app, &c.owner, &c.room, "two").await;
    mark(&app, &c.member, &c.room, &first).await.ok();
    let db = app.stop().await;

    let app = spawn_on(&db, |_| {}).await;
    let members = app
        .post(
            Some(&c.member.token),
            "query($r: ID!) { roomMembers(roomId: $r) { lastReadCursor user { id } } }",
            json!({"r": c.room}),
        )
        .await;

    let me = members.ok()["roomMembers"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"]["id"] == c.member.id.as_str())
        .cloned()
        .expect("the member");
    assert_eq!(me["lastReadCursor"], first.as_str());
    assert_eq!(
        room_view(&app, Some(&c.member), &c.room).await["unreadCount"],
        1
    );
}
