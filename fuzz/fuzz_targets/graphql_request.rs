//! The whole GraphQL request path on the server's schema: the text check, then (through the
//! `DocumentGuard` extension) the parse and the fragment-expansion check, async-graphql's
//! validation with the depth/complexity/recursion/directive limits, and execution (every
//! resolver fails: the schema is built without services), then the response's error codes
//! and its serialisation, as `POST /graphql` and a graphql-ws `subscribe` do them.
//!
//! Input: the query document, optionally followed by a NUL byte and the variables as JSON
//! (used when they parse to an object). Seeds in `fuzz/seeds/graphql_request/`.
//!
//! Execution runs on one worker thread with a 2 MiB stack, the size of a tokio worker's
//! (the server runs on `#[tokio::main]`), so a recursion that would overflow a server
//! thread overflows here too instead of hiding in the main thread's 8 MiB. Override with
//! `ROOMCAST_FUZZ_STACK_KB`. `ROOMCAST_FUZZ_DEBUG=1` prints each response.
#![no_main]

use std::sync::mpsc;
use std::sync::{LazyLock, Mutex};

use async_graphql::{Request, Variables};
use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;
use roomcast::graphql::{build_schema, limits, RequestAuth, RoomcastSchema};

/// Responses larger than this are replaced by an error, as `max_response_bytes` does.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// A subscription without services ends after its first error; never take more than this.
const MAX_STREAM_ITEMS: usize = 16;

struct Job {
    query: String,
    variables: Option<serde_json::Value>,
    done: mpsc::SyncSender<()>,
}

static WORKER: LazyLock<Mutex<mpsc::SyncSender<Job>>> = LazyLock::new(|| {
    let stack_kb = std::env::var("ROOMCAST_FUZZ_STACK_KB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(2048);
    let (tx, rx) = mpsc::sync_channel::<Job>(0);
    std::thread::Builder::new()
        .name("graphql-worker".into())
        .stack_size(stack_kb * 1024)
        .spawn(move || {
            let schema = build_schema(None);
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a current-thread runtime");
            for job in rx {
                rt.block_on(run(&schema, job.query, job.variables));
                let _ = job.done.send(());
            }
        })
        .expect("spawn the worker thread");
    Mutex::new(tx)
});

fn request(query: &str, variables: &Option<serde_json::Value>) -> Request {
    let mut request = Request::new(query);
    if let Some(v) = variables {
        request = request.variables(Variables::from_json(v.clone()));
    }
    request.data(RequestAuth::default())
}

/// `ROOMCAST_FUZZ_DEBUG=1`: print every response (to see what a seed or artifact reaches).
static DEBUG: LazyLock<bool> = LazyLock::new(|| std::env::var_os("ROOMCAST_FUZZ_DEBUG").is_some());

fn finish(mut response: async_graphql::Response) {
    roomcast::graphql::error::ensure_codes(&mut response);
    let body = roomcast::http::bounded_json(&response, MAX_RESPONSE_BYTES);
    assert!(!body.is_empty());
    if *DEBUG {
        eprintln!("response: {}", String::from_utf8_lossy(&body));
    }
}

async fn run(schema: &RoomcastSchema, query: String, variables: Option<serde_json::Value>) {
    // POST /graphql: one response.
    finish(schema.execute(request(&query, &variables)).await);
    // graphql-ws `subscribe`: a stream of responses (one for queries and mutations).
    let mut stream = schema.execute_stream(request(&query, &variables));
    let mut items = 0;
    while let Some(response) = stream.next().await {
        finish(response);
        items += 1;
        if items >= MAX_STREAM_ITEMS {
            break;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Requests arrive as JSON, whose strings are always valid Unicode.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (query, variables) = match text.split_once('\0') {
        Some((q, v)) => (q, serde_json::from_str::<serde_json::Value>(v).ok()),
        None => (text, None),
    };
    let variables = variables.filter(serde_json::Value::is_object);

    // The text check alone (the extension runs it again inside `execute`).
    let _ = limits::check_text(query);

    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let job = Job {
        query: query.to_owned(),
        variables,
        done: done_tx,
    };
    WORKER.lock().unwrap().send(job).expect("worker alive");
    // A panic on the worker aborts the process (libfuzzer-sys's panic hook), so this only
    // waits; a hang here is reported by libFuzzer's -timeout.
    done_rx.recv().expect("worker finished the job");
});
