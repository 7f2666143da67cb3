//! Cepstral mean (and variance) normalisation, as Kaldi's `compute-cmvn-stats`
//! and `apply-cmvn`: statistics accumulated in f64, variances floored at 1e-20.
//! Per utterance: [`apply_cmvn`]. Per speaker: accumulate every utterance of
//! the speaker into one [`CmvnStats`], then apply it to each.
use crate::matrix::Matrix;

/// Kaldi's `apply-cmvn` variance floor.
const VAR_FLOOR: f64 = 1e-20;

/// Sufficient statistics: frame count, per-dimension sum and sum of squares.
#[derive(Debug, Clone, PartialEq)]
pub struct CmvnStats {
    pub count: f64,
    pub sum: Vec<f64>,
    pub sum_sq: Vec<f64>,
}

impl CmvnStats {
    pub fn new(dim: usize) -> Self {
        CmvnStats {
            count: 0.0,
            sum: vec![0.0; dim],
            sum_sq: vec![0.0; dim],
        }
    }

    pub fn dim(&self) -> usize {
        self.sum.len()
    }

    /// Add every frame of `m` (which must have `dim` columns).
    pub fn accumulate(&mut self, m: &Matrix) {
        assert_eq!(
            m.cols,
            self.dim(),
            "CmvnStats::accumulate: matrix has {} columns, stats {}",
            m.cols,
            self.dim()
        );
        for row in m.iter_rows() {
            for ((s, q), &x) in self.sum.iter_mut().zip(self.sum_sq.iter_mut()).zip(row) {
                let x = x as f64;
                *s += x;
                *q += x * x;
            }
        }
        self.count += m.rows as f64;
    }

    /// Subtract the mean (and divide by the standard deviation if `norm_vars`)
    /// of the accumulated statistics. No-op if nothing was accumulated.
    pub fn apply(&self, m: &mut Matrix, norm_vars: bool) {
        assert_eq!(
            m.cols,
            self.dim(),
            "CmvnStats::apply: matrix has {} columns, stats {}",
            m.cols,
            self.dim()
        );
        if self.count <= 0.0 {
            return;
        }
        let (offset, scale): (Vec<f32>, Vec<f32>) = (0..self.dim())
            .map(|d| {
                let mean = self.sum[d] / self.count;
                if norm_vars {
                    let var = (self.sum_sq[d] / self.count - mean * mean).max(VAR_FLOOR);
                    let scale = 1.0 / var.sqrt();
                    ((-mean * scale) as f32, scale as f32)
                } else {
                    ((-mean) as f32, 1.0)
                }
            })
            .unzip();
        let cols = m.cols.max(1);
        for row in m.data.chunks_exact_mut(cols) {
            for ((x, o), s) in row.iter_mut().zip(&offset).zip(&scale) {
                *x = *x * s + o;
            }
        }
    }
}

/// Per-utterance CMVN: normalise `m` by its own statistics.
pub fn apply_cmvn(m: &mut Matrix, norm_vars: bool) {
    let mut s = CmvnStats::new(m.cols);
    s.accumulate(m);
    s.apply(m, norm_vars);
}

/// Per-speaker CMVN in one call: pool the statistics of all `utts` (one
/// speaker's utterances) and normalise each by them.
pub fn apply_cmvn_pooled(utts: &mut [Matrix], norm_vars: bool) {
    let Some(dim) = utts.first().map(|m| m.cols) else {
        return;
    };
    let mut s = CmvnStats::new(dim);
    utts.iter().for_each(|m| s.accumulate(m));
    utts.iter_mut().for_each(|m| s.apply(m, norm_vars));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Matrix {
        Matrix::from_vec(4, 2, vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 6.0, 60.0])
    }

    fn col_stats(m: &Matrix, c: usize) -> (f64, f64) {
        let v: Vec<f64> = m.iter_rows().map(|r| r[c] as f64).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (
            mean,
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64,
        )
    }

    #[test]
    fn utterance_cmvn_zero_mean_unit_var() {
        let mut m = sample();
        apply_cmvn(&mut m, false);
        assert_eq!(m.row(0), &[-2.0, -20.0]);
        for c in 0..2 {
            assert!(col_stats(&m, c).0.abs() < 1e-6);
        }
        let mut m = sample();
        apply_cmvn(&mut m, true);
        for c in 0..2 {
            let (mean, var) = col_stats(&m, c);
            assert!(
                mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5,
                "col {c}: {mean} {var}"
            );
        }
    }

    #[test]
    fn speaker_stats_pool_utterances() {
        let a = Matrix::from_vec(2, 1, vec![0.0, 2.0]);
        let b = Matrix::from_vec(2, 1, vec![4.0, 6.0]);
        let mut s = CmvnStats::new(1);
        s.accumulate(&a);
        s.accumulate(&b);
        assert_eq!(s.count, 4.0);
        let mut a2 = a.clone();
        s.apply(&mut a2, false);
        assert_eq!(a2.data, vec![-3.0, -1.0]); // speaker mean 3, not the utterance's 1
        let mut b2 = b.clone();
        s.apply(&mut b2, true);
        // speaker var = (9+1+1+9)/4 = 5
        assert!((b2.data[0] - 1.0 / 5f32.sqrt()).abs() < 1e-6);
        let mut both = vec![a, b];
        apply_cmvn_pooled(&mut both, false);
        assert_eq!(both[0].data, a2.data);
        assert_eq!(both[1].data, vec![1.0, 3.0]);
    }

    #[test]
    fn constant_dimension_does_not_blow_up() {
        let mut m = Matrix::from_vec(3, 1, vec![7.0; 3]);
        apply_cmvn(&mut m, true);
        assert!(m.is_finite() && m.data.iter().all(|x| *x == 0.0));
    }
}
