use serde_json::json;

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
    ws.send(json!({"type": "ping"})).await;
    loop {
        if ws.next_json().await["type"] == "pong" {
            break;
        }
    }
    let sent = app.send(&alice, &room, "hello").await;
    let data = ws.next_data("m").await;
    assert_eq!(data["roomMessages"]["body"], "hello");
    assert_eq!(data["roomMessages"]["seq"], sent.ok()["sendMessage"]["seq"]);
}
