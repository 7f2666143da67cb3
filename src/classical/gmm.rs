//! Diagonal-covariance Gaussian mixtures with log-domain evaluation, maximum
//! likelihood re-estimation from (hard-aligned, soft-within-state) statistics,
//! variance flooring and mixture splitting.
use serde::{Deserialize, Serialize};

pub use crate::numeric::{log_add, log_sum_exp};

const LOG_2PI: f32 = 1.837_877_1;

/// A diagonal GMM. Each component stores `[mu*ivar, -0.5*ivar]` so that its
/// log density is `gconst + dot([x, x^2], row)`, one contiguous dot product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagGmm {
    pub dim: usize,
    pub weights: Vec<f32>,
    pub means: Vec<Vec<f32>>,
    pub vars: Vec<Vec<f32>>,
    #[serde(skip)]
    cache: Vec<f32>,
    #[serde(skip)]
    gconst: Vec<f32>,
}

/// `[x, x^2]`, the form [`DiagGmm::log_likelihood_ext`] takes.
pub fn extend(x: &[f32]) -> Vec<f32> {
    let mut v = Vec::with_capacity(2 * x.len());
    v.extend_from_slice(x);
    v.extend(x.iter().map(|a| a * a));
    v
}

impl DiagGmm {
    /// One component with the given mean and variance.
    pub fn single(mean: Vec<f32>, var: Vec<f32>) -> Self {
        let mut g = DiagGmm {
            dim: mean.len(),
            weights: vec![1.0],
            means: vec![mean],
            vars: vec![var],
            cache: vec![],
            gconst: vec![],
        };
        g.prepare();
        g
    }
    pub fn num_components(&self) -> usize {
        self.weights.len()
    }
    /// Recompute the evaluation cache (after loading or changing parameters).
    pub fn prepare(&mut self) {
        let d = self.dim;
        self.cache = vec![0.0; self.weights.len() * 2 * d];
        self.gconst = vec![0.0; self.weights.len()];
        for k in 0..self.weights.len() {
            let mut g = self.weights[k].max(1e-20).ln() - 0.5 * d as f32 * LOG_2PI;
            let row = &mut self.cache[k * 2 * d..(k + 1) * 2 * d];
            for j in 0..d {
                let iv = 1.0 / self.vars[k][j];
                row[j] = self.means[k][j] * iv;
                row[d + j] = -0.5 * iv;
                g -= 0.5 * (self.vars[k][j].ln() + self.means[k][j] * self.means[k][j] * iv);
            }
            self.gconst[k] = g;
        }
    }
    fn ensure(&self) {
        debug_assert!(
            self.gconst.len() == self.weights.len(),
            "DiagGmm::prepare not called"
        );
    }
    /// Per-component log (weight * density) for an extended frame `[x, x^2]`.
    pub fn component_lls(&self, xe: &[f32], out: &mut Vec<f32>) {
        self.ensure();
        let d2 = 2 * self.dim;
        out.clear();
        for k in 0..self.gconst.len() {
            let row = &self.cache[k * d2..(k + 1) * d2];
            let mut s = 0.0f32;
            for j in 0..d2 {
                s += row[j] * xe[j];
            }
            out.push(self.gconst[k] + s);
        }
    }
    /// log p(x) for an extended frame.
    pub fn log_likelihood_ext(&self, xe: &[f32]) -> f32 {
        self.ensure();
        let d2 = 2 * self.dim;
        let mut best = f32::NEG_INFINITY;
        let mut lls = [0f32; 64];
        let n = self.gconst.len();
        if n > 64 {
            let mut v = Vec::new();
            self.component_lls(xe, &mut v);
            return log_sum_exp(&v);
        }
        for k in 0..n {
            let row = &self.cache[k * d2..(k + 1) * d2];
            let mut s = 0.0f32;
            for j in 0..d2 {
                s += row[j] * xe[j];
            }
            lls[k] = self.gconst[k] + s;
            best = best.max(lls[k]);
        }
        if n == 1 {
            return lls[0];
        }
        let mut tot = 0.0f32;
        for &l in &lls[..n] {
            tot += (l - best).exp();
        }
        best + tot.ln()
    }
    pub fn log_likelihood(&self, x: &[f32]) -> f32 {
        self.log_likelihood_ext(&extend(x))
    }

    /// Split the heaviest components until there are `target` of them
    /// (means moved apart by `perturb` standard deviations).
    pub fn split(&mut self, target: usize, perturb: f32) {
        while self.weights.len() < target {
            let k = (0..self.weights.len())
                .max_by(|&a, &b| self.weights[a].total_cmp(&self.weights[b]))
                .unwrap();
            let w = self.weights[k] / 2.0;
            self.weights[k] = w;
            let sd: Vec<f32> = self.vars[k].iter().map(|v| v.sqrt()).collect();
            let mut m2 = self.means[k].clone();
            for j in 0..self.dim {
                m2[j] -= perturb * sd[j];
                self.means[k][j] += perturb * sd[j];
            }
            self.weights.push(w);
            self.means.push(m2);
            self.vars.push(self.vars[k].clone());
        }
        self.prepare();
    }
}

/// Sufficient statistics of one GMM: per-component occupancy, sum and sum of squares.
#[derive(Debug, Clone)]
pub struct GmmAcc {
    pub occ: Vec<f64>,
    pub sum: Vec<Vec<f64>>,
    pub sumsq: Vec<Vec<f64>>,
}

impl GmmAcc {
    pub fn new(k: usize, dim: usize) -> Self {
        GmmAcc {
            occ: vec![0.0; k],
            sum: vec![vec![0.0; dim]; k],
            sumsq: vec![vec![0.0; dim]; k],
        }
    }
    pub fn total(&self) -> f64 {
        self.occ.iter().sum()
    }
    /// Add frame `x` with weight `w`, spread over components by posterior.
    /// Returns `w * log p(x)`.
    pub fn add(&mut self, gmm: &DiagGmm, x: &[f32], w: f32, scratch: &mut Vec<f32>) -> f64 {
        let xe = extend(x);
        gmm.component_lls(&xe, scratch);
        let ll = log_sum_exp(scratch);
        for k in 0..scratch.len() {
            let p = ((scratch[k] - ll).exp() * w) as f64;
            if p < 1e-6 {
                continue;
            }
            self.occ[k] += p;
            for j in 0..x.len() {
                let v = x[j] as f64;
                self.sum[k][j] += p * v;
                self.sumsq[k][j] += p * v * v;
            }
        }
        (w * ll) as f64
    }
    pub fn merge(&mut self, o: &GmmAcc) {
        for k in 0..self.occ.len() {
            self.occ[k] += o.occ[k];
            for j in 0..self.sum[k].len() {
                self.sum[k][j] += o.sum[k][j];
                self.sumsq[k][j] += o.sumsq[k][j];
            }
        }
    }
    /// Re-estimate `gmm` (ML). Components with less than `min_count` frames are
    /// removed (at least one is kept); variances are floored at `var_floor` (per dimension).
    pub fn update(&self, gmm: &mut DiagGmm, var_floor: &[f32], min_count: f64) {
        let tot = self.total();
        if tot <= 0.0 {
            return;
        }
        let mut keep: Vec<usize> = (0..self.occ.len())
            .filter(|&k| self.occ[k] >= min_count)
            .collect();
        if keep.is_empty() {
            keep = vec![(0..self.occ.len())
                .max_by(|&a, &b| self.occ[a].total_cmp(&self.occ[b]))
                .unwrap()];
        }
        let ktot: f64 = keep.iter().map(|&k| self.occ[k]).sum();
        let (mut w, mut m, mut v) = (vec![], vec![], vec![]);
        for &k in &keep {
            let o = self.occ[k];
            if o <= 0.0 {
                w.push(gmm.weights[k]);
                m.push(gmm.means[k].clone());
                v.push(gmm.vars[k].clone());
                continue;
            }
            w.push((o / ktot) as f32);
            let mean: Vec<f64> = self.sum[k].iter().map(|s| s / o).collect();
            let var: Vec<f32> = (0..gmm.dim)
                .map(|j| ((self.sumsq[k][j] / o - mean[j] * mean[j]) as f32).max(var_floor[j]))
                .collect();
            m.push(mean.iter().map(|&x| x as f32).collect());
            v.push(var);
        }
        gmm.weights = w;
        gmm.means = m;
        gmm.vars = v;
        gmm.prepare();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn data(n: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let c = [(-3.0f32, 1.0f32), (2.0, 0.5), (6.0, 2.0)][i % 3];
                (0..2)
                    .map(|_| {
                        c.0 + c.1 * (r.gen::<f32>() + r.gen::<f32>() + r.gen::<f32>() - 1.5) * 2.0
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn em_log_likelihood_rises() {
        let xs = data(900, 1);
        let mut acc = GmmAcc::new(1, 2);
        let mut g = DiagGmm::single(vec![0.0, 0.0], vec![1.0, 1.0]);
        let mut s = vec![];
        for x in &xs {
            acc.add(&g, x, 1.0, &mut s);
        }
        acc.update(&mut g, &[1e-3, 1e-3], 1.0);
        g.split(3, 0.2);
        let mut prev = f64::NEG_INFINITY;
        let mut lls = vec![];
        for _ in 0..8 {
            let mut acc = GmmAcc::new(g.num_components(), 2);
            let ll: f64 =
                xs.iter().map(|x| acc.add(&g, x, 1.0, &mut s)).sum::<f64>() / xs.len() as f64;
            assert!(ll.is_finite());
            assert!(
                ll >= prev - 1e-4,
                "EM log-likelihood fell: {lls:?} then {ll}"
            );
            lls.push(ll);
            prev = ll;
            acc.update(&mut g, &[1e-3, 1e-3], 1.0);
        }
        assert!(
            lls.last().unwrap() - lls[0] > 0.05,
            "no real improvement: {lls:?}"
        );
        // A point near a centre scores higher than one far from all.
        assert!(g.log_likelihood(&[2.0, 2.0]) > g.log_likelihood(&[20.0, -20.0]));
    }

    #[test]
    fn constant_data_is_floored_not_nan() {
        let mut acc = GmmAcc::new(1, 2);
        let mut g = DiagGmm::single(vec![0.0, 0.0], vec![1.0, 1.0]);
        let mut s = vec![];
        for _ in 0..10 {
            acc.add(&g, &[1.0, 1.0], 1.0, &mut s);
        }
        acc.update(&mut g, &[0.01, 0.01], 1.0);
        assert_eq!(g.vars[0], vec![0.01, 0.01]);
        assert!(g.log_likelihood(&[1.0, 1.0]).is_finite());
    }
}
