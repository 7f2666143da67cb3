//! The compact phone set (39 ARPAbet-style phones plus silence) and the
//! mapping from espeak-ng's en-us phoneme symbols onto it (stress folded).
//! The mapping is documented in `docs/PHONES.md`.
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The 39 phones of the set, silence excluded, in id order (silence is id 0).
pub const PHONES: [&str; 39] = [
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
];
pub const SILENCE: &str = "SIL";

/// Phone symbols and their ids; id 0 is always silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneSet {
    names: Vec<String>,
}

impl Default for PhoneSet {
    fn default() -> Self {
        Self::standard()
    }
}

impl PhoneSet {
    /// Silence plus the 39 phones of [`PHONES`].
    pub fn standard() -> Self {
        let mut names = vec![SILENCE.to_string()];
        names.extend(PHONES.iter().map(|s| s.to_string()));
        PhoneSet { names }
    }
    /// A custom set; `SIL` is put first if missing.
    pub fn from_names(names: &[&str]) -> Self {
        let mut v = vec![SILENCE.to_string()];
        v.extend(
            names
                .iter()
                .filter(|n| **n != SILENCE)
                .map(|s| s.to_string()),
        );
        PhoneSet { names: v }
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    pub fn silence(&self) -> usize {
        0
    }
    pub fn name(&self, id: usize) -> &str {
        &self.names[id]
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn id(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    /// Ids of a space-separated phone string; errors on an unknown symbol.
    pub fn parse(&self, s: &str) -> Result<Vec<usize>> {
        s.split_whitespace()
            .map(|p| {
                self.id(p).ok_or_else(|| {
                    Error::Invalid(format!(
                        "unknown phone {p:?} (phone set: {})",
                        self.names.join(" ")
                    ))
                })
            })
            .collect()
    }
}

/// Map one espeak-ng en-us phoneme (as printed by `espeak-ng -x --sep=' '`) to
/// phones of the standard set. Stress and syllable marks are dropped.
/// Returns `None` for a symbol the table does not know.
pub fn map_espeak(sym: &str) -> Option<&'static [&'static str]> {
    let s: String = sym
        .chars()
        .filter(|c| !matches!(c, '\'' | ',' | '%' | '=' | '_' | ':' | '!' | ';' | '|'))
        .collect();
    // The `:` length mark is dropped above except where it distinguishes vowels;
    // those are matched on the original symbol first.
    let orig: String = sym
        .chars()
        .filter(|c| !matches!(c, '\'' | ',' | '%' | '=' | '_' | '!' | ';' | '|'))
        .collect();
    let by_orig: Option<&'static [&'static str]> = match orig.as_str() {
        "3:" => Some(&["ER"]),
        "A:" => Some(&["AA"]),
        "O:" => Some(&["AO"]),
        "i:" => Some(&["IY"]),
        "u:" => Some(&["UW"]),
        "a:" => Some(&["AA"]),
        "e:" => Some(&["EY"]),
        "o:" => Some(&["OW"]),
        _ => None,
    };
    if by_orig.is_some() {
        return by_orig;
    }
    let r: &'static [&'static str] = match s.as_str() {
        "@" | "@2" | "@5" | "a#" | "V" | "@#" | "@-" => &["AH"],
        "@L" => &["AH", "L"],
        "@N" => &["AH", "N"],
        "3" | "3#" | "@r" => &["ER"],
        "a" | "&" => &["AE"],
        "aa" | "A" | "0" => &["AA"],
        "A@" | "A@r" | "Ar" => &["AA", "R"],
        "O" => &["AO"],
        "O@" | "o@" | "O@r" | "o@r" | "Or" => &["AO", "R"],
        "E" | "e" | "E2" => &["EH"],
        "e@" | "e@r" => &["EH", "R"],
        "eI" => &["EY"],
        "I" | "I2" | "I#" | "y" => &["IH"],
        "i" => &["IY"],
        "i@3" | "i@r" | "I@" => &["IH", "R"],
        // `i@` before an `r` is the NEAR vowel (zero), else two vowels (california).
        "i@" => &["IY", "AH"],
        "aI" => &["AY"],
        "aI@" | "aI3" | "aIr" => &["AY", "ER"],
        "aU" => &["AW"],
        "aU@" | "aUr" => &["AW", "ER"],
        "OI" => &["OY"],
        "oU" | "o" | "oU#" => &["OW"],
        "O2" => &["AO"],
        "U" => &["UH"],
        "U@" | "U@r" => &["UH", "R"],
        "u" => &["UW"],
        "p" => &["P"],
        "b" => &["B"],
        "t" | "t#" | "?" | "t2" => &["T"],
        "d" | "d#" => &["D"],
        "k" | "x" => &["K"],
        "g" => &["G"],
        "f" => &["F"],
        "v" => &["V"],
        "T" => &["TH"],
        "D" => &["DH"],
        "s" => &["S"],
        "z" => &["Z"],
        "S" => &["SH"],
        "Z" => &["ZH"],
        "h" | "C" => &["HH"],
        "m" | "m-" => &["M"],
        "n" | "n-" => &["N"],
        "N" => &["NG"],
        "l" | "l-" | "L" => &["L"],
        "r" | "r-" | "*" => &["R"],
        "w" | "W" => &["W"],
        "j" => &["Y"],
        "tS" => &["CH"],
        "dZ" => &["JH"],
        "" => &[],
        _ => return None,
    };
    Some(r)
}

/// Map one espeak-ng word (phonemes separated by single spaces) to phones.
/// Unknown symbols are reported in the error.
pub fn map_espeak_word(word: &str) -> std::result::Result<Vec<&'static str>, String> {
    let mut out = Vec::new();
    let syms: Vec<&str> = word.split_whitespace().collect();
    for (i, &sym) in syms.iter().enumerate() {
        let bare: String = sym
            .chars()
            .filter(|c| !matches!(c, '\'' | ',' | '%' | '='))
            .collect();
        if bare == "i@" && syms.get(i + 1).is_some_and(|n| n.starts_with('r')) {
            out.push("IH");
            continue;
        }
        match map_espeak(sym) {
            Some(ps) => out.extend_from_slice(ps),
            None => return Err(format!("unmapped espeak-ng phoneme {sym:?} in {word:?}")),
        }
    }
    // espeak writes r-coloured vowels (`i@`, `A@`) and then often the `r`
    // itself: keep one R (and let ER absorb a following R).
    out.dedup_by(|b, a| (*a == "R" || *a == "ER") && *b == "R");
    Ok(out)
}

/// Map a CMUdict phone (`AH0`, `IY1`, `AX`) onto the standard set.
pub fn map_cmudict(sym: &str) -> Option<&'static str> {
    let s: String = sym
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .collect::<String>()
        .to_uppercase();
    let s = match s.as_str() {
        "AX" | "AXR" if s == "AX" => "AH",
        "AXR" => "ER",
        "IX" => "IH",
        "UX" => "UW",
        "DX" => "T",
        "NX" | "EN" => "N",
        "EL" => "L",
        "EM" => "M",
        "Q" => "T",
        "HV" => "HH",
        "SIL" | "SP" => SILENCE,
        other => {
            return PHONES
                .iter()
                .copied()
                .find(|p| *p == other)
                .or(if other == SILENCE {
                    Some(SILENCE)
                } else {
                    None
                })
        }
    };
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn espeak_words_map_to_phones() {
        assert_eq!(
            map_espeak_word("z 'i@ r oU").unwrap(),
            vec!["Z", "IH", "R", "OW"]
        );
        assert_eq!(
            map_espeak_word("tS '3: tS").unwrap(),
            vec!["CH", "ER", "CH"]
        );
        assert_eq!(
            map_espeak_word("b '0 t# @L").unwrap(),
            vec!["B", "AA", "T", "AH", "L"]
        );
        assert!(map_espeak_word("q").is_err());
        assert_eq!(
            map_espeak_word("k ,a l I2 f 'o@ n i@").unwrap(),
            vec!["K", "AE", "L", "IH", "F", "AO", "R", "N", "IY", "AH"]
        );
        assert_eq!(
            map_espeak_word(",a k w I2 ; 'E s @ n s").unwrap(),
            vec!["AE", "K", "W", "IH", "EH", "S", "AH", "N", "S"]
        );
        assert_eq!(map_cmudict("AH0"), Some("AH"));
        assert_eq!(map_cmudict("XYZ"), None);
    }
}
