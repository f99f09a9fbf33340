//! The wire vocabulary shared by the generator and the baseline: graphql-transport-ws messages,
//! the GraphQL operations the generator sends, and the timestamped message body.
//!
//! The body carries the *intended* send time (`t=<unix nanos>;` then padding to a fixed size),
//! so a receiver measures latency from when the message should have been sent, not from when
//! a possibly delayed publisher got round to it (no coordinated omission).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// WebSocket subprotocol of the graphql-ws protocol.
pub const SUBPROTOCOL: &str = "graphql-transport-ws";

/// The subscription every subscriber runs, with the room in `$r`.
pub const SUBSCRIPTION_QUERY: &str =
    "subscription($r: ID!){ roomMessages(roomId: $r) { seq body } }";

/// The publish mutation, with the room in `$r` and the body in `$b`.
pub const SEND_MESSAGE_QUERY: &str =
    "mutation($r: ID!, $b: String!){ sendMessage(roomId: $r, body: $b) { seq } }";

pub const REGISTER_QUERY: &str = "mutation($u: String!, $p: String!){ register(username: $u, password: $p) { token user { id } } }";

pub const CREATE_ROOM_QUERY: &str =
    "mutation($n: String!){ createRoom(input: {name: $n, type: PUBLIC}) { id } }";

pub const JOIN_ROOM_QUERY: &str = "mutation($r: ID!){ joinRoom(roomId: $r) { role } }";

/// Id under which every subscriber subscribes; the baseline pre-serializes frames with it.
pub const SUBSCRIPTION_ID: &str = "1";

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

pub fn connection_init(token: &str) -> String {
    json!({"type": "connection_init", "payload": {"token": token}}).to_string()
}

pub fn pong() -> &'static str {
    r#"{"type":"pong"}"#
}

pub fn subscribe_room(room_id: &str) -> String {
    json!({
        "id": SUBSCRIPTION_ID,
        "type": "subscribe",
        "payload": {"query": SUBSCRIPTION_QUERY, "variables": {"r": room_id}}
    })
    .to_string()
}

/// The viewer's own feed. `counted`: its `RoomActivity` carries the message body (so the
/// generator counts it as a delivery and measures its latency); otherwise it carries the
/// same fields but the seq for the body, and is only read. `shared`: false puts a directive
/// on the root field, which keeps the subscription off the shared path.
pub fn subscribe_viewer(counted: bool, shared: bool) -> String {
    let last = if counted { "seq body" } else { "seq" };
    let directive = if shared { "" } else { " @include(if: true)" };
    let query = format!(
        "subscription {{ viewerEvents{directive} {{ __typename ... on RoomActivity {{ room {{ id name }} unreadCount lastMessage {{ {last} }} }} }} }}"
    );
    json!({
        "id": VIEWER_SUBSCRIPTION_ID,
        "type": "subscribe",
        "payload": {"query": query}
    })
    .to_string()
}

/// Id of the viewer feed on a connection that may also hold `roomMessages`.
pub const VIEWER_SUBSCRIPTION_ID: &str = "2";

/// A `sendMessage` mutation carried over graphql-ws (a `subscribe` of a mutation operation).
pub fn subscribe_send_message(id: u64, room_id: &str, body: &str) -> String {
    json!({
        "id": id.to_string(),
        "type": "subscribe",
        "payload": {"query": SEND_MESSAGE_QUERY, "variables": {"r": room_id, "b": body}}
    })
    .to_string()
}

/// A GraphQL-over-HTTP request document.
pub fn http_request(query: &str, variables: Value) -> String {
    json!({"query": query, "variables": variables}).to_string()
}

/// Body of `size` bytes (at least the timestamp) carrying the intended send time.
pub fn make_body(intended_unix_nanos: u64, size: usize) -> String {
    let mut s = format!("t={intended_unix_nanos};");
    while s.len() < size {
        s.push('x');
    }
    s
}

/// Intended send time from a delivered frame, found without parsing the JSON: the generator only
/// ever publishes bodies that start with `t=`, so the first `"body":"t=` marks it.
pub fn parse_intended(frame: &str) -> Option<u64> {
    const MARK: &str = "\"body\":\"t=";
    let start = frame.find(MARK)? + MARK.len();
    let digits = frame[start..].split(';').next()?;
    digits.parse().ok()
}

/// The `next` frame roomcast sends for one message, byte for byte in the shape async-graphql
/// produces: the baseline serializes it once per publish and sends the same bytes to everyone.
pub fn next_frame(seq: u64, body: &str) -> String {
    let body = Value::String(body.to_owned());
    format!(
        r#"{{"id":"{SUBSCRIPTION_ID}","type":"next","payload":{{"data":{{"roomMessages":{{"seq":{seq},"body":{body}}}}}}}}}"#
    )
}

/// Kind of a server message, read from its `type` field.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerKind {
    Ack,
    Next,
    Ping,
    Pong,
    Error,
    Complete,
    Other,
}

pub fn server_kind(frame: &str) -> ServerKind {
    let kind = serde_json::from_str::<Value>(frame)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned));
    match kind.as_deref() {
        Some("connection_ack") => ServerKind::Ack,
        Some("next") => ServerKind::Next,
        Some("ping") => ServerKind::Ping,
        Some("pong") => ServerKind::Pong,
        Some("error") => ServerKind::Error,
        Some("complete") => ServerKind::Complete,
        _ => ServerKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips_through_a_frame() {
        let body = make_body(1_234_567_890_123, 64);
        assert_eq!(body.len(), 64);
        let frame = next_frame(7, &body);
        assert_eq!(parse_intended(&frame), Some(1_234_567_890_123));
        assert_eq!(server_kind(&frame), ServerKind::Next);
        let v: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(v["payload"]["data"]["roomMessages"]["seq"], 7);
    }

    #[test]
    fn frames_without_a_timestamp_are_not_deliveries() {
        assert_eq!(parse_intended(r#"{"type":"ping"}"#), None);
        assert_eq!(server_kind(r#"{"type":"ping"}"#), ServerKind::Ping);
    }
}
