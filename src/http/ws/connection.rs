//! The socket's task. One per socket: it reads client messages and polls the socket's
//! operations (a `StreamMap` keyed by operation id) in one `select!`, so a slow reader applies
//! backpressure to its own feeds only, and memory per connection stays small. Before the ack
//! it waits for `connection_init` (`await_init`); after it, it runs operations (`serve`),
//! pings the client, and watches the session the socket was opened with.

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use async_graphql::{Request, Response};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, Stream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamMap;

use super::protocol::{
    self, close, ClientMessage, Complete, NextHead, Payload, Refusal, Subscribe,
};
use crate::domain::error::DomainError;
use crate::domain::identity::Token;
use crate::domain::model::Revocation;
use crate::error_code::ErrorCode;
use crate::graphql::error::{ensure_codes, to_gql};
use crate::graphql::shared::SharedFeed;
use crate::graphql::RequestAuth;
use crate::http::metrics::Open;
use crate::http::{authenticate, bounded_json, coded_error, AppState};
use crate::on_wake::OnWake;

/// Runs an upgraded socket to its end; refuses it (4406) if the client did not offer the
/// subprotocol.
pub(super) async fn run(
    state: AppState,
    socket: WebSocket,
    header_token: Option<String>,
    client: Option<std::net::IpAddr>,
    offered: bool,
) {
    let mut conn = Connection {
        state,
        // Read only when frames arrive (nearly every wake-up of this task is a delivery);
        // written whole, without a split's lock on every frame.
        socket: OnWake::new(socket),
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
    conn.run().await;
}

/// What happened on the read side, reduced to what the loop acts on: the messages whose
/// meaning depends on the phase (before the ack, or after), and the rest.
enum Incoming {
    Init(Payload),
    Subscribe(Subscribe),
    Complete(Complete),
    /// Handled alike before and after the ack: `Connection::common`.
    Common(Common),
}

enum Common {
    Ping(Payload),
    /// A `pong`, or a WebSocket-level ping or pong (the WebSocket layer answers those).
    Ignore,
    Invalid(Refusal),
    /// The peer sent a close frame: answer it, completing the close handshake.
    ClosedByPeer,
    /// The connection is gone (EOF or a transport error).
    Closed,
    TooBig,
}

fn classify(frame: Option<Result<Message, axum::Error>>) -> Incoming {
    let common = match frame {
        None => Common::Closed,
        Some(Ok(Message::Close(_))) => Common::ClosedByPeer,
        Some(Ok(Message::Text(text))) => match protocol::decode(text.as_str()) {
            Ok(ClientMessage::ConnectionInit(init)) => return Incoming::Init(init),
            Ok(ClientMessage::Subscribe(subscribe)) => return Incoming::Subscribe(subscribe),
            Ok(ClientMessage::Complete(complete)) => return Incoming::Complete(complete),
            Ok(ClientMessage::Ping(ping)) => Common::Ping(ping),
            Ok(ClientMessage::Pong(_)) => Common::Ignore,
            Err(refusal) => Common::Invalid(refusal),
        },
        Some(Ok(Message::Binary(_))) => Common::Invalid(Refusal::binary()),
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Common::Ignore,
        Some(Err(e)) => {
            let too_big = e
                .into_inner()
                .downcast_ref::<tungstenite::Error>()
                .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
            if too_big {
                Common::TooBig
            } else {
                Common::Closed
            }
        }
    };
    Incoming::Common(common)
}

/// What an operation produces: an executed result, a complete `next` frame built from a
/// shared payload, or its end.
enum OpItem {
    Result(Box<Response>),
    Frame(String),
    Done,
}

/// Most operation items written to a socket between two flushes.
const BURST: usize = 64;

/// An operation as a stream that starts itself when first polled. Starting (access checks,
/// planning, the first execution step) is part of the stream, so the socket's loop never
/// waits on one operation's start while the others, and the client's next messages, wait.
/// One hand-written state machine rather than a chain of combinators: every delivery passes
/// through here, and each layer would be one more poll per frame.
struct Operation {
    state: OpState,
    /// The operation counts as running for as long as it lives.
    _running: Open,
}

enum OpState {
    Starting(BoxFuture<'static, OpState>),
    /// A shared `roomMessages` feed; the frame head carries this operation's id.
    Shared {
        payloads: SharedFeed,
        head: NextHead,
    },
    Executed(BoxStream<'static, Response>),
    Finished,
}

fn operation(state: AppState, id: String, request: Request, auth: RequestAuth) -> Operation {
    let running = Open::new(&state.metrics.transport, |t| &t.ws_operations_open);
    let start = async move {
        if let Some(plan) = state.shared.plan(
            &request.query,
            request.operation_name.as_deref(),
            &request.variables,
        ) {
            if let Some(payloads) = state.shared.open(&state.schema, &auth, plan).await {
                // The frame's head is the same for every message of this operation.
                let head = NextHead::new(&id);
                return OpState::Shared { payloads, head };
            }
        }
        OpState::Executed(state.schema.execute_stream(request.data(auth)).boxed())
    };
    Operation {
        state: OpState::Starting(Box::pin(start)),
        _running: running,
    }
}

impl Stream for Operation {
    type Item = OpItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<OpItem>> {
        let this = self.get_mut();
        loop {
            let item = match &mut this.state {
                OpState::Starting(start) => {
                    this.state = ready!(start.as_mut().poll(cx));
                    continue;
                }
                OpState::Shared { payloads, head } => ready!(payloads.poll_next_unpin(cx))
                    .map(|payload| OpItem::Frame(head.frame(&payload))),
                OpState::Executed(results) => ready!(results.poll_next_unpin(cx))
                    .map(|response| OpItem::Result(Box::new(response))),
                OpState::Finished => return Poll::Ready(None),
            };
            if item.is_none() {
                this.state = OpState::Finished;
            }
            return Poll::Ready(Some(item.unwrap_or(OpItem::Done)));
        }
    }
}

struct Connection {
    state: AppState,
    socket: OnWake<WebSocket>,
    header_token: Option<String>,
    client: Option<std::net::IpAddr>,
}

impl Connection {
    /// Sends one text frame; false if the socket is gone.
    async fn send(&mut self, text: String) -> bool {
        self.socket
            .quiet_mut()
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .is_ok()
    }

    async fn close(&mut self, code: u16, reason: &str) {
        self.state.stats().count_close(code);
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(protocol::close_reason(reason).to_owned()),
        };
        if self
            .socket
            .quiet_mut()
            .send(Message::Close(Some(frame)))
            .await
            .is_err()
        {
            tracing::debug!("socket already gone while closing");
        }
    }

    /// Completes a close the client started: the WebSocket layer has queued the echo of its
    /// close frame, and closing the socket sends it (without it browsers report 1006).
    async fn answer_close(&mut self) {
        if let Err(e) = self.socket.quiet_mut().close().await {
            tracing::debug!(error = %e, "socket gone while answering its close");
        }
    }

    /// What both phases do alike: answer pings, ignore pongs, close on an invalid or
    /// oversized message, and answer or notice the end of the socket. Break: the socket is
    /// done (closed, or no longer writable) and the loop must end.
    async fn common(&mut self, common: Common) -> ControlFlow<()> {
        match common {
            Common::Ping(Payload { payload }) => {
                if !self.send(protocol::pong(payload)).await {
                    return ControlFlow::Break(());
                }
            }
            Common::Ignore => {}
            Common::Invalid(refusal) => {
                self.close(close::BAD_REQUEST, refusal.reason()).await;
                return ControlFlow::Break(());
            }
            Common::TooBig => {
                self.close(close::TOO_BIG, "Message too big").await;
                return ControlFlow::Break(());
            }
            Common::ClosedByPeer => {
                self.answer_close().await;
                return ControlFlow::Break(());
            }
            Common::Closed => return ControlFlow::Break(()),
        }
        ControlFlow::Continue(())
    }

    async fn run(&mut self) {
        // Listening before the token is checked: a logout in between is not missed.
        let revocations = self.state.identity.revocations();
        let Some(auth) = self.await_init().await else {
            return;
        };
        let session = auth.token.as_deref().map(|raw| SessionWatch {
            token_hash: Token::from_client(raw).hash_hex(),
            revocations: BroadcastStream::new(revocations),
        });
        self.serve(auth, session).await;
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
    /// (Takes the state, not the connection: a socket is not `Sync`, so `&self` could not
    /// be held across the await.)
    async fn session_still_valid(
        state: &AppState,
        client: Option<std::net::IpAddr>,
        auth: &RequestAuth,
    ) -> bool {
        match Box::pin(authenticate(&state.identity, auth.token.as_deref(), client)).await {
            Ok(_) => true,
            Err(e) if e.code() == ErrorCode::Unauthenticated => false,
            // The store cannot answer right now: keep the socket; the next check decides.
            Err(_) => true,
        }
    }

    /// Waits for `connection_init` within the init timeout; acks it or closes.
    async fn await_init(&mut self) -> Option<RequestAuth> {
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
                frame = self.socket.next() => classify(frame),
            };
            match incoming {
                Incoming::Init(Payload { payload }) => {
                    let token = match protocol::payload_token(payload.as_ref()) {
                        Ok(t) => t.or_else(|| self.header_token.clone()),
                        Err(refusal) => {
                            self.close(close::BAD_REQUEST, refusal.reason()).await;
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
                            if self.send(protocol::connection_ack()).await {
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
                Incoming::Subscribe(_) => {
                    self.close(close::UNAUTHORIZED, "Unauthorized").await;
                    return None;
                }
                Incoming::Complete(_) => {}
                Incoming::Common(common) => {
                    if self.common(common).await.is_break() {
                        return None;
                    }
                }
            }
        }
    }

    /// The acknowledged connection: runs operations until the client or the server ends it,
    /// or (4403) the session it was opened with is revoked.
    async fn serve(&mut self, mut auth: RequestAuth, session: Option<SessionWatch>) {
        let mut ops: StreamMap<String, Operation> = StreamMap::new();
        // Ids whose first result has not been sent yet (decides `error` vs `next`).
        let mut fresh: std::collections::HashSet<String> = Default::default();
        // graphql-ws keep-alive: a `ping` each period; a peer that has sent nothing at all
        // since the previous one is taken for dead and dropped.
        let keepalive =
            self.state.settings.keepalive.map(|period| {
                tokio::time::interval_at(tokio::time::Instant::now() + period, period)
            });
        let mut heard = true;
        // Polled only when one of them fires, and the client's frames only when some
        // arrive: nearly every wake-up of this task is a delivery.
        let mut control = OnWake::new(Watches {
            shutdown: Box::pin(self.state.shutdown.clone().cancelled_owned()),
            shut: false,
            keepalive,
            // When to look at the session again: it expires then, or an open socket counts
            // as a use of it (so a tab left open does not lose its session to the idle
            // lifetime).
            session_check: self.session_check(&auth, None),
            session,
        });
        loop {
            tokio::select! {
                Some(event) = control.next() => match event {
                    Control::SessionCheck => {
                        match Box::pin(authenticate(&self.state.identity, auth.token.as_deref(), self.client)).await {
                            Ok(fresh) => {
                                auth.session_expires_at = fresh.session_expires_at;
                                control.get_mut().session_check = self.session_check(&auth, None);
                            }
                            Err(e) if e.code() == ErrorCode::Unauthenticated => {
                                self.close(close::FORBIDDEN, "Forbidden: the session has expired").await;
                                return;
                            }
                            Err(e) => {
                                // Logged by `to_gql`; the store could not answer: ask again soon.
                                to_gql(e);
                                control.get_mut().session_check = self.session_check(&auth, Some(chrono::Duration::minutes(1)));
                            }
                        }
                    }
                    Control::Shutdown => {
                        self.close(close::GOING_AWAY, "Server shutting down").await;
                        return;
                    }
                    Control::Keepalive => {
                        if !heard {
                            self.close(close::GOING_AWAY, "No answer to keep-alive pings").await;
                            return;
                        }
                        heard = false;
                        if !self.send(protocol::ping()).await {
                            return;
                        }
                    }
                    Control::Revoked(revoked) => {
                        let still_valid = match revoked {
                            Revoked::This => false,
                            Revoked::Other => true,
                            Revoked::Missed { closed } => {
                                if let (true, Some(watch)) = (closed, control.get_mut().session.as_mut()) {
                                    watch.revocations = BroadcastStream::new(self.state.identity.revocations());
                                }
                                Self::session_still_valid(&self.state, self.client, &auth).await
                            }
                        };
                        if !still_valid {
                            self.close(close::FORBIDDEN, "Forbidden: the session was revoked").await;
                            return;
                        }
                    }
                },
                frame = self.socket.next() => {
                    heard = true;
                    match classify(frame) {
                        Incoming::Init(_) => {
                            self.close(close::TOO_MANY_INITS, "Too many initialisation requests").await;
                            return;
                        }
                        Incoming::Subscribe(Subscribe { id, payload }) => {
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
                                let msg = protocol::error(&id, &[coded_error(to_gql(refusal))]);
                                if !self.send(msg).await { return; }
                                continue;
                            }
                            let mut request = match protocol::build_request(payload) {
                                Ok(r) => r,
                                Err(refusal) => {
                                    self.close(close::BAD_REQUEST, refusal.reason()).await;
                                    return;
                                }
                            };
                            if let Err(refusal) = self.state.persisted.resolve(&mut request) {
                                // Refused before execution, like a document that does not
                                // parse: an `error` message for this operation.
                                self.state.stats().count_code(refusal.code());
                                let msg = protocol::error(&id, &[coded_error(refusal.into_gql())]);
                                if !self.send(msg).await { return; }
                                continue;
                            }
                            self.state.stats().ws_operations.fetch_add(1, Ordering::Relaxed);
                            let op = operation(self.state.clone(), id.clone(), request, auth.clone());
                            fresh.insert(id.clone());
                            ops.insert(id, op);
                        }
                        Incoming::Complete(Complete { id }) => {
                            ops.remove(&id);
                            fresh.remove(&id);
                        }
                        Incoming::Common(common) => {
                            if self.common(common).await.is_break() { return; }
                        }
                    }
                }
                Some((id, item)) = ops.next(), if !ops.is_empty() => {
                    // Deliver this item and whatever else is ready right now (up to a
                    // burst), then flush once: one write for the burst, not one per frame.
                    let mut next = Some((id, item));
                    let mut written = 0;
                    while let Some((id, item)) = next.take() {
                        if !self.deliver(&mut ops, &mut fresh, id, item).await {
                            return;
                        }
                        written += 1;
                        if written == BURST {
                            break;
                        }
                        next = ops.next().now_or_never().flatten();
                    }
                    if self.socket.quiet_mut().flush().await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Queues what an operation produced on the socket (written at the next flush); false if
    /// the socket is gone.
    async fn deliver(
        &mut self,
        ops: &mut StreamMap<String, Operation>,
        fresh: &mut std::collections::HashSet<String>,
        id: String,
        item: OpItem,
    ) -> bool {
        // Most items are not an operation's first: skip hashing the id for them.
        let first = !fresh.is_empty() && fresh.remove(&id);
        let text = match item {
            OpItem::Frame(text) => {
                self.state.stats().ws_frames.fetch_add(1, Ordering::Relaxed);
                text
            }
            OpItem::Result(response) => {
                let mut response = *response;
                ensure_codes(&mut response);
                self.state.stats().count_errors(&response.errors);
                if first && protocol::is_request_error(&response) {
                    // Rejected before execution (parse, validation): an `error` message,
                    // which ends the operation; no `complete` follows.
                    ops.remove(&id);
                    protocol::error(&id, &response.errors)
                } else {
                    self.state.stats().ws_frames.fetch_add(1, Ordering::Relaxed);
                    let payload = bounded_json(&response, self.state.settings.max_response_bytes);
                    NextHead::new(&id).into_frame(&String::from_utf8_lossy(&payload))
                }
            }
            OpItem::Done => protocol::complete(&id),
        };
        self.socket
            .quiet_mut()
            .feed(Message::Text(Utf8Bytes::from(text)))
            .await
            .is_ok()
    }
}

/// The revocations a signed-in socket listens to, and the session it is bound to.
struct SessionWatch {
    token_hash: String,
    revocations: BroadcastStream<Arc<Revocation>>,
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

/// What an acknowledged socket watches besides its client and its operations.
enum Control {
    Shutdown,
    Keepalive,
    SessionCheck,
    Revoked(Revoked),
}

/// The watches of an acknowledged socket, as one stream of `Control` events (it never ends).
struct Watches {
    shutdown: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
    /// The shutdown was reported (the socket then closes).
    shut: bool,
    keepalive: Option<tokio::time::Interval>,
    /// When the session must be checked again (it fires once, then is replaced); None for
    /// an anonymous socket or a session that never ends.
    session_check: Option<futures_util::future::BoxFuture<'static, ()>>,
    /// None for an anonymous socket.
    session: Option<SessionWatch>,
}

impl Stream for Watches {
    type Item = Control;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Control>> {
        let this = self.get_mut();
        if !this.shut && this.shutdown.as_mut().poll(cx).is_ready() {
            this.shut = true;
            return Poll::Ready(Some(Control::Shutdown));
        }
        if let Some(keepalive) = &mut this.keepalive {
            if keepalive.poll_tick(cx).is_ready() {
                return Poll::Ready(Some(Control::Keepalive));
            }
        }
        if let Some(check) = &mut this.session_check {
            if check.as_mut().poll(cx).is_ready() {
                this.session_check = None;
                return Poll::Ready(Some(Control::SessionCheck));
            }
        }
        if let Some(watch) = &mut this.session {
            let revoked = match watch.revocations.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(r))) => match &*r {
                    Revocation::Session { token_hash } if *token_hash == watch.token_hash => {
                        Revoked::This
                    }
                    Revocation::Session { .. } => Revoked::Other,
                },
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(_)))) => {
                    Revoked::Missed { closed: false }
                }
                Poll::Ready(None) => Revoked::Missed { closed: true },
            };
            return Poll::Ready(Some(Control::Revoked(revoked)));
        }
        Poll::Pending
    }
}
