//! A room's word filter ("blocked terms"): the list an admin keeps, and the one question
//! asked of it on every message sent: does this body contain one of the terms? The list is
//! validated once at the edge (`parse`); the matching rules live here, and only here, so
//! that what a term catches is the same wherever it is checked.
//!
//! Matching works on whole words, after folding both sides the same way:
//!
//! - **Folding**: Unicode NFKC, then `char::to_lowercase`. So full-width `ＡＳＳ` is `ass`,
//!   the ligature `ﬁne` is `fine`, and case does not matter. It is lowercasing, not full
//!   case folding: `straße` and `STRASSE` stay different.
//! - **Words**: maximal runs of letters and digits (`char::is_alphanumeric`) together with
//!   the combining marks attached to them. Anything else (spaces, punctuation, symbols,
//!   emoji) separates words; an apostrophe does too, so `don't` is the words `don` and `t`.
//!   The marks are kept because some scripts write them inside words (the Devanagari
//!   virama, Thai tone marks): without them a Hindi word would fall apart into pieces and
//!   a term that is one of those pieces would match inside it.
//! - **A term of one or more words** matches when its words appear consecutively in the
//!   body's words: `ass` catches `ASS!` but not `class` or `assess`; `bad word` catches
//!   `a Bad, word!` but not `bad words`.
//! - **A term with no letter or digit at all** (`!!!`, `🙂`) has no words to compare, so its
//!   folded text is looked for as a plain substring of the folded body: `!!!` catches
//!   `wow!!!!`.
//!
//! Limits of the rule, accepted for its simplicity: in scripts written without spaces
//! (Japanese, Chinese, Thai) a whole run of letters is one word, so the term `馬鹿` catches
//! `馬鹿!` and `あいつは 馬鹿 だ` but not `お前は馬鹿だ`. And it is a filter against the
//! ordinary case, not against someone trying to get around it (`b a d`, look-alike letters
//! from another script).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::error::DomainError;

/// How many terms a room may block.
pub const MAX_TERMS: usize = 100;
/// How long one term may be, in characters, after trimming.
pub const MAX_TERM_CHARS: usize = 50;
/// How much of a refused over-long term is quoted back in the error.
const QUOTED_CHARS: usize = 20;

/// NFKC, then lowercase: the form both terms and bodies are compared in.
fn fold(text: &str) -> String {
    text.nfkc().flat_map(char::to_lowercase).collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The words of folded text, in order (see the module doc for what a word is).
fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(|c| !is_word_char(c)).filter(|w| !w.is_empty())
}

/// What a term is looked for as, worked out once from the term.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// Consecutive words of the body. Never empty (a term without words is `Text`).
    Words(Vec<String>),
    /// A substring of the folded body, for a term without any letter or digit. Empty only
    /// for a blank stored term, which then matches nothing.
    Text(String),
}

impl Pattern {
    fn of(term: &str) -> Self {
        let folded = fold(term.trim());
        let term_words: Vec<String> = words(&folded).map(str::to_owned).collect();
        if term_words.is_empty() {
            Pattern::Text(folded)
        } else {
            Pattern::Words(term_words)
        }
    }

    /// `text` is the folded body and `body_words` its words.
    fn occurs_in(&self, text: &str, body_words: &[&str]) -> bool {
        match self {
            // `windows` needs a non-zero length; `Words` is never empty.
            Pattern::Words(term_words) => body_words
                .windows(term_words.len())
                .any(|run| run == term_words.as_slice()),
            Pattern::Text(needle) => !needle.is_empty() && text.contains(needle.as_str()),
        }
    }
}

/// A room's blocked terms, as the admin typed them (trimmed, inner whitespace collapsed),
/// in the admin's order.
///
/// Each term's `Pattern` is worked out when the list is built (`parse`, `from_stored`,
/// deserialising) and kept alongside it, so that checking a message folds and splits the
/// body once and the terms never. The patterns are a function of the terms, so the derived
/// equality is equality of the terms; serde is written by hand so that only the terms are
/// stored and sent (a plain JSON array of strings) and the patterns are rebuilt on reading.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockedTerms {
    terms: Vec<String>,
    /// `patterns[i]` is `terms[i]`'s pattern: same length, same order.
    patterns: Vec<Pattern>,
}

impl BlockedTerms {
    /// An admin's list: at most [`MAX_TERMS`] terms (counted as sent, before duplicates
    /// are dropped), each 1 to [`MAX_TERM_CHARS`] characters once trimmed and with runs of
    /// whitespace inside it collapsed to one space. A term that would catch exactly what an
    /// earlier one catches (`Bad` after `bad`, full-width `ＢＡＤ`, `bad-word` after
    /// `bad word`) is dropped; the rest keep their order.
    pub fn parse(raw: &[String]) -> Result<Self, DomainError> {
        if raw.len() > MAX_TERMS {
            return Err(DomainError::bad_input(
                "terms",
                format!(
                    "a room can block at most {MAX_TERMS} terms; this list has {}",
                    raw.len()
                ),
            ));
        }
        let mut out = Self::default();
        for (index, term) in raw.iter().enumerate() {
            let term = term.split_whitespace().collect::<Vec<_>>().join(" ");
            let len = term.chars().count();
            if len == 0 {
                return Err(DomainError::bad_input(
                    "terms",
                    format!(
                        "blocked term number {} is blank; a term needs 1 to {MAX_TERM_CHARS} characters",
                        index + 1
                    ),
                ));
            }
            if len > MAX_TERM_CHARS {
                let quoted: String = term.chars().take(QUOTED_CHARS).collect();
                return Err(DomainError::bad_input(
                    "terms",
                    format!(
                        "blocked term \"{quoted}…\" is {len} characters long; a term can have at most {MAX_TERM_CHARS}"
                    ),
                ));
            }
            // At most 100 terms: a linear look for the duplicate is cheap enough.
            let pattern = Pattern::of(&term);
            if !out.patterns.contains(&pattern) {
                out.terms.push(term);
                out.patterns.push(pattern);
            }
        }
        Ok(out)
    }

    /// A list as storage gives it back: it was validated when it was saved, so it is taken
    /// as it is (a blank term, should one be there, matches nothing).
    pub fn from_stored(terms: Vec<String>) -> Self {
        let patterns = terms.iter().map(|t| Pattern::of(t)).collect();
        Self { terms, patterns }
    }

    pub fn as_slice(&self) -> &[String] {
        &self.terms
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn into_inner(self) -> Vec<String> {
        self.terms
    }

    /// The first term, in the list's order and as the admin typed it, that occurs in
    /// `body` under the rules in the module doc; `None` if none does.
    ///
    /// The body is folded and split into words once; each term then costs at most one
    /// pass over the body's words (comparing up to the term's few words at each place) or,
    /// for a term without words, one substring search.
    pub fn find_in(&self, body: &str) -> Option<&str> {
        if self.terms.is_empty() {
            return None;
        }
        let text = fold(body);
        let body_words: Vec<&str> = words(&text).collect();
        self.terms
            .iter()
            .zip(&self.patterns)
            .find(|(_, pattern)| pattern.occurs_in(&text, &body_words))
            .map(|(term, _)| term.as_str())
    }
}

impl Serialize for BlockedTerms {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.terms.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for BlockedTerms {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(deserializer).map(Self::from_stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(list: &[&str]) -> BlockedTerms {
        let raw: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        BlockedTerms::parse(&raw).unwrap()
    }

    fn refusal(raw: &[String]) -> String {
        match BlockedTerms::parse(raw) {
            Err(DomainError::BadInput {
                message,
                field: Some("terms"),
            }) => message,
            other => panic!("expected a BadInput on `terms`, got {other:?}"),
        }
    }

    #[test]
    fn count_limit() {
        assert!(BlockedTerms::parse(&[]).unwrap().is_empty());
        let hundred: Vec<String> = (0..100).map(|i| format!("term{i}")).collect();
        assert_eq!(BlockedTerms::parse(&hundred).unwrap().as_slice().len(), 100);
        let too_many: Vec<String> = (0..101).map(|i| format!("term{i}")).collect();
        let message = refusal(&too_many);
        assert!(message.contains("at most 100"), "{message}");
    }

    #[test]
    fn length_limit_counts_characters() {
        // 50 two-byte characters: 100 bytes, still 50 characters.
        assert!(BlockedTerms::parse(&["é".repeat(50)]).is_ok());
        assert!(BlockedTerms::parse(&["x".repeat(50)]).is_ok());
        let message = refusal(&["x".repeat(51)]);
        assert!(
            message.contains(&format!("\"{}…\"", "x".repeat(20))),
            "{message}"
        );
        assert!(!message.contains(&"x".repeat(21)), "{message}");
        // Trimming happens before counting.
        assert!(BlockedTerms::parse(&[format!("  {}  ", "x".repeat(50))]).is_ok());
    }

    #[test]
    fn blank_terms_are_refused() {
        let message = refusal(&["ok".into(), "".into()]);
        assert!(message.contains("number 2 is blank"), "{message}");
        refusal(&[" \t\n ".into()]);
    }

    #[test]
    fn trims_and_collapses_whitespace() {
        let list = terms(&["  bad \t  word  ", "x\u{3000}\ny"]);
        assert_eq!(list.as_slice(), ["bad word", "x y"]);
    }

    #[test]
    fn drops_duplicates_after_normalisation_keeping_the_first() {
        let list = terms(&[
            "Bad",
            "ok",
            "bad",
            "ＢＡＤ",
            " BAD ",
            "bad-word",
            "Bad  Word",
        ]);
        assert_eq!(list.into_inner(), ["Bad", "ok", "bad-word"]);
    }

    #[test]
    fn whole_words_only() {
        let list = terms(&["ass"]);
        assert_eq!(list.find_in("a class act"), None);
        assert_eq!(list.find_in("let me assess that"), None);
        assert_eq!(list.find_in("what an ass."), Some("ass"));
        assert_eq!(list.find_in("ASS!"), Some("ass"));
        assert_eq!(list.find_in("(ass)"), Some("ass"));
    }

    #[test]
    fn phrases_match_across_punctuation_and_case() {
        let list = terms(&["bad  word"]);
        assert_eq!(list.find_in("a Bad, word!"), Some("bad word"));
        assert_eq!(list.find_in("BAD\nWORD"), Some("bad word"));
        assert_eq!(list.find_in("bad words"), None);
        assert_eq!(list.find_in("bad and word"), None);
        assert_eq!(list.find_in("word bad"), None);
    }

    #[test]
    fn nfkc_folds_full_width_letters_and_ligatures() {
        assert_eq!(terms(&["ass"]).find_in("ＡＳＳ"), Some("ass"));
        assert_eq!(terms(&["ＡＳＳ"]).find_in("you ass"), Some("ＡＳＳ"));
        assert_eq!(terms(&["fine"]).find_in("all ﬁne here"), Some("fine"));
        assert_eq!(terms(&["ﬁne"]).find_in("FINE"), Some("ﬁne"));
    }

    #[test]
    fn terms_without_letters_match_as_text() {
        let list = terms(&["!!!", "🙂"]);
        assert_eq!(list.find_in("wow!!!!"), Some("!!!"));
        assert_eq!(list.find_in("wow!!"), None);
        assert_eq!(list.find_in("hi🙂there"), Some("🙂"));
        assert_eq!(list.find_in("hi there"), None);
        // Full-width exclamation marks fold to ASCII ones.
        assert_eq!(list.find_in("no！！！"), Some("!!!"));
    }

    #[test]
    fn terms_at_the_start_and_end_of_the_body() {
        let list = terms(&["spam", "go away"]);
        assert_eq!(list.find_in("spam and eggs"), Some("spam"));
        assert_eq!(list.find_in("eggs and spam"), Some("spam"));
        assert_eq!(list.find_in("spam"), Some("spam"));
        assert_eq!(list.find_in("please go away"), Some("go away"));
        assert_eq!(list.find_in("go away, please"), Some("go away"));
        assert_eq!(list.find_in(""), None);
    }

    #[test]
    fn first_term_in_list_order_wins() {
        let list = terms(&["two", "one"]);
        assert_eq!(list.find_in("one two"), Some("two"));
    }

    #[test]
    fn non_latin_scripts() {
        let cyrillic = terms(&["дурак"]);
        assert_eq!(cyrillic.find_in("Ты ДУРАК!"), Some("дурак"));
        assert_eq!(cyrillic.find_in("дураки"), None);

        // No spaces in Japanese: a term matches only a whole run of letters.
        let japanese = terms(&["馬鹿"]);
        assert_eq!(japanese.find_in("馬鹿！"), Some("馬鹿"));
        assert_eq!(japanese.find_in("あいつは 馬鹿 だ"), Some("馬鹿"));
        assert_eq!(japanese.find_in("お前は馬鹿だ"), None);
    }

    #[test]
    fn combining_marks_stay_inside_words() {
        // "नमस्ते" has a virama (not alphanumeric) after "नमस".
        let list = terms(&["नमस"]);
        assert_eq!(list.find_in("नमस्ते दोस्त"), None);
        assert_eq!(terms(&["नमस्ते"]).find_in("नमस्ते दोस्त"), Some("नमस्ते"));
    }

    #[test]
    fn stored_lists_and_serde() {
        let list = BlockedTerms::from_stored(vec!["Bad".into(), "".into()]);
        assert_eq!(list.find_in("so bad"), Some("Bad"));
        // A blank stored term matches nothing rather than everything.
        assert_eq!(list.find_in("anything"), None);

        let list = terms(&["bad word", "!!!"]);
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(json, r#"["bad word","!!!"]"#);
        let back: BlockedTerms = serde_json::from_str(&json).unwrap();
        assert_eq!(back, list);
        assert_eq!(back.find_in("Bad word"), Some("bad word"));
        assert_eq!(BlockedTerms::default().find_in("anything"), None);
    }
}
