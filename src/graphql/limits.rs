//! Limits on GraphQL documents that must hold *before* anything recurses on them.
//!
//! The parser (pest) recurses once per nesting level of a value or selection set, so a 4 KB
//! document of nested list literals overflows a worker's stack before any depth limit runs;
//! and several of async-graphql's checks (recursive depth, complexity, validation visitors)
//! walk fragment spreads inline, so fragments that each spread the next one twice cost
//! exponential time. Two pure checks close both, and [`DocumentGuard`] runs them on every
//! request the schema sees, over HTTP and graphql-ws alike:
//!
//! 1. [`check_text`], a single pass over the raw text that counts tokens and bracket nesting
//!    (skipping strings and comments) and refuses the document before it is parsed;
//! 2. [`check_expansion`], on the parsed document, which counts how many selections the
//!    operations would visit with every fragment spread inlined, memoising each fragment's
//!    size so the count is linear in the document.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, ServerError, ServerResult};

use crate::domain::error::DomainError;
use crate::http::coded_error;

/// Deepest nesting of `{`, `[` and `(` together. The selection depth limit is 16 and
/// GraphiQL's introspection query nests 15 deep, so real documents stay far below this.
pub const MAX_NESTING: usize = 32;
/// Most lexical tokens in one document.
pub const MAX_TOKENS: usize = 15_000;
/// Most selections the operations visit with every fragment spread inlined.
pub const MAX_EXPANDED_SELECTIONS: u64 = 5_000;

/// Why a document was refused before it was parsed or validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentLimit {
    Nesting,
    Tokens,
    Expansion,
    FragmentCycle,
}

impl DocumentLimit {
    pub fn message(&self) -> String {
        match self {
            DocumentLimit::Nesting => {
                format!("the document nests brackets more than {MAX_NESTING} deep")
            }
            DocumentLimit::Tokens => format!("the document has more than {MAX_TOKENS} tokens"),
            DocumentLimit::Expansion => format!(
                "the document expands to more than {MAX_EXPANDED_SELECTIONS} selections once fragments are inlined"
            ),
            DocumentLimit::FragmentCycle => "the document's fragments spread each other in a cycle".into(),
        }
    }

    fn into_server_error(self) -> ServerError {
        coded_error(crate::graphql::error::to_gql(DomainError::BadInput {
            message: self.message(),
            field: None,
        }))
    }
}

/// One pass over the document text, GraphQL's lexical grammar reduced to what matters here:
/// strings (including block strings) and comments are skipped whole, names and numbers are
/// one token each, every other character is a token, and brackets change the nesting.
pub fn check_text(doc: &str) -> Result<(), DocumentLimit> {
    let bytes = doc.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    let mut tokens = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i = skip_string(bytes, i);
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(DocumentLimit::Nesting);
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => {
                i += 1;
                while i < bytes.len()
                    && matches!(bytes[i], b'_' | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'+' | b'-')
                {
                    i += 1;
                }
            }
            _ => i += 1,
        }
        tokens += 1;
        if tokens > MAX_TOKENS {
            return Err(DocumentLimit::Tokens);
        }
    }
    Ok(())
}

/// The index just past the string starting at `start` (a `"`), or the end of the input
/// when it is unterminated (the parser then reports it).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    if bytes[start..].starts_with(b"\"\"\"") {
        let mut i = start + 3;
        while i < bytes.len() {
            if bytes[i..].starts_with(b"\\\"\"\"") {
                i += 4;
            } else if bytes[i..].starts_with(b"\"\"\"") {
                return i + 3;
            } else {
                i += 1;
            }
        }
        return bytes.len();
    }
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Counts the selections of every operation with fragment spreads inlined, each fragment's
/// size computed once. Spreads of unknown fragments count as one (validation reports them).
pub fn check_expansion(doc: &ExecutableDocument) -> Result<u64, DocumentLimit> {
    #[derive(Clone, Copy)]
    enum Size {
        InProgress,
        Done(u64),
    }
    struct Walk<'a> {
        doc: &'a ExecutableDocument,
        sizes: HashMap<&'a str, Size>,
    }
    impl<'a> Walk<'a> {
        fn set(&mut self, set: &'a SelectionSet, depth: usize) -> Result<u64, DocumentLimit> {
            // Nesting is bounded by `check_text`, so this recursion is too; the guard keeps
            // it safe for documents that did not come through the text check.
            if depth > 4 * MAX_NESTING {
                return Err(DocumentLimit::Nesting);
            }
            let mut total = 0u64;
            for item in &set.items {
                let size = match &item.node {
                    Selection::Field(f) => 1 + self.set(&f.node.selection_set.node, depth + 1)?,
                    Selection::InlineFragment(f) => {
                        1 + self.set(&f.node.selection_set.node, depth + 1)?
                    }
                    Selection::FragmentSpread(s) => {
                        1 + self.fragment(s.node.fragment_name.node.as_str(), depth + 1)?
                    }
                };
                total = total.saturating_add(size);
                if total > MAX_EXPANDED_SELECTIONS {
                    return Err(DocumentLimit::Expansion);
                }
            }
            Ok(total)
        }

        fn fragment(&mut self, name: &'a str, depth: usize) -> Result<u64, DocumentLimit> {
            match self.sizes.get(name) {
                Some(Size::Done(n)) => return Ok(*n),
                Some(Size::InProgress) => return Err(DocumentLimit::FragmentCycle),
                None => {}
            }
            let Some((key, fragment)) = self.doc.fragments.get_key_value(name) else {
                return Ok(0);
            };
            self.sizes.insert(key.as_str(), Size::InProgress);
            let n = self.set(&fragment.node.selection_set.node, depth)?;
            self.sizes.insert(key.as_str(), Size::Done(n));
            Ok(n)
        }
    }
    let mut walk = Walk {
        doc,
        sizes: HashMap::new(),
    };
    let mut total = 0u64;
    for (_, op) in doc.operations.iter() {
        total = total.saturating_add(walk.set(&op.node.selection_set.node, 0)?);
        if total > MAX_EXPANDED_SELECTIONS {
            return Err(DocumentLimit::Expansion);
        }
    }
    // Fragments no operation uses are still validated (and walked) by async-graphql.
    for (name, _) in doc.fragments.iter() {
        walk.fragment(name.as_str(), 0)?;
    }
    Ok(total)
}

/// Longest document text the [`DocumentCache`] keeps (longer ones are checked and parsed
/// every time), which with its entry count bounds the cache's memory.
pub const MAX_CACHED_DOCUMENT: usize = 8 * 1024;

/// Parsed documents that passed both checks, by their text. A chat client sends the same
/// few documents over and over (every `sendMessage`); a hit skips the scan, the parse and
/// the walk, leaving a copy of the tree. (async-graphql still validates each request: its
/// validation also checks the request's variables, and it has no way to skip it.)
pub struct DocumentCache {
    capacity: usize,
    docs: Mutex<CachedDocs>,
}

#[derive(Default)]
struct CachedDocs {
    by_text: HashMap<Arc<str>, Arc<ExecutableDocument>>,
    /// Oldest first.
    order: VecDeque<Arc<str>>,
}

impl DocumentCache {
    /// Keeps at most `capacity` documents (oldest dropped first); 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            docs: Mutex::default(),
        }
    }

    fn docs(&self) -> std::sync::MutexGuard<'_, CachedDocs> {
        self.docs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, text: &str) -> Option<Arc<ExecutableDocument>> {
        if self.capacity == 0 {
            return None;
        }
        self.docs().by_text.get(text).cloned()
    }

    fn keep(&self, text: &str, doc: &ExecutableDocument) {
        if self.capacity == 0 || text.len() > MAX_CACHED_DOCUMENT {
            return;
        }
        let mut docs = self.docs();
        if docs.by_text.contains_key(text) {
            return;
        }
        let text: Arc<str> = text.into();
        docs.by_text.insert(text.clone(), Arc::new(doc.clone()));
        docs.order.push_back(text);
        while docs.order.len() > self.capacity {
            if let Some(old) = docs.order.pop_front() {
                docs.by_text.remove(&old);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.docs().by_text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Both checks on a request's document; the parsed document is kept on the request so the
/// schema does not parse it again, and in `cache` so the next request with the same text
/// skips both checks and the parse.
pub fn guard_request(mut request: Request, cache: &DocumentCache) -> ServerResult<Request> {
    if let Some(doc) = cache.get(&request.query) {
        request.set_parsed_query((*doc).clone());
        return Ok(request);
    }
    check_text(&request.query).map_err(DocumentLimit::into_server_error)?;
    let doc = async_graphql::parser::parse_query(&request.query)?;
    check_expansion(&doc).map_err(DocumentLimit::into_server_error)?;
    cache.keep(&request.query, &doc);
    request.set_parsed_query(doc);
    Ok(request)
}

/// Runs [`guard_request`] on every request before async-graphql parses or validates it.
pub struct DocumentGuard {
    cache: Arc<DocumentCache>,
}

impl DocumentGuard {
    pub fn new(cache: Arc<DocumentCache>) -> Self {
        Self { cache }
    }
}

impl ExtensionFactory for DocumentGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentGuardExtension {
            cache: self.cache.clone(),
        })
    }
}

struct DocumentGuardExtension {
    cache: Arc<DocumentCache>,
}

#[async_trait::async_trait]
impl Extension for DocumentGuardExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = guard_request(request, &self.cache)?;
        next.run(ctx, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    #[test]
    fn a_checked_document_is_parsed_once_and_a_refused_one_is_never_kept() {
        let cache = DocumentCache::new(2);
        let doc = "query { __typename }";
        let mut first = guard_request(Request::new(doc), &cache).expect("within limits");
        let mut again = guard_request(Request::new(doc), &cache).expect("from the cache");
        assert_eq!(cache.len(), 1);
        let parsed = |r: &mut Request| format!("{:?}", r.parsed_query().expect("parsed"));
        assert_eq!(parsed(&mut again), parsed(&mut first));

        let deep = format!("query {{ a(x: {}1{}) }}", "[".repeat(40), "]".repeat(40));
        assert!(guard_request(Request::new(deep.as_str()), &cache).is_err());
        assert!(guard_request(Request::new("query {"), &cache).is_err());
        let long = format!("query {{ __typename {} }}", " ".repeat(MAX_CACHED_DOCUMENT));
        guard_request(Request::new(long.as_str()), &cache).expect("within limits");
        assert_eq!(
            cache.len(),
            1,
            "refused and over-long documents are not kept"
        );

        for n in 0..5 {
            let other = format!("query Q{n} {{ __typename }}");
            guard_request(Request::new(other.as_str()), &cache).expect("within limits");
            assert!(cache.len() <= 2);
        }
        let off = DocumentCache::new(0);
        guard_request(Request::new(doc), &off).expect("within limits");
        assert!(off.is_empty());
    }

    #[test]
    fn deep_list_literals_are_refused_before_parsing() {
        let doc = format!(
            "{{ __typename(x: {}1{}) }}",
            "[".repeat(2000),
            "]".repeat(2000)
        );
        assert_eq!(check_text(&doc), Err(DocumentLimit::Nesting));
        let ok = format!("{{ __typename(x: {}1{}) }}", "[".repeat(20), "]".repeat(20));
        assert_eq!(check_text(&ok), Ok(()));
    }

    #[test]
    fn brackets_inside_strings_and_comments_do_not_count() {
        let inside = format!(
            "{{ a(x: \"{}\", y: \"\"\"{}\\\"\"\" {}\"\"\") # {}\n }}",
            "[".repeat(100),
            "{".repeat(100),
            "(".repeat(100),
            "[".repeat(100)
        );
        assert_eq!(check_text(&inside), Ok(()));
        // An escaped quote does not end the string.
        let escaped = format!("{{ a(x: \"\\\"{}\") }}", "[".repeat(100));
        assert_eq!(check_text(&escaped), Ok(()));
    }

    #[test]
    fn token_count_is_bounded() {
        let many = format!("{{ {} }}", "a ".repeat(MAX_TOKENS));
        assert_eq!(check_text(&many), Err(DocumentLimit::Tokens));
        let fine = format!("{{ {} }}", "a ".repeat(MAX_TOKENS - 10));
        assert_eq!(check_text(&fine), Ok(()));
    }

    /// Fragments that each spread the next twice: 2^levels selections once inlined.
    fn doubling(levels: usize) -> String {
        let mut doc = String::from("query { ...F0 }\n");
        for i in 0..levels {
            doc.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        doc.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
        doc
    }

    #[test]
    fn fragment_fan_out_is_counted_in_linear_time() {
        let small = parse_query(doubling(5)).expect("parses");
        assert!(check_expansion(&small).is_ok());
        let bomb = parse_query(doubling(22)).expect("parses");
        // The walk stops at the limit: its work is bounded by the limit plus the document.
        assert_eq!(check_expansion(&bomb), Err(DocumentLimit::Expansion));
    }

    #[test]
    fn fragment_cycles_are_refused_not_followed() {
        let doc =
            parse_query("query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
                .expect("parses");
        assert_eq!(check_expansion(&doc), Err(DocumentLimit::FragmentCycle));
    }
}
