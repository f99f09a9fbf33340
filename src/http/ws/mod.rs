//! The graphql-ws protocol (`graphql-transport-ws` subprotocol), as enisdenjo/graphql-ws
//! PROTOCOL.md specifies it, with its close codes: 4400 invalid message, 4401 subscribe
//! before ack, 4403 forbidden at init, 4406 wrong subprotocol, 4408 init timeout, 4409
//! duplicate operation id, 4429 second init; 1001 on shutdown.
//!
//! `protocol` is the protocol without I/O (messages, payloads, close codes); `connection` is
//! the task that runs one socket with it.

mod connection;
mod protocol;

use axum::extract::ws::WebSocketUpgrade;
use axum::http::{header, HeaderMap};
use axum::response::Response as HttpResponse;

use super::metrics::Open;
use super::AppState;

pub use protocol::{close, inspect_client_text};

pub const SUBPROTOCOL: &str = "graphql-transport-ws";

/// Per-socket read/write buffer sizes: small, so idle connections cost little.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 4 * 1024;
/// A cap on buffered outgoing bytes, not an allocation: one large query result must fit.
const MAX_WRITE_BUFFER: usize = 8 * 1024 * 1024;

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
                connection::run(state, socket, header_token, client, offered).await;
            })
        })
}
