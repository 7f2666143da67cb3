//! `crossover bench ctc`: training throughput of a CTC model on a fixed random
//! batch (forward, CTC loss, backward, gradient clipping, AdamW step), the peer
//! of `scripts/bench_ctc_pytorch.py`. Run the two back to back, never at the
//! same time, with the same `--threads`, and compare the ratio.
use std::time::Instant;

use anyhow::Context;
use crossover::neural::config::{EncoderKind, ModelConfig, TrainConfig};
use crossover::neural::model::{parameter_count, subsampled_len, CtcNet};
use crossover::neural::train::{ctc_loss, AdamW, Batch};
use crossover::neural::{self, TokenSet};
use crossover::pipeline::DeviceChoice;
use tch::{nn, Kind, Tensor};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Target {
    /// Training steps of the char-ctc network.
    Ctc,
}

#[derive(clap::Args)]
pub struct Args {
    /// What to benchmark.
    #[arg(value_enum)]
    target: Target,
    /// libtorch intra-op threads (use the same number for the PyTorch peer).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Utterances per batch.
    #[arg(long, default_value_t = 16)]
    batch: i64,
    /// Frames (10 ms) per utterance.
    #[arg(long, default_value_t = 1000)]
    frames: i64,
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 8)]
    steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Encoder type.
    #[arg(long, default_value = "gru")]
    encoder: String,
    /// Units per direction (RNN) or model width.
    #[arg(long, default_value_t = 256)]
    hidden: i64,
    /// Encoder layers.
    #[arg(long, default_value_t = 3)]
    layers: i64,
    /// Device: cpu, cuda or auto.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
    /// Seed for weights and the random batch.
    #[arg(long, default_value_t = 0)]
    seed: i64,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let Target::Ctc = a.target;
    let encoder: EncoderKind = serde_json::from_value(serde_json::Value::String(a.encoder.clone()))
        .with_context(|| {
            format!(
                "--encoder {:?}: expected gru, lstm, transformer or conformer",
                a.encoder
            )
        })?;
    let cfg = ModelConfig {
        encoder,
        hidden: a.hidden,
        layers: a.layers,
        ..Default::default()
    };
    cfg.validate()?;
    let device = neural::resolve_device(a.device)?;
    tch::set_num_threads(a.threads as i32);
    tch::manual_seed(a.seed);
    let vocab = TokenSet::chars().len() as i64;
    let vs = nn::VarStore::new(device);
    let net = CtcNet::new(&vs.root(), &cfg, vocab);
    let tc = TrainConfig {
        lr: 1e-4,
        ..Default::default()
    };
    let mut opt = AdamW::new(&vs, &tc);
    let n_tgt = (0.15 * a.frames as f64) as i64;
    let batch = Batch {
        xs: Tensor::randn([a.batch, a.frames, cfg.num_mel_bins], (Kind::Float, device)),
        lens: vec![a.frames; a.batch as usize],
        targets: Tensor::randint_low(1, vocab, [a.batch * n_tgt], (Kind::Int64, device)),
        target_lens: vec![n_tgt; a.batch as usize],
        aux: None,
        frames: (a.batch * a.frames) as usize,
    };
    anyhow::ensure!(
        subsampled_len(a.frames, cfg.subsampling) >= n_tgt,
        "--frames too small for the targets"
    );
    let mut times = Vec::new();
    // Per step: forward (network + CTC loss), backward, optimizer (clip + AdamW).
    let mut phases: [Vec<f64>; 3] = Default::default();
    for step in 0..a.warmup + a.steps {
        let t0 = Instant::now();
        opt.zero_grad();
        let loss = ctc_loss(&net, &batch, true);
        let t1 = Instant::now();
        loss.backward();
        let t2 = Instant::now();
        opt.clip_grad_norm(tc.grad_clip);
        opt.step(tc.lr);
        let _ = loss.double_value(&[]);
        if step >= a.warmup {
            let t3 = Instant::now();
            times.push((t3 - t0).as_secs_f64());
            phases[0].push((t1 - t0).as_secs_f64());
            phases[1].push((t2 - t1).as_secs_f64());
            phases[2].push((t3 - t2).as_secs_f64());
        }
    }
    let med = median(&times);
    let round4 = |t: f64| (t * 1e4).round() / 1e4;
    let audio = (a.batch * a.frames) as f64 / 100.0;
    let out = serde_json::json!({
        "impl": "tch", "threads": a.threads, "batch": a.batch, "frames": a.frames, "encoder": a.encoder,
        "hidden": a.hidden, "layers": a.layers, "parameters": parameter_count(&vs), "steps": a.steps,
        "device": format!("{device:?}"),
        "median_step_s": round4(med), "audio_s_per_s": (audio / med * 10.0).round() / 10.0,
        "median_forward_s": round4(median(&phases[0])), "median_backward_s": round4(median(&phases[1])),
        "median_optimizer_s": round4(median(&phases[2])),
        "step_times": times.iter().map(|&t| round4(t)).collect::<Vec<_>>(),
    });
    println!("{out}");
    Ok(())
}

fn median(xs: &[f64]) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}
