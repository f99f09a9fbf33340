//! The graphql-ws protocol itself, with no I/O: decoding a client's text frame into the
//! message the socket acts on, reading `connection_init` and `subscribe` payloads, the close
//! codes, and the text of every message the server sends. Pure, so it is unit-tested here
//! and fuzzed (`inspect_client_text`) without a socket.

use async_graphql::{Request, Response, ServerError};
use serde::Deserialize;
use serde_json::{json, Value};

pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    /// The server cannot serve the socket right now (storage unreachable at init): clients
    /// retry. (1011 would make graphql-ws clients give up for good.)
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const TOO_BIG: u16 = 1009;
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const SUBSCRIBER_EXISTS: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
}

/// A client message, as far as the protocol cares. Payloads stay undecoded here: whether a
/// bad one matters depends on the phase (a second `connection_init` is refused 4429
/// whatever it carries, a `subscribe` before the ack 4401).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ClientMessage {
    ConnectionInit(Payload),
    Ping(Payload),
    // Parsed, so a malformed pong is refused like any message; its payload is not used.
    Pong(#[allow(dead_code)] Payload),
    Subscribe(Subscribe),
    Complete(Complete),
}

/// The optional `payload` of `connection_init`, `ping` and `pong`.
#[derive(Debug, Deserialize)]
pub(super) struct Payload {
    #[serde(default)]
    pub(super) payload: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Subscribe {
    pub(super) id: String,
    pub(super) payload: SubscribePayload,
}

#[derive(Debug, Deserialize)]
pub(super) struct Complete {
    pub(super) id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SubscribePayload {
    /// Required, except for an automatic persisted query sent by its hash alone.
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default)]
    extensions: Option<serde_json::Map<String, Value>>,
}

/// Why a client message is refused: the socket closes with 4400 (`close::BAD_REQUEST`) and
/// this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal(String);

impl Refusal {
    /// graphql-ws messages are JSON text; the WebSocket layer hands binary frames over as is.
    pub(super) fn binary() -> Self {
        Self("Binary messages are not supported".into())
    }

    pub(super) fn reason(&self) -> &str {
        &self.0
    }
}

/// Decodes a client's text frame.
pub(super) fn decode(text: &str) -> Result<ClientMessage, Refusal> {
    // A message is a JSON object (serde would also take `["connection_init"]` for one).
    if !text.trim_start().starts_with('{') {
        return Err(Refusal(
            "Invalid message received: expected a JSON object".into(),
        ));
    }
    serde_json::from_str(text).map_err(|e| Refusal(format!("Invalid message received: {e}")))
}

/// Everything the socket does to a client's text frame before acting on it: decode the
/// message and, for `connection_init` and `subscribe`, its payload. Err: the reason the
/// socket would close with 4400. (The fuzz target `ws_message` drives this.)
pub fn inspect_client_text(text: &str) -> Result<(), String> {
    let checked = match decode(text) {
        Err(refusal) => Err(refusal),
        Ok(ClientMessage::ConnectionInit(Payload { payload })) => {
            payload_token(payload.as_ref()).map(|_| ())
        }
        Ok(ClientMessage::Subscribe(Subscribe { payload, .. })) => {
            build_request(payload).map(|_| ())
        }
        Ok(_) => Ok(()),
    };
    checked.map_err(|Refusal(reason)| reason)
}

/// Reads the token from `connection_init`'s payload: `token`, or an `Authorization`-style
/// `authorization` value as Apollo and urql users often send.
pub(super) fn payload_token(payload: Option<&Value>) -> Result<Option<String>, Refusal> {
    let refused = || Refusal("Invalid connection_init payload".into());
    let Some(payload) = payload else {
        return Ok(None);
    };
    let obj = match payload {
        Value::Object(o) => o,
        Value::Null => return Ok(None),
        _ => return Err(refused()),
    };
    for key in ["token", "authToken", "authorization", "Authorization"] {
        match obj.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => {
                let s = s.trim();
                let s = s
                    .strip_prefix("Bearer ")
                    .or_else(|| s.strip_prefix("bearer "))
                    .unwrap_or(s);
                return Ok(Some(s.trim().to_owned()));
            }
            Some(_) => return Err(refused()),
        }
    }
    Ok(None)
}

pub(super) fn build_request(payload: SubscribePayload) -> Result<Request, Refusal> {
    let by_hash = payload
        .extensions
        .as_ref()
        .is_some_and(|e| e.contains_key("persistedQuery"));
    let query = match payload.query {
        Some(query) => query,
        // The persisted document is filled in later (`PersistedQueries::resolve`).
        None if by_hash => String::new(),
        None => {
            return Err(Refusal(
                "Invalid message received: missing field `query`".into(),
            ))
        }
    };
    let mut request = Request::new(query);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    match payload.variables {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => {
            request = request.variables(async_graphql::Variables::from_json(v));
        }
        Some(_) => {
            return Err(Refusal(
                "Invalid message received: variables must be an object".into(),
            ))
        }
    }
    if let Some(ext) = payload.extensions {
        for (k, v) in ext {
            if let Ok(v) = async_graphql::Value::from_json(v) {
                request.extensions.insert(k, v);
            }
        }
    }
    Ok(request)
}

/// Errors without a path never reached a resolver: the document or variables were refused.
pub(super) fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// A close frame's reason must fit in 123 bytes: the longest prefix that does, cut on a
/// character boundary.
pub(super) fn close_reason(reason: &str) -> &str {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

pub(super) fn connection_ack() -> String {
    json!({"type": "connection_ack"}).to_string()
}

pub(super) fn ping() -> String {
    json!({"type": "ping"}).to_string()
}

/// The answer to a `ping`, echoing its payload.
pub(super) fn pong(payload: Option<Value>) -> String {
    match payload {
        Some(p) => json!({"type": "pong", "payload": p}),
        None => json!({"type": "pong"}),
    }
    .to_string()
}

/// Ends an operation that failed before it ran (no `complete` follows).
pub(super) fn error(id: &str, errors: &[ServerError]) -> String {
    json!({"id": id, "type": "error", "payload": errors}).to_string()
}

pub(super) fn complete(id: &str) -> String {
    json!({"id": id, "type": "complete"}).to_string()
}

/// The head of an operation's `next` frames, `{"id":<id>,"type":"next","payload":`. Payloads
/// arrive already serialised (a shared feed's, a bounded response) and are spliced in
/// rather than parsed back into a `Value`.
pub(super) struct NextHead(String);

impl NextHead {
    pub(super) fn new(id: &str) -> Self {
        Self(format!(
            r#"{{"id":{},"type":"next","payload":"#,
            Value::String(id.to_owned())
        ))
    }

    /// A `next` frame around `payload`, which must be one JSON value; the head stays for the
    /// operation's next frames.
    pub(super) fn frame(&self, payload: &str) -> String {
        // Sized exactly: one allocation per delivery, no growth.
        let mut text = String::with_capacity(self.0.len() + payload.len() + 1);
        text.push_str(&self.0);
        text.push_str(payload);
        text.push('}');
        text
    }

    /// A `next` frame around `payload`, for an operation that sends just this one from here.
    pub(super) fn into_frame(self, payload: &str) -> String {
        let mut text = self.0;
        text.push_str(payload);
        text.push('}');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> String {
        match decode(text) {
            Err(r) => r.reason().to_owned(),
            Ok(m) => panic!("expected {text} to be refused, got {m:?}"),
        }
    }

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).expect("the server's message is JSON")
    }

    fn token(payload: Value) -> Result<Option<String>, Refusal> {
        payload_token(Some(&payload))
    }

    fn subscribe_payload(payload: Value) -> SubscribePayload {
        serde_json::from_value(payload).expect("a subscribe payload")
    }

    #[test]
    fn connection_init_decodes_with_or_without_a_payload() {
        match decode(r#"{"type":"connection_init","payload":{"token":"t"}}"#) {
            Ok(ClientMessage::ConnectionInit(Payload { payload })) => {
                assert_eq!(payload, Some(json!({"token": "t"})));
            }
            other => panic!("expected connection_init, got {other:?}"),
        }
        match decode(r#"{"type":"connection_init"}"#) {
            Ok(ClientMessage::ConnectionInit(Payload { payload: None })) => {}
            other => panic!("expected connection_init without payload, got {other:?}"),
        }
    }

    #[test]
    fn ping_and_pong_decode_with_their_payloads() {
        match decode(r#"{"type":"ping","payload":{"at":1}}"#) {
            Ok(ClientMessage::Ping(Payload { payload })) => {
                assert_eq!(payload, Some(json!({"at": 1})))
            }
            other => panic!("expected ping, got {other:?}"),
        }
        match decode(r#"{"type":"ping"}"#) {
            Ok(ClientMessage::Ping(Payload { payload: None })) => {}
            other => panic!("expected ping without payload, got {other:?}"),
        }
        match decode(r#"{"type":"pong","payload":"anything"}"#) {
            Ok(ClientMessage::Pong(_)) => {}
            other => panic!("expected pong, got {other:?}"),
        }
    }

    #[test]
    fn subscribe_decodes_into_a_request() {
        let text = r#"{"id":"1","type":"subscribe","payload":{"query":"query Q($n: Int) { a }",
            "operationName":"Q","variables":{"n":2},"extensions":{"trace":true}}}"#;
        let Ok(ClientMessage::Subscribe(Subscribe { id, payload })) = decode(text) else {
            panic!("expected subscribe");
        };
        assert_eq!(id, "1");
        let request = build_request(payload).expect("a valid request");
        assert_eq!(request.query, "query Q($n: Int) { a }");
        assert_eq!(request.operation_name.as_deref(), Some("Q"));
        assert_eq!(
            request.variables.get(&async_graphql::Name::new("n")),
            Some(&async_graphql::Value::from(2))
        );
        assert_eq!(
            request.extensions.get("trace"),
            Some(&async_graphql::Value::Boolean(true))
        );
    }

    #[test]
    fn complete_decodes_with_its_id() {
        match decode(r#"{"id":"op-7","type":"complete"}"#) {
            Ok(ClientMessage::Complete(Complete { id })) => assert_eq!(id, "op-7"),
            other => panic!("expected complete, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_type_is_refused() {
        let reason = refusal(r#"{"type":"start","id":"1"}"#);
        assert!(reason.starts_with("Invalid message received: "), "{reason}");
        assert!(reason.contains("unknown variant `start`"), "{reason}");
    }

    #[test]
    fn a_missing_type_is_refused() {
        let reason = refusal(r#"{"id":"1"}"#);
        assert!(reason.starts_with("Invalid message received: "), "{reason}");
        assert!(reason.contains("missing field `type`"), "{reason}");
    }

    #[test]
    fn a_missing_id_is_refused() {
        for text in [
            r#"{"type":"subscribe","payload":{"query":"{ a }"}}"#,
            r#"{"type":"complete"}"#,
        ] {
            let reason = refusal(text);
            assert!(reason.starts_with("Invalid message received: "), "{reason}");
            assert!(reason.contains("missing field `id`"), "{reason}");
        }
    }

    #[test]
    fn a_subscribe_without_a_query_is_refused() {
        let text = r#"{"id":"1","type":"subscribe","payload":{}}"#;
        let reason = inspect_client_text(text).expect_err(text);
        assert!(reason.contains("missing field `query`"), "{reason}");
        // An automatic persisted query may leave it out.
        let by_hash = r#"{"id":"1","type":"subscribe","payload":{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}}"#;
        assert_eq!(inspect_client_text(by_hash), Ok(()));
    }

    #[test]
    fn a_message_that_is_not_an_object_is_refused() {
        for text in [r#"["connection_init"]"#, r#""ping""#, "42", "null"] {
            let refusal = decode(text).expect_err(text);
            assert!(
                refusal.0.contains("expected a JSON object"),
                "{text}: {}",
                refusal.0
            );
        }
    }

    #[test]
    fn bad_json_is_refused() {
        for text in [
            "",
            "{",
            "not json",
            "null",
            "42",
            r#""ping""#,
            r#"{"type":7}"#,
        ] {
            let reason = refusal(text);
            assert!(
                reason.starts_with("Invalid message received: "),
                "{text}: {reason}"
            );
        }
    }

    #[test]
    fn variables_must_be_an_object_or_null() {
        for variables in [json!([1]), json!("x"), json!(3), json!(true)] {
            let payload = subscribe_payload(json!({"query": "{ a }", "variables": variables}));
            let Err(r) = build_request(payload) else {
                panic!("variables {variables} accepted");
            };
            assert_eq!(
                r.reason(),
                "Invalid message received: variables must be an object"
            );
        }
        for variables in [json!(null), json!({})] {
            let payload = subscribe_payload(json!({"query": "{ a }", "variables": variables}));
            assert!(
                build_request(payload).is_ok(),
                "variables {variables} refused"
            );
        }
        assert!(build_request(subscribe_payload(json!({"query": "{ a }"}))).is_ok());
    }

    #[test]
    fn the_token_comes_from_token_auth_token_or_authorization() {
        assert_eq!(token(json!({"token": "abc"})), Ok(Some("abc".into())));
        assert_eq!(token(json!({"authToken": " abc "})), Ok(Some("abc".into())));
        assert_eq!(
            token(json!({"Authorization": "Bearer x"})),
            Ok(Some("x".into()))
        );
        assert_eq!(
            token(json!({"authorization": "bearer  x "})),
            Ok(Some("x".into()))
        );
        // The first key present wins; a null one counts as absent.
        assert_eq!(
            token(json!({"token": null, "authorization": "Bearer y"})),
            Ok(Some("y".into()))
        );
        assert_eq!(
            token(json!({"token": "a", "authToken": "b"})),
            Ok(Some("a".into()))
        );
    }

    #[test]
    fn no_token_is_anonymous() {
        assert_eq!(payload_token(None), Ok(None));
        assert_eq!(token(json!(null)), Ok(None));
        assert_eq!(token(json!({})), Ok(None));
        assert_eq!(token(json!({"token": null})), Ok(None));
        assert_eq!(token(json!({"other": "x"})), Ok(None));
    }

    #[test]
    fn a_token_that_is_not_a_string_is_refused() {
        for payload in [
            json!({"token": 1}),
            json!({"authToken": {"t": "x"}}),
            json!({"Authorization": ["Bearer x"]}),
        ] {
            let Err(r) = token(payload.clone()) else {
                panic!("{payload} accepted");
            };
            assert_eq!(r.reason(), "Invalid connection_init payload");
        }
    }

    #[test]
    fn a_payload_that_is_not_an_object_is_refused() {
        for payload in [json!("token"), json!(1), json!([]), json!(false)] {
            let Err(r) = token(payload.clone()) else {
                panic!("{payload} accepted");
            };
            assert_eq!(r.reason(), "Invalid connection_init payload");
        }
    }

    #[test]
    fn inspect_client_text_checks_the_payloads_too() {
        assert_eq!(inspect_client_text(r#"{"type":"ping"}"#), Ok(()));
        assert_eq!(
            inspect_client_text(r#"{"type":"connection_init","payload":{"token":"t"}}"#),
            Ok(())
        );
        assert_eq!(
            inspect_client_text(r#"{"type":"connection_init","payload":7}"#),
            Err("Invalid connection_init payload".into())
        );
        assert_eq!(
            inspect_client_text(
                r#"{"id":"1","type":"subscribe","payload":{"query":"{ a }","variables":[]}}"#
            ),
            Err("Invalid message received: variables must be an object".into())
        );
        assert!(inspect_client_text("{").is_err());
    }

    #[test]
    fn binary_frames_are_refused() {
        assert_eq!(
            Refusal::binary().reason(),
            "Binary messages are not supported"
        );
    }

    #[test]
    fn server_messages_are_what_protocol_md_specifies() {
        assert_eq!(connection_ack(), r#"{"type":"connection_ack"}"#);
        assert_eq!(ping(), r#"{"type":"ping"}"#);
        assert_eq!(pong(None), r#"{"type":"pong"}"#);
        assert_eq!(
            parsed(&pong(Some(json!({"at": 1})))),
            json!({"type": "pong", "payload": {"at": 1}})
        );
        assert_eq!(
            parsed(&complete("op-1")),
            json!({"id": "op-1", "type": "complete"})
        );
        let refused = ServerError::new("Unknown field", None);
        assert_eq!(
            parsed(&error("op-1", &[refused])),
            json!({"id": "op-1", "type": "error", "payload": [{"message": "Unknown field"}]})
        );
    }

    #[test]
    fn next_frames_splice_the_payload_after_the_head() {
        let head = NextHead::new("op-1");
        let frame = head.frame(r#"{"data":{"a":1}}"#);
        assert_eq!(
            frame,
            r#"{"id":"op-1","type":"next","payload":{"data":{"a":1}}}"#
        );
        assert_eq!(
            parsed(&frame),
            json!({"id": "op-1", "type": "next", "payload": {"data": {"a": 1}}})
        );
        assert_eq!(
            head.frame("{}"),
            r#"{"id":"op-1","type":"next","payload":{}}"#
        );
        assert_eq!(
            head.into_frame(r#"{"data":null}"#),
            r#"{"id":"op-1","type":"next","payload":{"data":null}}"#
        );
    }

    #[test]
    fn next_frame_ids_are_escaped_as_json_strings() {
        let frame = NextHead::new("a\"b\\c\n").into_frame("{}");
        assert_eq!(
            parsed(&frame),
            json!({"id": "a\"b\\c\n", "type": "next", "payload": {}})
        );
    }

    #[test]
    fn request_errors_are_errors_without_a_path_and_no_data() {
        let refused = Response::from_errors(vec![ServerError::new("invalid", None)]);
        assert!(is_request_error(&refused));

        let mut in_a_resolver = ServerError::new("denied", None);
        in_a_resolver.path = vec![async_graphql::PathSegment::Field("room".into())];
        assert!(!is_request_error(&Response::from_errors(vec![
            in_a_resolver
        ])));

        let mut with_data = Response::new(async_graphql::Value::from(1));
        with_data.errors = vec![ServerError::new("partial", None)];
        assert!(!is_request_error(&with_data));

        assert!(!is_request_error(&Response::new(
            async_graphql::Value::Null
        )));
    }

    #[test]
    fn close_reasons_are_cut_to_123_bytes_on_a_char_boundary() {
        assert_eq!(close_reason("Forbidden"), "Forbidden");
        assert_eq!(close_reason(""), "");
        let exact = "a".repeat(123);
        assert_eq!(close_reason(&exact), exact);
        let long = "a".repeat(200);
        assert_eq!(close_reason(&long), &long[..123]);
        // 122 ASCII bytes, then a 2-byte character straddling the limit: it is dropped whole.
        let straddling = format!("{}é and more", "a".repeat(122));
        assert_eq!(close_reason(&straddling), "a".repeat(122));
        // 4-byte characters: 30 of them fill 120 bytes, the 31st would end at 124.
        let wide = "🦀".repeat(40);
        assert_eq!(close_reason(&wide), "🦀".repeat(30));
        assert!(close_reason(&wide).len() <= 123);
    }
}
