//! Kaldi text archives of matrices (`ark,t:`), as `copy-feats ark:- ark,t:-`
//! writes them:
//!
//! ```text
//! utt1  [
//!   1.5 -2.25 3
//!   0.5 0 -1 ]
//! utt2  [ ]
//! ```
//!
//! Each value is followed by a space; numbers use C++'s default stream format
//! with Kaldi's precision 7 (`%.7g`: `0.1234567`, `-12.34568`, `1.5e-08`).
use std::io::{BufRead, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// Format like C++ `ostream << float` with precision 7 (`%.7g`).
pub fn format_g7(x: f32) -> String {
    format_g(x as f64, 7)
}

fn format_g(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, x);
    let (mant, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= p as i32 {
        let mant = trim_zeros(mant);
        format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, x)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Write one matrix as a Kaldi text-archive entry.
pub fn write_text_matrix(w: &mut impl Write, key: &str, m: &Matrix) -> std::io::Result<()> {
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("Kaldi archive key {key:?} must be non-empty with no whitespace"),
        ));
    }
    write!(w, "{key} ")?;
    if m.cols == 0 || m.rows == 0 {
        return writeln!(w, " [ ]");
    }
    write!(w, " [")?;
    let mut line = String::with_capacity(m.cols * 12);
    for row in m.iter_rows() {
        line.clear();
        line.push_str("\n  ");
        for &x in row {
            line.push_str(&format_g7(x));
            line.push(' ');
        }
        w.write_all(line.as_bytes())?;
    }
    writeln!(w, "]")
}

/// Parse a whole Kaldi text archive of matrices. Errors give the line number.
pub fn read_text_archive(r: impl BufRead) -> Result<Vec<(String, Matrix)>> {
    let mut out = Vec::new();
    // Current entry: key, rows so far, and whether the matrix is still open.
    let mut cur: Option<(String, Vec<Vec<f32>>)> = None;
    let bad = |n: usize, what: String| {
        Error::Invalid(format!("Kaldi text archive line {}: {what}", n + 1))
    };
    for (n, line) in r.lines().enumerate() {
        let line = line.map_err(|e| bad(n, e.to_string()))?;
        let mut toks = line.split_whitespace().peekable();
        if toks.peek().is_none() {
            continue;
        }
        if cur.is_none() {
            let key = toks.next().unwrap().to_string();
            match toks.next() {
                Some("[") => {}
                other => {
                    return Err(bad(
                        n,
                        format!("expected '[' after key {key:?}, found {other:?}"),
                    ))
                }
            }
            cur = Some((key, Vec::new()));
        }
        let (key, rows) = cur.as_mut().unwrap();
        let mut row = Vec::new();
        let mut closed = false;
        for t in toks {
            if closed {
                return Err(bad(n, format!("text after ']' of {key:?}: {t:?}")));
            }
            if t == "]" {
                closed = true;
                continue;
            }
            let v: f32 = match t {
                "nan" | "-nan" => f32::NAN,
                "inf" => f32::INFINITY,
                "-inf" => f32::NEG_INFINITY,
                _ => t
                    .parse()
                    .map_err(|_| bad(n, format!("bad number {t:?} in {key:?}")))?,
            };
            row.push(v);
        }
        if !row.is_empty() {
            if let Some(first) = rows.first() {
                if first.len() != row.len() {
                    return Err(bad(
                        n,
                        format!(
                            "row of {} values in {key:?}, earlier rows have {}",
                            row.len(),
                            first.len()
                        ),
                    ));
                }
            }
            rows.push(row);
        }
        if closed {
            let (key, rows) = cur.take().unwrap();
            let cols = rows.first().map_or(0, Vec::len);
            let m = Matrix::from_vec(rows.len(), cols, rows.into_iter().flatten().collect());
            out.push((key, m));
        }
    }
    if let Some((key, _)) = cur {
        return Err(Error::Invalid(format!(
            "Kaldi text archive ends inside matrix {key:?} (no closing ']')"
        )));
    }
    Ok(out)
}

/// [`read_text_archive`] on a file; errors name it.
pub fn read_text_archive_file(path: &Path) -> Result<Vec<(String, Matrix)>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_text_archive(std::io::BufReader::new(f)).map_err(|e| Error::parse(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g7_matches_cpp_stream_format() {
        let cases: [(f32, &str); 10] = [
            (0.0, "0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (12.345678, "12.34568"),
            (-0.00012345679, "-0.0001234568"),
            (1.5e-8, "1.5e-08"),
            (12345678.0, "1.234568e+07"),
            (1234567.0, "1234567"),
            (100.0, "100"),
        ];
        for (x, s) in cases {
            assert_eq!(format_g7(x), s, "{x}");
        }
    }

    #[test]
    fn writes_copy_feats_layout() {
        let mut buf = Vec::new();
        write_text_matrix(
            &mut buf,
            "utt1",
            &Matrix::from_vec(2, 3, vec![1.5, -2.25, 3.0, 0.5, 0.0, -1.0]),
        )
        .unwrap();
        write_text_matrix(&mut buf, "empty", &Matrix::zeros(0, 3)).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "utt1  [\n  1.5 -2.25 3 \n  0.5 0 -1 ]\nempty  [ ]\n"
        );
        assert!(write_text_matrix(&mut Vec::new(), "a b", &Matrix::zeros(1, 1)).is_err());
    }

    #[test]
    fn round_trip() {
        let a = Matrix::from_vec(3, 2, vec![1.0e-9, -3.25, 123456.7, 0.1234567, -7.0, 42.0]);
        let b = Matrix::from_vec(1, 4, vec![1.0, 2.0, 3.0, 4.0]);
        let mut buf = Vec::new();
        write_text_matrix(&mut buf, "a", &a).unwrap();
        write_text_matrix(&mut buf, "b-2", &b).unwrap();
        let back = read_text_archive(&buf[..]).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].0, "a");
        assert_eq!(back[1], ("b-2".to_string(), b));
        for (x, y) in back[0].1.data.iter().zip(&a.data) {
            assert!((x - y).abs() <= 1e-6 * y.abs().max(1.0), "{x} vs {y}");
        }
        // Kaldi's one-line vector-style layout parses too.
        let one = read_text_archive("k [ 1 2 3 ]\n".as_bytes()).unwrap();
        assert_eq!(one[0].1, Matrix::from_vec(1, 3, vec![1.0, 2.0, 3.0]));
    }

    #[test]
    fn malformed_archives_are_errors() {
        assert!(read_text_archive("k  [\n  1 2 \n  3 ]\n".as_bytes())
            .unwrap_err()
            .to_string()
            .contains("line 3"));
        assert!(read_text_archive("k  [\n  1 2 \n".as_bytes())
            .unwrap_err()
            .to_string()
            .contains("no closing"));
        assert!(read_text_archive("k  1 2\n".as_bytes()).is_err());
        assert!(read_text_archive("k  [\n  1 x ]\n".as_bytes()).is_err());
    }
}
