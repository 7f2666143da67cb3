//! Kaldi `text` files: one utterance a line, `uttid word word ...`.
//!
//! The id is the first whitespace-separated field; the transcript is the rest
//! of the line with its outer white space removed (it may be empty: an
//! utterance with nothing said). A blank line, a duplicate id or non-UTF-8
//! bytes are errors that name the file and line.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// Read a Kaldi `text` file into `uttid -> transcript`.
pub fn read_kaldi_text(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let content = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::parse(path, format!("line {line}: not valid UTF-8"))
    })?;
    parse_kaldi_text(&content, path)
}

/// Parse the contents of a Kaldi `text` file; `path` is only used in errors.
pub fn parse_kaldi_text(content: &str, path: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut first_line: BTreeMap<String, usize> = BTreeMap::new();
    for (k, raw) in content.lines().enumerate() {
        let n = k + 1;
        let line = raw.trim();
        if line.is_empty() {
            return Err(Error::parse(
                path,
                format!("line {n}: blank line (every line must start with an utterance id)"),
            ));
        }
        let (id, text) = match line.find(char::is_whitespace) {
            Some(p) => (&line[..p], line[p..].trim()),
            None => (line, ""),
        };
        if let Some(prev) = first_line.get(id) {
            return Err(Error::parse(
                path,
                format!("line {n}: duplicate utterance id '{id}' (first on line {prev})"),
            ));
        }
        first_line.insert(id.to_string(), n);
        out.insert(id.to_string(), text.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_and_text() {
        let m = parse_kaldi_text("u2  hello   world \nu1\nu3\tx\r\n", Path::new("t")).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["u2"], "hello   world");
        assert_eq!(m["u1"], "");
        assert_eq!(m["u3"], "x");
        assert!(parse_kaldi_text("", Path::new("t")).unwrap().is_empty());
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse_kaldi_text("a x\n\nb y\n", Path::new("dir/text"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "dir/text: line 2: blank line (every line must start with an utterance id)"
        );
        let e = parse_kaldi_text("a x\nb y\na z\n", Path::new("text"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "text: line 3: duplicate utterance id 'a' (first on line 1)"
        );
    }

    #[test]
    fn file_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = read_kaldi_text(&missing).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
        let bad = dir.path().join("bad");
        std::fs::write(&bad, b"a ok\nb \xff\xfe\n").unwrap();
        let e = read_kaldi_text(&bad).unwrap_err().to_string();
        assert!(e.contains("bad: line 2: not valid UTF-8"), "{e}");
    }
}
