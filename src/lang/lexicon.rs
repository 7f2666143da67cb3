//! Pronunciation lexicon: words to phone sequences of a [`PhoneSet`].
//!
//! Sources: espeak-ng's rule-based G2P (`espeak-ng -q -x --sep=' ' -v en-us`,
//! run on batches of words, one word a line, results cached on disk), or a
//! CMUdict-format file (`WORD  AH0 B AW1 T`, `WORD(2) ...` for variants,
//! `;;;` comments). OOV policy: words missing from a lexicon file are sent
//! to espeak-ng ([`OovPolicy::G2p`], default) or rejected with an error naming
//! them ([`OovPolicy::Error`]); a word espeak-ng cannot turn into mapped phones
//! is an error naming the word.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::phones::{map_cmudict, map_espeak_word, PhoneSet};
use crate::error::{Error, Result};

/// What to do with a word that has no pronunciation in the lexicon file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OovPolicy {
    /// Ask espeak-ng (default).
    #[default]
    G2p,
    /// Fail, naming the missing words.
    Error,
}

/// Word -> pronunciations (phone ids), in a fixed (sorted) order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lexicon {
    pub phones: PhoneSet,
    entries: BTreeMap<String, Vec<Vec<usize>>>,
}

impl Lexicon {
    pub fn new(phones: PhoneSet) -> Self {
        Lexicon {
            phones,
            entries: BTreeMap::new(),
        }
    }
    /// Add a pronunciation (duplicates are ignored; empty ones rejected).
    pub fn insert(&mut self, word: &str, pron: Vec<usize>) -> Result<()> {
        if pron.is_empty() {
            return Err(Error::Invalid(format!(
                "empty pronunciation for word {word:?}"
            )));
        }
        let e = self.entries.entry(word.to_string()).or_default();
        if !e.contains(&pron) {
            e.push(pron);
        }
        Ok(())
    }
    pub fn contains(&self, word: &str) -> bool {
        self.entries.contains_key(word)
    }
    pub fn prons(&self, word: &str) -> Option<&[Vec<usize>]> {
        self.entries.get(word).map(|v| v.as_slice())
    }
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(|s| s.as_str())
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Keep only `words`: a large dictionary file supplies pronunciations,
    /// the task's word list is the vocabulary (as Kaldi's G.fst limits L).
    pub fn restrict_to(&mut self, words: &BTreeSet<String>) {
        self.entries.retain(|w, _| words.contains(w));
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Vec<usize>])> {
        self.entries.iter().map(|(w, p)| (w.as_str(), p.as_slice()))
    }

    /// Read a CMUdict-format file. Words are lower-cased; stress digits dropped.
    pub fn from_cmudict(path: &Path, phones: PhoneSet) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut lex = Lexicon::new(phones);
        for (i, line) in text.lines().enumerate() {
            // cmudict.dict (the maintained release) ends some entries with `# comment`.
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with(";;;") {
                continue;
            }
            let mut it = line.split_whitespace();
            let w = it.next().unwrap();
            let w = match w.find('(') {
                Some(p) if w.ends_with(')') => &w[..p],
                _ => w,
            };
            let mut pron = Vec::new();
            for p in it {
                let m = map_cmudict(p).ok_or_else(|| {
                    Error::parse(path, format!("line {}: unknown phone {p:?}", i + 1))
                })?;
                pron.push(lex.phones.id(m).ok_or_else(|| {
                    Error::parse(
                        path,
                        format!("line {}: phone {m} not in the phone set", i + 1),
                    )
                })?);
            }
            if pron.is_empty() {
                return Err(Error::parse(
                    path,
                    format!("line {}: word {w:?} has no phones", i + 1),
                ));
            }
            lex.insert(&w.to_lowercase(), pron)?;
        }
        if lex.is_empty() {
            return Err(Error::parse(path, "lexicon file has no entries"));
        }
        Ok(lex)
    }

    /// Write in CMUdict format (phones without stress), `word(2)` for variants.
    pub fn save_cmudict(&self, path: &Path) -> Result<()> {
        let mut s = String::new();
        for (w, prons) in &self.entries {
            for (k, p) in prons.iter().enumerate() {
                let name = if k == 0 {
                    w.clone()
                } else {
                    format!("{w}({})", k + 1)
                };
                let ps: Vec<&str> = p.iter().map(|&i| self.phones.name(i)).collect();
                s.push_str(&format!("{name}  {}\n", ps.join(" ")));
            }
        }
        std::fs::write(path, s).map_err(|e| Error::io(path, e))
    }

    /// Make sure every word in `words` has a pronunciation, following `policy`.
    pub fn cover(
        &mut self,
        words: &BTreeSet<String>,
        policy: OovPolicy,
        g2p: &EspeakG2p,
    ) -> Result<()> {
        let missing: Vec<String> = words
            .iter()
            .filter(|w| !self.contains(w))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if policy == OovPolicy::Error {
            let shown: Vec<&str> = missing.iter().take(20).map(|s| s.as_str()).collect();
            return Err(Error::Invalid(format!(
                "{} words have no pronunciation (oov = \"error\"): {}",
                missing.len(),
                shown.join(" ")
            )));
        }
        let raw = g2p.pronounce(&missing)?;
        for (w, r) in missing.iter().zip(raw) {
            let mapped =
                map_espeak_word(&r).map_err(|e| Error::Invalid(format!("word {w:?}: {e}")))?;
            let ids: Vec<usize> = mapped
                .iter()
                .map(|p| self.phones.id(p).expect("standard phone"))
                .collect();
            self.insert(w, ids).map_err(|_| {
                Error::Invalid(format!("espeak-ng gave no phonemes for word {w:?}"))
            })?;
        }
        Ok(())
    }
}

/// espeak-ng as a G2P, with an on-disk cache of raw espeak output per word.
pub struct EspeakG2p {
    pub voice: String,
    pub cache: Option<PathBuf>,
}

impl Default for EspeakG2p {
    fn default() -> Self {
        let cache = std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/crossover/g2p/espeak-en-us.tsv"));
        EspeakG2p {
            voice: "en-us".into(),
            cache,
        }
    }
}

impl EspeakG2p {
    fn load_cache(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if let Some(p) = &self.cache {
            if let Ok(t) = std::fs::read_to_string(p) {
                for l in t.lines() {
                    if let Some((w, r)) = l.split_once('\t') {
                        m.insert(w.to_string(), r.to_string());
                    }
                }
            }
        }
        m
    }

    fn run(&self, words: &[String]) -> Result<Vec<String>> {
        let mut child = std::process::Command::new("espeak-ng")
            .args(["-q", "-x", "--sep= ", "-v", &self.voice])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| {
                Error::Invalid(format!(
                    "cannot run espeak-ng (install it with scripts/setup.sh): {e}"
                ))
            })?;
        {
            let mut stdin = child.stdin.take().unwrap();
            let mut s = words.join("\n");
            s.push('\n');
            stdin
                .write_all(s.as_bytes())
                .map_err(|e| Error::Invalid(format!("espeak-ng stdin: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::Invalid(format!("espeak-ng: {e}")))?;
        if !out.status.success() {
            return Err(Error::Invalid(format!(
                "espeak-ng failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect())
    }

    /// Raw espeak-ng phoneme strings for `words`, one per word.
    pub fn pronounce(&self, words: &[String]) -> Result<Vec<String>> {
        let mut cache = self.load_cache();
        let todo: Vec<String> = words
            .iter()
            .filter(|w| !cache.contains_key(*w))
            .cloned()
            .collect();
        let mut fresh = Vec::new();
        for batch in todo.chunks(500) {
            let out = self.run(batch)?;
            if out.len() == batch.len() {
                fresh.extend(batch.iter().cloned().zip(out));
            } else {
                // espeak-ng merged or split lines: fall back to one call per word.
                for w in batch {
                    let o = self.run(std::slice::from_ref(w))?;
                    fresh.push((w.clone(), o.join(" ")));
                }
            }
        }
        if !fresh.is_empty() {
            if let Some(p) = &self.cache {
                let _ = std::fs::create_dir_all(p.parent().unwrap());
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| Error::io(p, e))?;
                for (w, r) in &fresh {
                    writeln!(f, "{w}\t{r}").map_err(|e| Error::io(p, e))?;
                }
            }
            cache.extend(fresh);
        }
        Ok(words.iter().map(|w| cache[w].clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmudict_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lex.txt");
        std::fs::write(
            &p,
            ";;; comment\nHELLO  HH AH0 L OW1\nHELLO(2)  HH EH0 L OW1\nWORLD  W ER1 L D\n",
        )
        .unwrap();
        let lex = Lexicon::from_cmudict(&p, PhoneSet::standard()).unwrap();
        assert_eq!(lex.prons("hello").unwrap().len(), 2);
        let q = dir.path().join("out.txt");
        lex.save_cmudict(&q).unwrap();
        assert_eq!(
            Lexicon::from_cmudict(&q, PhoneSet::standard()).unwrap(),
            lex
        );
        std::fs::write(&p, "BAD  QQ\n").unwrap();
        let e = Lexicon::from_cmudict(&p, PhoneSet::standard())
            .unwrap_err()
            .to_string();
        assert!(e.contains("lex.txt") && e.contains("QQ"), "{e}");
        // cmudict.dict's trailing comments; restricting to the task's words.
        std::fs::write(
            &p,
            "hello HH AH0 L OW1\nparis P EH1 R IH0 S # place, france\nworld W ER1 L D\n",
        )
        .unwrap();
        let mut lex = Lexicon::from_cmudict(&p, PhoneSet::standard()).unwrap();
        assert_eq!(lex.prons("paris").unwrap()[0].len(), 5);
        lex.restrict_to(
            &["paris", "world", "absent"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
        assert_eq!(lex.words().collect::<Vec<_>>(), ["paris", "world"]);
    }

    #[test]
    fn espeak_covers_words() {
        let mut lex = Lexicon::new(PhoneSet::standard());
        let words: BTreeSet<String> = ["seven", "church"].iter().map(|s| s.to_string()).collect();
        lex.cover(
            &words,
            OovPolicy::G2p,
            &EspeakG2p {
                voice: "en-us".into(),
                cache: None,
            },
        )
        .unwrap();
        let ph = |w: &str| {
            lex.prons(w).unwrap()[0]
                .iter()
                .map(|&i| lex.phones.name(i).to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(ph("seven"), "S EH V AH N");
        assert_eq!(ph("church"), "CH ER CH");
        let mut strict = Lexicon::new(PhoneSet::standard());
        assert!(strict
            .cover(&words, OovPolicy::Error, &EspeakG2p::default())
            .unwrap_err()
            .to_string()
            .contains("church"));
    }
}
