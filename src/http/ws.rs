//! The graphql-ws protocol (`graphql-transport-ws` subprotocol), as enisdenjo/graphql-ws
//! PROTOCOL.md specifies it, with its close codes: 4400 invalid message, 4401 subscribe
//! before ack, 4403 forbidden at init, 4406 wrong subprotocol, 4408 init timeout, 4409
//! duplicate operation id, 4429 second init; 1001 on shutdown.
//!
//! One task per socket: it reads client messages and polls the socket's operations (a
//! `StreamMap` keyed by operation id) in one `select!`, so a slow reader applies
//! backpressure to its own feeds only, and memory per connection stays small.

use std::pin::Pin;

use async_graphql::{Request, Response};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::Response as HttpResponse;
use futures_util::stream::{self, SplitSink, Stream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_stream::StreamMap;

use super::metrics::Open;
use super::{authenticate, coded_error, AppState};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::error::DomainError;
use crate::domain::identity::Token;
use crate::domain::model::Revocation;
use crate::error_code::ErrorCode;
use crate::graphql::error::{ensure_codes, to_gql};
use crate::graphql::RequestAuth;

pub const SUBPROTOCOL: &str = "graphql-transport-ws";

/// Per-socket read/write buffer sizes: small, so idle connections cost little.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 4 * 1024;
/// A cap on buffered outgoing bytes, not an allocation: one large query result must fit.
const MAX_WRITE_BUFFER: usize = 8 * 1024 * 1024;

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

pub fn upgrade(
    state: AppState,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
    slot: Option<super::serve::ConnectionSlot>,
    client: Option<std::net::IpAddr>,
) -> HttpResponse {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    let header_token = super::bearer(&headers).map(str::to_owned);
    let max = state.settings.max_ws_message;
    let tasks = state.tasks.clone();
    upgrade
        .protocols([SUBPROTOCOL])
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            tasks.track_future(async move {
                // The socket counts against the connection caps until it ends.
                let _slot = slot;
                let _open = Open::new(&state.metrics.transport, |t| &t.ws_open);
                let (sink, source) = socket.split();
                let mut conn = Connection {
                    state,
                    sink,
                    header_token,
                    client,
                };
                if !offered {
                    conn.close(
                        close::SUBPROTOCOL_NOT_ACCEPTABLE,
                        "Subprotocol not acceptable",
                    )
                    .await;
                    return;
                }
                conn.run(source).await;
            })
        })
}

/// A client message, as far as the protocol cares.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribePayload {
    query: String,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default)]
    extensions: Option<serde_json::Map<String, Value>>,
}

/// What happened on the read side, reduced to what the loop acts on.
enum Incoming {
    Message(ClientMessage),
    Invalid(String),
    Ignore,
    /// The peer sent a close frame: answer it, completing the close handshake.
    ClosedByPeer,
    /// The connection is gone (EOF or a transport error).
    Closed,
    TooBig,
}

fn classify(frame: Option<Result<Message, axum::Error>>) -> Incoming {
    match frame {
        None => Incoming::Closed,
        Some(Ok(Message::Close(_))) => Incoming::ClosedByPeer,
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMessage>(text.as_str())
        {
            Ok(m) => Incoming::Message(m),
            Err(e) => Incoming::Invalid(format!("Invalid message received: {e}")),
        },
        Some(Ok(Message::Binary(_))) => {
            Incoming::Invalid("Binary messages are not supported".into())
        }
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Incoming::Ignore,
        Some(Err(e)) => {
            let too_big = e
                .into_inner()
                .downcast_ref::<tungstenite::Error>()
                .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
            if too_big {
                Incoming::TooBig
            } else {
                Incoming::Closed
            }
        }
    }
}

/// Everything the socket does to a client's text frame before acting on it: decode the
/// message and, for `connection_init` and `subscribe`, its payload. Err: the reason the
/// socket would close with 4400. (The fuzz target `ws_message` drives this.)
pub fn inspect_client_text(text: &str) -> Result<(), String> {
    match serde_json::from_str::<ClientMessage>(text) {
        Err(e) => Err(format!("Invalid message received: {e}")),
        Ok(ClientMessage::ConnectionInit { payload }) => payload_token(&payload)
            .map(|_| ())
            .map_err(|()| "Invalid connection_init payload".to_owned()),
        Ok(ClientMessage::Subscribe { payload, .. }) => build_request(payload).map(|_| ()),
        Ok(_) => Ok(()),
    }
}

/// Reads the token from `connection_init`'s payload: `token`, or an `Authorization`-style
/// `authorization` value as Apollo and urql users often send.
fn payload_token(payload: &Option<Value>) -> Result<Option<String>, ()> {
    let Some(payload) = payload else {
        return Ok(None);
    };
    let obj = match payload {
        Value::Object(o) => o,
        Value::Null => return Ok(None),
        _ => return Err(()),
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
            Some(_) => return Err(()),
        }
    }
    Ok(None)
}

/// What an operation produces: an executed result, a complete `next` frame built from a
/// shared payload, or its end.
enum OpItem {
    Result(Box<Response>),
    Frame(String),
    Done,
}

type OpStream = Pin<Box<dyn Stream<Item = OpItem> + Send>>;

/// An operation as a stream that starts itself when first polled. Starting (access checks,
/// planning, the first execution step) is part of the stream, so the socket's loop never
/// waits on one operation's start while the others, and the client's next messages, wait.
fn operation(state: AppState, id: String, request: Request, auth: RequestAuth) -> OpStream {
    let running = Open::new(&state.metrics.transport, |t| &t.ws_operations_open);
    let start = async move {
        let done = || stream::once(async { OpItem::Done });
        if let Some(plan) = state.shared.plan(
            &request.query,
            request.operation_name.as_deref(),
            &request.variables,
        ) {
            if let Some(feed) = state.shared.open(&state.schema, &auth, plan).await {
                // The frame's head is the same for every message of this operation.
                let head = format!(r#"{{"id":{},"type":"next","payload":"#, Value::String(id));
                let frames = feed.map(move |payload| OpItem::Frame(format!("{head}{payload}}}")));
                return Box::pin(frames.chain(done())) as OpStream;
            }
        }
        let results = state.schema.execute_stream(request.data(auth));
        Box::pin(results.map(|r| OpItem::Result(Box::new(r))).chain(done())) as OpStream
    };
    // The operation counts as running for as long as its stream lives.
    Box::pin(stream::once(start).flatten().map(move |item| {
        let _running = &running;
        item
    }))
}

struct Connection {
    state: AppState,
    sink: SplitSink<WebSocket, Message>,
    header_token: Option<String>,
    client: Option<std::net::IpAddr>,
}

impl Connection {
    async fn send_json(&mut self, value: Value) -> bool {
        let text = value.to_string();
        self.sink
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .is_ok()
    }

    async fn close(&mut self, code: u16, reason: &str) {
        self.state.stats().count_close(code);
        // A close frame's reason must fit in 123 bytes.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(reason[..end].to_owned()),
        };
        if self.sink.send(Message::Close(Some(frame))).await.is_err() {
            tracing::debug!("socket already gone while closing");
        }
    }

    /// Completes a close the client started: the WebSocket layer has queued the echo of its
    /// close frame, and closing the sink sends it (without it browsers report 1006).
    async fn answer_close(&mut self) {
        if let Err(e) = self.sink.close().await {
            tracing::debug!(error = %e, "socket gone while answering its close");
        }
    }

    async fn run(&mut self, mut source: stream::SplitStream<WebSocket>) {
        // Listening before the token is checked: a logout in between is not missed.
        let revocations = self.state.identity.revocations();
        let Some(auth) = self.await_init(&mut source).await else {
            return;
        };
        let session = auth.token.as_deref().map(|raw| SessionWatch {
            token_hash: Token::from_client(raw).hash_hex(),
            revocations,
        });
        self.serve(source, auth, session).await;
    }

    /// A wait until the socket's session must be checked again: when it expires, or half its
    /// idle lifetime from now (or `retry` from now), whichever comes first. None for an
    /// anonymous socket or a session that never ends.
    fn session_check(
        &self,
        auth: &RequestAuth,
        retry: Option<chrono::Duration>,
    ) -> Option<futures_util::future::BoxFuture<'static, ()>> {
        auth.token.as_ref()?;
        let identity = &self.state.identity;
        let clock = identity.clock();
        let now = clock.now();
        let refresh = retry.or(identity.session_policy().idle.map(|idle| idle / 2));
        let at = [auth.session_expires_at, refresh.map(|r| now + r)]
            .into_iter()
            .flatten()
            .min()?;
        Some(clock.sleep_until(at))
    }

    /// Whether the socket's session is still valid after its revocation feed lagged or was
    /// reset (revocations may have been missed): asks the store.
    async fn session_still_valid(&self, auth: &RequestAuth) -> bool {
        match Box::pin(authenticate(
            &self.state.identity,
            auth.token.as_deref(),
            self.client,
        ))
        .await
        {
            Ok(_) => true,
            Err(e) if e.code() == ErrorCode::Unauthenticated => false,
            // The store cannot answer right now: keep the socket; the next check decides.
            Err(_) => true,
        }
    }

    /// Waits for `connection_init` within the init timeout; acks it or closes.
    async fn await_init(
        &mut self,
        source: &mut stream::SplitStream<WebSocket>,
    ) -> Option<RequestAuth> {
        let deadline = tokio::time::sleep(self.state.settings.init_timeout);
        tokio::pin!(deadline);
        let shutdown = self.state.shutdown.clone();
        loop {
            let incoming = tokio::select! {
                _ = &mut deadline => {
                    self.close(close::INIT_TIMEOUT, "Connection initialisation timeout").await;
                    return None;
                }
                _ = shutdown.cancelled() => {
                    self.close(close::GOING_AWAY, "Server shutting down").await;
                    return None;
                }
                frame = source.next() => classify(frame),
            };
            match incoming {
                Incoming::Message(ClientMessage::ConnectionInit { payload }) => {
                    let token = match payload_token(&payload) {
                        Ok(t) => t.or_else(|| self.header_token.clone()),
                        Err(()) => {
                            self.close(close::BAD_REQUEST, "Invalid connection_init payload")
                                .await;
                            return None;
                        }
                    };
                    // Boxed, like every large one-off future here: awaited inline it would
                    // grow this connection's task for its whole life.
                    let auth = Box::pin(authenticate(
                        &self.state.identity,
                        token.as_deref(),
                        self.client,
                    ))
                    .await;
                    return match auth {
                        Ok(auth) => {
                            if self.send_json(json!({"type": "connection_ack"})).await {
                                Some(auth)
                            } else {
                                None
                            }
                        }
                        Err(e) if e.code() == ErrorCode::Unauthenticated => {
                            self.close(close::FORBIDDEN, "Forbidden").await;
                            None
                        }
                        Err(e) => {
                            // Logged by `to_gql`. Any failure other than a bad token is the
                            // server's: 1013 tells clients to retry, whereas graphql-ws clients
                            // treat 1011 as fatal and would stop reconnecting for good.
                            to_gql(e);
                            self.close(close::TRY_AGAIN_LATER, "Try again later").await;
                            None
                        }
                    };
                }
                Incoming::Message(ClientMessage::Ping { payload }) => {
                    if !self.pong(payload).await {
                        return None;
                    }
                }
                Incoming::Message(ClientMessage::Pong { .. }) | Incoming::Ignore => {}
                Incoming::Message(ClientMessage::Subscribe { .. }) => {
                    self.close(close::UNAUTHORIZED, "Unauthorized").await;
                    return None;
                }
                Incoming::Message(ClientMessage::Complete { .. }) => {}
                Incoming::Invalid(reason) => {
                    self.close(close::BAD_REQUEST, &reason).await;
                    return None;
                }
                Incoming::TooBig => {
                    self.close(close::TOO_BIG, "Message too big").await;
                    return None;
                }
                Incoming::ClosedByPeer => {
                    self.answer_close().await;
                    return None;
                }
                Incoming::Closed => return None,
            }
        }
    }

    async fn pong(&mut self, payload: Option<Value>) -> bool {
        let msg = match payload {
            Some(p) => json!({"type": "pong", "payload": p}),
            None => json!({"type": "pong"}),
        };
        self.send_json(msg).await
    }

    /// The acknowledged connection: runs operations until the client or the server ends it,
    /// or (4403) the session it was opened with is revoked.
    async fn serve(
        &mut self,
        mut source: stream::SplitStream<WebSocket>,
        mut auth: RequestAuth,
        mut session: Option<SessionWatch>,
    ) {
        let mut ops: StreamMap<String, OpStream> = StreamMap::new();
        // Ids whose first result has not been sent yet (decides `error` vs `next`).
        let mut fresh: std::collections::HashSet<String> = Default::default();
        let shutdown = self.state.shutdown.clone();
        // graphql-ws keep-alive: a `ping` each period; a peer that has sent nothing at all
        // since the previous one is taken for dead and dropped.
        let period = self.state.settings.keepalive;
        let mut keepalive = tokio::time::interval_at(
            tokio::time::Instant::now() + period.unwrap_or(std::time::Duration::from_secs(86_400)),
            period.unwrap_or(std::time::Duration::from_secs(86_400)),
        );
        let mut heard = true;
        // When to look at the session again: it expires then, or an open socket counts as a
        // use of it (so a tab left open does not lose its session to the idle lifetime).
        let mut session_check = self.session_check(&auth, None);
        loop {
            tokio::select! {
                _ = wait_for(&mut session_check) => {
                    match Box::pin(authenticate(&self.state.identity, auth.token.as_deref(), self.client)).await {
                        Ok(fresh) => {
                            auth.session_expires_at = fresh.session_expires_at;
                            session_check = self.session_check(&auth, None);
                        }
                        Err(e) if e.code() == ErrorCode::Unauthenticated => {
                            self.close(close::FORBIDDEN, "Forbidden: the session has expired").await;
                            return;
                        }
                        Err(e) => {
                            // Logged by `to_gql`; the store could not answer: ask again soon.
                            to_gql(e);
                            session_check = self.session_check(&auth, Some(chrono::Duration::minutes(1)));
                        }
                    }
                }
                _ = shutdown.cancelled() => {
                    self.close(close::GOING_AWAY, "Server shutting down").await;
                    return;
                }
                _ = keepalive.tick(), if period.is_some() => {
                    if !heard {
                        self.close(close::GOING_AWAY, "No answer to keep-alive pings").await;
                        return;
                    }
                    heard = false;
                    if !self.send_json(json!({"type": "ping"})).await {
                        return;
                    }
                }
                revoked = next_revocation(&mut session) => {
                    let still_valid = match revoked {
                        Revoked::This => false,
                        Revoked::Other => true,
                        Revoked::Missed { closed } => {
                            if let (true, Some(watch)) = (closed, session.as_mut()) {
                                watch.revocations = self.state.identity.revocations();
                            }
                            self.session_still_valid(&auth).await
                        }
                    };
                    if !still_valid {
                        self.close(close::FORBIDDEN, "Forbidden: the session was revoked").await;
                        return;
                    }
                }
                frame = source.next() => {
                    heard = true;
                    match classify(frame) {
                        Incoming::Message(ClientMessage::ConnectionInit { .. }) => {
                            self.close(close::TOO_MANY_INITS, "Too many initialisation requests").await;
                            return;
                        }
                        Incoming::Message(ClientMessage::Subscribe { id, payload }) => {
                            if ops.contains_key(&id) {
                                self.close(close::SUBSCRIBER_EXISTS, &format!("Subscriber for {id} already exists")).await;
                                return;
                            }
                            if ops.len() >= self.state.settings.max_operations {
                                let refusal = DomainError::RateLimited {
                                    message: format!(
                                        "too many operations on one connection (at most {})",
                                        self.state.settings.max_operations
                                    ),
                                    retry_after_seconds: None,
                                };
                                self.state.stats().count_code(refusal.code());
                                let msg = json!({"id": id, "type": "error", "payload": [coded_error(to_gql(refusal))]});
                                if !self.send_json(msg).await { return; }
                                continue;
                            }
                            let request = match build_request(payload) {
                                Ok(r) => r,
                                Err(reason) => {
                                    self.close(close::BAD_REQUEST, &reason).await;
                                    return;
                                }
                            };
                            self.state.stats().ws_operations.fetch_add(1, Ordering::Relaxed);
                            let op = operation(self.state.clone(), id.clone(), request, auth.clone());
                            fresh.insert(id.clone());
                            ops.insert(id, op);
                        }
                        Incoming::Message(ClientMessage::Complete { id }) => {
                            ops.remove(&id);
                            fresh.remove(&id);
                        }
                        Incoming::Message(ClientMessage::Ping { payload }) => {
                            if !self.pong(payload).await { return; }
                        }
                        Incoming::Message(ClientMessage::Pong { .. }) | Incoming::Ignore => {}
                        Incoming::Invalid(reason) => {
                            self.close(close::BAD_REQUEST, &reason).await;
                            return;
                        }
                        Incoming::TooBig => {
                            self.close(close::TOO_BIG, "Message too big").await;
                            return;
                        }
                        Incoming::ClosedByPeer => {
                            self.answer_close().await;
                            return;
                        }
                        Incoming::Closed => return,
                    }
                }
                Some((id, item)) = ops.next(), if !ops.is_empty() => {
                    let first = fresh.remove(&id);
                    let msg = match item {
                        OpItem::Frame(text) => {
                            self.state.stats().ws_frames.fetch_add(1, Ordering::Relaxed);
                            if self.sink.send(Message::Text(Utf8Bytes::from(text))).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        OpItem::Result(response) => {
                            let mut response = *response;
                            ensure_codes(&mut response);
                            self.state.stats().count_errors(&response.errors);
                            if first && is_request_error(&response) {
                                // Rejected before execution (parse, validation): an `error`
                                // message, which ends the operation; no `complete` follows.
                                ops.remove(&id);
                                json!({"id": id, "type": "error", "payload": response.errors})
                            } else {
                                self.state.stats().ws_frames.fetch_add(1, Ordering::Relaxed);
                                let payload = super::bounded_json(&response, self.state.settings.max_response_bytes);
                                let mut text = format!(r#"{{"id":{},"type":"next","payload":"#, Value::String(id.clone()));
                                text.push_str(&String::from_utf8_lossy(&payload));
                                text.push('}');
                                if self.sink.send(Message::Text(Utf8Bytes::from(text))).await.is_err() {
                                    return;
                                }
                                continue;
                            }
                        }
                        OpItem::Done => json!({"id": id, "type": "complete"}),
                    };
                    if !self.send_json(msg).await {
                        return;
                    }
                }
            }
        }
    }
}

/// The revocations a signed-in socket listens to, and the session it is bound to.
struct SessionWatch {
    token_hash: String,
    revocations: broadcast::Receiver<Arc<Revocation>>,
}

enum Revoked {
    /// This socket's session.
    This,
    /// Somebody else's.
    Other,
    /// Revocations may have been missed (lag, or `closed`: the bus was reset and the socket
    /// must listen to the new one): check the store.
    Missed { closed: bool },
}

/// Waits on the timer, if there is one; never resolves without.
async fn wait_for(timer: &mut Option<futures_util::future::BoxFuture<'static, ()>>) {
    match timer {
        Some(t) => t.await,
        None => std::future::pending().await,
    }
}

/// The next revocation for a signed-in socket; never resolves for an anonymous one.
async fn next_revocation(session: &mut Option<SessionWatch>) -> Revoked {
    let Some(watch) = session else {
        return std::future::pending().await;
    };
    match watch.revocations.recv().await {
        Ok(r) => match &*r {
            Revocation::Session { token_hash } if *token_hash == watch.token_hash => Revoked::This,
            Revocation::Session { .. } => Revoked::Other,
        },
        Err(broadcast::error::RecvError::Lagged(_)) => Revoked::Missed { closed: false },
        Err(broadcast::error::RecvError::Closed) => Revoked::Missed { closed: true },
    }
}

/// Errors without a path never reached a resolver: the document or variables were refused.
fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

fn build_request(payload: SubscribePayload) -> Result<Request, String> {
    let mut request = Request::new(payload.query);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    match payload.variables {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => {
            request = request.variables(async_graphql::Variables::from_json(v));
        }
        Some(_) => return Err("Invalid message received: variables must be an object".into()),
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
