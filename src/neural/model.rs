//! The CTC network: one encoder, two heads (characters or phones).
//!
//! log-mel [B, T, F] -> two 3x3 convolutions with ReLU (time stride 2 then 2
//! for x4, or 2 then 1 for x2; frequency stride 2 each) -> linear projection
//! -> BiGRU / BiLSTM layers, or Transformer / Conformer blocks (sinusoidal
//! absolute positions) -> linear output layer -> log-softmax over the tokens
//! (index 0 = blank). Recurrent layers run over padded batches (no packing);
//! length-bucketed batches keep the padding small, and the PyTorch reference
//! in `scripts/bench_ctc_pytorch.py` does the same.
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::config::{EncoderKind, ModelConfig};

/// Frames after the convolutional front end for `t` input frames.
pub fn subsampled_len(t: i64, subsampling: i64) -> i64 {
    let t1 = if t < 3 { 0 } else { (t - 3) / 2 + 1 };
    if subsampling == 4 {
        if t1 < 3 {
            0
        } else {
            (t1 - 3) / 2 + 1
        }
    } else {
        t1
    }
}

/// PyTorch's default RNN initialisation, U(-1/sqrt(h), 1/sqrt(h)) for every weight and bias.
fn rnn_config(hidden: i64) -> nn::RNNConfig {
    let k = 1.0 / (hidden as f64).sqrt();
    let u = nn::Init::Uniform { lo: -k, up: k };
    nn::RNNConfig {
        bidirectional: true,
        batch_first: true,
        w_ih_init: u,
        w_hh_init: u,
        b_ih_init: Some(u),
        b_hh_init: Some(u),
        ..Default::default()
    }
}

#[derive(Debug)]
struct FeedForward {
    norm: nn::LayerNorm,
    l1: nn::Linear,
    l2: nn::Linear,
}

impl FeedForward {
    fn new(p: nn::Path, d: i64, ff: i64) -> Self {
        FeedForward {
            norm: nn::layer_norm(&p / "norm", vec![d], Default::default()),
            l1: nn::linear(&p / "l1", d, ff, Default::default()),
            l2: nn::linear(&p / "l2", ff, d, Default::default()),
        }
    }
    fn forward(&self, x: &Tensor, drop: f64, train: bool) -> Tensor {
        x.apply(&self.norm)
            .apply(&self.l1)
            .silu()
            .dropout(drop, train)
            .apply(&self.l2)
            .dropout(drop, train)
    }
}

#[derive(Debug)]
struct SelfAttention {
    norm: nn::LayerNorm,
    qkv: nn::Linear,
    out: nn::Linear,
    heads: i64,
}

impl SelfAttention {
    fn new(p: nn::Path, d: i64, heads: i64) -> Self {
        SelfAttention {
            norm: nn::layer_norm(&p / "norm", vec![d], Default::default()),
            qkv: nn::linear(&p / "qkv", d, 3 * d, Default::default()),
            out: nn::linear(&p / "out", d, d, Default::default()),
            heads,
        }
    }
    /// `mask`: bool [B, 1, 1, T], true where a key is a real frame.
    fn forward(&self, x: &Tensor, mask: &Tensor, drop: f64, train: bool) -> Tensor {
        let (b, t, d) = x.size3().expect("[B, T, D]");
        let qkv = x
            .apply(&self.norm)
            .apply(&self.qkv)
            .view([b, t, 3, self.heads, d / self.heads])
            .permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let a = Tensor::scaled_dot_product_attention(
            &q,
            &k,
            &v,
            Some(mask),
            if train { drop } else { 0.0 },
            false,
            None,
            false,
        );
        a.transpose(1, 2)
            .reshape([b, t, d])
            .apply(&self.out)
            .dropout(drop, train)
    }
}

#[derive(Debug)]
struct ConvModule {
    norm: nn::LayerNorm,
    pw1: nn::Linear,
    dw: nn::Conv1D,
    norm2: nn::LayerNorm,
    pw2: nn::Linear,
}

impl ConvModule {
    fn new(p: nn::Path, d: i64, k: i64) -> Self {
        let cfg = nn::ConvConfig {
            groups: d,
            padding: k / 2,
            ..Default::default()
        };
        ConvModule {
            norm: nn::layer_norm(&p / "norm", vec![d], Default::default()),
            pw1: nn::linear(&p / "pw1", d, 2 * d, Default::default()),
            dw: nn::conv1d(&p / "dw", d, d, k, cfg),
            // LayerNorm instead of BatchNorm: no batch statistics over padding.
            norm2: nn::layer_norm(&p / "norm2", vec![d], Default::default()),
            pw2: nn::linear(&p / "pw2", d, d, Default::default()),
        }
    }
    /// `pad`: float [B, T, 1], 1 on real frames, so padding does not leak through the convolution.
    fn forward(&self, x: &Tensor, pad: &Tensor, drop: f64, train: bool) -> Tensor {
        let y = x.apply(&self.norm).apply(&self.pw1).glu(-1) * pad;
        let y = y.transpose(1, 2).apply(&self.dw).transpose(1, 2);
        y.apply(&self.norm2)
            .silu()
            .apply(&self.pw2)
            .dropout(drop, train)
    }
}

#[derive(Debug)]
struct Block {
    ff1: Option<FeedForward>,
    att: SelfAttention,
    conv: Option<ConvModule>,
    ff2: FeedForward,
    final_norm: Option<nn::LayerNorm>,
}

impl Block {
    fn new(p: nn::Path, c: &ModelConfig, conformer: bool) -> Self {
        let d = c.hidden;
        Block {
            ff1: conformer.then(|| FeedForward::new(&p / "ff1", d, c.ff_dim)),
            att: SelfAttention::new(&p / "att", d, c.heads),
            conv: conformer.then(|| ConvModule::new(&p / "conv", d, c.conv_kernel)),
            ff2: FeedForward::new(&p / "ff2", d, c.ff_dim),
            final_norm: conformer
                .then(|| nn::layer_norm(&p / "final_norm", vec![d], Default::default())),
        }
    }
    fn forward(&self, x: &Tensor, mask: &Tensor, pad: &Tensor, drop: f64, train: bool) -> Tensor {
        // Conformer uses half-step feed-forward modules on both sides (Gulati et al. 2020).
        let half = if self.ff1.is_some() { 0.5 } else { 1.0 };
        let mut x = x.shallow_clone();
        if let Some(ff) = &self.ff1 {
            x = &x + ff.forward(&x, drop, train) * half;
        }
        x = &x + self.att.forward(&x, mask, drop, train);
        if let Some(cv) = &self.conv {
            x = &x + cv.forward(&x, pad, drop, train);
        }
        x = &x + self.ff2.forward(&x, drop, train) * half;
        match &self.final_norm {
            Some(n) => x.apply(n),
            None => x,
        }
    }
}

#[derive(Debug)]
enum Encoder {
    Gru(Vec<nn::GRU>),
    Lstm(Vec<nn::LSTM>),
    Attention {
        blocks: Vec<Block>,
        final_norm: Option<nn::LayerNorm>,
    },
}

/// A second CTC output layer on the shared encoder (mtl-ctc's phone head).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuxHead {
    /// Output tokens of the head (blank included).
    pub vocab: i64,
    /// Encoder layer (1-based) whose output it reads; 0 = the top layer.
    pub layer: usize,
}

/// The CTC network. Built from a [`ModelConfig`] and a var path; `forward` is the whole model.
#[derive(Debug)]
pub struct CtcNet {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    proj: nn::Linear,
    encoder: Encoder,
    out: nn::Linear,
    /// mtl-ctc: the auxiliary head (variables under `aux_out`).
    aux: Option<(nn::Linear, AuxHead)>,
    cfg: ModelConfig,
    vocab: i64,
}

/// Variable-name prefixes of the network's layers in order, for freezing
/// the first N: the convolutional front end (one layer), then each encoder layer.
pub fn layer_prefixes(cfg: &ModelConfig) -> Vec<Vec<String>> {
    let mut v = vec![vec!["conv1.".into(), "conv2.".into(), "proj.".into()]];
    for i in 0..cfg.layers {
        v.push(vec![format!("encoder.{i}.")]);
    }
    v
}

impl CtcNet {
    /// `cfg` must be validated ([`ModelConfig::validate`]).
    pub fn new(p: &nn::Path, cfg: &ModelConfig, vocab: i64) -> Self {
        Self::with_aux(p, cfg, vocab, None)
    }

    /// A network with an auxiliary CTC head (mtl-ctc) when `aux` is given.
    pub fn with_aux(p: &nn::Path, cfg: &ModelConfig, vocab: i64, aux: Option<AuxHead>) -> Self {
        let c = cfg.conv_channels;
        let conv1 = nn::conv(
            p / "conv1",
            1,
            c,
            [3, 3],
            nn::ConvConfigND {
                stride: [2, 2],
                ..Default::default()
            },
        );
        let (st, pt) = if cfg.subsampling == 4 { (2, 0) } else { (1, 1) };
        let conv2 = nn::conv(
            p / "conv2",
            c,
            c,
            [3, 3],
            nn::ConvConfigND {
                stride: [st, 2],
                padding: [pt, 0],
                ..Default::default()
            },
        );
        let f1 = (cfg.num_mel_bins - 3) / 2 + 1;
        let f2 = (f1 - 3) / 2 + 1;
        let proj = nn::linear(p / "proj", c * f2, cfg.hidden, Default::default());
        let enc = p / "encoder";
        let (encoder, d_out) = match cfg.encoder {
            EncoderKind::Gru => {
                let layers = (0..cfg.layers)
                    .map(|i| {
                        nn::gru(
                            &enc / i,
                            if i == 0 { cfg.hidden } else { 2 * cfg.hidden },
                            cfg.hidden,
                            rnn_config(cfg.hidden),
                        )
                    })
                    .collect();
                (Encoder::Gru(layers), 2 * cfg.hidden)
            }
            EncoderKind::Lstm => {
                let layers = (0..cfg.layers)
                    .map(|i| {
                        nn::lstm(
                            &enc / i,
                            if i == 0 { cfg.hidden } else { 2 * cfg.hidden },
                            cfg.hidden,
                            rnn_config(cfg.hidden),
                        )
                    })
                    .collect();
                (Encoder::Lstm(layers), 2 * cfg.hidden)
            }
            EncoderKind::Transformer | EncoderKind::Conformer => {
                let conformer = cfg.encoder == EncoderKind::Conformer;
                let blocks = (0..cfg.layers)
                    .map(|i| Block::new(&enc / i, cfg, conformer))
                    .collect();
                // Pre-norm Transformer blocks need a final norm; Conformer blocks end with one.
                let final_norm = (!conformer).then(|| {
                    nn::layer_norm(&enc / "final_norm", vec![cfg.hidden], Default::default())
                });
                (Encoder::Attention { blocks, final_norm }, cfg.hidden)
            }
        };
        let out = nn::linear(p / "out", d_out, vocab, Default::default());
        let aux = aux.map(|a| {
            (
                nn::linear(p / "aux_out", d_out, a.vocab, Default::default()),
                a,
            )
        });
        CtcNet {
            conv1,
            conv2,
            proj,
            encoder,
            out,
            aux,
            cfg: cfg.clone(),
            vocab,
        }
    }

    pub fn aux_head(&self) -> Option<AuxHead> {
        self.aux.as_ref().map(|a| a.1)
    }

    pub fn vocab(&self) -> i64 {
        self.vocab
    }
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// `xs`: padded features [B, T, F]; `lens`: frames per utterance.
    /// Returns log posteriors [B, T', V] and the valid output frames per utterance.
    pub fn forward(&self, xs: &Tensor, lens: &[i64], train: bool) -> (Tensor, Vec<i64>) {
        let (main, _, lens) = self.forward_heads(xs, lens, train, false);
        (main, lens)
    }

    /// As [`CtcNet::forward`], plus the auxiliary head's log posteriors
    /// [B, T', V_aux] when `with_aux` and the network has one.
    pub fn forward_heads(
        &self,
        xs: &Tensor,
        lens: &[i64],
        train: bool,
        with_aux: bool,
    ) -> (Tensor, Option<Tensor>, Vec<i64>) {
        let drop = self.cfg.dropout;
        // The layer whose output feeds the aux head (1-based; 0 = top).
        let tap = match (&self.aux, with_aux) {
            (Some((_, a)), true) => Some(if a.layer == 0 {
                self.cfg.layers as usize
            } else {
                a.layer
            }),
            _ => None,
        };
        let mut tapped: Option<Tensor> = None;
        let (b, _, _) = xs.size3().expect("features [B, T, F]");
        let out_lens: Vec<i64> = lens
            .iter()
            .map(|&t| subsampled_len(t, self.cfg.subsampling))
            .collect();
        let x = xs
            .unsqueeze(1)
            .apply(&self.conv1)
            .relu()
            .apply(&self.conv2)
            .relu();
        let (_, c, t2, f2) = x.size4().expect("[B, C, T, F]");
        let mut x = x
            .permute([0, 2, 1, 3])
            .reshape([b, t2, c * f2])
            .apply(&self.proj)
            .dropout(drop, train);
        match &self.encoder {
            Encoder::Gru(layers) => {
                for (i, l) in layers.iter().enumerate() {
                    if i > 0 {
                        x = x.dropout(drop, train);
                    }
                    x = nn::RNN::seq(l, &x).0;
                    if tap == Some(i + 1) {
                        tapped = Some(x.shallow_clone());
                    }
                }
            }
            Encoder::Lstm(layers) => {
                for (i, l) in layers.iter().enumerate() {
                    if i > 0 {
                        x = x.dropout(drop, train);
                    }
                    x = nn::RNN::seq(l, &x).0;
                    if tap == Some(i + 1) {
                        tapped = Some(x.shallow_clone());
                    }
                }
            }
            Encoder::Attention { blocks, final_norm } => {
                let dev = x.device();
                let lens_t = Tensor::from_slice(&out_lens).to_device(dev);
                let valid = Tensor::arange(t2, (Kind::Int64, dev))
                    .unsqueeze(0)
                    .lt_tensor(&lens_t.unsqueeze(1)); // [B, T]
                let mask = valid.view([b, 1, 1, t2]);
                let pad = valid.to_kind(x.kind()).unsqueeze(-1);
                x = &x * (self.cfg.hidden as f64).sqrt()
                    + positional_encoding(t2, self.cfg.hidden, dev, x.kind());
                x = x.dropout(drop, train);
                let top = blocks.len();
                for (i, blk) in blocks.iter().enumerate() {
                    x = blk.forward(&x, &mask, &pad, drop, train);
                    if let (Some(n), true) = (final_norm, i + 1 == top) {
                        x = x.apply(n);
                    }
                    if tap == Some(i + 1) {
                        tapped = Some(x.shallow_clone());
                    }
                }
            }
        }
        let aux = match (&self.aux, tapped) {
            (Some((head, _)), Some(h)) => Some(h.apply(head).log_softmax(-1, Kind::Float)),
            _ => None,
        };
        (
            x.apply(&self.out).log_softmax(-1, Kind::Float),
            aux,
            out_lens,
        )
    }
}

impl Module for CtcNet {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let (b, t, _) = xs.size3().expect("[B, T, F]");
        self.forward(xs, &vec![t; b as usize], false).0
    }
}

fn positional_encoding(t: i64, d: i64, dev: tch::Device, kind: Kind) -> Tensor {
    let pos = Tensor::arange(t, (Kind::Float, dev)).unsqueeze(1);
    let i = Tensor::arange_start_step(0, d, 2, (Kind::Float, dev));
    let div = (i * (-(10000f64.ln()) / d as f64)).exp().unsqueeze(0);
    let ang = pos * div; // [T, D/2]
    Tensor::stack(&[ang.sin(), ang.cos()], 2)
        .view([t, d])
        .to_kind(kind)
        .unsqueeze(0)
}

/// Trainable parameters in a var store.
pub fn parameter_count(vs: &nn::VarStore) -> u64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn build(cfg: &ModelConfig, vocab: i64) -> (nn::VarStore, CtcNet) {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = CtcNet::new(&vs.root(), cfg, vocab);
        (vs, net)
    }

    #[test]
    fn default_model_matches_reference_size() {
        // The PyTorch reference of issue 5: 3-layer BiGRU-256, x4 subsampling, 3.4 M parameters.
        let (vs, _) = build(&ModelConfig::default(), 29);
        let n = parameter_count(&vs);
        assert!((3_300_000..3_450_000).contains(&n), "{n}");
    }

    #[test]
    fn every_encoder_gives_normalised_posteriors_of_the_right_length() {
        for enc in [
            EncoderKind::Gru,
            EncoderKind::Lstm,
            EncoderKind::Transformer,
            EncoderKind::Conformer,
        ] {
            for sub in [2, 4] {
                let cfg = ModelConfig {
                    encoder: enc,
                    subsampling: sub,
                    hidden: 32,
                    layers: 2,
                    heads: 4,
                    ff_dim: 64,
                    conv_channels: 4,
                    ..Default::default()
                };
                cfg.validate().unwrap();
                let (_vs, net) = build(&cfg, 7);
                let xs = Tensor::randn([2, 50, 80], (Kind::Float, Device::Cpu));
                let (lp, lens) = net.forward(&xs, &[50, 41], false);
                let expect = subsampled_len(50, sub);
                assert_eq!(lp.size(), vec![2, expect, 7], "{enc:?} x{sub}");
                assert_eq!(lens, vec![expect, subsampled_len(41, sub)]);
                let total = lp.exp().sum_dim_intlist(-1, false, Kind::Float);
                assert!((total - 1.0).abs().max().double_value(&[]) < 1e-4);
            }
        }
        assert_eq!(subsampled_len(100, 4), 24);
        assert_eq!(subsampled_len(100, 2), 49);
    }

    #[test]
    fn attention_ignores_padding() {
        // Padding frames must not change the posteriors of the real frames.
        let cfg = ModelConfig {
            encoder: EncoderKind::Conformer,
            hidden: 16,
            layers: 1,
            heads: 2,
            ff_dim: 32,
            conv_channels: 2,
            dropout: 0.0,
            ..Default::default()
        };
        let (_vs, net) = build(&cfg, 5);
        let x = Tensor::randn([1, 40, 80], (Kind::Float, Device::Cpu));
        let padded = Tensor::cat(
            &[&x, &Tensor::randn([1, 20, 80], (Kind::Float, Device::Cpu))],
            1,
        );
        let (a, la) = net.forward(&x, &[40], false);
        let (b, _) = net.forward(&padded, &[40], false);
        let n = la[0];
        let diff = (a.narrow(1, 0, n) - b.narrow(1, 0, n))
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-4, "{diff}");
    }
}
