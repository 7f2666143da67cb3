//! Triphone training in the shape of Kaldi's `train_deltas.sh`: statistics
//! of every seen (left, phone, right, state) from the monophone alignments,
//! question sets from clustering the monophone states bottom-up, one
//! decision tree per (phone, state) grown greedily by single-Gaussian
//! likelihood gain up to a number of leaves, then Viterbi-EM passes of the
//! tied-state model with realignment and mixture splitting. Context is
//! word-internal (the word boundary is a context symbol of its own).
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::align::Alignment;
use super::gmm::DiagGmm;
use super::hmm::{AcousticModel, WordPosition};
use super::train_mono::{accumulate, global_stats, realign, update, MonoConfig, TrainData};
use super::tree::{ContextTree, TreeNode};
use crate::error::{Error, Result};
use crate::lang::topology::PhoneTopology;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriConfig {
    pub enabled: bool,
    /// Tied states (tree leaves) to aim for (unless `leaves_per_gaussian` sets it).
    pub num_leaves: usize,
    /// Gaussians in all after mixing up (unless `gaussians_per_sqrt_hour` sets it).
    pub total_gaussians: usize,
    /// When > 0, the Gaussians grow with the training audio:
    /// `total_gaussians = round(this x sqrt(hours))` (see [`TriConfig::sized_for`]). Default 0.
    pub gaussians_per_sqrt_hour: f64,
    /// When > 0, `num_leaves = round(this x total_gaussians)`, at least
    /// `min_leaves`; the Gaussians are then at least one per leaf. Default 0.
    pub leaves_per_gaussian: f64,
    /// The fewest leaves the rule gives (the tree has one root per phone
    /// state anyway). Default 150.
    pub min_leaves: usize,
    pub iters: usize,
    pub realign_iters: Vec<usize>,
    /// Stop adding Gaussians after this pass.
    pub max_iter_inc: usize,
    /// Fewest frames on each side of a split.
    pub min_leaf_count: f64,
}

impl Default for TriConfig {
    fn default() -> Self {
        TriConfig {
            enabled: false,
            num_leaves: 1000,
            total_gaussians: 6000,
            gaussians_per_sqrt_hour: 0.0,
            leaves_per_gaussian: 0.0,
            min_leaves: 150,
            iters: 25,
            realign_iters: vec![8, 16, 22],
            max_iter_inc: 18,
            min_leaf_count: 100.0,
        }
    }
}

impl TriConfig {
    /// This config with `total_gaussians` and `num_leaves` resolved for
    /// `hours` of training audio by the per-hour rules (each unchanged when
    /// its rule is 0): Gaussians `round(gaussians_per_sqrt_hour x
    /// sqrt(hours))`, leaves `max(min_leaves, round(leaves_per_gaussian x
    /// Gaussians))`, and at least one Gaussian per leaf.
    pub fn sized_for(&self, hours: f64) -> TriConfig {
        let mut c = self.clone();
        if self.gaussians_per_sqrt_hour > 0.0 {
            c.total_gaussians =
                (self.gaussians_per_sqrt_hour * hours.max(0.0).sqrt()).round() as usize;
            c.gaussians_per_sqrt_hour = 0.0;
        }
        if self.leaves_per_gaussian > 0.0 {
            c.num_leaves = ((self.leaves_per_gaussian * c.total_gaussians as f64).round() as usize)
                .max(self.min_leaves);
            c.leaves_per_gaussian = 0.0;
        }
        c.total_gaussians = c.total_gaussians.max(c.num_leaves);
        c
    }
}

/// Single-Gaussian statistics.
#[derive(Clone)]
struct Stats {
    n: f64,
    s: Vec<f64>,
    s2: Vec<f64>,
}

impl Stats {
    fn new(d: usize) -> Self {
        Stats {
            n: 0.0,
            s: vec![0.0; d],
            s2: vec![0.0; d],
        }
    }
    fn add(&mut self, o: &Stats) {
        self.n += o.n;
        for j in 0..self.s.len() {
            self.s[j] += o.s[j];
            self.s2[j] += o.s2[j];
        }
    }
    fn loglik(&self, floor: &[f32]) -> f64 {
        if self.n <= 0.0 {
            return 0.0;
        }
        let mut l = 0.0;
        for j in 0..self.s.len() {
            let m = self.s[j] / self.n;
            let v = (self.s2[j] / self.n - m * m).max(floor[j] as f64);
            l += v.ln();
        }
        -0.5 * self.n * (l + self.s.len() as f64 * (1.0 + (2.0 * std::f64::consts::PI).ln()))
    }
}

/// Question sets over context symbols (phones and the boundary), from
/// agglomerative clustering of the monophones' middle-state means.
fn questions(mono: &AcousticModel) -> Vec<Vec<bool>> {
    let np = mono.phones.len();
    // Middle-state mean of a phone, averaged over its word-position variants.
    let mean = |p: usize| -> Vec<f64> {
        let mut units: Vec<usize> = WordPosition::ALL
            .iter()
            .map(|&pos| mono.mono_unit(p, pos))
            .collect();
        units.dedup();
        let mut m = vec![0f64; mono.dim];
        for &u in &units {
            let g = &mono.pdfs[u * mono.states_per_phone + mono.states_per_phone / 2];
            for (j, mj) in m.iter_mut().enumerate() {
                *mj += g
                    .weights
                    .iter()
                    .zip(&g.means)
                    .map(|(w, mu)| (*w * mu[j]) as f64)
                    .sum::<f64>()
                    / units.len() as f64;
            }
        }
        m
    };
    let mut clusters: Vec<(Vec<usize>, Vec<f64>)> = (0..np).map(|p| (vec![p], mean(p))).collect();
    let mut qs: Vec<Vec<bool>> = Vec::new();
    let set = |members: &[usize]| -> Vec<bool> {
        let mut v = vec![false; np + 1];
        members.iter().for_each(|&m| v[m] = true);
        v
    };
    for p in 0..=np {
        let mut v = vec![false; np + 1];
        v[p] = true;
        qs.push(v);
    }
    while clusters.len() > 1 {
        let mut best = (f64::INFINITY, 0, 0);
        for a in 0..clusters.len() {
            for b in a + 1..clusters.len() {
                let (na, nb) = (clusters[a].0.len() as f64, clusters[b].0.len() as f64);
                let d: f64 = clusters[a]
                    .1
                    .iter()
                    .zip(&clusters[b].1)
                    .map(|(x, y)| (x - y).powi(2))
                    .sum::<f64>()
                    * na
                    * nb
                    / (na + nb);
                if d < best.0 {
                    best = (d, a, b);
                }
            }
        }
        let (_, a, b) = best;
        let cb = clusters.remove(b);
        let ca = &mut clusters[a];
        let (na, nb) = (ca.0.len() as f64, cb.0.len() as f64);
        for j in 0..ca.1.len() {
            ca.1[j] = (ca.1[j] * na + cb.1[j] * nb) / (na + nb);
        }
        ca.0.extend(cb.0);
        if clusters.len() > 1 {
            qs.push(set(&clusters[a].0));
        }
    }
    qs
}

struct Leaf {
    root: usize,
    node: usize,
    items: Vec<([usize; 2], Stats)>,
    best: Option<(f64, u8, usize)>,
}

fn best_split(
    items: &[([usize; 2], Stats)],
    qs: &[Vec<bool>],
    floor: &[f32],
    min_count: f64,
    d: usize,
) -> Option<(f64, u8, usize)> {
    let mut all = Stats::new(d);
    items.iter().for_each(|(_, s)| all.add(s));
    let base = all.loglik(floor);
    let mut best: Option<(f64, u8, usize)> = None;
    for pos in 0..2u8 {
        for (qi, q) in qs.iter().enumerate() {
            let mut yes = Stats::new(d);
            for (c, s) in items {
                if q[c[pos as usize]] {
                    yes.add(s);
                }
            }
            let no_n = all.n - yes.n;
            if yes.n < min_count || no_n < min_count {
                continue;
            }
            let mut no = all.clone();
            no.n -= yes.n;
            for j in 0..d {
                no.s[j] -= yes.s[j];
                no.s2[j] -= yes.s2[j];
            }
            let gain = yes.loglik(floor) + no.loglik(floor) - base;
            if best.map_or(true, |b| gain > b.0) {
                best = Some((gain, pos, qi));
            }
        }
    }
    best
}

/// Train tied-state triphones from monophone alignments.
pub fn train_tri(
    mono: &AcousticModel,
    data: &TrainData,
    alis: &[Option<Alignment>],
    cfg: &TriConfig,
    mcfg: &MonoConfig,
    log: &mut dyn FnMut(String),
) -> Result<(AcousticModel, Vec<Option<Alignment>>)> {
    let (mut tri, alis) = build_tree(mono, data, alis, cfg, mcfg, log)?;
    let (alis, _) = train_passes(
        &mut tri,
        data,
        alis,
        cfg,
        mcfg,
        &mut |_, _, _, _, _| Ok(None),
        log,
    )?;
    Ok((tri, alis))
}

/// What a pass hook may hand back: new training features (the same
/// utterances, e.g. after an MLLT or fMLLR update) for this and later passes.
pub type NewFeatures = Option<Vec<crate::matrix::Matrix>>;

/// A hook run at the start of a pass, before its statistics (Kaldi's
/// `mllt_iters` / `fmllr_iters`): it may change the model (e.g. transform
/// its means) and return new features.
pub type PassHook<'a> = dyn FnMut(
        usize,
        &mut AcousticModel,
        &TrainData,
        &[Option<Alignment>],
        &mut dyn FnMut(String),
    ) -> Result<NewFeatures>
    + 'a;

/// Decision-tree-tied states from the statistics of `alis` on `data.feats`
/// (any feature space: the question sets come from `mono`'s phones), one
/// Gaussian per leaf, and the alignments converted to the new pdfs. `alis`
/// may come from monophones or from an earlier triphone system: only their
/// (unit, state) sequence is read, as Kaldi's `convert-ali` does.
pub fn build_tree(
    mono: &AcousticModel,
    data: &TrainData,
    alis: &[Option<Alignment>],
    cfg: &TriConfig,
    mcfg: &MonoConfig,
    log: &mut dyn FnMut(String),
) -> Result<(AcousticModel, Vec<Option<Alignment>>)> {
    let d = data
        .feats
        .iter()
        .find(|m| m.rows > 0)
        .map(|m| m.cols)
        .unwrap_or(mono.dim);
    let np = mono.phones.len();
    let sp = mono.states_per_phone;
    let (gmean, gvar) = global_stats(&data.feats)?;
    let floor: Vec<f32> = gvar.iter().map(|v| v * mcfg.var_floor).collect();
    // 1. Context statistics.
    let mut ctx: HashMap<(usize, usize, [usize; 2]), Stats> = HashMap::new();
    for (i, a) in alis.iter().enumerate() {
        let Some(a) = a else { continue };
        let units = data.units(i, mono as &dyn PhoneTopology, mcfg.optional_silence);
        for t in 0..a.unit.len() {
            let u = &units[a.unit[t] as usize];
            let c = [u.left.unwrap_or(np), u.right.unwrap_or(np)];
            let st = ctx
                .entry((u.phone, a.state[t] as usize, c))
                .or_insert_with(|| Stats::new(d));
            let x = data.feats[i].row(t);
            st.n += 1.0;
            for j in 0..d {
                st.s[j] += x[j] as f64;
                st.s2[j] += (x[j] as f64).powi(2);
            }
        }
    }
    if ctx.is_empty() {
        return Err(Error::Invalid(
            "no aligned frames for triphone training".into(),
        ));
    }
    // 2. Trees.
    let qs = questions(mono);
    let mut nodes: Vec<TreeNode> = Vec::new();
    let mut roots = vec![0usize; np * sp];
    let mut leaves: Vec<Leaf> = Vec::new();
    let mut per_root: Vec<Vec<([usize; 2], Stats)>> = vec![vec![]; np * sp];
    let mut keys: Vec<_> = ctx.keys().cloned().collect();
    keys.sort();
    for k in keys {
        per_root[k.0 * sp + k.1].push((k.2, ctx[&k].clone()));
    }
    for (r, items) in per_root.into_iter().enumerate() {
        roots[r] = nodes.len();
        nodes.push(TreeNode::Leaf(0));
        let best = if r / sp == mono.phones.silence() {
            None
        } else {
            best_split(&items, &qs, &floor, cfg.min_leaf_count, d)
        };
        leaves.push(Leaf {
            root: r,
            node: roots[r],
            items,
            best,
        });
    }
    while leaves.len() < cfg.num_leaves {
        let Some((li, _)) = leaves
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.best.map(|b| (i, b.0)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            break;
        };
        let leaf = leaves.swap_remove(li);
        let (_, pos, qi) = leaf.best.unwrap();
        let (yes_items, no_items): (Vec<_>, Vec<_>) = leaf
            .items
            .into_iter()
            .partition(|(c, _)| qs[qi][c[pos as usize]]);
        let (y, n) = (nodes.len(), nodes.len() + 1);
        nodes.push(TreeNode::Leaf(0));
        nodes.push(TreeNode::Leaf(0));
        nodes[leaf.node] = TreeNode::Split {
            pos,
            set: qs[qi].clone(),
            yes: y,
            no: n,
        };
        for (node, items) in [(y, yes_items), (n, no_items)] {
            let best = best_split(&items, &qs, &floor, cfg.min_leaf_count, d);
            leaves.push(Leaf {
                root: leaf.root,
                node,
                items,
                best,
            });
        }
    }
    leaves.sort_by_key(|l| l.node);
    let mut pdfs = Vec::new();
    let mut self_loop = Vec::new();
    for (pdf, l) in leaves.iter().enumerate() {
        nodes[l.node] = TreeNode::Leaf(pdf);
        let mut s = Stats::new(d);
        l.items.iter().for_each(|(_, x)| s.add(x));
        // The word-internal monophone state stands in for the tree root.
        let mono_pdf = mono.mono_unit(l.root / sp, WordPosition::Internal) * sp + l.root % sp;
        let g = if s.n > 0.0 {
            let m: Vec<f32> = (0..d).map(|j| (s.s[j] / s.n) as f32).collect();
            let v: Vec<f32> = (0..d)
                .map(|j| ((s.s2[j] / s.n) as f32 - m[j] * m[j]).max(floor[j]))
                .collect();
            DiagGmm::single(m, v)
        } else if mono.dim == d {
            mono.pdfs[mono_pdf].clone()
        } else {
            // An unseen phone state in another feature space: the global Gaussian.
            DiagGmm::single(gmean.clone(), gvar.clone())
        };
        pdfs.push(g);
        self_loop.push(mono.self_loop[mono_pdf]);
    }
    let tree = ContextTree {
        num_phones: np,
        states_per_phone: sp,
        roots,
        nodes,
    };
    let mut tri = AcousticModel {
        phones: mono.phones.clone(),
        states_per_phone: sp,
        pdfs,
        self_loop,
        tree: Some(tree),
        dim: d,
        position_dependent: false,
    };
    tri.prepare();
    log(format!(
        "triphone tree: {} contexts seen, {} questions, {} leaves",
        ctx.len(),
        qs.len(),
        tri.pdfs.len()
    ));
    // 3. Convert the monophone alignments to tied-state pdfs.
    let alis: Vec<Option<Alignment>> = alis
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let a = a.as_ref()?;
            let units = data.units(i, &tri as &dyn PhoneTopology, mcfg.optional_silence);
            let mut b = a.clone();
            for t in 0..b.pdf.len() {
                b.pdf[t] = units[b.unit[t] as usize].chain[b.state[t] as usize].pdf;
            }
            Some(b)
        })
        .collect();
    Ok((tri, alis))
}

/// Viterbi-EM passes of a tied-state model with realignment and mixing up
/// (`cfg.iters` passes, then a final realignment). `hook` runs at the start
/// of every pass; features it returns replace `data.feats` from then on.
/// Returns the final alignments and, when the hook replaced them, the
/// features the model ends in.
pub fn train_passes(
    tri: &mut AcousticModel,
    data: &TrainData,
    mut alis: Vec<Option<Alignment>>,
    cfg: &TriConfig,
    mcfg: &MonoConfig,
    hook: &mut PassHook<'_>,
    log: &mut dyn FnMut(String),
) -> Result<(Vec<Option<Alignment>>, NewFeatures)> {
    let (_, gvar) = global_stats(&data.feats)?;
    let mut floor: Vec<f32> = gvar.iter().map(|v| v * mcfg.var_floor).collect();
    let mut own: Option<TrainData> = None;
    let init = tri.pdfs.len();
    let inc = cfg.total_gaussians.saturating_sub(init) as f64 / cfg.max_iter_inc.max(1) as f64;
    for it in 0..cfg.iters {
        let cur = own.as_ref().unwrap_or(data);
        if it > 0 && cfg.realign_iters.contains(&it) {
            alis = realign(tri, cur, mcfg.beam, mcfg.optional_silence);
        }
        if let Some(feats) = hook(it, tri, cur, &alis, log)? {
            let (_, gvar) = global_stats(&feats)?;
            floor = gvar.iter().map(|v| v * mcfg.var_floor).collect();
            own = Some(TrainData {
                ids: data.ids.clone(),
                feats,
                prons: data.prons.clone(),
            });
        }
        let cur = own.as_ref().unwrap_or(data);
        let accs = accumulate(tri, cur, &alis);
        let target = if it < cfg.max_iter_inc {
            init + (inc * (it + 1) as f64) as usize
        } else {
            cfg.total_gaussians
        };
        update(
            tri,
            &accs,
            &floor,
            mcfg.min_gaussian_occupancy,
            target.min(cfg.total_gaussians),
            mcfg.power,
            mcfg.perturb,
        );
        log(format!(
            "tri pass {:>2}: log-likelihood/frame {:.3}, {} Gaussians",
            it,
            accs.ll / accs.frames.max(1) as f64,
            tri.num_gaussians()
        ));
    }
    let cur = own.as_ref().unwrap_or(data);
    let alis = realign(tri, cur, mcfg.beam, mcfg.optional_silence);
    Ok((alis, own.map(|d| d.feats)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_rules_grow_with_the_data_within_their_bounds() {
        let fixed = TriConfig::default();
        assert_eq!(fixed.sized_for(2.0), fixed, "no rule, no change");
        let rule = TriConfig {
            gaussians_per_sqrt_hour: 424.0,
            leaves_per_gaussian: 0.5,
            ..TriConfig::default()
        };
        let big = rule.sized_for(2.0);
        assert_eq!((big.num_leaves, big.total_gaussians), (300, 600));
        let small = rule.sized_for(0.2);
        assert_eq!(small.total_gaussians, 190);
        assert_eq!(small.num_leaves, 150, "the leaf floor");
        let tiny = rule.sized_for(0.01);
        assert_eq!(tiny.num_leaves, 150);
        assert_eq!(tiny.total_gaussians, 150, "at least one Gaussian per leaf");
        let mono = MonoConfig {
            gaussians_per_sqrt_hour: 424.0,
            ..MonoConfig::default()
        };
        assert_eq!(mono.sized_for(2.0, 120).total_gaussians, 600);
        assert_eq!(mono.sized_for(0.01, 120).total_gaussians, 120);
        assert_eq!(
            MonoConfig::default().sized_for(2.0, 120).total_gaussians,
            1000
        );
    }
}
