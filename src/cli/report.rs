//! `crossover report DIR`: re-render results.csv, plots and report.md of a
//! sweep folder from its cells' results, without retraining.
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Sweep output folder (holds sweep.json and cells/).
    pub dir: PathBuf,
    /// Check the projections: fit each curve on the sizes at or below this
    /// many hours, project to the larger sizes the sweep measured and
    /// compare (section "How well the projection predicted"; default 1, the
    /// default grid's largest size). Recorded in sweep.json, so later
    /// renders keep it.
    #[arg(long)]
    pub fit_upto: Option<f64>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    if let Some(h) = a.fit_upto {
        anyhow::ensure!(
            h.is_finite() && h > 0.0,
            "--fit-upto must be positive hours, got {h}"
        );
        let mut spec = crossover::sweep::SweepSpec::load(&a.dir)?;
        spec.fit_upto = Some(h);
        spec.save(&a.dir)?;
    }
    let report = crossover::sweep::report::render(&a.dir, None)?;
    println!("report: {}", report.display());
    Ok(())
}
