//! Automatic persisted queries (Apollo's APQ, which urql's `persistedExchange` speaks too).
//!
//! A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` and no document; the
//! first time, the server answers `PERSISTED_QUERY_NOT_FOUND` (message
//! `PersistedQueryNotFound`, which both clients look for), the client sends the document with
//! its hash, and the server keeps the document for the next requests. This sits before the
//! document guard and the parser: a persisted document is text, stored only after it passed
//! the same pre-parse limits as any other, and every request still parses and validates it
//! through the ordinary path. (async-graphql's own APQ extension parses unguarded and keeps
//! no codes, so it is not used.)

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_graphql::{ErrorExtensions, Request, Value};
use sha2::{Digest, Sha256};

use crate::domain::values::sha256_from_hex;
use crate::error_code::ErrorCode;

/// Why a persisted-query request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistedError {
    /// The hash is not known here (yet): send the document with it.
    NotFound,
    /// The extension is malformed, or the document does not have the hash it came with.
    Invalid(String),
}

impl PersistedError {
    pub fn code(&self) -> ErrorCode {
        match self {
            PersistedError::NotFound => ErrorCode::PersistedQueryNotFound,
            PersistedError::Invalid(_) => ErrorCode::BadUserInput,
        }
    }

    /// The client-facing error, with its code. Not found says `PersistedQueryNotFound`:
    /// Apollo Client and urql retry with the document on that message or that code.
    pub fn into_gql(self) -> async_graphql::Error {
        let code = self.code();
        let message = match self {
            PersistedError::NotFound => "PersistedQueryNotFound".to_owned(),
            PersistedError::Invalid(message) => message,
        };
        async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
    }
}

/// Documents by SHA-256, oldest dropped first when full. One per server.
pub struct PersistedQueries {
    capacity: usize,
    docs: Mutex<Docs>,
}

#[derive(Default)]
struct Docs {
    by_hash: HashMap<[u8; 32], Arc<str>>,
    order: VecDeque<[u8; 32]>,
}

fn invalid() -> PersistedError {
    PersistedError::Invalid(
        "extensions.persistedQuery must be {\"version\": 1, \"sha256Hash\": \"<64 hex digits>\"}"
            .into(),
    )
}

impl PersistedQueries {
    /// Keeps at most `capacity` documents; 0 turns persisted queries off (every hash is then
    /// unknown, and clients fall back to sending documents).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            docs: Mutex::new(Docs::default()),
        }
    }

    /// Applies `extensions.persistedQuery`, if the request has one: fills in the document
    /// for a known hash, or checks and keeps a document sent with its hash. Requests without
    /// the extension are left alone.
    pub fn resolve(&self, request: &mut Request) -> Result<(), PersistedError> {
        let Some(ext) = request.extensions.remove("persistedQuery") else {
            return Ok(());
        };
        let Value::Object(ext) = ext else {
            return Err(invalid());
        };
        let version = ext.get("version").and_then(|v| match v {
            Value::Number(n) => n.as_i64(),
            _ => None,
        });
        let hash = match (version, ext.get("sha256Hash")) {
            (Some(1), Some(Value::String(h))) => sha256_from_hex(h).ok_or_else(invalid)?,
            _ => return Err(invalid()),
        };
        if request.query.is_empty() {
            let docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
            let doc = docs.by_hash.get(&hash).ok_or(PersistedError::NotFound)?;
            request.query = doc.to_string();
            return Ok(());
        }
        let actual: [u8; 32] = Sha256::digest(request.query.as_bytes()).into();
        if actual != hash {
            return Err(PersistedError::Invalid(
                "provided sha does not match query".into(),
            ));
        }
        // Only documents within the pre-parse limits are kept; the request itself goes on
        // and the guard refuses it as it would without the extension.
        if self.capacity > 0 && super::limits::check_text(&request.query).is_ok() {
            self.keep(hash, &request.query);
        }
        Ok(())
    }

    fn keep(&self, hash: [u8; 32], doc: &str) {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        if docs.by_hash.contains_key(&hash) {
            return;
        }
        docs.by_hash.insert(hash, doc.into());
        docs.order.push_back(hash);
        while docs.order.len() > self.capacity {
            if let Some(old) = docs.order.pop_front() {
                docs.by_hash.remove(&old);
            }
        }
    }

    /// How many documents are kept (for tests and `/metrics`).
    pub fn len(&self) -> usize {
        self.docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_hash
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "{ __typename }";

    fn hex(doc: &str) -> String {
        Sha256::digest(doc.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn request(query: &str, hash: &str) -> Request {
        let mut r = Request::new(query);
        let ext = serde_json::json!({"version": 1, "sha256Hash": hash});
        r.extensions.insert(
            "persistedQuery".into(),
            Value::from_json(ext).expect("json"),
        );
        r
    }

    #[test]
    fn an_unknown_hash_is_not_found_then_found_once_sent_with_its_document() {
        let apq = PersistedQueries::new(8);
        let mut r = request("", &hex(DOC));
        assert_eq!(apq.resolve(&mut r), Err(PersistedError::NotFound));

        let mut r = request(DOC, &hex(DOC));
        assert_eq!(apq.resolve(&mut r), Ok(()));
        assert_eq!(r.query, DOC);

        let mut r = request("", &hex(DOC));
        assert_eq!(apq.resolve(&mut r), Ok(()));
        assert_eq!(r.query, DOC);
        assert!(!r.extensions.contains_key("persistedQuery"));
    }

    #[test]
    fn a_document_with_someone_elses_hash_is_refused_and_not_kept() {
        let apq = PersistedQueries::new(8);
        let other = "{ rooms { id } }";
        let mut r = request(other, &hex(DOC));
        assert!(matches!(
            apq.resolve(&mut r),
            Err(PersistedError::Invalid(_))
        ));
        let mut r = request("", &hex(DOC));
        assert_eq!(apq.resolve(&mut r), Err(PersistedError::NotFound));
    }

    #[test]
    fn malformed_extensions_are_bad_input() {
        let apq = PersistedQueries::new(8);
        for hash in ["", "abc", &"g".repeat(64)] {
            let mut r = request("", hash);
            assert_eq!(apq.resolve(&mut r), Err(invalid()), "hash {hash:?}");
        }
        let mut r = Request::new("");
        r.extensions
            .insert("persistedQuery".into(), Value::String("x".into()));
        assert_eq!(apq.resolve(&mut r), Err(invalid()));
        let mut r = request("", &hex(DOC));
        if let Some(Value::Object(o)) = r.extensions.get_mut("persistedQuery") {
            o.insert(async_graphql::Name::new("version"), Value::from(2));
        }
        assert_eq!(apq.resolve(&mut r), Err(invalid()));
    }

    #[test]
    fn the_oldest_documents_go_first_and_hostile_ones_are_never_kept() {
        let apq = PersistedQueries::new(2);
        let docs = ["{ a }", "{ b }", "{ c }"];
        for doc in docs {
            apq.resolve(&mut request(doc, &hex(doc))).expect("kept");
        }
        assert_eq!(apq.len(), 2);
        assert_eq!(
            apq.resolve(&mut request("", &hex("{ a }"))),
            Err(PersistedError::NotFound)
        );
        assert_eq!(apq.resolve(&mut request("", &hex("{ c }"))), Ok(()));

        let deep = format!("{}{}", "{ a ".repeat(500), "}".repeat(500));
        let apq = PersistedQueries::new(8);
        apq.resolve(&mut request(&deep, &hex(&deep)))
            .expect("passed on to the guard, which refuses it");
        assert!(apq.is_empty(), "a document over the limits is not kept");
    }

    #[test]
    fn off_keeps_nothing() {
        let apq = PersistedQueries::new(0);
        apq.resolve(&mut request(DOC, &hex(DOC))).expect("passes");
        assert_eq!(
            apq.resolve(&mut request("", &hex(DOC))),
            Err(PersistedError::NotFound)
        );
    }

    #[test]
    fn requests_without_the_extension_are_untouched() {
        let apq = PersistedQueries::new(8);
        let mut r = Request::new(DOC);
        assert_eq!(apq.resolve(&mut r), Ok(()));
        assert_eq!(r.query, DOC);
    }
}
