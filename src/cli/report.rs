//! `crossover report DIR`: re-render results.csv, plots and report.md of a
//! sweep folder from its cells' results, without retraining.
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Sweep output folder (holds sweep.json and cells/).
    pub dir: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let report = crossover::sweep::report::render(&a.dir, None)?;
    println!("report: {}", report.display());
    Ok(())
}
