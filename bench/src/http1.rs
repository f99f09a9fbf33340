//! A minimal HTTP/1.1 client and request reader, just enough for GraphQL over HTTP POST with
//! keep-alive. Hand-written rather than a full client so the generator spends its one core on
//! load, not on connection pools, and so the baseline server stays the smallest possible.

use std::net::{IpAddr, SocketAddr};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

use crate::sys;

/// Opens a TCP connection from `source` (port chosen by the kernel) with small socket buffers.
pub async fn connect_from(
    server: SocketAddr,
    source: Option<IpAddr>,
    sockbuf: u32,
) -> Result<TcpStream> {
    let sock = TcpSocket::new_v4().context("socket")?;
    if sockbuf > 0 {
        sock.set_recv_buffer_size(sockbuf)?;
        sock.set_send_buffer_size(sockbuf)?;
    }
    if let Some(ip) = source {
        sys::bind_address_no_port(&sock);
        sock.bind(SocketAddr::new(ip, 0))
            .with_context(|| format!("bind {ip}"))?;
    }
    let stream = sock
        .connect(server)
        .await
        .with_context(|| format!("connect {server}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One keep-alive HTTP/1.1 connection that sends requests one at a time.
pub struct HttpConn {
    io: BufReader<TcpStream>,
    host: String,
    line: String,
    server: SocketAddr,
    source: Option<IpAddr>,
    last_used: std::time::Instant,
}

/// A connection idle this long is replaced before the next request, as HTTP clients do:
/// servers close idle keep-alive connections (roomcast after `--http-header-timeout-ms`,
/// 10 s), and a request written into one that is closing fails. At low publish rates spread
/// over many publisher connections each one idles for seconds.
const IDLE_REUSE: std::time::Duration = std::time::Duration::from_secs(4);

/// A response: status code and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpConn {
    pub async fn connect(server: SocketAddr, source: Option<IpAddr>) -> Result<Self> {
        let stream = connect_from(server, source, 0).await?;
        Ok(Self {
            io: BufReader::with_capacity(8 * 1024, stream),
            host: server.to_string(),
            line: String::new(),
            server,
            source,
            last_used: std::time::Instant::now(),
        })
    }

    /// POSTs a JSON body to `path`, with a bearer token when given.
    pub async fn post_json(
        &mut self,
        path: &str,
        bearer: Option<&str>,
        body: &str,
    ) -> Result<Response> {
        let auth = bearer
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        if self.last_used.elapsed() >= IDLE_REUSE {
            *self = Self::connect(self.server, self.source).await?;
        }
        self.io.get_mut().write_all(req.as_bytes()).await?;
        self.read_response().await
    }

    async fn read_line(&mut self) -> Result<&str> {
        self.line.clear();
        if self.io.read_line(&mut self.line).await? == 0 {
            bail!("connection closed by server");
        }
        Ok(self.line.trim_end())
    }

    async fn read_response(&mut self) -> Result<Response> {
        let status_line = self.read_line().await?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {status_line:?}"))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            let line = self.read_line().await?;
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.parse::<usize>().context("content-length")?);
                } else if name.eq_ignore_ascii_case("transfer-encoding")
                    && value.eq_ignore_ascii_case("chunked")
                {
                    chunked = true;
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let size_line = self.read_line().await?;
                let size = usize::from_str_radix(size_line.split(';').next().unwrap_or(""), 16)
                    .context("chunk size")?;
                if size == 0 {
                    // Trailers end with an empty line.
                    while !self.read_line().await?.is_empty() {}
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                self.io.read_exact(&mut body[start..]).await?;
                self.read_line().await?;
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.io.read_exact(&mut body).await?;
        } else {
            bail!("response without length");
        }
        self.last_used = std::time::Instant::now();
        Ok(Response { status, body })
    }
}

/// A request as the baseline server sees it.
pub struct Request {
    pub method: String,
    pub path: String,
    pub bearer: Option<String>,
    pub body: Vec<u8>,
}

/// Reads one request from a keep-alive connection; `None` at a clean end of stream.
pub async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(
    io: &mut R,
    line: &mut String,
) -> Result<Option<Request>> {
    line.clear();
    if io.read_line(line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    let mut bearer = None;
    loop {
        line.clear();
        if io.read_line(line).await? == 0 {
            bail!("eof in headers");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().context("content-length")?;
            } else if name.eq_ignore_ascii_case("authorization") {
                bearer = value.strip_prefix("Bearer ").map(str::to_owned);
            }
        }
    }
    let mut body = vec![0; length];
    io.read_exact(&mut body).await?;
    Ok(Some(Request {
        method,
        path,
        bearer,
        body,
    }))
}

/// Writes a 200 response with a JSON body.
pub async fn write_json<W: tokio::io::AsyncWrite + Unpin>(io: &mut W, body: &str) -> Result<()> {
    let resp = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    io.write_all(resp.as_bytes()).await?;
    Ok(())
}
