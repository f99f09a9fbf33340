//! The baseline: the smallest tokio WebSocket server that speaks enough graphql-transport-ws for
//! the generator (ack the init, accept one subscription, answer pings) and broadcasts one
//! pre-serialized `next` frame, shaped and sized like roomcast's, to every subscriber of a room
//! when a message is published over HTTP POST or over the WebSocket.
//!
//! It has no storage, no authentication and no GraphQL execution, so it is the ceiling roomcast
//! is measured against: same kernel, same sockets, same generator, nothing else. Like
//! `../shared/perf/rawcast`, a woken subscriber writes every frame already waiting and flushes
//! once. Set-up
//! mutations (register, createRoom, joinRoom) get canned answers so the same generator drives it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

use anyhow::{Context, Result};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::LocalSet;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::{http1, proto, sys, wsclient};

#[derive(Debug, Clone, Args)]
pub struct BaselineArgs {
    /// Address to listen on; port 0 picks a free port, printed on stdout when ready.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// WebSocket read buffer per connection, bytes.
    #[arg(long, default_value_t = 4096)]
    pub wsbuf: usize,
    /// Frames a room buffers for a slow subscriber before it skips ahead.
    #[arg(long, default_value_t = 1024)]
    pub channel: usize,
}

struct Room {
    seq: u64,
    tx: broadcast::Sender<Utf8Bytes>,
}

struct State {
    rooms: HashMap<String, Room>,
    next_id: u64,
    channel: usize,
}

type Shared = Rc<RefCell<State>>;

impl State {
    fn room(&mut self, id: &str) -> &mut Room {
        let channel = self.channel;
        self.rooms.entry(id.to_owned()).or_insert_with(|| Room {
            seq: 0,
            tx: broadcast::channel(channel).0,
        })
    }

    /// Serializes the frame once and hands the same bytes to every subscriber.
    fn publish(&mut self, room_id: &str, body: &str) -> u64 {
        let room = self.room(room_id);
        room.seq += 1;
        if room.tx.receiver_count() > 0 {
            let frame = Utf8Bytes::from(proto::next_frame(room.seq, body));
            // Cannot fail: there is at least one receiver.
            let _sent = room.tx.send(frame);
        }
        room.seq
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Canned answer to a GraphQL document, publishing when it is `sendMessage`.
    fn execute(&mut self, query: &str, vars: &Value) -> Value {
        let var = |k: &str| vars.get(k).and_then(Value::as_str).unwrap_or_default();
        if query.contains("sendMessage") {
            let seq = self.publish(var("r"), var("b"));
            json!({"data": {"sendMessage": {"seq": seq}}})
        } else if query.contains("register") {
            let id = self.fresh_id();
            json!({"data": {"register": {"token": format!("tok{id}"), "user": {"id": id.to_string()}}}})
        } else if query.contains("createRoom") {
            let id = self.fresh_id().to_string();
            self.room(&id);
            json!({"data": {"createRoom": {"id": id}}})
        } else if query.contains("joinRoom") {
            json!({"data": {"joinRoom": {"role": "MEMBER"}}})
        } else {
            json!({"data": null})
        }
    }
}

/// Runs the baseline on a current-thread runtime until killed.
pub fn run(args: BaselineArgs) -> Result<()> {
    sys::raise_nofile_limit()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    LocalSet::new().block_on(&rt, serve(args))
}

async fn serve(args: BaselineArgs) -> Result<()> {
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listen on {}", args.listen))?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let state: Shared = Rc::new(RefCell::new(State {
        rooms: HashMap::new(),
        next_id: 0,
        channel: args.channel,
    }));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                eprintln!("baseline: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let state = state.clone();
        let wsbuf = args.wsbuf;
        tokio::task::spawn_local(async move {
            // A client going away mid-request is normal under load; nothing to report.
            let _outcome = handle(stream, state, wsbuf).await;
        });
    }
}

async fn handle(stream: TcpStream, state: Shared, wsbuf: usize) -> Result<()> {
    stream.set_nodelay(true)?;
    let mut first = [0u8; 1];
    stream.peek(&mut first).await?;
    if first[0] == b'G' {
        websocket(stream, state, wsbuf).await
    } else {
        http(stream, state).await
    }
}

async fn http(stream: TcpStream, state: Shared) -> Result<()> {
    let mut io = BufReader::with_capacity(4096, stream);
    let mut line = String::new();
    while let Some(req) = http1::read_request(&mut io, &mut line).await? {
        let doc: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let query = doc.get("query").and_then(Value::as_str).unwrap_or_default();
        let answer = state
            .borrow_mut()
            .execute(query, doc.get("variables").unwrap_or(&Value::Null));
        http1::write_json(io.get_mut(), &answer.to_string()).await?;
    }
    Ok(())
}

async fn recv_frame(
    sub: &mut Option<broadcast::Receiver<Utf8Bytes>>,
) -> Result<Utf8Bytes, broadcast::error::RecvError> {
    match sub {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn websocket(stream: TcpStream, state: Shared, wsbuf: usize) -> Result<()> {
    // The callback's error type is tungstenite's, large but never constructed here.
    #[allow(clippy::result_large_err)]
    let choose_protocol = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let offered = req
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if offered.split(',').any(|p| p.trim() == proto::SUBPROTOCOL) {
            resp.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_static(proto::SUBPROTOCOL),
            );
        }
        Ok(resp)
    };
    let mut ws = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        choose_protocol,
        // A write buffer (unlike the generator's client sockets), so the frames of a burst
        // leave in one write at the flush.
        Some(
            wsclient::ws_config(wsbuf)
                .write_buffer_size(wsbuf)
                .max_write_buffer_size(1 << 20),
        ),
    )
    .await?;
    let mut sub: Option<broadcast::Receiver<Utf8Bytes>> = None;
    loop {
        tokio::select! {
            msg = ws.next() => {
                let Some(msg) = msg else { break };
                match msg? {
                    Message::Text(t) => {
                        for reply in on_client_text(&t, &state, &mut sub) {
                            ws.send(Message::text(reply)).await?;
                        }
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            frame = recv_frame(&mut sub) => match frame {
                Ok(frame) => send_burst(&mut ws, frame, &mut sub).await?,
                // A subscriber that fell more than a channel behind skips ahead; the generator
                // sees the gap as lost deliveries, which is what the ceiling should show.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    Ok(())
}

/// Most frames written per wake-up before one flush.
const BURST: usize = 64;

/// Writes `first` and every frame already waiting on the room channel (up to `BURST` in
/// all), then flushes once: one write syscall for the burst instead of one per frame, as a
/// tuned server would (and as `../shared/perf/rawcast` does).
async fn send_burst<S>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    first: Utf8Bytes,
    sub: &mut Option<broadcast::Receiver<Utf8Bytes>>,
) -> Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.feed(Message::Text(first)).await?;
    if let Some(rx) = sub.as_mut() {
        let mut written = 1;
        while written < BURST {
            match rx.try_recv() {
                Ok(frame) => {
                    ws.feed(Message::Text(frame)).await?;
                    written += 1;
                }
                // Skipped ahead past what it missed, like `recv` below.
                Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    }
    ws.flush().await?;
    Ok(())
}

/// Handles one graphql-ws client message and returns the replies to send.
fn on_client_text(
    text: &str,
    state: &Shared,
    sub: &mut Option<broadcast::Receiver<Utf8Bytes>>,
) -> Vec<String> {
    let Ok(msg) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let id = msg.get("id").and_then(Value::as_str).unwrap_or_default();
    match msg.get("type").and_then(Value::as_str) {
        Some("connection_init") => vec![r#"{"type":"connection_ack"}"#.to_owned()],
        Some("ping") => vec![proto::pong().to_owned()],
        Some("subscribe") => {
            let payload = &msg["payload"];
            let query = payload["query"].as_str().unwrap_or_default();
            let vars = &payload["variables"];
            if query.trim_start().starts_with("subscription") {
                let room = vars["r"].as_str().unwrap_or_default();
                *sub = Some(state.borrow_mut().room(room).tx.subscribe());
                Vec::new()
            } else {
                let data = state.borrow_mut().execute(query, vars);
                vec![
                    json!({"id": id, "type": "next", "payload": data}).to_string(),
                    json!({"id": id, "type": "complete"}).to_string(),
                ]
            }
        }
        Some("complete") => {
            *sub = None;
            Vec::new()
        }
        _ => Vec::new(),
    }
}
