//! Accounts and tokens, input limits, unknown ids, and the HTTP edge (status codes, body
//! limits, hostile documents): every refusal carries an `extensions.code`.

use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::*;

const REGISTER: &str =
    "mutation($u: String!, $p: String!) { register(username: $u, password: $p) { token user { id username } } }";
const LOGIN: &str = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token user { id username } } }";
const VIEWER: &str = "{ viewer { id username } }";

async fn register(app: &TestApp, username: &str, password: &str) -> Gql {
    app.post(None, REGISTER, json!({"u": username, "p": password}))
        .await
}

async fn login(app: &TestApp, username: &str, password: &str) -> Gql {
    app.post(None, LOGIN, json!({"u": username, "p": password}))
        .await
}

async fn create_room(app: &TestApp, who: &Session, input: Value) -> Gql {
    app.post(
        Some(&who.token),
        "mutation($i: CreateRoomInput!) { createRoom(input: $i) { id name topic maxUsers } }",
        json!({"i": input}),
    )
    .await
}

async fn update_room(app: &TestApp, who: &Session, room: &str, input: Value) -> Gql {
    app.post(
        Some(&who.token),
        "mutation($r: ID!, $i: UpdateRoomInput!) { updateRoom(roomId: $r, input: $i) { id } }",
        json!({"r": room, "i": input}),
    )
    .await
}

/// Fails unless every error of the response has a string `extensions.code`.
fn assert_all_coded(body: &Value) {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected errors, got {body}"));
    assert!(!errors.is_empty(), "expected errors, got {body}");
    for e in errors {
        assert!(
            e["extensions"]["code"].is_string(),
            "error without a code: {e} in {body}"
        );
    }
}

/// A raw POST to /graphql: (status, parsed JSON body).
async fn raw_post(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = app.http.post(app.url()).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, json)
}

/// A GraphQL document POSTed as JSON, returning (status, body) without assuming success.
async fn raw_query(app: &TestApp, query: &str) -> (u16, Value) {
    raw_post(
        app,
        Some("application/json"),
        json!({"query": query}).to_string().into_bytes(),
    )
    .await
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

// ------------------------------------------------------------------ accounts and tokens

#[tokio::test]
async fn register_returns_a_working_token_and_the_user() {
    // Arrange
    let app = spawn_app().await;
    let name = uname("alice");

    // Act
    let r = register(&app, &name, "password123").await;

    // Assert
    let payload = &r.ok()["register"];
    assert_eq!(payload["user"]["username"], name.as_str());
    let token = payload["token"].as_str().expect("token");
    assert!(!token.is_empty());
    let me = app.post(Some(token), VIEWER, json!({})).await;
    assert_eq!(me.ok()["viewer"], payload["user"]);
}

#[tokio::test]
async fn usernames_are_unique_regardless_of_case() {
    // Arrange
    let app = spawn_app().await;
    let name = uname("Alice");
    register(&app, &name, "password123").await.ok();

    // Act
    let same = register(&app, &name, "password456").await;
    let lower = register(&app, &name.to_lowercase(), "password456").await;
    let upper = register(&app, &name.to_uppercase(), "password456").await;

    // Assert
    assert_eq!(same.code(), "CONFLICT");
    assert_eq!(lower.code(), "CONFLICT");
    assert_eq!(upper.code(), "CONFLICT");
    // The field at fault is named, so a form can show the message next to it.
    assert_eq!(same.0["errors"][0]["extensions"]["field"], "username");
}

#[tokio::test]
async fn login_with_the_right_password_gives_a_new_token() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;

    // Act
    let r = login(&app, &alice.username, "password123").await;

    // Assert
    let payload = &r.ok()["login"];
    assert_eq!(payload["user"]["id"], alice.id.as_str());
    let token = payload["token"].as_str().expect("token");
    assert_ne!(token, alice.token);
    let me = app.post(Some(token), VIEWER, json!({})).await;
    assert_eq!(me.ok()["viewer"]["id"], alice.id.as_str());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_fail_alike() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;

    // Act
    let wrong_password = login(&app, &alice.username, "password124").await;
    let unknown_user = login(&app, &uname("nobody"), "password123").await;
    let overlong_user = login(&app, &"x".repeat(200), "password123").await;

    // Assert
    assert_eq!(wrong_password.code(), "UNAUTHENTICATED");
    assert_eq!(unknown_user.code(), "UNAUTHENTICATED");
    assert_eq!(overlong_user.code(), "UNAUTHENTICATED");
    assert_eq!(wrong_password.message(), unknown_user.message());
    assert_eq!(wrong_password.message(), overlong_user.message());
    assert_eq!(wrong_password.0["data"], Value::Null);
}

#[tokio::test]
async fn logout_revokes_only_that_token() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let second = login(&app, &alice.username, "password123").await;
    let second_token = second.ok()["login"]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    // Act
    let out = app
        .post(Some(&alice.token), "mutation { logout }", json!({}))
        .await;
    let after = app.post(Some(&alice.token), VIEWER, json!({})).await;
    let other_session = app.post(Some(&second_token), VIEWER, json!({})).await;

    // Assert
    assert_eq!(out.ok()["logout"], true);
    assert_eq!(after.code(), "UNAUTHENTICATED");
    assert_all_coded(&after.0);
    assert_eq!(other_session.ok()["viewer"]["id"], alice.id.as_str());
}

#[tokio::test]
async fn logout_needs_a_token() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let r = app.post(None, "mutation { logout }", json!({})).await;

    // Assert
    assert_eq!(r.code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_garbage_token_is_refused_never_anonymous() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let forged = format!("{}x", alice.token);

    // Act / Assert
    for token in ["garbage", forged.as_str(), "Zm9yZ2Vk"] {
        for query in [VIEWER, "{ rooms { nodes { id } } }"] {
            let r = app.post(Some(token), query, json!({})).await;
            assert_eq!(
                r.code(),
                "UNAUTHENTICATED",
                "token {token:?}, query {query}: {}",
                r.0
            );
            assert!(r.0["data"].is_null(), "no data for a bad token: {}", r.0);
        }
    }
}

/// POSTs `{ viewer { id } }` with a raw `Authorization` header value.
async fn viewer_with_header(app: &TestApp, header: &str) -> Value {
    let resp = app
        .http
        .post(app.url())
        .header("authorization", header)
        .json(&json!({"query": VIEWER}))
        .send()
        .await
        .expect("sent");
    resp.json().await.expect("json")
}

#[tokio::test]
async fn a_malformed_authorization_header_is_refused_never_anonymous() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let garbage = [
        "Basic YWxpY2U6cHc=",
        "Bearer",
        "Bearer    ",
        "garbage",
        "Token abc def",
    ];

    // Act / Assert
    for header in garbage {
        let body = viewer_with_header(&app, header).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "Authorization: {header:?} gave {body}"
        );
        assert!(body["data"].is_null(), "{header:?}: {body}");
    }
    // A token sent without its scheme is either refused or taken as that user's token,
    // never as anonymous.
    let body = viewer_with_header(&app, &alice.token).await;
    let refused = body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED";
    let as_alice = body["data"]["viewer"]["id"] == alice.id.as_str();
    assert!(refused || as_alice, "schemeless token gave {body}");
}

// ------------------------------------------------------------------ input limits

#[tokio::test]
async fn username_limits() {
    // Arrange
    let app = spawn_app().await;
    let bad = [
        "ab".to_owned(),
        "a".repeat(33),
        "bad name".into(),
        "émile".into(),
        "a/b".into(),
        "".into(),
    ];
    let good = ["abc".to_owned(), "a.b-c_9".into(), "a".repeat(32)];

    // Act / Assert
    for name in &bad {
        let r = register(&app, name, "password123").await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "username {name:?}");
    }
    for name in &good {
        register(&app, name, "password123").await.ok();
    }
}

#[tokio::test]
async fn password_limits() {
    // Arrange
    let app = spawn_app().await;

    // Act / Assert
    for bad in ["1234567".to_owned(), "p".repeat(129), String::new()] {
        let r = register(&app, &uname("u"), &bad).await;
        assert_eq!(
            r.code(),
            "BAD_USER_INPUT",
            "password of {} chars",
            bad.len()
        );
    }
    for good in ["12345678".to_owned(), "p".repeat(128)] {
        let name = uname("u");
        register(&app, &name, &good).await.ok();
        login(&app, &name, &good).await.ok();
    }
}

#[tokio::test]
async fn room_name_and_topic_limits() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let hundred = "n".repeat(100);

    // Act / Assert
    for bad in [String::new(), "   ".into(), "n".repeat(101)] {
        let r = create_room(&app, &alice, json!({"name": bad})).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "name {bad:?}");
    }
    let trimmed = create_room(&app, &alice, json!({"name": format!("  {hundred}  ")})).await;
    assert_eq!(trimmed.ok()["createRoom"]["name"], hundred.as_str());
    let room = trimmed.ok()["createRoom"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let long_topic =
        create_room(&app, &alice, json!({"name": "t", "topic": "t".repeat(501)})).await;
    assert_eq!(long_topic.code(), "BAD_USER_INPUT");
    let ok_topic = create_room(&app, &alice, json!({"name": "t", "topic": "t".repeat(500)})).await;
    assert_eq!(
        ok_topic.ok()["createRoom"]["topic"].as_str().map(str::len),
        Some(500)
    );

    for bad in [
        json!({"name": "  "}),
        json!({"name": "n".repeat(101)}),
        json!({"topic": "t".repeat(501)}),
    ] {
        let r = update_room(&app, &alice, &room, bad.clone()).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "update {bad}");
    }
}

#[tokio::test]
async fn message_body_limits() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "lobby", "PUBLIC").await;

    // Act / Assert
    for bad in [String::new(), " \n\t ".into(), "b".repeat(4001)] {
        let r = app.send(&alice, &room, &bad).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "body of {} chars", bad.len());
    }
    for good in ["b".repeat(4000), "é".repeat(4000), "  padded  ".to_owned()] {
        let r = app.send(&alice, &room, &good).await;
        assert_eq!(
            r.ok()["sendMessage"]["body"],
            good.as_str(),
            "kept exactly as sent"
        );
    }
}

#[tokio::test]
async fn max_users_limits() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "lobby", "PUBLIC").await;

    // Act / Assert
    for bad in [0, -1, 10_001] {
        let created = create_room(&app, &alice, json!({"name": "r", "maxUsers": bad})).await;
        assert_eq!(created.code(), "BAD_USER_INPUT", "create maxUsers {bad}");
        let updated = update_room(&app, &alice, &room, json!({"maxUsers": bad})).await;
        assert_eq!(updated.code(), "BAD_USER_INPUT", "update maxUsers {bad}");
    }
    for good in [1, 10_000] {
        let created = create_room(&app, &alice, json!({"name": "r", "maxUsers": good})).await;
        assert_eq!(created.ok()["createRoom"]["maxUsers"], good);
    }
}

#[tokio::test]
async fn page_sizes_must_be_between_1_and_100() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "lobby", "PUBLIC").await;
    let queries = [
        "query($n: Int, $r: ID!) { rooms(first: $n) { nodes { id } } room(id: $r) { id } }",
        "query($n: Int, $r: ID!) { messages(roomId: $r, last: $n) { nodes { id } } }",
        "query($n: Int, $r: ID!) { room(id: $r) { messages(last: $n) { nodes { id } } } }",
    ];

    // Act / Assert
    for q in queries {
        for bad in [0, 101, -5] {
            let r = app
                .post(Some(&alice.token), q, json!({"n": bad, "r": room}))
                .await;
            assert_eq!(r.code(), "BAD_USER_INPUT", "{q} with {bad}");
        }
        for good in [1, 100] {
            app.post(Some(&alice.token), q, json!({"n": good, "r": room}))
                .await
                .ok();
        }
    }
}

#[tokio::test]
async fn malformed_cursors_are_bad_input() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "lobby", "PUBLIC").await;
    let message_cursor = app.send(&alice, &room, "hi").await.ok()["sendMessage"]["cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let rooms_page = app
        .post(
            Some(&alice.token),
            "{ rooms(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let room_cursor = rooms_page.ok()["rooms"]["pageInfo"]["endCursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let rooms_q = "query($c: String) { rooms(after: $c) { nodes { id } } }";
    let messages_q =
        "query($r: ID!, $c: String) { messages(roomId: $r, before: $c) { nodes { id } } }";
    let nested_q =
        "query($r: ID!, $c: String) { room(id: $r) { messages(before: $c) { nodes { id } } } }";

    // Act / Assert
    for bad in [
        "nope",
        "",
        "!!!",
        &message_cursor,
        &b64("r:abc:def"),
        &b64("r:1:not-a-uuid"),
    ] {
        let r = app
            .post(Some(&alice.token), rooms_q, json!({"c": bad}))
            .await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "rooms(after: {bad:?})");
    }
    for bad in [
        "nope",
        "",
        "!!!",
        &room_cursor,
        &b64("m:-1"),
        &b64("m:abc"),
        &b64("m:"),
    ] {
        for q in [messages_q, nested_q] {
            let r = app
                .post(Some(&alice.token), q, json!({"r": room, "c": bad}))
                .await;
            assert_eq!(r.code(), "BAD_USER_INPUT", "{q} before {bad:?}");
        }
    }
    // The real ones work.
    app.post(Some(&alice.token), rooms_q, json!({"c": room_cursor}))
        .await
        .ok();
    app.post(
        Some(&alice.token),
        messages_q,
        json!({"r": room, "c": message_cursor}),
    )
    .await
    .ok();
}

// ------------------------------------------------------------------ unknown ids

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "lobby", "PUBLIC").await;
    let random = uuid::Uuid::new_v4().to_string();
    let t = Some(alice.token.as_str());

    for id in ["nope", "", random.as_str()] {
        // Act
        let room_scoped = [
            (
                "joinRoom",
                app.post(
                    t,
                    "mutation($id: ID!) { joinRoom(roomId: $id) { role } }",
                    json!({"id": id}),
                )
                .await,
            ),
            (
                "leaveRoom",
                app.post(
                    t,
                    "mutation($id: ID!) { leaveRoom(roomId: $id) }",
                    json!({"id": id}),
                )
                .await,
            ),
            (
                "requestToJoin",
                app.post(
                    t,
                    "mutation($id: ID!) { requestToJoin(roomId: $id) { message } }",
                    json!({"id": id}),
                )
                .await,
            ),
            (
                "sendMessage",
                app.post(
                    t,
                    "mutation($id: ID!) { sendMessage(roomId: $id, body: \"x\") { id } }",
                    json!({"id": id}),
                )
                .await,
            ),
            (
                "deleteRoom",
                app.post(
                    t,
                    "mutation($id: ID!) { deleteRoom(roomId: $id) }",
                    json!({"id": id}),
                )
                .await,
            ),
            (
                "updateRoom",
                app.post(
                    t,
                    "mutation($id: ID!) { updateRoom(roomId: $id, input: {name: \"x\"}) { id } }",
                    json!({"id": id}),
                )
                .await,
            ),
            (
                "roomMembers",
                app.post(
                    t,
                    "query($id: ID!) { roomMembers(roomId: $id) { role } }",
                    json!({"id": id}),
                )
                .await,
            ),
            (
                "messages",
                app.post(
                    t,
                    "query($id: ID!) { messages(roomId: $id) { nodes { id } } }",
                    json!({"id": id}),
                )
                .await,
            ),
            (
                "deleteMessage",
                app.post(
                    t,
                    "mutation($id: ID!) { deleteMessage(messageId: $id) }",
                    json!({"id": id}),
                )
                .await,
            ),
            (
                "addMember(room)",
                app.act(&alice, "addMember", id, &alice.id).await,
            ),
        ];
        let user_scoped = [
            ("addMember", app.act(&alice, "addMember", &room, id).await),
            (
                "removeMember",
                app.act(&alice, "removeMember", &room, id).await,
            ),
            ("muteMember", app.act(&alice, "muteMember", &room, id).await),
            (
                "unmuteMember",
                app.act(&alice, "unmuteMember", &room, id).await,
            ),
            ("banUser", app.act(&alice, "banUser", &room, id).await),
            ("unbanUser", app.act(&alice, "unbanUser", &room, id).await),
            (
                "approveJoinRequest",
                app.act(&alice, "approveJoinRequest", &room, id).await,
            ),
            (
                "rejectJoinRequest",
                app.act(&alice, "rejectJoinRequest", &room, id).await,
            ),
            (
                "transferOwnership",
                app.act(&alice, "transferOwnership", &room, id).await,
            ),
            (
                "setMemberRole",
                app.set_role(&alice, &room, id, "ADMIN").await,
            ),
        ];
        let lookup = app
            .post(
                t,
                "query($id: ID!) { room(id: $id) { id } }",
                json!({"id": id}),
            )
            .await;

        // Assert
        for (what, r) in room_scoped.iter().chain(&user_scoped) {
            assert_eq!(r.code(), "NOT_FOUND", "{what} with id {id:?}: {}", r.0);
        }
        assert_eq!(lookup.ok()["room"], Value::Null, "room(id: {id:?})");
    }
    let anonymous = app
        .post(None, "{ room(id: \"nope\") { id } }", json!({}))
        .await;
    assert_eq!(anonymous.ok()["room"], Value::Null);
    assert_eq!(
        app.post(
            t,
            "query($u: String!) { user(username: $u) { id } }",
            json!({"u": "nobody_here"})
        )
        .await
        .ok()["user"],
        Value::Null
    );
}

// ------------------------------------------------------------------ the HTTP edge

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_and_json_errors() {
    // Arrange
    let app = spawn_app().await;
    let padding = "x".repeat(1024 * 1024 + 1);
    let body = json!({"query": format!("{{ viewer {{ id }} }} # {padding}")}).to_string();

    // Act
    let (status, json) = raw_post(&app, Some("application/json"), body.into_bytes()).await;

    // Assert
    assert_eq!(status, 413);
    assert_all_coded(&json);
    assert_eq!(json["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_accepted() {
    // Arrange
    let app = spawn_app().await;
    let prefix = json!({"query": "{ viewer { id } } # "}).to_string();
    let padding = "x".repeat(1024 * 1024 - prefix.len());
    let body = json!({"query": format!("{{ viewer {{ id }} }} # {padding}")}).to_string();
    assert!(body.len() <= 1024 * 1024, "{}", body.len());

    // Act
    let (status, json) = raw_post(&app, Some("application/json"), body.into_bytes()).await;

    // Assert
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["viewer"], Value::Null);
}

#[tokio::test]
async fn malformed_json_is_400_with_a_code() {
    // Arrange
    let app = spawn_app().await;

    // Act / Assert
    for body in [
        "{not json",
        "",
        "[1, 2",
        "\"just a string\"",
        "{\"query\": 5}",
    ] {
        let (status, json) =
            raw_post(&app, Some("application/json"), body.as_bytes().to_vec()).await;
        assert_eq!(status, 400, "body {body:?}: {json}");
        assert_all_coded(&json);
    }
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    // Arrange
    let app = spawn_app().await;
    let body = json!({"query": VIEWER}).to_string().into_bytes();

    // Act / Assert
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let (status, json) = raw_post(&app, ct, body.clone()).await;
        assert_eq!(status, 415, "content type {ct:?}: {json}");
        assert_all_coded(&json);
    }
    let (status, json) = raw_post(&app, Some("application/json; charset=utf-8"), body).await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn get_without_a_websocket_upgrade_is_405() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app.http.get(app.url()).send().await.expect("sent");

    // Assert
    assert_eq!(resp.status().as_u16(), 405);
    let json: Value = resp.json().await.expect("json body");
    assert_all_coded(&json);
}

#[tokio::test]
async fn a_syntax_error_is_bad_user_input() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let (status, json) = raw_query(&app, "{ rooms { nodes { id }").await;

    // Assert
    assert_eq!(status, 200);
    assert_all_coded(&json);
    assert_eq!(json["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn query_depth_and_cost_bombs_are_refused_with_a_code() {
    // Arrange
    let app = spawn_app().await;
    // The schema has no cycle through rooms and users, but introspection does (`ofType`).
    let of_type = format!(
        "{{ __schema {{ types {{ {}name{} }} }} }}",
        "ofType { ".repeat(20),
        " }".repeat(20)
    );
    // Fragments nested far beyond the parser's recursion limit.
    let fragments = format!(
        "{{ rooms {{ nodes {{ {} id {} }} }} }}",
        "... on Room { ".repeat(200),
        " }".repeat(200)
    );
    // Deep field nesting through members and their users, far past the depth limit.
    let members = format!(
        "{{ rooms {{ nodes {{ {} id {} }} }} }}",
        "members { user { ".repeat(100),
        " } }".repeat(100)
    );
    // Thousands of aliased fields: cheap to write, costly to run.
    let aliases = format!(
        "{{ {} }}",
        (0..2500)
            .map(|i| format!("a{i}: rooms {{ nodes {{ id }} }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Unbalanced braces, very deep.
    let braces = format!("{{{}", "{ a ".repeat(20_000));

    // Act / Assert
    for (what, q) in [
        ("ofType", &of_type),
        ("fragments", &fragments),
        ("members", &members),
        ("aliases", &aliases),
        ("braces", &braces),
    ] {
        let (status, json) = raw_query(&app, q).await;
        assert!(status < 500, "{what}: status {status}");
        assert_all_coded(&json);
        assert_eq!(
            json["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{what}: {json}"
        );
        assert!(json["data"].is_null(), "{what}: nothing runs: {json}");
    }
    // The server is still fine.
    let (status, json) = raw_query(&app, "{ rooms { nodes { id } } }").await;
    assert_eq!((status, &json["data"]["rooms"]["nodes"]), (200, &json!([])));
}

#[tokio::test]
async fn every_error_carries_a_code() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "lobby", "RESTRICTED").await;
    let bob = app.register(&uname("bob")).await;
    let bodies = [
        json!({"query": "{ nope }"}),
        json!({"query": "{ rooms(bogus: 1) { nodes { id } } }"}),
        json!({"query": "{ room { id } }"}),
        json!({"query": "query($n: Int) { rooms(first: $n) { nodes { id } } }", "variables": {"n": "many"}}),
        json!({"query": "query($r: ID!) { room(id: $r) { id } }"}),
        json!({"query": "mutation { createRoom(input: {name: \"x\", type: SECRET}) { id } }"}),
        json!({"query": "query A { viewer { id } } query B { viewer { id } }"}),
        json!({"query": "query A { viewer { id } }", "operationName": "C"}),
        json!({"query": ""}),
        json!({"query": "subscription { roomEvents(roomId: \"x\") { __typename } }"}),
        json!({"query": "{ viewer { id @skip } }"}),
        json!({"query": "{ __typename ...F }"}),
    ];

    // Act / Assert
    for body in &bodies {
        let (status, json) = raw_post(
            &app,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await;
        assert!(status < 500, "{body}: status {status}");
        assert_all_coded(&json);
    }
    // Several field errors in one response each carry their own code.
    let r = app
        .post(
            Some(&bob.token),
            "query($r: ID!) { a: messages(roomId: $r) { nodes { id } } b: roomMembers(roomId: $r) { role } \
             c: messages(roomId: \"nope\") { nodes { id } } d: rooms(first: 0) { nodes { id } } }",
            json!({"r": room}),
        )
        .await;
    assert_all_coded(&r.0);
    let codes: Vec<&str> = r.0["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap_or(""))
        .collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        vec!["BAD_USER_INPUT", "FORBIDDEN", "FORBIDDEN", "NOT_FOUND"],
        "{}",
        r.0
    );
}
