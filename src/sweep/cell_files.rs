//! The tables a finished cell leaves in its folder besides `result.json`,
//! written and read here only, with the `csv` crate (tab-separated, one
//! header line):
//! - `per_utt.tsv`: each test utterance's word errors and reference words,
//!   what the crossover bootstrap resamples and the speaker-group table sums;
//! - `curve.tsv`: a network's training curve (epoch, train loss, dev error),
//!   from which the report decides whether the cell converged.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::results::CellResult;
use crate::error::{Error, Result};

pub const PER_UTT_FILE: &str = "per_utt.tsv";
pub const CURVE_FILE: &str = "curve.tsv";

/// A finished cell's folder, from its row of results.
pub fn dir_of(out: &Path, r: &CellResult) -> PathBuf {
    out.join("cells")
        .join(super::cell_id(&r.pipeline, r.target_hours, r.seed))
}

/// One test utterance of a cell: its word errors against its reference length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UttErrors {
    pub id: String,
    pub errors: u32,
    pub ref_words: u32,
}

fn tsv_writer<W: std::io::Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().delimiter(b'\t').from_writer(w)
}

fn read_tsv<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .from_path(path)
        .map_err(|e| Error::parse(path, e.to_string()))?;
    r.deserialize()
        .collect::<std::result::Result<Vec<T>, _>>()
        .map_err(|e| Error::parse(path, e.to_string()))
}

/// Write `dir/per_utt.tsv` (atomically).
pub fn write_per_utt(dir: &Path, rows: &[UttErrors]) -> Result<()> {
    let path = dir.join(PER_UTT_FILE);
    crate::atomic_file::write_with(&path, |f| {
        let mut w = tsv_writer(f);
        for r in rows {
            w.serialize(r)
                .map_err(|e| Error::parse(&path, e.to_string()))?;
        }
        w.flush().map_err(|e| Error::io(&path, e))
    })
}

/// `dir/per_utt.tsv`.
pub fn read_per_utt(dir: &Path) -> Result<Vec<UttErrors>> {
    read_tsv(&dir.join(PER_UTT_FILE))
}

/// One epoch of a network's training curve.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CurvePoint {
    pub epoch: usize,
    pub train_loss: f64,
    /// Empty where the epoch was not evaluated on dev.
    pub dev_error: Option<f64>,
}

/// Write `dir/curve.tsv` from `(epoch, train loss, dev error)` (losses and
/// errors to 5 decimals).
pub fn write_curve(dir: &Path, curve: &[(usize, f64, Option<f64>)]) -> Result<()> {
    let path = dir.join(CURVE_FILE);
    crate::atomic_file::write_with(&path, |f| {
        let mut w = tsv_writer(f);
        let err = |e: csv::Error| Error::parse(&path, e.to_string());
        w.write_record(["epoch", "train_loss", "dev_error"])
            .map_err(err)?;
        for (e, l, d) in curve {
            w.write_record([
                e.to_string(),
                format!("{l:.5}"),
                d.map_or(String::new(), |d| format!("{d:.5}")),
            ])
            .map_err(err)?;
        }
        w.flush().map_err(|e| Error::io(&path, e))
    })
}

/// `dir/curve.tsv`.
pub fn read_curve(dir: &Path) -> Result<Vec<CurvePoint>> {
    read_tsv(&dir.join(CURVE_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_utt_and_curve_round_trip_in_the_committed_format() {
        let d = tempfile::tempdir().unwrap();
        let rows = vec![
            UttErrors {
                id: "spk1-0001".into(),
                errors: 0,
                ref_words: 6,
            },
            UttErrors {
                id: "spk2-0002".into(),
                errors: 3,
                ref_words: 9,
            },
        ];
        write_per_utt(d.path(), &rows).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join(PER_UTT_FILE)).unwrap(),
            "id\terrors\tref_words\nspk1-0001\t0\t6\nspk2-0002\t3\t9\n"
        );
        assert_eq!(read_per_utt(d.path()).unwrap(), rows);

        write_curve(d.path(), &[(1, 2.5, None), (2, 1.25, Some(0.5))]).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join(CURVE_FILE)).unwrap(),
            "epoch\ttrain_loss\tdev_error\n1\t2.50000\t\n2\t1.25000\t0.50000\n"
        );
        let c = read_curve(d.path()).unwrap();
        assert_eq!(c[0].dev_error, None);
        assert_eq!(c[1].dev_error, Some(0.5));
    }

    #[test]
    fn a_damaged_table_is_an_error_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join(PER_UTT_FILE),
            "id\terrors\tref_words\nu1\tx\t3\n",
        )
        .unwrap();
        let e = read_per_utt(d.path()).unwrap_err().to_string();
        assert!(e.contains(PER_UTT_FILE), "{e}");
    }
}
