//! Transcript normalisation shared by the corpus importers and the scorer.
//!
//! The rules (documented in the README, "Text normalisation"):
//! - Unicode lower case.
//! - Letters, digits and apostrophes inside a word are kept (`don't`, `o'brien`);
//!   an apostrophe at either end of a word is dropped (`'tis` -> `tis`, `dogs'` -> `dogs`).
//! - Hyphens, slashes and underscores split words (`twenty-one` -> `twenty one`).
//! - Every other character (punctuation, symbols) is removed.
//! - Runs of white space become one space; no leading or trailing space.
//! - Digits are kept as written; importers that know better (FSDD) spell them out.

/// Normalise a transcript to the scoring form described in the module docs.
pub fn normalise(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, words: &mut Vec<String>| {
        let w = cur.trim_matches('\'');
        if !w.is_empty() {
            words.push(w.to_string());
        }
        cur.clear();
    };
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            cur.extend(ch.to_lowercase());
        } else if ch == '\'' || ch == '\u{2019}' {
            cur.push('\'');
        } else if ch.is_whitespace()
            || ch == '-'
            || ch == '/'
            || ch == '_'
            || ch == '\u{2013}'
            || ch == '\u{2014}'
        {
            flush(&mut cur, &mut words);
        }
        // anything else: dropped without splitting the word ("u.s." -> "us")
    }
    flush(&mut cur, &mut words);
    words.join(" ")
}

/// Split a normalised transcript into words.
pub fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn normalises_case_punctuation_and_apostrophes() {
        assert_eq!(
            normalise("Author of the danger trail, Philip Steels, etc."),
            "author of the danger trail philip steels etc"
        );
        assert_eq!(
            normalise("O'Brien  had-been 'quoted' dogs'"),
            "o'brien had been quoted dogs"
        );
        assert_eq!(normalise("  U.S.A.  "), "usa");
        assert_eq!(normalise(""), "");
        assert_eq!(normalise("?!"), "");
    }
}
