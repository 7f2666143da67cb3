//! `crossover corpus`: import, export, subset and describe corpora.
use std::path::PathBuf;

use anyhow::Context;
use crossover::corpus::fsdd::FsddSplit;
use crossover::corpus::import::{self, ImportOptions};
use crossover::corpus::kaldi_dir::{self, ExportOptions};
use crossover::corpus::recipe::{self, BuildOptions, CorpusRecipe};
use crossover::corpus::textdir::{GroupSplit, TextdirOptions};
use crossover::corpus::{self as corpus, Corpus, Split};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: CorpusCommand,
}

#[derive(clap::Subcommand)]
pub enum CorpusCommand {
    /// Build a corpus from a recipe (corpora/*.toml) into corpora/build/<stem>/, or reuse it if the recipe is unchanged.
    Build(BuildArgs),
    /// Import a corpus into a crossover corpus folder (manifest.tsv; audio is referenced in place, not copied).
    Import(ImportArgs),
    /// Export a corpus to another toolkit's format.
    Export(ExportArgs),
    /// Show what nested training subsets of given sizes would contain.
    Subset(SubsetArgs),
    /// Hours, utterances, speakers, vocabulary, OOV rates and split overlap (leakage) checks.
    Stats(StatsArgs),
    /// Generate the synthetic multi-voice corpus (espeak-ng + flite voices, grammar text, augmentation).
    Synth(super::corpus_synth::Args),
    /// Compute and cache features (DIR/.cache/features/<config hash>/) for the given splits, in parallel.
    Cache(CacheArgs),
}

#[derive(clap::Args)]
#[command(
    after_help = "A recipe names a source (synth, fsdd, textdir, librispeech, kaldi), its path and its options; \
see corpora/README.md and docs/CORPORA.md. Relative paths in a recipe are taken against the recipe's folder; \
a leading $CROSSOVER_SHARED is the shared corpora folder. The built folder holds recipe.sha256: an unchanged \
recipe is reused without touching anything; a changed one is rebuilt (a synthetic corpus whose settings changed \
only in hours is extended or cut in place)."
)]
pub struct BuildArgs {
    /// The recipe file, e.g. corpora/kathleen.toml.
    pub recipe: PathBuf,
    /// Build here instead of build/<recipe stem>/ in the recipe's folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Rebuild even if the recipe is unchanged (e.g. after the source audio changed).
    #[arg(long)]
    pub rebuild: bool,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub kind: ImportKind,
}

#[derive(clap::Subcommand)]
pub enum ImportKind {
    /// Free Spoken Digit Dataset: recordings/{digit}_{speaker}_{take}.wav; digits become words zero..nine.
    Fsdd(FsddArgs),
    /// A folder of audio files (.wav/.flac), each with a same-stem .txt transcript.
    Textdir(TextdirArgs),
    /// LibriSpeech layout: speaker/chapter/*.flac with speaker-chapter.trans.txt.
    Librispeech(LibrispeechArgs),
    /// A Kaldi data dir (wav.scp, text, utt2spk[, utt2dur]) or a folder with train/dev/test data dirs.
    Kaldi(KaldiImportArgs),
}

#[derive(clap::Args)]
pub struct CommonImport {
    /// Output corpus folder (manifest.tsv is written here).
    #[arg(long)]
    pub out: PathBuf,
    /// Skip bad rows (missing/empty/corrupt/truncated/non-audio/silent audio, empty transcripts,
    /// duration mismatches) and print how many were skipped and why, instead of failing on the first.
    #[arg(long)]
    pub skip_bad: bool,
    /// Replace an existing manifest in --out.
    #[arg(long)]
    pub force: bool,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Audio whose peak absolute sample (16-bit scale) is below this counts as silent.
    #[arg(long, default_value_t = 8.0)]
    pub silence_peak: f32,
    /// Largest allowed difference in seconds between a declared duration (Kaldi utt2dur) and the audio.
    #[arg(long, default_value_t = 0.05)]
    pub max_duration_diff: f64,
}

#[derive(clap::Args)]
pub struct FsddArgs {
    /// The FSDD folder (holding recordings/), or the recordings folder itself.
    pub src: PathBuf,
    /// official: speaker-dependent; takes 0-4 test, takes 5-9 dev (FSDD defines no dev set; this is ours),
    /// takes 10-49 train. speakers: speaker-independent; test = all takes of theo and yweweler,
    /// dev = takes 0-4 of the other four speakers, train = their takes 5-49.
    #[arg(long, value_enum, default_value = "speakers")]
    pub split: FsddSplit,
    #[command(flatten)]
    pub common: CommonImport,
}

#[derive(clap::Args)]
pub struct TextdirArgs {
    /// The folder of audio + .txt files.
    pub src: PathBuf,
    /// Regex with one capture group, matched against each file stem, giving the group (prompt) id;
    /// all readings of a group land in one split. For kathleen: 'arctic_([ab][0-9]{4})_'.
    /// Without it every file is its own group.
    #[arg(long)]
    pub group_by: Option<String>,
    /// File listing test group ids, one a line (e.g. kathleen/splits/test.txt). With a list, unlisted groups are train.
    #[arg(long)]
    pub test_groups: Option<PathBuf>,
    /// File listing dev group ids, one a line (e.g. kathleen/splits/dev.txt).
    #[arg(long)]
    pub dev_groups: Option<PathBuf>,
    /// Without lists: fraction of the distinct groups that go to dev (seeded shuffle).
    #[arg(long, default_value_t = 0.1)]
    pub dev_frac: f64,
    /// Without lists: fraction of the distinct groups that go to test (seeded shuffle).
    #[arg(long, default_value_t = 0.1)]
    pub test_frac: f64,
    /// Seed of the group shuffle for --dev-frac/--test-frac.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Speaker id for every file (default: the first-level subfolder a file is in, else the folder's name).
    #[arg(long)]
    pub speaker: Option<String>,
    /// Also look in subfolders.
    #[arg(long)]
    pub recursive: bool,
    #[command(flatten)]
    pub common: CommonImport,
}

#[derive(clap::Args)]
pub struct LibrispeechArgs {
    /// A LibriSpeech subset folder, or a folder of subsets named train*/dev*/test* (mapped to those splits).
    pub src: PathBuf,
    /// Split for the rows when SRC is a single subset.
    #[arg(long, value_enum, default_value = "train")]
    pub split: Split,
    #[command(flatten)]
    pub common: CommonImport,
}

#[derive(clap::Args)]
pub struct KaldiImportArgs {
    /// A Kaldi data dir, or a folder holding train/, dev/ and/or test/ data dirs.
    pub src: PathBuf,
    /// Split for the rows when SRC is a single data dir.
    #[arg(long, value_enum, default_value = "train")]
    pub split: Split,
    /// The folder relative wav.scp paths are taken against (default: SRC;
    /// Kaldi itself uses the current directory, so a data dir made for a
    /// Kaldi recipe may need its s5/ folder here).
    #[arg(long)]
    pub wav_root: Option<PathBuf>,
    /// Carve a dev split from this many whole training speakers (seeded by
    /// --dev-seed), for data with train and test only; dev speakers are then
    /// unseen in training, as test speakers are.
    #[arg(long)]
    pub dev_speakers: Option<usize>,
    /// Seed of the --dev-speakers draw.
    #[arg(long, default_value_t = 1)]
    pub dev_seed: u64,
    #[command(flatten)]
    pub common: CommonImport,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub kind: ExportKind,
}

#[derive(clap::Subcommand)]
pub enum ExportKind {
    /// Kaldi data dirs OUT/{train,dev,test} (wav.scp, text, utt2spk, spk2utt, utt2dur), sorted by utterance id.
    Kaldi(KaldiExportArgs),
}

#[derive(clap::Args)]
pub struct KaldiExportArgs {
    /// The crossover corpus folder.
    pub dir: PathBuf,
    /// Output folder for the data dirs.
    #[arg(long)]
    pub out: PathBuf,
    /// Write FLAC audio as `flac -c -d -s PATH |` (Kaldi reads only WAV itself).
    #[arg(long)]
    pub flac_pipe: bool,
}

#[derive(clap::Args)]
pub struct SubsetArgs {
    /// The corpus folder.
    pub dir: PathBuf,
    /// Target sizes in hours, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub hours: Vec<f64>,
    /// Seed of the subset ordering (one seed gives nested subsets).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(clap::Args)]
pub struct StatsArgs {
    /// The corpus folder.
    pub dir: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct CacheArgs {
    /// The corpus folder.
    pub dir: PathBuf,
    /// Feature config (TOML listing only non-default values, as for `crossover features`); default: Kaldi MFCC.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Splits to cache, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "train,dev,test"
    )]
    pub splits: Vec<Split>,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    match a.command {
        CorpusCommand::Build(b) => run_build(b),
        CorpusCommand::Import(i) => run_import(i.kind),
        CorpusCommand::Export(e) => match e.kind {
            ExportKind::Kaldi(k) => {
                let c = Corpus::load(&k.dir)?;
                let r = kaldi_dir::export(
                    &c,
                    &k.out,
                    &ExportOptions {
                        flac_pipe: k.flac_pipe,
                    },
                )?;
                for (s, n, spk) in &r.splits {
                    println!(
                        "{}: {n} utterances, {spk} speakers",
                        k.out.join(s.as_str()).display()
                    );
                }
                Ok(())
            }
        },
        CorpusCommand::Subset(s) => {
            let c = Corpus::load(&s.dir)?;
            let train = c.split(Split::Train);
            let ns = corpus::NestedSubset::new(&train, s.seed);
            println!(
                "train: {:.3} h, {} utterances; seed {}",
                ns.total_hours(),
                train.len(),
                s.seed
            );
            println!(
                "{:>8} {:>9} {:>11} {:>9} {:>8} {:>8}",
                "target_h", "actual_h", "utterances", "speakers", "min/spk", "max/spk"
            );
            for h in s.hours {
                let sub = ns.take(h);
                println!(
                    "{:>8} {:>9.4} {:>11} {:>9} {:>8} {:>8}{}",
                    h,
                    sub.hours,
                    sub.utterances.len(),
                    sub.speakers(),
                    sub.min_per_speaker(),
                    sub.max_per_speaker(),
                    if sub.truncated {
                        "  (all of train: less than the target is available)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        CorpusCommand::Cache(a) => {
            let c = Corpus::load(&a.dir)?;
            let cfg = match &a.config {
                Some(p) => crossover::features::FeatureConfig::from_toml_file(p)?,
                None => crossover::features::FeatureConfig::default(),
            };
            let cache = crossover::loader::FeatureCache::new(&c, &cfg)?;
            let utts: Vec<&corpus::Utterance> = c
                .utterances
                .iter()
                .filter(|u| a.splits.contains(&u.split))
                .collect();
            let hours: f64 = utts.iter().map(|u| u.duration).sum::<f64>() / 3600.0;
            let t0 = std::time::Instant::now();
            cache.precompute(&utts, !a.no_progress)?;
            let secs = t0.elapsed().as_secs_f64();
            println!(
                "{}: {} utterances ({hours:.3} h), {} computed, {} already cached, {} corrupt files recomputed, {secs:.1} s ({:.0}x real time)",
                cache.dir().display(),
                utts.len(),
                cache.computed(),
                utts.len() - cache.computed(),
                cache.recovered(),
                hours * 3600.0 / secs.max(1e-9)
            );
            Ok(())
        }
        CorpusCommand::Synth(a) => super::corpus_synth::run(a),
        CorpusCommand::Stats(s) => {
            let c = Corpus::load(&s.dir)?;
            let st = corpus::stats(&c);
            if s.json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                print!("{st}");
            }
            Ok(())
        }
    }
}

fn run_build(a: BuildArgs) -> anyhow::Result<()> {
    let r = CorpusRecipe::load(&a.recipe)?;
    if !r.description.is_empty() {
        println!("{}: {}", a.recipe.display(), r.description);
    }
    let b = recipe::build(
        &r,
        &BuildOptions {
            out: a.out,
            rebuild: a.rebuild,
            progress: !a.no_progress,
        },
    )?;
    for w in &b.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(rep) = &b.import_report {
        print!("{rep}");
    }
    println!("{}: {}", b.dir.display(), b.outcome.describe());
    print_splits(&Corpus::load(&b.dir)?);
    Ok(())
}

fn print_splits(c: &Corpus) {
    for s in Split::ALL {
        let us = c.split(s);
        println!(
            "{:<5} {:>6} utterances {:>8.3} h",
            s.as_str(),
            us.len(),
            c.hours(s)
        );
    }
}

fn options(c: &CommonImport) -> ImportOptions {
    ImportOptions {
        skip_bad: c.skip_bad,
        progress: !c.no_progress,
        silence_peak: c.silence_peak,
        max_duration_diff: c.max_duration_diff,
        ..ImportOptions::default()
    }
}

fn run_import(kind: ImportKind) -> anyhow::Result<()> {
    // Speaker attributes the source records (Kaldi spk2gender/spk2age).
    let mut speakers = Default::default();
    let (rows, common, warnings) = match kind {
        ImportKind::Fsdd(a) => (corpus::fsdd::rows(&a.src, a.split)?, a.common, vec![]),
        ImportKind::Textdir(a) => {
            let group_by = a
                .group_by
                .as_deref()
                .map(regex::Regex::new)
                .transpose()
                .context("--group-by is not a valid regex")?;
            let split = if a.test_groups.is_some() || a.dev_groups.is_some() {
                GroupSplit::from_files(a.test_groups.as_deref(), a.dev_groups.as_deref())?
            } else {
                anyhow::ensure!(
                    (0.0..=1.0).contains(&a.dev_frac)
                        && (0.0..=1.0).contains(&a.test_frac)
                        && a.dev_frac + a.test_frac <= 1.0,
                    "--dev-frac and --test-frac must be in 0..1 and sum to at most 1"
                );
                GroupSplit::Fractions {
                    dev: a.dev_frac,
                    test: a.test_frac,
                    seed: a.seed,
                }
            };
            let opts = TextdirOptions {
                group_by,
                speaker: a.speaker,
                recursive: a.recursive,
                split,
            };
            let r = corpus::textdir::rows(&a.src, &opts)?;
            (r.rows, a.common, r.warnings)
        }
        ImportKind::Librispeech(a) => (
            corpus::librispeech::rows(&a.src, a.split)?,
            a.common,
            vec![],
        ),
        ImportKind::Kaldi(a) => {
            let mut rows = kaldi_dir::rows(&a.src, a.split, a.wav_root.as_deref())?;
            if let Some(n) = a.dev_speakers {
                let chosen = import::carve_dev_by_speaker(&mut rows, n, a.dev_seed)?;
                println!(
                    "dev: {} training speakers (seed {}): {}",
                    chosen.len(),
                    a.dev_seed,
                    chosen.join(" ")
                );
            }
            speakers = kaldi_dir::speaker_attributes(&a.src, a.split)?;
            (rows, a.common, vec![])
        }
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let opts = options(&common);
    let m = common.out.join(corpus::MANIFEST_FILE);
    anyhow::ensure!(
        common.force || !m.exists(),
        "{}: a manifest exists already (use --force to replace it)",
        m.display()
    );
    let (utts, report) = import::validate(rows, &opts)?;
    print!("{report}");
    let c = import::save_new(&common.out, utts, common.force)?;
    corpus::speakers::write(&common.out, &speakers)?;
    print_splits(&c);
    println!("wrote {}", m.display());
    Ok(())
}
