//! Rooms: types and visibility, anonymous access, capacity, pagination, settings, leaving
//! and deleting.

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::*;

const ROOM: &str =
    "query($id: ID!) { room(id: $id) { id name topic type maxUsers memberCount viewerRole } }";
const LIST: &str = "query($first: Int, $after: String, $search: String) { rooms(first: $first, after: $after, search: $search) { \
    pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id name topic type memberCount } } }";
const MESSAGES: &str = "query($r: ID!, $last: Int, $before: String) { messages(roomId: $r, last: $last, before: $before) { \
    pageInfo { hasPreviousPage hasNextPage startCursor } nodes { id body cursor } } }";
const MEMBERS: &str = "query($r: ID!) { roomMembers(roomId: $r) { role user { id } } }";
const REQUEST: &str = "mutation($r: ID!, $m: String) { requestToJoin(roomId: $r, message: $m) { user { id } message } }";
const UPDATE: &str = "mutation($r: ID!, $i: UpdateRoomInput!) { updateRoom(roomId: $r, input: $i) { id name topic type maxUsers } }";
const LEAVE: &str = "mutation($r: ID!) { leaveRoom(roomId: $r) }";
const DELETE: &str = "mutation($r: ID!) { deleteRoom(roomId: $r) }";

fn tok(who: Option<&Session>) -> Option<&str> {
    who.map(|s| s.token.as_str())
}

async fn room(app: &TestApp, who: Option<&Session>, id: &str) -> Value {
    app.post(tok(who), ROOM, json!({"id": id})).await.ok()["room"].clone()
}

async fn list(app: &TestApp, who: Option<&Session>, vars: Value) -> Gql {
    app.post(tok(who), LIST, vars).await
}

async fn listed_ids(app: &TestApp, who: Option<&Session>) -> Vec<String> {
    strings(
        &list(app, who, json!({})).await.ok()["rooms"]["nodes"],
        "id",
    )
}

async fn messages(
    app: &TestApp,
    who: Option<&Session>,
    room: &str,
    last: Option<i64>,
    before: Option<&str>,
) -> Gql {
    app.post(
        tok(who),
        MESSAGES,
        json!({"r": room, "last": last, "before": before}),
    )
    .await
}

async fn members(app: &TestApp, who: &Session, room: &str) -> Gql {
    app.post(Some(&who.token), MEMBERS, json!({"r": room}))
        .await
}

async fn request_to_join(app: &TestApp, who: &Session, room: &str) -> Gql {
    app.post(
        Some(&who.token),
        REQUEST,
        json!({"r": room, "m": "let me in"}),
    )
    .await
}

async fn update(app: &TestApp, who: &Session, room: &str, input: Value) -> Gql {
    app.post(Some(&who.token), UPDATE, json!({"r": room, "i": input}))
        .await
}

async fn leave(app: &TestApp, who: &Session, room: &str) -> Gql {
    app.post(Some(&who.token), LEAVE, json!({"r": room})).await
}

async fn delete(app: &TestApp, who: &Session, room: &str) -> Gql {
    app.post(Some(&who.token), DELETE, json!({"r": room})).await
}

async fn join_requests(app: &TestApp, who: &Session, room: &str) -> Gql {
    app.post(
        Some(&who.token),
        "query($id: ID!) { room(id: $id) { joinRequests { user { id } message } } }",
        json!({"id": room}),
    )
    .await
}

// ------------------------------------------------------------------ room types

#[tokio::test]
async fn public_room_is_listed_to_everyone_and_readable_without_joining() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    app.send(&alice, &room_id, "welcome").await.ok();

    // Act
    let anonymous_list = listed_ids(&app, None).await;
    let bob_list = listed_ids(&app, Some(&bob)).await;
    let history = messages(&app, Some(&bob), &room_id, None, None).await;
    let joined = app.join(&bob, &room_id).await;

    // Assert
    assert_eq!(anonymous_list, vec![room_id.clone()]);
    assert_eq!(bob_list, vec![room_id.clone()]);
    assert_eq!(
        strings(&history.ok()["messages"]["nodes"], "body"),
        vec!["welcome"]
    );
    assert_eq!(joined.ok()["joinRoom"]["role"], "MEMBER");
    assert_eq!(room(&app, Some(&bob), &room_id).await["memberCount"], 2);
}

#[tokio::test]
async fn restricted_room_is_listed_but_closed_to_non_members() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let room_id = app
        .create_room_with(
            &alice,
            json!({"name": "club", "type": "RESTRICTED", "topic": "members only"}),
        )
        .await;
    app.send(&alice, &room_id, "secret").await.ok();

    // Act
    let anonymous_list = list(&app, None, json!({})).await;
    let bob_list = list(&app, Some(&bob), json!({})).await;
    let join = app.join(&bob, &room_id).await;
    let read = messages(&app, Some(&bob), &room_id, None, None).await;
    let who = members(&app, &bob, &room_id).await;
    let send = app.send(&bob, &room_id, "hi").await;

    // Assert
    for listing in [&anonymous_list, &bob_list] {
        let node = &listing.ok()["rooms"]["nodes"][0];
        assert_eq!(node["id"], room_id.as_str());
        assert_eq!(node["name"], "club");
        assert_eq!(node["topic"], "members only");
        assert_eq!(node["type"], "RESTRICTED");
        assert_eq!(node["memberCount"], 1);
    }
    assert_eq!(join.code(), "FORBIDDEN");
    assert_eq!(read.code(), "FORBIDDEN");
    assert_eq!(who.code(), "FORBIDDEN");
    assert_eq!(send.code(), "FORBIDDEN");
}

#[tokio::test]
async fn approved_join_request_makes_a_member_who_can_read() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let room_id = app.create_room(&alice, "club", "RESTRICTED").await;
    app.send(&alice, &room_id, "for members").await.ok();

    // Act
    let requested = request_to_join(&app, &bob, &room_id).await;
    let pending = join_requests(&app, &alice, &room_id).await;
    let approved = app
        .act(&alice, "approveJoinRequest", &room_id, &bob.id)
        .await;

    // Assert
    assert_eq!(
        requested.ok()["requestToJoin"]["user"]["id"],
        bob.id.as_str()
    );
    assert_eq!(requested.ok()["requestToJoin"]["message"], "let me in");
    let pending = &pending.ok()["room"]["joinRequests"];
    assert_eq!(strings(pending, "message"), vec!["let me in"]);
    assert_eq!(pending[0]["user"]["id"], bob.id.as_str());
    assert_eq!(approved.ok()["approveJoinRequest"]["role"], "MEMBER");
    let history = messages(&app, Some(&bob), &room_id, None, None).await;
    assert_eq!(
        strings(&history.ok()["messages"]["nodes"], "body"),
        vec!["for members"]
    );
    assert_eq!(
        room(&app, Some(&bob), &room_id).await["viewerRole"],
        "MEMBER"
    );
    let after = join_requests(&app, &alice, &room_id).await;
    assert_eq!(after.ok()["room"]["joinRequests"], json!([]));
}

#[tokio::test]
async fn rejected_join_request_is_removed() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let room_id = app.create_room(&alice, "club", "RESTRICTED").await;
    request_to_join(&app, &bob, &room_id).await.ok();

    // Act
    let rejected = app
        .act(&alice, "rejectJoinRequest", &room_id, &bob.id)
        .await;

    // Assert
    assert_eq!(rejected.ok()["rejectJoinRequest"], true);
    let pending = join_requests(&app, &alice, &room_id).await;
    assert_eq!(pending.ok()["room"]["joinRequests"], json!([]));
    let approve = app
        .act(&alice, "approveJoinRequest", &room_id, &bob.id)
        .await;
    assert_eq!(approve.code(), "NOT_FOUND");
    assert_eq!(
        messages(&app, Some(&bob), &room_id, None, None)
            .await
            .code(),
        "FORBIDDEN"
    );
    // The request is gone, so asking again is not a duplicate.
    request_to_join(&app, &bob, &room_id).await.ok();
}

#[tokio::test]
async fn duplicate_join_request_conflicts() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let room_id = app.create_room(&alice, "club", "RESTRICTED").await;
    request_to_join(&app, &bob, &room_id).await.ok();

    // Act
    let again = request_to_join(&app, &bob, &room_id).await;

    // Assert
    assert_eq!(again.code(), "CONFLICT");
}

#[tokio::test]
async fn request_to_join_a_public_room_is_bad_input() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;

    // Act
    let r = request_to_join(&app, &bob, &room_id).await;

    // Assert
    assert_eq!(r.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn private_room_is_invisible_to_non_members() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let room_id = app.create_room(&alice, "hideout", "PRIVATE").await;
    app.send(&alice, &room_id, "psst").await.ok();

    // Act
    let bob_list = listed_ids(&app, Some(&bob)).await;
    let anonymous_list = listed_ids(&app, None).await;
    let bob_view = room(&app, Some(&bob), &room_id).await;
    let anonymous_view = room(&app, None, &room_id).await;
    let read = messages(&app, Some(&bob), &room_id, None, None).await;
    let join = app.join(&bob, &room_id).await;
    let request = request_to_join(&app, &bob, &room_id).await;
    let send = app.send(&bob, &room_id, "hello?").await;
    let who = members(&app, &bob, &room_id).await;

    // Assert
    assert!(bob_list.is_empty(), "{bob_list:?}");
    assert!(anonymous_list.is_empty(), "{anonymous_list:?}");
    assert_eq!(bob_view, Value::Null);
    assert_eq!(anonymous_view, Value::Null);
    for (what, r) in [
        ("messages", read),
        ("joinRoom", join),
        ("requestToJoin", request),
        ("sendMessage", send),
        ("roomMembers", who),
    ] {
        assert_eq!(r.code(), "NOT_FOUND", "{what}: {}", r.0);
    }
    assert_eq!(listed_ids(&app, Some(&alice)).await, vec![room_id]);
}

#[tokio::test]
async fn private_room_members_are_added_by_admins_and_then_see_it() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let room_id = app.create_room(&alice, "hideout", "PRIVATE").await;
    app.send(&alice, &room_id, "psst").await.ok();

    // Act
    let added = app.act(&alice, "addMember", &room_id, &bob.id).await;

    // Assert
    assert_eq!(added.ok()["addMember"]["role"], "MEMBER");
    assert_eq!(listed_ids(&app, Some(&bob)).await, vec![room_id.clone()]);
    let view = room(&app, Some(&bob), &room_id).await;
    assert_eq!(view["name"], "hideout");
    assert_eq!(view["viewerRole"], "MEMBER");
    let history = messages(&app, Some(&bob), &room_id, None, None).await;
    assert_eq!(
        strings(&history.ok()["messages"]["nodes"], "body"),
        vec!["psst"]
    );
    app.send(&bob, &room_id, "hi all").await.ok();
}

// ------------------------------------------------------------------ anonymous visitors

#[tokio::test]
async fn anonymous_visitors_may_only_look() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    app.send(&alice, &room_id, "hello").await.ok();

    // Act
    let listing = listed_ids(&app, None).await;
    let view = room(&app, None, &room_id).await;
    let read = messages(&app, None, &room_id, None, None).await;
    let send = app
        .post(
            None,
            "mutation($r: ID!) { sendMessage(roomId: $r, body: \"hi\") { id } }",
            json!({"r": room_id}),
        )
        .await;
    let create = app
        .post(
            None,
            "mutation { createRoom(input: {name: \"mine\"}) { id } }",
            json!({}),
        )
        .await;
    let join = app
        .post(
            None,
            "mutation($r: ID!) { joinRoom(roomId: $r) { role } }",
            json!({"r": room_id}),
        )
        .await;
    let user = app
        .post(
            None,
            "query($u: String!) { user(username: $u) { id } }",
            json!({"u": alice.username}),
        )
        .await;

    // Assert
    assert_eq!(listing, vec![room_id.clone()]);
    assert_eq!(view["name"], "lobby");
    assert_eq!(view["viewerRole"], Value::Null);
    for (what, r) in [
        ("messages", read),
        ("sendMessage", send),
        ("createRoom", create),
        ("joinRoom", join),
        ("user", user),
    ] {
        assert_eq!(r.code(), "UNAUTHENTICATED", "{what}: {}", r.0);
    }
}

// ------------------------------------------------------------------ capacity

#[tokio::test]
async fn max_users_counts_the_owner_on_join() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let carol = app.register(&uname("carol")).await;
    let room_id = app
        .create_room_with(&alice, json!({"name": "duo", "maxUsers": 2}))
        .await;

    // Act
    let first = app.join(&bob, &room_id).await;
    let second = app.join(&carol, &room_id).await;

    // Assert
    first.ok();
    assert_eq!(second.code(), "ROOM_FULL");
    assert_eq!(room(&app, Some(&alice), &room_id).await["memberCount"], 2);
}

#[tokio::test]
async fn max_users_applies_to_add_member() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let carol = app.register(&uname("carol")).await;
    let room_id = app
        .create_room_with(
            &alice,
            json!({"name": "duo", "type": "PRIVATE", "maxUsers": 2}),
        )
        .await;

    // Act
    let first = app.act(&alice, "addMember", &room_id, &bob.id).await;
    let second = app.act(&alice, "addMember", &room_id, &carol.id).await;

    // Assert
    first.ok();
    assert_eq!(second.code(), "ROOM_FULL");
}

#[tokio::test]
async fn max_users_applies_to_approved_join_requests() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let carol = app.register(&uname("carol")).await;
    let room_id = app
        .create_room_with(
            &alice,
            json!({"name": "duo", "type": "RESTRICTED", "maxUsers": 2}),
        )
        .await;
    request_to_join(&app, &bob, &room_id).await.ok();
    request_to_join(&app, &carol, &room_id).await.ok();

    // Act
    let first = app
        .act(&alice, "approveJoinRequest", &room_id, &bob.id)
        .await;
    let second = app
        .act(&alice, "approveJoinRequest", &room_id, &carol.id)
        .await;

    // Assert
    first.ok();
    assert_eq!(second.code(), "ROOM_FULL");
    assert_eq!(
        messages(&app, Some(&carol), &room_id, None, None)
            .await
            .code(),
        "FORBIDDEN"
    );
}

#[tokio::test]
async fn adding_an_existing_member_conflicts_even_in_a_full_room() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let roomy = app.create_room(&alice, "roomy", "PUBLIC").await;
    let full = app
        .create_room_with(&alice, json!({"name": "duo", "maxUsers": 2}))
        .await;
    for room_id in [&roomy, &full] {
        app.join(&bob, room_id).await.ok();
    }

    // Act
    let in_roomy = app.act(&alice, "addMember", &roomy, &bob.id).await;
    let in_full = app.act(&alice, "addMember", &full, &bob.id).await;
    let join_again = app.join(&bob, &full).await;

    // Assert
    assert_eq!(in_roomy.code(), "CONFLICT");
    assert_eq!(join_again.code(), "CONFLICT");
    assert_eq!(in_full.code(), "CONFLICT", "{}", in_full.0);
}

#[tokio::test]
async fn concurrent_joins_never_exceed_max_users() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app
        .create_room_with(&alice, json!({"name": "trio", "maxUsers": 3}))
        .await;
    let names: Vec<String> = (0..10).map(|_| uname("u")).collect();
    let users = join_all(names.iter().map(|n| app.register(n))).await;

    // Act
    let results = join_all(users.iter().map(|u| app.join(u, &room_id))).await;

    // Assert
    let joined = results
        .iter()
        .filter(|r| r.0.get("errors").is_none_or(|e| e.is_null()))
        .count();
    let full = results
        .iter()
        .filter(|r| r.0["errors"][0]["extensions"]["code"] == "ROOM_FULL")
        .count();
    assert_eq!(joined, 2, "{results:?}");
    assert_eq!(full, 8, "{results:?}");
    assert_eq!(room(&app, Some(&alice), &room_id).await["memberCount"], 3);
    let all = members(&app, &alice, &room_id).await;
    assert_eq!(all.ok()["roomMembers"].as_array().map(Vec::len), Some(3));
}

// ------------------------------------------------------------------ pagination

#[tokio::test]
async fn rooms_first_must_be_between_1_and_100() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    app.create_room(&alice, "lobby", "PUBLIC").await;

    // Act / Assert
    for bad in [0, -1, 101] {
        let r = list(&app, Some(&alice), json!({"first": bad})).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "first: {bad}");
    }
    for good in [1, 100] {
        let r = list(&app, Some(&alice), json!({"first": good})).await;
        assert_eq!(
            r.ok()["rooms"]["nodes"].as_array().map(Vec::len),
            Some(1),
            "first: {good}"
        );
    }
}

#[tokio::test]
async fn rooms_after_cursor_pages_without_overlap() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            app.create_room(&alice, &format!("room {i}"), "PUBLIC")
                .await,
        );
    }

    // Act
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let r = list(&app, Some(&alice), json!({"first": 2, "after": after})).await;
        let conn = r.ok()["rooms"].clone();
        seen.extend(strings(&conn["nodes"], "id"));
        pages.push((
            conn["nodes"].as_array().map(Vec::len),
            conn["pageInfo"]["hasNextPage"].clone(),
        ));
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        assert!(pages.len() < 10, "pagination does not end");
    }

    // Assert
    assert_eq!(seen, created, "oldest first, every room once");
    assert_eq!(
        pages,
        vec![
            (Some(2), json!(true)),
            (Some(2), json!(true)),
            (Some(1), json!(false))
        ]
    );
}

#[tokio::test]
async fn rooms_search_matches_name_or_topic() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let by_name = app
        .create_room_with(&alice, json!({"name": "rust lovers", "topic": "systems"}))
        .await;
    let by_topic = app
        .create_room_with(&alice, json!({"name": "gardening", "topic": "rusty tools"}))
        .await;
    app.create_room_with(&alice, json!({"name": "cooking", "topic": "pasta"}))
        .await;

    // Act
    let rust = list(&app, None, json!({"search": "rust"})).await;
    let pasta = list(&app, None, json!({"search": "pasta"})).await;
    let nothing = list(&app, None, json!({"search": "chess"})).await;
    let wildcards = [
        list(&app, None, json!({"search": "%"})).await,
        list(&app, None, json!({"search": "_"})).await,
    ];
    let too_long = list(&app, None, json!({"search": "s".repeat(101)})).await;

    // Assert
    assert_eq!(
        strings(&rust.ok()["rooms"]["nodes"], "id"),
        vec![by_name, by_topic]
    );
    assert_eq!(
        strings(&pasta.ok()["rooms"]["nodes"], "name"),
        vec!["cooking"]
    );
    assert_eq!(nothing.ok()["rooms"]["nodes"], json!([]));
    for r in wildcards {
        assert_eq!(
            r.ok()["rooms"]["nodes"],
            json!([]),
            "LIKE wildcards are matched literally"
        );
    }
    assert_eq!(too_long.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn message_history_pages_backwards_oldest_first() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    let bodies: Vec<String> = (1..=5).map(|i| format!("m{i}")).collect();
    for b in &bodies {
        app.send(&alice, &room_id, b).await.ok();
    }

    // Act
    let mut pages = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let r = messages(&app, Some(&alice), &room_id, Some(2), before.as_deref()).await;
        let conn = r.ok()["messages"].clone();
        pages.push((
            strings(&conn["nodes"], "body"),
            conn["pageInfo"]["hasPreviousPage"].clone(),
        ));
        if conn["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = conn["nodes"][0]["cursor"].as_str().map(str::to_owned);
        assert_eq!(conn["pageInfo"]["startCursor"].as_str(), before.as_deref());
        assert!(pages.len() < 10, "pagination does not end");
    }

    // Assert
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        pages,
        vec![
            (s(&["m4", "m5"]), json!(true)),
            (s(&["m2", "m3"]), json!(true)),
            (s(&["m1"]), json!(false)),
        ]
    );
}

// ------------------------------------------------------------------ settings

#[tokio::test]
async fn owner_updates_room_settings() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;

    // Act
    let r = update(
        &app,
        &alice,
        &room_id,
        json!({"name": "  parlour  ", "topic": "tea", "type": "RESTRICTED", "maxUsers": 5}),
    )
    .await;

    // Assert
    let updated = &r.ok()["updateRoom"];
    assert_eq!(updated["name"], "parlour");
    assert_eq!(updated["topic"], "tea");
    assert_eq!(updated["type"], "RESTRICTED");
    assert_eq!(updated["maxUsers"], 5);
    let stored = room(&app, Some(&alice), &room_id).await;
    assert_eq!(
        (
            &stored["name"],
            &stored["topic"],
            &stored["type"],
            &stored["maxUsers"]
        ),
        (
            &json!("parlour"),
            &json!("tea"),
            &json!("RESTRICTED"),
            &json!(5)
        )
    );
}

#[tokio::test]
async fn update_with_explicit_null_clears_topic_and_max_users_and_omitted_fields_stay() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app
        .create_room_with(
            &alice,
            json!({"name": "lobby", "topic": "chat", "maxUsers": 10}),
        )
        .await;

    // Act
    let name_only = update(&app, &alice, &room_id, json!({"name": "hall"})).await;
    let cleared = update(
        &app,
        &alice,
        &room_id,
        json!({"topic": null, "maxUsers": null}),
    )
    .await;

    // Assert
    let kept = &name_only.ok()["updateRoom"];
    assert_eq!(
        (&kept["name"], &kept["topic"], &kept["maxUsers"]),
        (&json!("hall"), &json!("chat"), &json!(10))
    );
    let after = &cleared.ok()["updateRoom"];
    assert_eq!(after["name"], "hall");
    assert_eq!(after["topic"], Value::Null);
    assert_eq!(after["maxUsers"], Value::Null);
    assert_eq!(after["type"], "PUBLIC");
}

#[tokio::test]
async fn admins_may_update_rooms_and_members_may_not() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    let admin = app.admin_of(&alice, &room_id, "admin").await;
    let member = app.member_of(&alice, &room_id, "member").await;

    // Act
    let by_admin = update(&app, &admin, &room_id, json!({"topic": "set by admin"})).await;
    let by_member = update(&app, &member, &room_id, json!({"topic": "set by member"})).await;

    // Assert
    assert_eq!(by_admin.ok()["updateRoom"]["topic"], "set by admin");
    assert_eq!(by_member.code(), "FORBIDDEN");
    assert_eq!(
        room(&app, Some(&alice), &room_id).await["topic"],
        "set by admin"
    );
}

#[tokio::test]
async fn max_users_below_member_count_is_bad_input() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    app.member_of(&alice, &room_id, "bob").await;
    app.member_of(&alice, &room_id, "carol").await;

    // Act
    let too_small = update(&app, &alice, &room_id, json!({"maxUsers": 2})).await;
    let exact = update(&app, &alice, &room_id, json!({"maxUsers": 3})).await;

    // Assert
    assert_eq!(too_small.code(), "BAD_USER_INPUT");
    assert_eq!(exact.ok()["updateRoom"]["maxUsers"], 3);
}

#[tokio::test]
async fn viewer_role_reflects_the_viewers_membership() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let outsider = app.register(&uname("out")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    let admin = app.admin_of(&alice, &room_id, "admin").await;
    let member = app.member_of(&alice, &room_id, "member").await;

    // Act
    let roles = [
        room(&app, Some(&alice), &room_id).await["viewerRole"].clone(),
        room(&app, Some(&admin), &room_id).await["viewerRole"].clone(),
        room(&app, Some(&member), &room_id).await["viewerRole"].clone(),
        room(&app, Some(&outsider), &room_id).await["viewerRole"].clone(),
        room(&app, None, &room_id).await["viewerRole"].clone(),
    ];

    // Assert
    assert_eq!(
        roles,
        [
            json!("OWNER"),
            json!("ADMIN"),
            json!("MEMBER"),
            Value::Null,
            Value::Null
        ]
    );
}

#[tokio::test]
async fn member_count_follows_joins_and_leaves() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let carol = app.register(&uname("carol")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    let count = || async { room(&app, None, &room_id).await["memberCount"].clone() };

    // Act / Assert
    assert_eq!(count().await, 1);
    app.join(&bob, &room_id).await.ok();
    assert_eq!(count().await, 2);
    app.join(&carol, &room_id).await.ok();
    assert_eq!(count().await, 3);
    leave(&app, &bob, &room_id).await.ok();
    assert_eq!(count().await, 2);
    let listed = list(&app, None, json!({})).await;
    assert_eq!(listed.ok()["rooms"]["nodes"][0]["memberCount"], 2);
}

// ------------------------------------------------------------------ leaving

#[tokio::test]
async fn a_member_may_leave() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    let bob = app.member_of(&alice, &room_id, "bob").await;

    // Act
    let r = leave(&app, &bob, &room_id).await;

    // Assert
    assert_eq!(r.ok()["leaveRoom"], true);
    assert_eq!(
        room(&app, Some(&bob), &room_id).await["viewerRole"],
        Value::Null
    );
    assert_eq!(
        app.send(&bob, &room_id, "still here?").await.code(),
        "FORBIDDEN"
    );
}

#[tokio::test]
async fn the_owner_cannot_leave_until_ownership_is_transferred() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    let bob = app.member_of(&alice, &room_id, "bob").await;

    // Act
    let before = leave(&app, &alice, &room_id).await;
    let transferred = app
        .act(&alice, "transferOwnership", &room_id, &bob.id)
        .await;
    let alice_role = room(&app, Some(&alice), &room_id).await["viewerRole"].clone();
    let bob_role = room(&app, Some(&bob), &room_id).await["viewerRole"].clone();
    let after = leave(&app, &alice, &room_id).await;

    // Assert
    assert_eq!(before.code(), "CONFLICT");
    assert_eq!(
        transferred.ok()["transferOwnership"]["owner"]["id"],
        bob.id.as_str()
    );
    assert_eq!(alice_role, "ADMIN");
    assert_eq!(bob_role, "OWNER");
    assert_eq!(after.ok()["leaveRoom"], true);
    assert_eq!(leave(&app, &bob, &room_id).await.code(), "CONFLICT");
}

#[tokio::test]
async fn leaving_a_room_you_are_not_in_is_not_found() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let public = app.create_room(&alice, "lobby", "PUBLIC").await;
    let restricted = app.create_room(&alice, "club", "RESTRICTED").await;

    // Act / Assert
    assert_eq!(leave(&app, &bob, &public).await.code(), "NOT_FOUND");
    assert_eq!(leave(&app, &bob, &restricted).await.code(), "NOT_FOUND");
}

// ------------------------------------------------------------------ deleting

#[tokio::test]
async fn the_owner_deletes_a_room_and_it_is_gone() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    let bob = app.member_of(&alice, &room_id, "bob").await;
    app.send(&bob, &room_id, "hello").await.ok();

    // Act
    let r = delete(&app, &alice, &room_id).await;

    // Assert
    assert_eq!(r.ok()["deleteRoom"], room_id.as_str());
    assert_eq!(room(&app, Some(&alice), &room_id).await, Value::Null);
    assert!(listed_ids(&app, Some(&alice)).await.is_empty());
    let after = [
        (
            "messages",
            messages(&app, Some(&bob), &room_id, None, None).await,
        ),
        ("sendMessage", app.send(&bob, &room_id, "anyone?").await),
        ("joinRoom", app.join(&bob, &room_id).await),
        ("leaveRoom", leave(&app, &bob, &room_id).await),
        (
            "updateRoom",
            update(&app, &alice, &room_id, json!({"name": "again"})).await,
        ),
        ("deleteRoom", delete(&app, &alice, &room_id).await),
        ("roomMembers", members(&app, &alice, &room_id).await),
    ];
    for (what, r) in after {
        assert_eq!(r.code(), "NOT_FOUND", "{what}: {}", r.0);
    }
}

#[tokio::test]
async fn admins_may_delete_rooms_and_members_may_not() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room_id = app.create_room(&alice, "lobby", "PUBLIC").await;
    let admin = app.admin_of(&alice, &room_id, "admin").await;
    let member = app.member_of(&alice, &room_id, "member").await;

    // Act
    let by_member = delete(&app, &member, &room_id).await;
    let still_there = room(&app, None, &room_id).await;
    let by_admin = delete(&app, &admin, &room_id).await;

    // Assert
    assert_eq!(by_member.code(), "FORBIDDEN");
    assert_eq!(still_there["id"], room_id.as_str());
    assert_eq!(by_admin.ok()["deleteRoom"], room_id.as_str());
    assert_eq!(room(&app, Some(&alice), &room_id).await, Value::Null);
}

/// The storage calls the server has made so far (from `/metrics`).
async fn store_calls(app: &TestApp) -> u64 {
    sample(&app.metrics_text().await, "roomcast_store_calls_total") as u64
}

/// A page of rooms asking `viewerRole` reads the viewer's memberships once, not once per
/// room (no N+1), and every room gets its own role.
#[tokio::test]
async fn viewer_role_of_a_page_of_rooms_is_read_in_one_batch() {
    // Arrange: 12 rooms by others; the viewer owns 3 more, is admin of 2, member of 4.
    let app = spawn_app().await;
    let viewer = app.register(&uname("viewer")).await;
    let other = app.register(&uname("other")).await;
    let mut expected = std::collections::HashMap::new();
    for i in 0..12 {
        let room = app
            .create_room(&other, &format!("theirs {i}"), "PUBLIC")
            .await;
        let role = match i {
            0..=1 => {
                app.join(&viewer, &room).await.ok();
                app.set_role(&other, &room, &viewer.id, "ADMIN").await.ok();
                json!("ADMIN")
            }
            2..=5 => {
                app.join(&viewer, &room).await.ok();
                json!("MEMBER")
            }
            _ => Value::Null,
        };
        expected.insert(room, role);
    }
    for i in 0..3 {
        let room = app
            .create_room(&viewer, &format!("mine {i}"), "PUBLIC")
            .await;
        expected.insert(room, json!("OWNER"));
    }

    // Act
    let before = store_calls(&app).await;
    let page = app
        .post(
            Some(&viewer.token),
            "{ rooms(first: 50) { nodes { id viewerRole } } }",
            json!({}),
        )
        .await;
    let calls = store_calls(&app).await - before;

    // Assert
    let nodes = page.ok()["rooms"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(nodes.len(), 15);
    for node in &nodes {
        let id = node["id"].as_str().expect("id");
        assert_eq!(node["viewerRole"], expected[id], "room {id}");
    }
    // Authentication, the page, and one batch of memberships; 15 rooms would be 17+.
    assert!(calls <= 4, "{calls} storage calls for one page");
}
