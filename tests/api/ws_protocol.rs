//! graphql-ws conformance: every close code of PROTOCOL.md, ping/pong, complete, and the
//! error shapes for operations refused before and during execution.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn no_connection_init_within_the_timeout_closes_4408() {
    let app = spawn_with(|c| c.init_timeout_ms = 200).await;
    let mut ws = WsClient::connect(&app.ws_url()).await;
    assert_eq!(ws.expect_close().await, 4408);
}

#[tokio::test]
async fn an_invalid_token_at_init_closes_4403() {
    let app = spawn_app().await;
    let mut ws = WsClient::connect(&app.ws_url()).await;
    ws.send(json!({"type": "connection_init", "payload": {"token": "forged-token"}}))
        .await;
    assert_eq!(ws.expect_close().await, 4403);
}

#[tokio::test]
async fn a_revoked_token_at_init_closes_4403() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    app.post(Some(&alice.token), "mutation { logout }", json!({}))
        .await
        .ok();
    let mut ws = WsClient::connect(&app.ws_url()).await;
    ws.send(json!({"type": "connection_init", "payload": {"token": alice.token}}))
        .await;
    assert_eq!(ws.expect_close().await, 4403);
}

#[tokio::test]
async fn subscribe_before_ack_closes_4401() {
    let app = spawn_app().await;
    let mut ws = WsClient::connect(&app.ws_url()).await;
    ws.subscribe("1", "{ viewer { id } }", json!({})).await;
    assert_eq!(ws.expect_close().await, 4401);
}

#[tokio::test]
async fn a_second_connection_init_closes_4429() {
    let app = spawn_app().await;
    let mut ws = app.ws(None).await;
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(ws.expect_close().await, 4429);
}

#[tokio::test]
async fn a_duplicate_operation_id_closes_4409() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "dup", "PUBLIC").await;
    let mut ws = app.ws(Some(&alice.token)).await;
    ws.subscribe_messages("same", &room, None).await;
    ws.ping_pong().await;
    ws.subscribe_messages("same", &room, None).await;
    assert_eq!(ws.expect_close().await, 4409);
}

#[tokio::test]
async fn invalid_messages_close_4400() {
    let app = spawn_app().await;
    for bad in [
        "not json",
        r#"{"type":"no_such_type"}"#,
        r#"{"type":"subscribe","payload":{"query":"{ viewer { id } }"}}"#,
        r#"{"type":"subscribe","id":"1"}"#,
        r#"{"id":"1"}"#,
    ] {
        let mut ws = app.ws(None).await;
        ws.send_text(bad).await;
        assert_eq!(ws.expect_close().await, 4400, "for {bad}");
    }
    // Before the ack too.
    let mut ws = WsClient::connect(&app.ws_url()).await;
    ws.send_text("{").await;
    assert_eq!(ws.expect_close().await, 4400);
}

#[tokio::test]
async fn a_missing_subprotocol_closes_4406() {
    let app = spawn_app().await;
    let mut ws = WsClient::connect_with_protocol(&app.ws_url(), None).await;
    assert_eq!(ws.expect_close().await, 4406);
}

#[tokio::test]
async fn messages_over_64_kib_are_refused() {
    let app = spawn_app().await;
    let mut ws = app.ws(None).await;
    let huge = format!(
        r#"{{"type":"ping","payload":{{"x":"{}"}}}}"#,
        "a".repeat(70 * 1024)
    );
    ws.send_text(&huge).await;
    assert_eq!(ws.expect_close().await, 1009);
}

#[tokio::test]
async fn ping_is_answered_with_pong_before_and_after_init() {
    let app = spawn_app().await;
    let mut ws = WsClient::connect(&app.ws_url()).await;
    ws.send(json!({"type": "ping", "payload": {"n": 1}})).await;
    let pong = ws.next_json().await;
    assert_eq!(pong, json!({"type": "pong", "payload": {"n": 1}}));
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(ws.next_json().await["type"], "connection_ack");
    ws.ping_pong().await;
    // A client pong is accepted silently.
    ws.send(json!({"type": "pong"})).await;
    ws.ping_pong().await;
}

#[tokio::test]
async fn complete_stops_the_operation() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "c", "PUBLIC").await;
    let mut ws = app.ws(Some(&alice.token)).await;
    ws.subscribe_messages("a", &room, None).await;
    ws.subscribe_messages("b", &room, None).await;
    ws.ping_pong().await;
    ws.send(json!({"id": "a", "type": "complete"})).await;
    ws.ping_pong().await;
    app.send(&alice, &room, "after complete").await.ok();
    // Only "b" receives it; nothing arrives for "a" before b's message.
    let msg = ws.next_json().await;
    assert_eq!(msg["id"], "b", "got {msg}");
    assert_eq!(
        msg["payload"]["data"]["roomMessages"]["body"],
        "after complete"
    );
    // The id is free again: re-subscribing with it is not a duplicate.
    ws.subscribe_messages("a", &room, None).await;
    ws.ping_pong().await;
}

#[tokio::test]
async fn queries_and_mutations_over_the_socket_get_next_then_complete() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let mut ws = app.ws(Some(&alice.token)).await;
    ws.subscribe("q", "{ viewer { username } }", json!({}))
        .await;
    let data = ws.next_data("q").await;
    assert_eq!(data["viewer"]["username"], alice.username.as_str());
    assert_eq!(ws.next_for("q").await.0, "complete");
    ws.subscribe(
        "m",
        "mutation { createRoom(input: {name: \"over ws\"}) { name } }",
        json!({}),
    )
    .await;
    assert_eq!(ws.next_data("m").await["createRoom"]["name"], "over ws");
    assert_eq!(ws.next_for("m").await.0, "complete");
}

#[tokio::test]
async fn an_invalid_document_gets_an_error_message_with_a_code() {
    let app = spawn_app().await;
    let mut ws = app.ws(None).await;
    ws.subscribe("v", "subscription { noSuchField }", json!({}))
        .await;
    let (ty, payload) = ws.next_for("v").await;
    assert_eq!(ty, "error");
    assert_eq!(payload[0]["extensions"]["code"], "BAD_USER_INPUT");
    // The connection stays usable.
    ws.ping_pong().await;
}

#[tokio::test]
async fn subscribing_without_read_access_fails_with_the_query_code() {
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let other = app.register(&uname("other")).await;
    let restricted = app.create_room(&owner, "r", "RESTRICTED").await;
    let private = app.create_room(&owner, "p", "PRIVATE").await;
    let public = app.create_room(&owner, "pub", "PUBLIC").await;
    app.act(&owner, "banUser", &public, &other.id).await.ok();

    let query_code = |room: String| {
        let app = &app;
        let token = other.token.clone();
        async move {
            app.post(
                Some(&token),
                "query($r: ID!) { messages(roomId: $r) { nodes { id } } }",
                json!({"r": room}),
            )
            .await
            .code()
        }
    };
    let mut ws = app.ws(Some(&other.token)).await;
    for (room, expected) in [
        (&restricted, "FORBIDDEN"),
        (&private, "NOT_FOUND"),
        (&public, "BANNED"),
    ] {
        assert_eq!(query_code(room.clone()).await, expected);
        ws.subscribe_messages("m", room, None).await;
        assert_eq!(
            ws.expect_error_end("m").await,
            expected,
            "roomMessages on {expected}"
        );
        ws.subscribe_events("e", room).await;
        assert_eq!(
            ws.expect_error_end("e").await,
            expected,
            "roomEvents on {expected}"
        );
    }
    let mut anon = app.ws(None).await;
    anon.subscribe_messages("m", &public, None).await;
    assert_eq!(anon.expect_error_end("m").await, "UNAUTHENTICATED");
    let mut anon = app.ws(None).await;
    anon.subscribe_messages("m", "not-an-id", None).await;
    assert_eq!(anon.expect_error_end("m").await, "NOT_FOUND");
}

#[tokio::test]
async fn server_shutdown_closes_sockets_with_1001() {
    let app = spawn_app().await;
    let mut ws = app.ws(None).await;
    ws.ping_pong().await;
    let _db = app.stop().await;
    assert_eq!(ws.expect_close().await, 1001);
}

#[tokio::test]
async fn the_token_may_also_come_as_an_authorization_value() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let mut ws = WsClient::connect(&app.ws_url()).await;
    ws.send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", alice.token)}}))
        .await;
    assert_eq!(ws.next_json().await["type"], "connection_ack");
    ws.subscribe("q", "{ viewer { username } }", json!({}))
        .await;
    assert_eq!(
        ws.next_data("q").await["viewer"]["username"],
        alice.username.as_str()
    );
}

#[tokio::test]
async fn a_client_close_is_answered_with_a_close_frame() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    // Arrange
    let app = spawn_app().await;
    let mut ws = app.ws(None).await;

    // Act
    ws.socket
        .send(tokio_tungstenite::tungstenite::Message::Close(Some(
            CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            },
        )))
        .await
        .expect("send close");

    // Assert: the server's close frame comes back (browsers otherwise report 1006).
    match ws.next_event().await {
        WsEvent::Closed(code, _) => assert_eq!(code, Some(1000)),
        other => panic!("expected the close handshake, got {other:?}"),
    }
}

#[tokio::test]
async fn the_server_pings_and_drops_a_peer_that_never_answers() {
    // Arrange
    let app = spawn_with(|c| c.ws_keepalive_ms = 200).await;
    let mut ws = app.ws(None).await;

    // Act / Assert: a ping each period; answering keeps the socket.
    for _ in 0..2 {
        let ping = ws.next_json().await;
        assert_eq!(ping["type"], "ping", "{ping}");
        ws.send(json!({"type": "pong"})).await;
    }
    // Silence: the next ping goes unanswered and the socket is closed.
    assert_eq!(ws.next_json().await["type"], "ping");
    assert_eq!(ws.expect_close().await, 1001);
}
