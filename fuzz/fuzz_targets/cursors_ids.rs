//! Every `parse` in `roomcast::domain::values` that takes text: none may panic, and each
//! value that can be written back out (Display, `encode`, the inner string) must parse back
//! to itself. (The reverse, parse(s).to_string() == s, is *not* a property: ids accept
//! several UUID spellings and are trimmed; cursors accept `+7` and upper-case hex.)
//!
//! The first 12 bytes also drive the integer-taking parses (PageSize, MaxUsers,
//! MuteDuration), so they are not left out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomcast::domain::values::{
    MaxUsers, MessageBody, MessageCursor, MessageId, MuteDuration, Note, PageSize, Password,
    RoomCursor, RoomId, RoomName, Topic, UserId, Username,
};

macro_rules! id_round_trip {
    ($ty:ty, $s:expr) => {
        if let Ok(v) = <$ty>::parse($s) {
            let shown = v.to_string();
            match <$ty>::parse(&shown) {
                Ok(w) => assert_eq!(w, v, "{} {:?} -> {:?}", stringify!($ty), $s, shown),
                Err(e) => panic!(
                    "{} {:?} -> {:?} does not parse: {e:?}",
                    stringify!($ty),
                    $s,
                    shown
                ),
            }
        }
    };
}

fn nil_room() -> RoomId {
    RoomId::parse("00000000-0000-0000-0000-000000000000").expect("the nil UUID parses")
}

fn ints(data: &[u8]) {
    let word = |i: usize| {
        let mut b = [0u8; 4];
        for (k, slot) in b.iter_mut().enumerate() {
            *slot = data.get(i + k).copied().unwrap_or(0);
        }
        i32::from_le_bytes(b)
    };
    let (a, b, c) = (word(0), word(4), word(8));
    if let Ok(p) = PageSize::parse("first", a) {
        assert!((1..=PageSize::MAX).contains(&p.get()));
        assert_eq!(p.get() as i32, a);
    }
    // The server-wide cap comes from configuration: any positive i64 (here from `c`).
    let cap = i64::from(c).abs().max(1);
    if let Ok(m) = MaxUsers::parse(b, cap) {
        assert!((1..=cap).contains(&m.get()));
    }
    if let Ok(d) = MuteDuration::parse(a) {
        assert_eq!(d.get().num_seconds(), i64::from(a));
    }
}

fuzz_target!(|data: &[u8]| {
    ints(data);
    // Every parse below takes `&str`; the API's strings are always valid UTF-8.
    let s = &*String::from_utf8_lossy(data);

    id_round_trip!(UserId, s);
    id_round_trip!(RoomId, s);
    id_round_trip!(MessageId, s);

    if let Ok(u) = Username::parse(s) {
        assert_eq!(u.as_str(), s, "usernames are kept as sent");
        assert_eq!(Username::parse(u.as_str()).unwrap(), u);
    }
    if let Ok(p) = Password::parse(s) {
        assert_eq!(p.expose(), s, "passwords are kept as sent");
        assert!(Password::parse(p.expose()).is_ok());
    }
    if let Ok(n) = RoomName::parse(s) {
        let inner = n.clone().into_inner();
        match RoomName::parse(&inner) {
            Ok(m) => assert_eq!(m, n),
            Err(e) => panic!("room name {inner:?} does not parse again: {e:?}"),
        }
    }
    if let Ok(Some(t)) = Topic::parse(s) {
        let inner = t.clone().into_inner();
        match Topic::parse(&inner) {
            Ok(Some(u)) => assert_eq!(u, t),
            other => panic!("topic {inner:?} parses again as {other:?}"),
        }
    }
    if let Ok(b) = MessageBody::parse(s) {
        let inner = b.clone().into_inner();
        assert_eq!(inner, s, "bodies are kept exactly as sent");
        match MessageBody::parse(&inner) {
            Ok(c) => assert_eq!(c, b),
            Err(e) => panic!("body {inner:?} does not parse again: {e:?}"),
        }
    }
    let _ = Note::parse("reason", None);
    if let Ok(Some(n)) = Note::parse("reason", Some(s)) {
        let inner = n.clone().into_inner();
        match Note::parse("reason", Some(&inner)) {
            Ok(Some(m)) => assert_eq!(m, n),
            other => panic!("note {inner:?} parses again as {other:?}"),
        }
    }

    if let Ok(c) = MessageCursor::parse("after", s) {
        assert!(c.seq >= 0, "a cursor's sequence number is never negative");
        let encoded = c.encode();
        match MessageCursor::parse("after", &encoded) {
            Ok(d) => assert_eq!(d, c, "{s:?} -> {encoded:?}"),
            Err(e) => {
                panic!("message cursor {c:?} encodes to {encoded:?}, which does not parse: {e:?}")
            }
        }
        // position_in must not panic either, whatever the room's last sequence number.
        let room = c.room.unwrap_or_else(nil_room);
        let _ = c.position_in("after", room, c.seq);
        let _ = c.position_in("after", room, i64::MAX);
        let _ = c.position_in("after", room, -1);
    }
    if let Ok(c) = RoomCursor::parse(s) {
        let encoded = c.encode();
        match RoomCursor::parse(&encoded) {
            Ok(d) => assert_eq!(d, c, "{s:?} -> {encoded:?}"),
            Err(e) => {
                panic!("room cursor {c:?} encodes to {encoded:?}, which does not parse: {e:?}")
            }
        }
    }
});
