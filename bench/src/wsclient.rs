//! The generator's view of a server: GraphQL calls over HTTP (register, create and join rooms,
//! send messages), the shared fixture of users and rooms every scenario starts from, and opening
//! a subscribed graphql-ws connection exactly as a browser client would.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::http1::{self, HttpConn};
use crate::proto::{self, ServerKind};
use crate::rawsub::RawSub;

pub type Ws = WebSocketStream<TcpStream>;

/// Small WebSocket buffers: tungstenite defaults to 128 KiB read buffers per connection, which
/// would dwarf what we want to measure on tens of thousands of connections.
pub fn ws_config(buf: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(buf)
        .write_buffer_size(0)
        .max_write_buffer_size(usize::MAX)
}

/// Parses `http://host:port[/...]` into the socket address to connect to.
pub fn parse_url(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("url {url:?} must start with http://"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let hostport = hostport.replace("localhost", "127.0.0.1");
    hostport
        .parse()
        .with_context(|| format!("bad address in {url:?}"))
}

/// Source address number `i` of `k`: 127.0.0.1 .. 127.0.0.k.
pub fn source_ip(i: usize, k: usize) -> IpAddr {
    let n = (i % k.max(1)) as u8 + 1;
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// Runs a GraphQL operation over HTTP and returns its `data`, failing on any `errors`.
pub async fn gql(
    conn: &mut HttpConn,
    bearer: Option<&str>,
    query: &str,
    vars: Value,
) -> Result<Value> {
    let resp = conn
        .post_json("/graphql", bearer, &proto::http_request(query, vars))
        .await?;
    let v: Value = serde_json::from_slice(&resp.body).with_context(|| {
        format!(
            "HTTP {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        )
    })?;
    if let Some(errors) = v.get("errors") {
        bail!("GraphQL errors: {errors}");
    }
    if resp.status != 200 {
        bail!("HTTP {}: {v}", resp.status);
    }
    Ok(v.get("data").cloned().unwrap_or(Value::Null))
}

/// Users and rooms created once per server start and shared by every generator process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fixture {
    pub url: String,
    /// Bearer tokens; every user is a member of every room.
    pub tokens: Vec<String>,
    pub rooms: Vec<String>,
}

impl Fixture {
    /// Registers `users` users, has the first create `rooms` rooms and every other join them all.
    /// Users are few and shared by many connections: registration hashes a password, which
    /// would dominate set-up time at one user per connection.
    pub async fn create(url: &str, users: usize, rooms: usize) -> Result<Self> {
        let server = parse_url(url)?;
        let mut conn = HttpConn::connect(server, None).await?;
        let mut tokens = Vec::new();
        for i in 0..users.max(1) {
            let data = gql(
                &mut conn,
                None,
                proto::REGISTER_QUERY,
                json!({"u": format!("bench{i}"), "p": "bench-password-1"}),
            )
            .await
            .context("register")?;
            let token = data["register"]["token"]
                .as_str()
                .context("register returned no token")?;
            tokens.push(token.to_owned());
        }
        let mut room_ids = Vec::new();
        for i in 0..rooms.max(1) {
            let data = gql(
                &mut conn,
                Some(&tokens[0]),
                proto::CREATE_ROOM_QUERY,
                json!({"n": format!("bench-room-{i}")}),
            )
            .await
            .context("createRoom")?;
            let id = data["createRoom"]["id"]
                .as_str()
                .context("createRoom returned no id")?;
            room_ids.push(id.to_owned());
        }
        for token in &tokens[1..] {
            for room in &room_ids {
                gql(
                    &mut conn,
                    Some(token),
                    proto::JOIN_ROOM_QUERY,
                    json!({"r": room}),
                )
                .await
                .context("joinRoom")?;
            }
        }
        Ok(Self {
            url: url.to_owned(),
            tokens,
            rooms: room_ids,
        })
    }

    pub fn load(path: &str) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        Ok(serde_json::from_str(&text)?)
    }

    pub fn save(&self, path: &str) -> Result<()> {
        std::fs::write(path, serde_json::to_string(self)?)
            .with_context(|| format!("writing {path}"))
    }

    pub fn token(&self, i: usize) -> &str {
        &self.tokens[i % self.tokens.len()]
    }

    pub fn room(&self, i: usize) -> &str {
        &self.rooms[i % self.rooms.len()]
    }

    /// Publishes one message to every room over `conn`. The connection is opened by the caller
    /// ahead of time: a server out of file descriptors would never accept a new one.
    pub async fn publish_round(&self, conn: &mut HttpConn, body_size: usize) -> Result<()> {
        for (i, room) in self.rooms.iter().enumerate() {
            let body = proto::make_body(proto::now_unix_nanos(), body_size);
            let send = gql(
                conn,
                Some(self.token(i)),
                proto::SEND_MESSAGE_QUERY,
                json!({"r": room, "b": body}),
            );
            tokio::time::timeout(std::time::Duration::from_secs(10), send)
                .await
                .context("sendMessage timed out")?
                .context("sendMessage")?;
        }
        Ok(())
    }

    /// A connection for `publish_round`.
    pub async fn connect(&self) -> Result<HttpConn> {
        HttpConn::connect(parse_url(&self.url)?, None).await
    }
}

/// Opens a graphql-ws connection: upgrade with the subprotocol, `connection_init` with the
/// token, wait for `connection_ack`.
pub async fn open_ws(
    server: SocketAddr,
    source: Option<IpAddr>,
    sockbuf: u32,
    wsbuf: usize,
    token: &str,
) -> Result<Ws> {
    let stream = http1::connect_from(server, source, sockbuf).await?;
    let mut req = format!("ws://{server}/graphql").into_client_request()?;
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(proto::SUBPROTOCOL),
    );
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(req, stream, Some(ws_config(wsbuf)))
            .await
            .context("websocket handshake")?;
    ws.send(Message::text(proto::connection_init(token)))
        .await?;
    loop {
        let msg = ws.next().await.context("closed before connection_ack")??;
        match msg {
            Message::Text(t) => match proto::server_kind(&t) {
                ServerKind::Ack => return Ok(ws),
                ServerKind::Ping => ws.send(Message::text(proto::pong())).await?,
                _ => bail!("unexpected before ack: {}", t.as_str()),
            },
            Message::Close(c) => bail!("closed before connection_ack: {c:?}"),
            _ => {}
        }
    }
}

/// Opens a connection and subscribes it to `room`'s messages, read by the lean receiver.
pub async fn open_subscriber(
    server: SocketAddr,
    source: Option<IpAddr>,
    sockbuf: u32,
    wsbuf: usize,
    token: &str,
    room: &str,
    feed: crate::loadgen::Feed,
) -> Result<RawSub> {
    use crate::loadgen::Feed;
    let mut sub = RawSub::open(server, source, sockbuf, wsbuf, token).await?;
    if matches!(feed, Feed::Messages | Feed::Both) {
        sub.send_text(&proto::subscribe_room(room)).await?;
    }
    match feed {
        Feed::Messages => {}
        Feed::Viewer => sub.send_text(&proto::subscribe_viewer(true, true)).await?,
        Feed::ViewerUnshared => sub.send_text(&proto::subscribe_viewer(true, false)).await?,
        Feed::Both => sub.send_text(&proto::subscribe_viewer(false, true)).await?,
    }
    Ok(sub)
}
