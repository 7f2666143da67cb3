//! Posteriors of utterances and the dev token error rate that selects
//! checkpoints and stops training.

use tch::{Device, Kind, Tensor};

use super::batch::make_batch;
use super::ctc_decode;
use super::model::CtcNet;
use super::tokens::BLANK;
use super::train_set::Example;
use crate::matrix::Matrix;
use crate::score::edit_distance;

/// Log posteriors of one utterance (no padding, eval mode) as a frames x tokens matrix.
pub fn posteriors(net: &CtcNet, feats: &Matrix, device: Device) -> Matrix {
    tch::no_grad(|| {
        let xs = Tensor::from_slice(&feats.data)
            .view([1, feats.rows as i64, feats.cols as i64])
            .to_device(device);
        let (lp, lens) = net.forward(&xs, &[feats.rows as i64], false);
        frames_matrix(&lp.get(0).narrow(0, 0, lens[0]))
    })
}

/// [`posteriors`] of the main head and, where the network has one, the auxiliary head.
pub fn posteriors_heads(net: &CtcNet, feats: &Matrix, device: Device) -> (Matrix, Option<Matrix>) {
    tch::no_grad(|| {
        let xs = Tensor::from_slice(&feats.data)
            .view([1, feats.rows as i64, feats.cols as i64])
            .to_device(device);
        let (lp, aux, lens) = net.forward_heads(&xs, &[feats.rows as i64], false, true);
        (
            frames_matrix(&lp.get(0).narrow(0, 0, lens[0])),
            aux.map(|a| frames_matrix(&a.get(0).narrow(0, 0, lens[0]))),
        )
    })
}

/// A frames x tokens tensor (any device and float kind) as a CPU matrix.
fn frames_matrix(lp: &Tensor) -> Matrix {
    let lp = lp.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
    let (t, v) = (lp.size()[0] as usize, lp.size()[1] as usize);
    let data: Vec<f32> = Vec::<f32>::try_from(lp.view([-1])).expect("float tensor");
    Matrix::from_vec(t, v, data)
}

/// Padded frames per dev-scoring batch (200 s of audio).
const DEV_BATCH_FRAMES: usize = 20_000;

/// Token error rate (CER for characters incl. spaces, PER for phones) with
/// greedy decoding, scored every epoch on dev. The dev set runs through the
/// network in length-sorted batches (as ESPnet and icefall validate), not
/// one utterance at a time: a recurrent layer on 2 CPU cores runs several
/// times faster on a batch, and per-utterance scoring of the 0.5 h synthetic
/// dev set was half of each small-subset epoch. Batches are sorted by
/// length, so padding is a few frames; the backward direction of a BiRNN
/// reads them, so this figure can differ from a per-utterance decode (test
/// decoding stays per utterance) in the last digit. It only ranks
/// checkpoints and drives the stopping rule, and is deterministic.
pub fn token_error_rate(net: &CtcNet, examples: &[Example], device: Device) -> f64 {
    head_error_rate(net, examples, device, false)
}

/// [`token_error_rate`] of the main head, or (with `aux`) of the auxiliary
/// head against the examples' `aux_target`s (mtl-ctc's dev PER).
pub fn head_error_rate(net: &CtcNet, examples: &[Example], device: Device, aux: bool) -> f64 {
    let (mut errs, mut total) = (0usize, 0usize);
    let lens: Vec<usize> = examples.iter().map(|e| e.feats.rows).collect();
    for batch in crate::loader::length_buckets_sorted(&lens, DEV_BATCH_FRAMES, usize::MAX) {
        let exs: Vec<&Example> = batch.iter().map(|&i| &examples[i]).collect();
        let b = make_batch(&exs, None, device);
        let (main, aux_lp, out_lens) =
            tch::no_grad(|| net.forward_heads(&b.xs, &b.lens, false, aux));
        let lp = match (aux, aux_lp) {
            (true, Some(a)) => a,
            (true, None) => return f64::NAN,
            (false, _) => main,
        };
        for (k, e) in exs.iter().enumerate() {
            let one = frames_matrix(&lp.get(k as i64).narrow(0, 0, out_lens[k]));
            let hyp = ctc_decode::greedy(&one, BLANK);
            let target = if aux { &e.aux_target } else { &e.target };
            let reference: Vec<usize> = target.iter().map(|&i| i as usize).collect();
            errs += edit_distance(&hyp, &reference);
            total += reference.len();
        }
    }
    errs as f64 / total.max(1) as f64
}
