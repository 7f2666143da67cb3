//! Output symbols of a CTC head. Index 0 is always the CTC blank.
//! - char-ctc: blank, space, apostrophe, `a`..`z` (29 symbols); transcripts are
//!   the normalised text of [`crate::text::normalise`].
//! - phone-ctc: the classical [`PhoneSet`] with its silence id 0 reused as
//!   the blank, so token ids are phone ids; targets come from the lexicon
//!   ([`super::phone_words::WordDecoder::targets`]).
use std::collections::HashMap;
use std::path::Path;

use crate::corpus::Utterance;
use crate::error::{Error, Result};
use crate::lang::phones::PhoneSet;

pub const BLANK: usize = 0;
pub const BLANK_SYMBOL: &str = "<blank>";
const SPACE_SYMBOL: &str = "<space>";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Chars,
    Phones,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenSet {
    pub kind: TokenKind,
    pub symbols: Vec<String>,
    index: HashMap<String, usize>,
}

impl TokenSet {
    fn from_symbols(kind: TokenKind, symbols: Vec<String>) -> Self {
        let index = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        TokenSet {
            kind,
            symbols,
            index,
        }
    }

    /// blank, space, apostrophe, a..z.
    pub fn chars() -> Self {
        let mut s = vec![
            BLANK_SYMBOL.to_string(),
            SPACE_SYMBOL.to_string(),
            "'".to_string(),
        ];
        s.extend(('a'..='z').map(|c| c.to_string()));
        Self::from_symbols(TokenKind::Chars, s)
    }

    /// blank plus the phones of `phones` (ids unchanged; silence becomes the blank).
    pub fn phones(phones: &PhoneSet) -> Self {
        let mut s = vec![BLANK_SYMBOL.to_string()];
        s.extend(phones.names()[1..].iter().cloned());
        Self::from_symbols(TokenKind::Phones, s)
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// The training target of an utterance. Untokenisable text is an error naming the utterance.
    pub fn encode(&self, u: &Utterance) -> Result<Vec<i64>> {
        let ids: Vec<i64> = match self.kind {
            TokenKind::Chars => {
                let mut ids = Vec::with_capacity(u.norm_text.len());
                for ch in u.norm_text.split_whitespace().collect::<Vec<_>>().join(" ").chars() {
                    let key = if ch == ' ' { SPACE_SYMBOL.to_string() } else { ch.to_string() };
                    match self.index.get(&key) {
                        Some(&i) => ids.push(i as i64),
                        None => {
                            return Err(Error::Invalid(format!(
                                "utterance {}: character {ch:?} in {:?} is not in the char-ctc alphabet (a-z, apostrophe, space); spell out digits and transliterate other letters in the corpus import",
                                u.id, u.norm_text
                            )))
                        }
                    }
                }
                ids
            }
            TokenKind::Phones => {
                return Err(Error::Invalid(format!(
                    "utterance {}: phone targets come from the lexicon (phone_words::WordDecoder::targets), not from TokenSet::encode",
                    u.id
                )))
            }
        };
        if ids.is_empty() {
            return Err(Error::Invalid(format!(
                "utterance {}: empty transcript, nothing to train on",
                u.id
            )));
        }
        Ok(ids)
    }

    /// Token ids (no blanks) to text: characters joined (words split at spaces)
    /// or phones joined by single spaces.
    pub fn decode(&self, ids: &[usize]) -> String {
        match self.kind {
            TokenKind::Chars => {
                let s: String = ids
                    .iter()
                    .filter(|&&i| i != BLANK && i < self.len())
                    .map(|&i| {
                        if self.symbols[i] == SPACE_SYMBOL {
                            " "
                        } else {
                            self.symbols[i].as_str()
                        }
                    })
                    .collect();
                s.split_whitespace().collect::<Vec<_>>().join(" ")
            }
            TokenKind::Phones => ids
                .iter()
                .filter(|&&i| i != BLANK && i < self.len())
                .map(|&i| self.symbols[i].as_str())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// The id of the word separator (char-ctc only).
    pub fn space(&self) -> Option<usize> {
        self.index.get(SPACE_SYMBOL).copied()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = String::new();
        for s in &self.symbols {
            text.push_str(s);
            text.push('\n');
        }
        std::fs::write(path, text).map_err(|e| Error::io(path, e))
    }

    pub fn load(path: &Path, kind: TokenKind) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let symbols: Vec<String> = text.lines().map(str::to_string).collect();
        if symbols.first().map(String::as_str) != Some(BLANK_SYMBOL) {
            return Err(Error::parse(
                path,
                format!("first symbol must be {BLANK_SYMBOL}"),
            ));
        }
        Ok(Self::from_symbols(kind, symbols))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Split;

    fn utt(text: &str, phones: &str) -> Utterance {
        Utterance {
            id: "u1".into(),
            audio: "x.wav".into(),
            speaker: "s".into(),
            split: Split::Train,
            duration: 1.0,
            text: text.into(),
            norm_text: crate::text::normalise(text),
            phonemes: phones.into(),
            group: String::new(),
            augment: String::new(),
        }
    }

    #[test]
    fn chars_round_trip_and_errors() {
        let t = TokenSet::chars();
        assert_eq!(t.len(), 29);
        let ids = t.encode(&utt("Don't  stop", "")).unwrap();
        let ids: Vec<usize> = ids.iter().map(|&i| i as usize).collect();
        assert_eq!(t.decode(&ids), "don't stop");
        let e = t.encode(&utt("caf\u{e9}", "")).unwrap_err().to_string();
        assert!(e.contains("u1") && e.contains("alphabet"), "{e}");
        assert!(t
            .encode(&utt("...", ""))
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }

    #[test]
    fn phone_tokens_are_phone_ids() {
        let p = PhoneSet::standard();
        let t = TokenSet::phones(&p);
        assert_eq!(t.len(), p.len());
        assert_eq!(t.symbols[0], BLANK_SYMBOL);
        for i in 1..p.len() {
            assert_eq!(t.symbols[i], p.name(i));
        }
        assert_eq!(t.decode(&[1, 0, 2]), format!("{} {}", p.name(1), p.name(2)));
    }
}
