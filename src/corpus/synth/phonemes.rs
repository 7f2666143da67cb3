//! espeak-ng phoneme strings for transcripts, many sentences per process call.
use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// Phonemise with `espeak-ng -q -x --sep=' ' -v en-us`, one sentence per line
/// in and out. Phonemes are separated by one space and words by two; espeak's
/// pause marks (`_:`, `_!`, ...) are dropped. If espeak does not return one
/// line per sentence (it splits long clauses), falls back to one call per
/// sentence.
pub fn phonemise(sentences: &[String]) -> Result<Vec<String>> {
    if sentences.is_empty() {
        return Ok(Vec::new());
    }
    let mut input = String::new();
    for s in sentences {
        // One clause per line: no inner punctuation, a full stop at the end.
        input.push_str(&crate::text::normalise(s));
        input.push_str(" .\n");
    }
    let lines = run(&input)?;
    if lines.len() == sentences.len() {
        return Ok(lines);
    }
    sentences
        .iter()
        .map(|s| run(&format!("{} .\n", crate::text::normalise(s))).map(|l| l.join("  ")))
        .collect()
}

fn run(input: &str) -> Result<Vec<String>> {
    let mut child = Command::new("espeak-ng")
        .args(["-q", "-x", "--sep= ", "-v", "en-us"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|_| {
            Error::Config("`espeak-ng` is not installed or does not run (install it with `scripts/setup.sh`, or `sudo apt-get install -y espeak-ng`)".into())
        })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let text = input.to_string();
    // Write from another thread so a large batch cannot deadlock on a full pipe.
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Invalid(format!("espeak-ng (phonemes): {e}")))?;
    writer
        .join()
        .map_err(|_| Error::Invalid("espeak-ng (phonemes): writer thread panicked".into()))?
        .map_err(|e| Error::Invalid(format!("espeak-ng (phonemes): writing input failed: {e}")))?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "espeak-ng (phonemes) failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(clean)
        .filter(|l| !l.is_empty())
        .collect())
}

/// Drop pause marks, keep one space between phonemes and two between words.
fn clean(line: &str) -> String {
    line.split("  ")
        .map(|w| {
            w.split(' ')
                .filter(|p| !p.is_empty() && !p.starts_with('_'))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_pause_marks() {
        assert_eq!(
            clean("D @2  d '0 g _: _:  w ,I tS"),
            "D @2  d '0 g  w ,I tS"
        );
    }

    #[test]
    fn one_line_per_sentence() {
        let s: Vec<String> = [
            "The dog, which was brown, ran home.",
            "Did Mary see the seventy two cats?",
            "Hello",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = phonemise(&s).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p[0].starts_with("D @2  d '0 g"), "{}", p[0]);
        assert_eq!(p[0].split("  ").count(), 7, "{}", p[0]);
        assert!(p[2].contains("l 'oU"), "{}", p[2]);
    }
}
