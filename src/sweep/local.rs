//! The local executor: the cells one after another in this process, with
//! results.csv and the report re-rendered after each, so that an
//! interrupted sweep loses nothing it finished.
use std::path::Path;

use super::{run_cell, Cell, SweepProgress, SweepSpec};
use crate::error::Result;
use crate::loader::Loader;

/// What a local run did.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalRun {
    /// Cells that failed (their errors are in their results).
    pub failures: usize,
    /// Cells finished by an earlier run and reused as they were.
    pub reused: usize,
}

/// Run `todo` (cells of `spec`) in order. With `keep_report_current`, the
/// report is rendered after each cell (a whole sweep; a single `--cell`
/// task leaves that to `--collect`).
pub fn run_cells(
    spec: &SweepSpec,
    loader: &Loader,
    out: &Path,
    todo: &[&Cell],
    total: usize,
    progress: &dyn SweepProgress,
    keep_report_current: bool,
) -> Result<LocalRun> {
    let mut run = LocalRun::default();
    for c in todo {
        progress.cell_started(c, total);
        let (r, cached) = run_cell(spec, loader, out, c, progress)?;
        run.reused += usize::from(cached);
        if !r.ok() {
            run.failures += 1;
        }
        progress.cell_finished(c, &r, cached);
        if keep_report_current {
            super::report::render(out, None)?;
        }
    }
    Ok(run)
}
