//! First contact: a message reaches a live subscriber, the committed schema matches the code,
//! and the health check answers.

use crate::helpers::*;

#[tokio::test]
async fn a_message_reaches_a_live_subscriber() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let bob = app.register(&uname("bob")).await;
    let room = app.create_room(&alice, "general", "PUBLIC").await;
    app.join(&bob, &room).await.ok();

    let mut ws = app.ws(Some(&bob.token)).await;
    ws.subscribe_messages("m", &room, None).await;
    // The subscription is live once a ping round-trip has passed through the same socket.
    ws.ping_pong().await;
    let sent = app.send(&alice, &room, "hello").await;
    let data = ws.next_data("m").await;
    assert_eq!(data["roomMessages"]["body"], "hello");
    assert_eq!(data["roomMessages"]["seq"], sent.ok()["sendMessage"]["seq"]);
}

#[test]
fn committed_schema_graphql_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists at the top level");
    let generated = roomcast::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date: run `cargo run -- print-schema > schema.graphql` and commit it"
    );
}

#[tokio::test]
async fn healthz_answers() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(format!("http://{}/healthz", app.addr))
        .send()
        .await
        .expect("request");
    assert!(resp.status().is_success());
}
