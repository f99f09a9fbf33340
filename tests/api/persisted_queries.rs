//! Automatic persisted queries over HTTP and graphql-ws: the `PERSISTED_QUERY_NOT_FOUND`
//! round trip Apollo Client and urql make, hashes checked against their documents, and the
//! document limits applied to persisted documents too.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::*;

const SEND: &str =
    "mutation($r: ID!, $b: String!) { sendMessage(roomId: $r, body: $b) { seq body } }";

fn sha(doc: &str) -> String {
    Sha256::digest(doc.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn persisted(hash: &str) -> Value {
    json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
}

#[tokio::test]
async fn over_http_an_unknown_hash_is_not_found_until_sent_with_its_document() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "apq", "PUBLIC").await;
    let vars = |b: &str| json!({"r": room, "b": b});

    // Hash alone, first time: the error both clients retry on.
    let miss = app
        .post_body(
            Some(&alice.token),
            json!({"variables": vars("one"), "extensions": persisted(&sha(SEND))}),
        )
        .await;
    assert_eq!(miss.code(), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(miss.0["errors"][0]["message"], "PersistedQueryNotFound");

    // The retry with the document runs it and keeps it.
    let sent = app
        .post_body(
            Some(&alice.token),
            json!({"query": SEND, "variables": vars("two"), "extensions": persisted(&sha(SEND))}),
        )
        .await;
    assert_eq!(sent.ok()["sendMessage"]["body"], "two");

    // From now on the hash is enough.
    let again = app
        .post_body(
            Some(&alice.token),
            json!({"variables": vars("three"), "extensions": persisted(&sha(SEND))}),
        )
        .await;
    assert_eq!(again.ok()["sendMessage"]["body"], "three");
    assert_eq!(
        again.ok()["sendMessage"]["seq"].as_i64(),
        sent.ok()["sendMessage"]["seq"].as_i64().map(|s| s + 1)
    );
}

#[tokio::test]
async fn a_document_sent_with_another_documents_hash_is_refused_and_not_kept() {
    let app = spawn_app().await;
    let other = "query { __typename }";
    let wrong = app
        .post_body(
            None,
            json!({"query": other, "extensions": persisted(&sha(SEND))}),
        )
        .await;
    assert_eq!(wrong.code(), "BAD_USER_INPUT");
    // The hash still names nothing: nobody can plant a document under someone else's hash.
    let miss = app
        .post_body(None, json!({"extensions": persisted(&sha(SEND))}))
        .await;
    assert_eq!(miss.code(), "PERSISTED_QUERY_NOT_FOUND");

    for bad in [
        json!({"version": 2, "sha256Hash": sha(SEND)}),
        json!({"version": 1, "sha256Hash": "not-hex"}),
        json!("persisted"),
    ] {
        let r = app
            .post_body(None, json!({"extensions": {"persistedQuery": bad}}))
            .await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{bad}");
    }
}

#[tokio::test]
async fn a_persisted_document_over_the_limits_is_refused_like_any_other_and_not_kept() {
    let app = spawn_app().await;
    let deep = format!("query {}{}", "{ a ".repeat(300), "}".repeat(300));
    let refused = app
        .post_body(
            None,
            json!({"query": deep, "extensions": persisted(&sha(&deep))}),
        )
        .await;
    assert_eq!(refused.code(), "BAD_USER_INPUT");
    let miss = app
        .post_body(None, json!({"extensions": persisted(&sha(&deep))}))
        .await;
    assert_eq!(miss.code(), "PERSISTED_QUERY_NOT_FOUND");
}

#[tokio::test]
async fn over_the_websocket_a_hash_alone_gets_an_error_message_then_works_once_known() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let room = app.create_room(&alice, "apq-ws", "PUBLIC").await;
    let sub = "subscription($r: ID!) { roomMessages(roomId: $r) { body } }";
    let mut ws = app.ws(Some(&alice.token)).await;

    ws.send(json!({"id": "h1", "type": "subscribe",
        "payload": {"variables": {"r": room}, "extensions": persisted(&sha(sub))}}))
        .await;
    let (ty, payload) = ws.next_for("h1").await;
    assert_eq!(ty, "error");
    assert_eq!(
        payload[0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    assert_eq!(payload[0]["message"], "PersistedQueryNotFound");

    // The retry with the document subscribes; a second subscription by hash alone works too
    // (documents are shared by both transports and every socket).
    ws.send(json!({"id": "h2", "type": "subscribe",
        "payload": {"query": sub, "variables": {"r": room}, "extensions": persisted(&sha(sub))}}))
        .await;
    ws.send(json!({"id": "h3", "type": "subscribe",
        "payload": {"variables": {"r": room}, "extensions": persisted(&sha(sub))}}))
        .await;
    app.feeds_open(2, 0).await;
    app.send(&alice, &room, "hello").await.ok();
    let mut got = Vec::new();
    while got.len() < 2 {
        let msg = ws.next_json().await;
        if msg["type"] == "next" {
            assert_eq!(msg["payload"]["data"]["roomMessages"]["body"], "hello");
            got.push(msg["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    got.sort();
    assert_eq!(got, ["h2", "h3"]);
    // A mutation over the socket by a hash HTTP made known.
    app.post_body(
        Some(&alice.token),
        json!({"query": SEND, "variables": {"r": room, "b": "x"}, "extensions": persisted(&sha(SEND))}),
    )
    .await
    .ok();
    ws.send(json!({"id": "m", "type": "subscribe",
        "payload": {"variables": {"r": room, "b": "by hash"}, "extensions": persisted(&sha(SEND))}}))
        .await;
    let (ty, payload) = ws.next_for("m").await;
    assert_eq!(ty, "next");
    assert_eq!(payload["data"]["sendMessage"]["body"], "by hash");
}
