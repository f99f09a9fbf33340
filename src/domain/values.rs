//! Validated values. Each newtype is parsed once at the edge (`parse` returns a typed
//! `BadInput`), so the rest of the code cannot hold an invalid name, body or page size.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::DomainError;

macro_rules! id_type {
    ($name:ident, $what:literal, $generate:ident) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::$generate())
            }

            /// Unknown and malformed ids are the same thing to a client: NOT_FOUND.
            pub fn parse(raw: &str) -> Result<Self, DomainError> {
                Uuid::parse_str(raw.trim())
                    .map(Self)
                    .map_err(|_| DomainError::NotFound(concat!($what, " not found").into()))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(UserId, "user", new_v4);
id_type!(RoomId, "room", new_v4);
// Time-ordered (UUIDv7: milliseconds, then 74 random bits), so a group of new messages
// lands at the end of the id index instead of on as many random pages as it has messages.
// Message ids are not secrets, and `createdAt` is public anyway.
id_type!(MessageId, "message", now_v7);
id_type!(ReportId, "report", now_v7);
id_type!(EntryId, "log entry", now_v7);

/// A SHA-256 written as 64 hex digits (a revocation's session hash, an APQ `sha256Hash`).
pub fn sha256_from_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// 3-32 characters of ASCII letters, digits, `_`, `.`, `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let len = char_len(raw);
        if !(3..=32).contains(&len) {
            return Err(DomainError::bad_input(
                "username",
                "username must be 3 to 32 characters",
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(DomainError::bad_input(
                "username",
                "username may contain only letters, digits, '_', '.' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 8-128 characters. Never logged, never `Debug`-printed.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if !(8..=128).contains(&char_len(raw)) {
            return Err(DomainError::bad_input(
                "password",
                "password must be 8 to 128 characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// 1-100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || char_len(trimmed) > 100 {
            return Err(DomainError::bad_input(
                "name",
                "room name must be 1 to 100 characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Up to 500 characters; blank means "no topic".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic(String);

impl Topic {
    pub fn parse(raw: &str) -> Result<Option<Self>, DomainError> {
        let trimmed = raw.trim();
        if char_len(trimmed) > 500 {
            return Err(DomainError::bad_input(
                "topic",
                "topic must be at most 500 characters",
            ));
        }
        Ok((!trimmed.is_empty()).then(|| Self(trimmed.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// 1-4000 characters, not blank. Kept exactly as sent (no trimming of the inside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Err(DomainError::bad_input(
                "body",
                "message body must not be blank",
            ));
        }
        if char_len(raw) > 4000 {
            return Err(DomainError::bad_input(
                "body",
                "message body must be at most 4000 characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Free text attached to a ban or a join request: up to 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(String);

impl Note {
    pub fn parse(field: &'static str, raw: Option<&str>) -> Result<Option<Self>, DomainError> {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        if char_len(raw) > 500 {
            return Err(DomainError::bad_input(
                field,
                format!("{field} must be at most 500 characters"),
            ));
        }
        Ok(Some(Self(raw.to_owned())))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// `first` / `last` pagination arguments: 1-100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub const MAX: u32 = 100;

    pub fn parse(field: &'static str, raw: i32) -> Result<Self, DomainError> {
        if !(1..=Self::MAX as i32).contains(&raw) {
            return Err(DomainError::bad_input(
                field,
                format!("{field} must be between 1 and {}", Self::MAX),
            ));
        }
        Ok(Self(raw as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A room's member limit: 1 to the server-wide cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxUsers(i64);

impl MaxUsers {
    pub fn parse(raw: i32, server_cap: i64) -> Result<Self, DomainError> {
        let raw = i64::from(raw);
        if !(1..=server_cap).contains(&raw) {
            return Err(DomainError::bad_input(
                "maxUsers",
                format!("maxUsers must be between 1 and {server_cap}"),
            ));
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A timed mute's length: 1 second to 366 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteDuration(chrono::Duration);

impl MuteDuration {
    pub fn parse(seconds: i32) -> Result<Self, DomainError> {
        const MAX: i32 = 366 * 24 * 3600;
        if !(1..=MAX).contains(&seconds) {
            return Err(DomainError::bad_input(
                "durationSeconds",
                format!("durationSeconds must be between 1 and {MAX}"),
            ));
        }
        Ok(Self(chrono::Duration::seconds(i64::from(seconds))))
    }

    pub fn get(self) -> chrono::Duration {
        self.0
    }
}

/// A whole number of seconds within `range`, for `field`; refused with the bounds in the
/// words of the field.
fn seconds_in(
    field: &'static str,
    raw: i32,
    range: std::ops::RangeInclusive<i64>,
) -> Result<chrono::Duration, DomainError> {
    let raw = i64::from(raw);
    if !range.contains(&raw) {
        return Err(DomainError::bad_input(
            field,
            format!(
                "{field} must be between {} and {}",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(chrono::Duration::seconds(raw))
}

/// A timed ban's length: 60 seconds to 366 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanDuration(chrono::Duration);

impl BanDuration {
    pub const MAX_SECONDS: i64 = 366 * 24 * 3600;

    pub fn parse(seconds: i32) -> Result<Self, DomainError> {
        seconds_in("durationSeconds", seconds, 60..=Self::MAX_SECONDS).map(Self)
    }

    pub fn get(self) -> chrono::Duration {
        self.0
    }
}

/// How far back a ban erases the banned user's messages: 0 to 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeWindow(chrono::Duration);

impl PurgeWindow {
    pub const MAX_SECONDS: i64 = 7 * 24 * 3600;

    pub fn parse(seconds: i32) -> Result<Self, DomainError> {
        seconds_in("deleteMessagesSeconds", seconds, 0..=Self::MAX_SECONDS).map(Self)
    }

    pub fn get(self) -> chrono::Duration {
        self.0
    }
}

/// A room's slow mode: 0 (off) to 6 hours between a member's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowMode(i64);

impl SlowMode {
    pub const MAX_SECONDS: i64 = 6 * 3600;

    pub fn parse(seconds: i32) -> Result<Self, DomainError> {
        seconds_in("slowModeSeconds", seconds, 0..=Self::MAX_SECONDS).map(|d| Self(d.num_seconds()))
    }

    pub fn seconds(self) -> i64 {
        self.0
    }
}

/// Why a message is reported: 1-500 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportReason(String);

impl ReportReason {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || char_len(trimmed) > 500 {
            return Err(DomainError::bad_input(
                "reason",
                "reason must be 1 to 500 characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// How many people an invite admits: 1 to 10,000 (None: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteUses(i64);

impl InviteUses {
    pub const MAX: i64 = 10_000;

    pub fn parse(raw: i32) -> Result<Self, DomainError> {
        let raw = i64::from(raw);
        if !(1..=Self::MAX).contains(&raw) {
            return Err(DomainError::bad_input(
                "maxUses",
                format!("maxUses must be between 1 and {}", Self::MAX),
            ));
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// How long an invite works: 60 seconds to 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteLifetime(chrono::Duration);

impl InviteLifetime {
    pub const MAX_SECONDS: i64 = 30 * 24 * 3600;

    pub fn parse(seconds: i32) -> Result<Self, DomainError> {
        seconds_in("expiresInSeconds", seconds, 60..=Self::MAX_SECONDS).map(Self)
    }

    pub fn get(self) -> chrono::Duration {
        self.0
    }
}

/// An invite link's code: 32 URL-safe characters carrying 192 random bits. Anything else is
/// no code at all, answered like an unknown one (NOT_FOUND).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InviteCode(String);

impl InviteCode {
    const BYTES: usize = 24;
    const LEN: usize = 32;

    /// A fresh code from the operating system's random source.
    pub fn generate() -> Self {
        use base64::Engine;
        use rand::RngCore;
        let mut bytes = [0u8; Self::BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        if raw.len() != Self::LEN
            || !raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(DomainError::invite_not_found());
        }
        Ok(Self(raw.to_owned()))
    }

    /// A code read back from storage.
    pub fn from_stored(code: String) -> Self {
        Self(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Opaque position in a newest-first list of reports or log entries: the time and id of the
/// last item seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordCursor {
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub id: Uuid,
}

impl RecordCursor {
    pub fn encode(&self) -> String {
        encode_time_id("k", self.created_at, self.id)
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let (created_at, id) = parse_time_id("k", raw)?;
        Ok(Self { created_at, id })
    }
}

/// Opaque position in a room's message history: the room and the message's per-room
/// sequence number. Cursors issued before the room was part of them carry only the
/// sequence number (`room: None`) and are still accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageCursor {
    pub room: Option<RoomId>,
    pub seq: i64,
}

impl MessageCursor {
    const PREFIX: &'static str = "m:";

    pub fn new(room: RoomId, seq: i64) -> Self {
        Self {
            room: Some(room),
            seq,
        }
    }

    pub fn encode(self) -> String {
        use base64::Engine;
        let text = match self.room {
            Some(room) => format!("{}{}:{}", Self::PREFIX, room.0.simple(), self.seq),
            None => format!("{}{}", Self::PREFIX, self.seq),
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    pub fn parse(field: &'static str, raw: &str) -> Result<Self, DomainError> {
        use base64::Engine;
        let bad = || DomainError::bad_input(field, format!("{field} is not a valid cursor"));
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim())
            .map_err(|_| bad())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
        let rest = text.strip_prefix(Self::PREFIX).ok_or_else(bad)?;
        let (room, seq) = match rest.split_once(':') {
            Some((room, seq)) => (Some(RoomId(Uuid::parse_str(room).map_err(|_| bad())?)), seq),
            None => (None, rest),
        };
        let seq = seq
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(bad)?;
        Ok(Self { room, seq })
    }

    /// The sequence number, if this cursor may be used in `room` (whose newest message is
    /// `last_seq`): a cursor of another room, or past the room's end, is refused.
    pub fn position_in(
        self,
        field: &'static str,
        room: RoomId,
        last_seq: i64,
    ) -> Result<i64, DomainError> {
        if self.room.is_some_and(|r| r != room) {
            return Err(DomainError::bad_input(
                field,
                format!("{field} belongs to another room"),
            ));
        }
        if self.seq > last_seq {
            return Err(DomainError::bad_input(
                field,
                format!("{field} is past the end of this room"),
            ));
        }
        Ok(self.seq)
    }
}

/// Opaque position in the room list: (created_at, id) of the last room seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomCursor {
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub id: RoomId,
}

impl RoomCursor {
    pub fn encode(&self) -> String {
        encode_time_id("r", self.created_at, self.id.0)
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let (created_at, id) = parse_time_id("r", raw)?;
        Ok(Self {
            created_at,
            id: RoomId(id),
        })
    }
}

/// A position as `prefix:micros:uuid` in URL-safe base64 (room list and record cursors).
fn encode_time_id(prefix: &str, at: chrono::DateTime<chrono::Utc>, id: Uuid) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{prefix}:{}:{id}", at.timestamp_micros()))
}

/// The time and id of an `encode_time_id` cursor with `prefix`; anything else is
/// BAD_USER_INPUT on `after`.
fn parse_time_id(
    prefix: &str,
    raw: &str,
) -> Result<(chrono::DateTime<chrono::Utc>, Uuid), DomainError> {
    use base64::Engine;
    let bad = || DomainError::bad_input("after", "after is not a valid cursor");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.trim())
        .map_err(|_| bad())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, ':');
    if parts.next() != Some(prefix) {
        return Err(bad());
    }
    let micros = parts
        .next()
        .and_then(|p| p.parse::<i64>().ok())
        .ok_or_else(bad)?;
    let at = chrono::DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    let id = parts
        .next()
        .and_then(|p| Uuid::parse_str(p).ok())
        .ok_or_else(bad)?;
    Ok((at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse("a.b-c_9").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("bad name").is_err());
        assert!(Username::parse("émile").is_err());
    }

    #[test]
    fn bodies_and_names() {
        assert!(MessageBody::parse("   ").is_err());
        assert!(MessageBody::parse(&"x".repeat(4000)).is_ok());
        assert!(MessageBody::parse(&"x".repeat(4001)).is_err());
        assert_eq!(RoomName::parse("  hi  ").unwrap().into_inner(), "hi");
        assert!(RoomName::parse("   ").is_err());
        assert!(Topic::parse("  ").unwrap().is_none());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let room = RoomId::new();
        let c = MessageCursor::new(room, 42);
        assert_eq!(MessageCursor::parse("before", &c.encode()).unwrap(), c);
        assert!(MessageCursor::parse("before", "nope").is_err());
        // Older cursors carry only the sequence number.
        let legacy = MessageCursor { room: None, seq: 7 };
        assert_eq!(
            MessageCursor::parse("after", &legacy.encode()).unwrap(),
            legacy
        );
        assert_eq!(c.position_in("after", room, 50).unwrap(), 42);
        assert!(c.position_in("after", RoomId::new(), 50).is_err());
        assert!(c.position_in("after", room, 41).is_err());
        assert_eq!(legacy.position_in("after", room, 7).unwrap(), 7);
        let r = RoomCursor {
            created_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: RoomId::new(),
        };
        assert_eq!(RoomCursor::parse(&r.encode()).unwrap(), r);
        assert!(RoomCursor::parse(&c.encode()).is_err());
    }

    #[test]
    fn moderation_limits() {
        assert!(BanDuration::parse(59).is_err());
        assert!(BanDuration::parse(60).is_ok());
        assert!(BanDuration::parse(31_622_400).is_ok());
        assert!(BanDuration::parse(31_622_401).is_err());
        assert!(PurgeWindow::parse(-1).is_err());
        assert!(PurgeWindow::parse(0).is_ok());
        assert!(PurgeWindow::parse(604_800).is_ok());
        assert!(PurgeWindow::parse(604_801).is_err());
        assert!(SlowMode::parse(21_600).is_ok());
        assert!(SlowMode::parse(21_601).is_err());
        assert!(SlowMode::parse(-1).is_err());
        assert!(ReportReason::parse("  ").is_err());
        assert!(ReportReason::parse(&"x".repeat(500)).is_ok());
        assert!(ReportReason::parse(&"x".repeat(501)).is_err());
        assert!(InviteUses::parse(0).is_err());
        assert!(InviteUses::parse(10_000).is_ok());
        assert!(InviteUses::parse(10_001).is_err());
        assert!(InviteLifetime::parse(59).is_err());
        assert!(InviteLifetime::parse(2_592_000).is_ok());
        assert!(InviteLifetime::parse(2_592_001).is_err());
    }

    #[test]
    fn invite_codes_carry_enough_randomness_and_parse_back() {
        let a = InviteCode::generate();
        let b = InviteCode::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32, "24 random bytes in base64url");
        assert_eq!(InviteCode::parse(a.as_str()).unwrap(), a);
        for bad in ["", "short", &"a".repeat(33), &"!".repeat(32)] {
            assert_eq!(
                InviteCode::parse(bad).unwrap_err().code(),
                crate::error_code::ErrorCode::NotFound
            );
        }
        let c = RecordCursor {
            created_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(RecordCursor::parse(&c.encode()).unwrap(), c);
        assert!(RecordCursor::parse("garbage").is_err());
    }

    #[test]
    fn page_sizes() {
        assert!(PageSize::parse("first", 0).is_err());
        assert!(PageSize::parse("first", 101).is_err());
        assert_eq!(PageSize::parse("first", 100).unwrap().get(), 100);
    }
}
