//! A subscribed graphql-ws connection read without a WebSocket library: the generator's
//! receive side.
//!
//! At the ceiling's saturation the generator takes in well over a million frames a second on
//! one core. Through tungstenite each frame is its own `Message` (an allocation, UTF-8
//! validation, a task wake-up per frame); here a read takes whatever the kernel holds for the
//! socket into one buffer, the frames in it are split in place, and each one costs a header
//! decode and a substring search. One clock read per `read` stamps every frame it brought
//! (they all arrived together).
//!
//! The client side of the protocol is what a browser does: an HTTP/1.1 upgrade offering
//! `graphql-transport-ws`, masked client frames, `connection_init` with the token, then
//! `subscribe`. Server frames are unmasked and unfragmented (RFC 6455 allows fragmentation;
//! every server measured here sends whole messages, and a fragment is reported as an error).

use std::net::{IpAddr, SocketAddr};

use anyhow::{bail, Context, Result};
use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http1;
use crate::proto::{self, ServerKind};

const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// One frame split out of the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub fin: bool,
    pub opcode: u8,
    pub payload: &'a [u8],
}

/// The first complete server frame in `buf` and its length on the wire; None while it is
/// incomplete. Errors on a masked frame (servers must not mask).
pub fn split_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b1 & 0x80 != 0 {
        bail!("server sent a masked frame");
    }
    let (len, head) = match b1 & 0x7f {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            (u16::from_be_bytes([b[0], b[1]]) as usize, 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut n = [0u8; 8];
            n.copy_from_slice(b);
            let len = usize::try_from(u64::from_be_bytes(n)).context("frame length")?;
            (len, 10)
        }
        n => (n as usize, 2),
    };
    let Some(payload) = buf.get(head..head + len) else {
        return Ok(None);
    };
    Ok(Some((
        Frame {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0f,
            payload,
        },
        head + len,
    )))
}

/// A masked client frame carrying `payload`.
pub fn client_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= u16::MAX as usize => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// What one subscribed connection saw in a read.
pub trait Sink {
    /// A delivered message, with the intended send time its body carries.
    fn delivery(&mut self, intended: u64, now: u64);
    /// The subscription or connection ended abnormally.
    fn error(&mut self, what: String);
}

/// An open, acknowledged graphql-ws connection.
pub struct RawSub {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    mask: [u8; 4],
    mark: memmem::Finder<'static>,
}

/// Marks the intended send time in a delivered frame (see `proto::parse_intended`).
const MARK: &[u8] = b"\"body\":\"t=";

impl RawSub {
    /// Upgrades, sends `connection_init` with `token`, and waits for the ack.
    pub async fn open(
        server: SocketAddr,
        source: Option<IpAddr>,
        sockbuf: u32,
        bufsize: usize,
        token: &str,
    ) -> Result<Self> {
        let mut stream = http1::connect_from(server, source, sockbuf).await?;
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let req = format!(
            "GET /graphql HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: {}\r\n\r\n",
            proto::SUBPROTOCOL
        );
        stream.write_all(req.as_bytes()).await?;
        let mut buf = vec![0u8; bufsize.max(1024)];
        let mut end = 0;
        let head_len = loop {
            if end == buf.len() {
                bail!("upgrade response larger than {} bytes", buf.len());
            }
            let n = stream.read(&mut buf[end..]).await?;
            if n == 0 {
                bail!("closed during the upgrade");
            }
            end += n;
            if let Some(i) = memmem::find(&buf[..end], b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_len]);
        if !head.starts_with("HTTP/1.1 101") {
            bail!(
                "upgrade refused: {}",
                head.lines().next().unwrap_or_default()
            );
        }
        buf.copy_within(head_len..end, 0);
        // A per-connection mask key (RFC 6455 wants it unpredictable to the network path; the
        // servers measured here only unmask with it).
        let seed = (stream.local_addr()?.port() as u32).wrapping_mul(2_654_435_761);
        let mut sub = Self {
            stream,
            buf,
            start: 0,
            end: end - head_len,
            mask: seed.to_be_bytes(),
            mark: memmem::Finder::new(MARK),
        };
        sub.send_text(&proto::connection_init(token)).await?;
        loop {
            let Some(text) = sub.next_text().await? else {
                bail!("closed before connection_ack");
            };
            match proto::server_kind(&text) {
                ServerKind::Ack => return Ok(sub),
                ServerKind::Ping => sub.send_text(proto::pong()).await?,
                _ => bail!("unexpected before ack: {text}"),
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        let frame = client_frame(OP_TEXT, text.as_bytes(), self.mask);
        self.stream.write_all(&frame).await?;
        Ok(())
    }

    /// Reads more bytes into the buffer, making room first; false on EOF.
    async fn fill(&mut self) -> Result<bool> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // A frame larger than the buffer: grow to hold it.
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n > 0)
    }

    /// The next text message during the handshake (answering WebSocket pings); None on EOF.
    async fn next_text(&mut self) -> Result<Option<String>> {
        loop {
            if let Some((frame, len)) = split_frame(&self.buf[self.start..self.end])? {
                let (opcode, payload) = (frame.opcode, frame.payload.to_vec());
                self.start += len;
                match opcode {
                    OP_TEXT => return Ok(Some(String::from_utf8(payload)?)),
                    OP_CLOSE => return Ok(None),
                    OP_PING => {
                        let pong = client_frame(OP_PONG, &payload, self.mask);
                        self.stream.write_all(&pong).await?;
                    }
                    _ => {}
                }
                continue;
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Reads until the connection ends, telling `sink` about every delivery; answers pings.
    pub async fn receive(mut self, sink: &mut impl Sink) {
        if let Err(e) = self.receive_inner(sink).await {
            sink.error(format!("{e:#}"));
        }
    }

    async fn receive_inner(&mut self, sink: &mut impl Sink) -> Result<()> {
        loop {
            if !self.fill().await? {
                bail!("server closed the connection");
            }
            let now = proto::now_unix_nanos();
            // Replies are written after the buffer is walked (it borrows the buffer).
            let mut replies: Vec<Vec<u8>> = Vec::new();
            while let Some((frame, len)) = split_frame(&self.buf[self.start..self.end])? {
                self.start += len;
                if !frame.fin {
                    bail!("fragmented server message");
                }
                match frame.opcode {
                    OP_TEXT => {
                        if let Some(at) = self.mark.find(frame.payload) {
                            let digits = &frame.payload[at + MARK.len()..];
                            let intended = digits
                                .iter()
                                .take_while(|b| b.is_ascii_digit())
                                .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
                            sink.delivery(intended, now);
                            continue;
                        }
                        let text = String::from_utf8_lossy(frame.payload);
                        match proto::server_kind(&text) {
                            ServerKind::Ping => replies.push(client_frame(
                                OP_TEXT,
                                proto::pong().as_bytes(),
                                self.mask,
                            )),
                            ServerKind::Error | ServerKind::Complete => {
                                bail!("subscription ended: {text}")
                            }
                            _ => {}
                        }
                    }
                    OP_PING => replies.push(client_frame(OP_PONG, frame.payload, self.mask)),
                    OP_CLOSE => bail!(
                        "server closed: {:?}",
                        String::from_utf8_lossy(frame.payload)
                    ),
                    _ => {}
                }
            }
            for r in replies {
                self.stream.write_all(&r).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_frame(payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x81];
        match payload.len() {
            n if n < 126 => out.push(n as u8),
            n if n <= 65535 => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn splits_frames_of_each_length_encoding() {
        for n in [0, 5, 125, 126, 300, 65535, 65536] {
            let payload = vec![b'a'; n];
            let mut wire = server_frame(&payload);
            wire.extend_from_slice(&server_frame(b"next"));
            let (frame, len) = split_frame(&wire).unwrap().unwrap();
            assert_eq!((frame.opcode, frame.fin, frame.payload.len()), (1, true, n));
            let (second, _) = split_frame(&wire[len..]).unwrap().unwrap();
            assert_eq!(second.payload, b"next");
            // Every strict prefix of a frame is incomplete, not an error.
            for cut in [1, len / 2, len - 1] {
                assert!(
                    split_frame(&wire[..cut]).unwrap().is_none(),
                    "n={n} cut={cut}"
                );
            }
        }
    }

    #[test]
    fn refuses_masked_server_frames() {
        assert!(split_frame(&[0x81, 0x80 | 1, 0, 0, 0, 0, b'x']).is_err());
    }

    #[test]
    fn client_frames_unmask_to_their_payload() {
        let mask = [1, 2, 3, 4];
        let frame = client_frame(OP_TEXT, b"hello", mask);
        assert_eq!(frame[0], 0x81);
        assert_eq!(frame[1], 0x80 | 5);
        assert_eq!(&frame[2..6], &mask);
        let unmasked: Vec<u8> = frame[6..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        assert_eq!(unmasked, b"hello");
    }
}
