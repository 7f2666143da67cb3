//! Batches: SpecAugment, padding into tensors, and the CTC losses.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

use super::config::SpecAugmentConfig;
use super::model::CtcNet;
use super::tokens::BLANK;
use super::train_set::Example;
use crate::matrix::Matrix;

/// SpecAugment masks (zeros, the CMVN mean) on one utterance, in place.
pub fn spec_augment(m: &mut Matrix, c: &SpecAugmentConfig, rng: &mut impl Rng) {
    let (t, f) = (m.rows, m.cols);
    for _ in 0..c.freq_masks {
        let w = rng.gen_range(0..=c.freq_width.min(f));
        let start = rng.gen_range(0..=f - w);
        for r in 0..t {
            m.row_mut(r)[start..start + w]
                .iter_mut()
                .for_each(|x| *x = 0.0);
        }
    }
    let max_t = c.time_width.min((c.time_ratio * t as f64) as usize);
    for _ in 0..c.time_masks {
        let w = rng.gen_range(0..=max_t);
        let start = rng.gen_range(0..=t - w);
        for r in start..start + w {
            m.row_mut(r).iter_mut().for_each(|x| *x = 0.0);
        }
    }
}

/// A padded batch on `device`: features [B, T, F], frame counts, and the CTC targets.
pub struct Batch {
    pub xs: Tensor,
    pub lens: Vec<i64>,
    pub targets: Tensor,
    pub target_lens: Vec<i64>,
    /// The auxiliary targets and their lengths, when every example has one.
    pub aux: Option<(Tensor, Vec<i64>)>,
    pub frames: usize,
}

pub fn make_batch(
    examples: &[&Example],
    aug: Option<(&SpecAugmentConfig, &mut ChaCha8Rng)>,
    device: Device,
) -> Batch {
    let f = examples[0].feats.cols;
    let t_max = examples.iter().map(|e| e.feats.rows).max().unwrap_or(0);
    let mut data = vec![0f32; examples.len() * t_max * f];
    let mut aug = aug;
    for (b, e) in examples.iter().enumerate() {
        let dst = &mut data[b * t_max * f..b * t_max * f + e.feats.data.len()];
        match aug.as_mut() {
            Some((c, rng)) => {
                let mut m = e.feats.clone();
                spec_augment(&mut m, c, *rng);
                dst.copy_from_slice(&m.data);
            }
            None => dst.copy_from_slice(&e.feats.data),
        }
    }
    let xs = Tensor::from_slice(&data)
        .view([examples.len() as i64, t_max as i64, f as i64])
        .to_device(device);
    let targets: Vec<i64> = examples
        .iter()
        .flat_map(|e| e.target.iter().copied())
        .collect();
    let aux = examples.iter().all(|e| !e.aux_target.is_empty()).then(|| {
        let flat: Vec<i64> = examples
            .iter()
            .flat_map(|e| e.aux_target.iter().copied())
            .collect();
        (
            Tensor::from_slice(&flat).to_device(device),
            examples.iter().map(|e| e.aux_target.len() as i64).collect(),
        )
    });
    Batch {
        xs,
        lens: examples.iter().map(|e| e.feats.rows as i64).collect(),
        targets: Tensor::from_slice(&targets).to_device(device),
        target_lens: examples.iter().map(|e| e.target.len() as i64).collect(),
        aux,
        frames: examples.iter().map(|e| e.feats.rows).sum(),
    }
}

/// Mean CTC loss of a batch (PyTorch's `reduction="mean"`: per-utterance loss
/// divided by target length, averaged over the batch).
pub fn ctc_loss(net: &CtcNet, batch: &Batch, train: bool) -> Tensor {
    mtl_ctc_loss(net, batch, 0.0, train)
}

/// Multi-task CTC: `(1 - w) * main + w * aux` where the network has an
/// auxiliary head, the batch its targets and `w > 0`; else the main loss.
pub fn mtl_ctc_loss(net: &CtcNet, batch: &Batch, aux_weight: f64, train: bool) -> Tensor {
    let use_aux = aux_weight > 0.0 && batch.aux.is_some() && net.aux_head().is_some();
    let (logp, aux, out_lens) = net.forward_heads(&batch.xs, &batch.lens, train, use_aux);
    let ctc = |lp: &Tensor, targets: &Tensor, lens: &[i64]| {
        Tensor::ctc_loss(
            &lp.transpose(0, 1),
            targets,
            &out_lens,
            lens,
            BLANK as i64,
            tch::Reduction::Mean,
            true,
        )
    };
    let main = ctc(&logp, &batch.targets, &batch.target_lens);
    match (aux, &batch.aux) {
        (Some(alp), Some((t, l))) if use_aux => {
            main * (1.0 - aux_weight) + ctc(&alp, t, l) * aux_weight
        }
        _ => main,
    }
}
