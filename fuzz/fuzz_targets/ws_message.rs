//! graphql-ws client messages: whatever text frame a client sends, decoding it (and its
//! `connection_init` / `subscribe` payload) the way the socket loop does must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The WebSocket layer refuses text frames that are not UTF-8 before the loop sees them.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = roomcast::http::ws::inspect_client_text(text);
});
