//! Feature-space transforms of Kaldi's tri2b / tri3b recipes, and the
//! estimators that fit them from alignment statistics:
//!
//! - [`splice`]: stack neighbouring frames (Kaldi `splice-feats`);
//! - [`AffineTransform`]: `y = A x + b` in Kaldi's matrix convention
//!   (`transform-feats`, `compose-transforms`);
//! - [`LdaAccs`]: linear discriminant analysis over pdf classes
//!   (`acc-lda`, `est-lda`);
//! - [`MlltAccs`]: maximum-likelihood linear transform / semi-tied covariance
//!   (`gmm-acc-mllt`, `est-mllt`);
//! - [`FmllrAccs`]: per-speaker constrained MLLR (`gmm-est-fmllr`).
//!
//! Statistics are accumulated in `f64`; transforms are stored in `f32`, the
//! precision the features themselves have. The heavy accumulations (scatter
//! matrices over hundreds of thousands of frames) buffer frames and fold them
//! in blocks with matrix products, which run many times faster than per-frame
//! rank-one updates.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// Frames buffered by [`LdaAccs`] and [`FmllrAccs`] before they are folded
/// into the scatter matrices. Large enough for the matrix products to run at
/// full speed, small enough that one buffer stays about 1 MB at dimension 40
/// (per-speaker fMLLR accumulators may be held for many speakers at once).
const BLOCK_FRAMES: usize = 1024;

/// Splice +-context frames around each frame (edge frames repeated), as Kaldi's splice-feats: output dim = cols*(2*context+1), order [t-context, ..., t, ..., t+context].
pub fn splice(feats: &Matrix, context: usize) -> Matrix {
    let (rows, cols) = (feats.rows, feats.cols);
    let width = 2 * context + 1;
    let mut out = Matrix::zeros(rows, cols * width);
    if rows == 0 {
        return out;
    }
    for t in 0..rows {
        let dst = out.row_mut(t);
        for j in 0..width {
            // Frame t + j - context, clamped to the utterance as splice-feats does.
            let src = (t + j).saturating_sub(context).min(rows - 1);
            dst[j * cols..(j + 1) * cols].copy_from_slice(feats.row(src));
        }
    }
    out
}

/// An affine feature transform y = A x + b in Kaldi's convention: out_dim rows, in_dim+1 columns, the last column the offset b (zero for LDA and MLLT).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AffineTransform {
    pub out_dim: usize,
    pub in_dim: usize,
    /// row-major out_dim x (in_dim+1)
    pub data: Vec<f32>,
}

impl AffineTransform {
    /// The identity on `dim` dimensions (zero offset).
    pub fn identity(dim: usize) -> Self {
        let mut data = vec![0.0; dim * (dim + 1)];
        for i in 0..dim {
            data[i * (dim + 1) + i] = 1.0;
        }
        AffineTransform {
            out_dim: dim,
            in_dim: dim,
            data,
        }
    }

    /// From a linear part (out_dim x in_dim, row-major) with zero offset.
    pub fn linear(out_dim: usize, in_dim: usize, a: &[f64]) -> Self {
        assert_eq!(
            a.len(),
            out_dim * in_dim,
            "AffineTransform::linear: {out_dim}x{in_dim} needs {} values, got {}",
            out_dim * in_dim,
            a.len()
        );
        let mut data = vec![0.0; out_dim * (in_dim + 1)];
        for r in 0..out_dim {
            for c in 0..in_dim {
                data[r * (in_dim + 1) + c] = a[r * in_dim + c] as f32;
            }
        }
        AffineTransform {
            out_dim,
            in_dim,
            data,
        }
    }

    /// From the full matrix `[A b]` (out_dim x (in_dim+1), row-major, f64),
    /// as Kaldi writes an affine transform.
    pub fn from_full(out_dim: usize, in_dim: usize, w: &[f64]) -> Self {
        assert_eq!(
            w.len(),
            out_dim * (in_dim + 1),
            "AffineTransform::from_full: {out_dim}x{} needs {} values, got {}",
            in_dim + 1,
            out_dim * (in_dim + 1),
            w.len()
        );
        AffineTransform {
            out_dim,
            in_dim,
            data: w.iter().map(|&v| v as f32).collect(),
        }
    }

    /// One frame: `out = A x + b` (accumulated in f64). Panics when `x` is
    /// not in_dim long or `out` not out_dim long.
    pub fn apply_row(&self, x: &[f32], out: &mut [f32]) {
        assert_eq!(
            x.len(),
            self.in_dim,
            "AffineTransform::apply_row: input has {} values, transform expects {}",
            x.len(),
            self.in_dim
        );
        assert_eq!(
            out.len(),
            self.out_dim,
            "AffineTransform::apply_row: output has {} slots, transform gives {}",
            out.len(),
            self.out_dim
        );
        let stride = self.in_dim + 1;
        for (r, o) in out.iter_mut().enumerate() {
            let row = &self.data[r * stride..(r + 1) * stride];
            let mut acc = row[self.in_dim] as f64;
            for (a, v) in row[..self.in_dim].iter().zip(x) {
                acc += *a as f64 * *v as f64;
            }
            *o = acc as f32;
        }
    }

    /// Every row of `feats` (cols must equal in_dim, else panic with a message).
    pub fn apply(&self, feats: &Matrix) -> Matrix {
        assert_eq!(
            feats.cols, self.in_dim,
            "AffineTransform::apply: features have {} columns, transform expects {}",
            feats.cols, self.in_dim
        );
        let n = feats.rows;
        if n == 0 || self.out_dim == 0 {
            return Matrix::zeros(n, self.out_dim);
        }
        // One f32 matrix product (as transform-feats does with BLAS): the
        // row-major frames are, read column-major, X^T (in_dim x n), and
        // A X^T (out_dim x n, column-major) is the row-major output.
        let xt = DMatrix::<f32>::from_column_slice(self.in_dim, n, &feats.data[..n * self.in_dim]);
        let stride = self.in_dim + 1;
        let a =
            DMatrix::<f32>::from_fn(self.out_dim, self.in_dim, |r, c| self.data[r * stride + c]);
        let yt = a * xt;
        let mut out = Matrix::from_vec(n, self.out_dim, yt.as_slice().to_vec());
        for t in 0..n {
            for (r, y) in out.row_mut(t).iter_mut().enumerate() {
                *y += self.data[r * stride + self.in_dim];
            }
        }
        out
    }

    /// `self` after `inner`: x -> self(inner(x)). inner.out_dim must equal self.in_dim.
    pub fn compose(&self, inner: &AffineTransform) -> AffineTransform {
        assert_eq!(
            inner.out_dim, self.in_dim,
            "AffineTransform::compose: inner transform gives {} dims, outer expects {}",
            inner.out_dim, self.in_dim
        );
        // [A1 b1] [A2 b2; 0 1] = [A1 A2, A1 b2 + b1] (compose-transforms).
        let outer = self.full_f64();
        let a1 = outer.columns(0, self.in_dim);
        let mut w = a1 * inner.full_f64();
        for r in 0..self.out_dim {
            w[(r, inner.in_dim)] += outer[(r, self.in_dim)];
        }
        from_dmatrix(&w)
    }

    /// The linear part A as f64 row-major (out_dim x in_dim).
    pub fn linear_part(&self) -> Vec<f64> {
        let stride = self.in_dim + 1;
        (0..self.out_dim)
            .flat_map(|r| self.data[r * stride..r * stride + self.in_dim].iter())
            .map(|&v| v as f64)
            .collect()
    }

    /// The offset b as f64 (out_dim).
    pub fn offset(&self) -> Vec<f64> {
        let stride = self.in_dim + 1;
        (0..self.out_dim)
            .map(|r| self.data[r * stride + self.in_dim] as f64)
            .collect()
    }

    /// `[A b]` as an f64 matrix (out_dim x (in_dim+1)).
    fn full_f64(&self) -> DMatrix<f64> {
        DMatrix::from_row_iterator(
            self.out_dim,
            self.in_dim + 1,
            self.data.iter().map(|&v| v as f64),
        )
    }
}

/// An [`AffineTransform`] from `[A b]` held as an f64 matrix.
fn from_dmatrix(w: &DMatrix<f64>) -> AffineTransform {
    let (out_dim, cols) = w.shape();
    let mut data = Vec::with_capacity(out_dim * cols);
    for r in 0..out_dim {
        data.extend(w.row(r).iter().map(|&v| v as f32));
    }
    AffineTransform {
        out_dim,
        in_dim: cols - 1,
        data,
    }
}

/// `0.5 (M + M^T)`: the products that build scatter matrices are symmetric
/// only up to rounding, and Cholesky / the symmetric eigensolver read one
/// triangle.
fn symmetrised(m: &DMatrix<f64>) -> DMatrix<f64> {
    (m + m.transpose()) * 0.5
}

/// Smallest squared Cholesky pivot, relative to its dimension's reference
/// scale, that still counts as positive definite. Statistics that are
/// singular in exact arithmetic (a constant or linearly dependent dimension,
/// fewer frames than dimensions) come out of the sums with pivots at rounding
/// level of the raw sums they were computed from, around 1e-16 of them;
/// Cholesky alone would accept those and the estimate would be noise.
const MIN_RELATIVE_PIVOT: f64 = 1e-10;

/// Cholesky factor of a symmetric positive-definite matrix, `None` when it
/// is not numerically positive definite: singular statistics. `reference[i]`
/// is the scale of the raw sums that dimension i's entries were computed
/// from (for a centred scatter, the uncentred second moment), so that the
/// test does not depend on the units of each dimension.
fn spd_cholesky(
    m: &DMatrix<f64>,
    reference: &[f64],
) -> Option<nalgebra::Cholesky<f64, nalgebra::Dyn>> {
    if !m.iter().all(|v| v.is_finite()) {
        return None;
    }
    let chol = symmetrised(m).cholesky()?;
    let l = chol.l_dirty();
    let ok = reference
        .iter()
        .enumerate()
        .all(|(i, &r)| r > 0.0 && l[(i, i)] * l[(i, i)] > MIN_RELATIVE_PIVOT * r);
    ok.then_some(chol)
}

/// Inverse of a symmetric positive-definite matrix, `None` when it is not
/// numerically positive definite (see [`spd_cholesky`]).
fn spd_inverse(m: &DMatrix<f64>, reference: &[f64]) -> Option<DMatrix<f64>> {
    spd_cholesky(m, reference).map(|c| c.inverse())
}

/// Entries in the upper triangle of an n x n matrix.
fn packed_len(n: usize) -> usize {
    n * (n + 1) / 2
}

/// `ln |det m|` (`-inf` for a singular matrix).
fn log_abs_det(m: &DMatrix<f64>) -> f64 {
    m.clone().lu().determinant().abs().ln()
}

/// `scatter += sum_t w_t x_t x_t^T` over `n` buffered frames (`xs` frame-major,
/// `n x dim`), as one matrix product `X^T (diag(w) X)`.
fn fold_scatter(scatter: &mut DMatrix<f64>, xs: &[f64], ws: &[f64], dim: usize) {
    let n = ws.len();
    if n == 0 || dim == 0 {
        return;
    }
    // Read column-major, the frame-major buffer is X^T (dim x n).
    let xt = DMatrix::from_column_slice(dim, n, &xs[..n * dim]);
    let wx = DMatrix::from_fn(n, dim, |t, j| xs[t * dim + j] * ws[t]);
    scatter.gemm(1.0, &xt, &wx, 1.0);
}

/// Class statistics for LDA (Kaldi acc-lda / est-lda), classes = pdf ids.
#[derive(Debug, Clone)]
pub struct LdaAccs {
    dim: usize,
    num_classes: usize,
    /// Total weight per class.
    counts: Vec<f64>,
    /// Weighted sum of x per class, num_classes x dim row-major.
    sums: Vec<f64>,
    /// Weighted total scatter sum w x x^T of the frames already folded.
    scatter: DMatrix<f64>,
    /// Frames not yet folded into `scatter` (frame-major) and their weights.
    buf_x: Vec<f64>,
    buf_w: Vec<f64>,
}

impl LdaAccs {
    /// Empty statistics for `dim`-dimensional frames of `num_classes` classes.
    pub fn new(dim: usize, num_classes: usize) -> Self {
        LdaAccs {
            dim,
            num_classes,
            counts: vec![0.0; num_classes],
            sums: vec![0.0; num_classes * dim],
            scatter: DMatrix::zeros(dim, dim),
            buf_x: Vec::new(),
            buf_w: Vec::new(),
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Total weight accumulated over all classes.
    pub fn total_count(&self) -> f64 {
        self.counts.iter().sum()
    }

    pub fn add(&mut self, class: usize, x: &[f32], weight: f64) {
        assert!(
            class < self.num_classes,
            "LdaAccs::add: class {class} out of range ({} classes)",
            self.num_classes
        );
        assert_eq!(
            x.len(),
            self.dim,
            "LdaAccs::add: frame has {} values, accumulator expects {}",
            x.len(),
            self.dim
        );
        if weight == 0.0 {
            return;
        }
        self.counts[class] += weight;
        let sum = &mut self.sums[class * self.dim..(class + 1) * self.dim];
        for (s, &v) in sum.iter_mut().zip(x) {
            *s += weight * v as f64;
        }
        self.buf_x.extend(x.iter().map(|&v| v as f64));
        self.buf_w.push(weight);
        if self.buf_w.len() >= BLOCK_FRAMES {
            self.flush();
        }
    }

    /// Merge another accumulator (for parallel accumulation with rayon).
    pub fn merge(&mut self, other: &LdaAccs) {
        assert_eq!(
            (self.dim, self.num_classes),
            (other.dim, other.num_classes),
            "LdaAccs::merge: shapes (dim, classes) differ"
        );
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        self.scatter += &other.scatter;
        self.buf_x.extend_from_slice(&other.buf_x);
        self.buf_w.extend_from_slice(&other.buf_w);
        if self.buf_w.len() >= BLOCK_FRAMES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        fold_scatter(&mut self.scatter, &self.buf_x, &self.buf_w, self.dim);
        self.buf_x.clear();
        self.buf_w.clear();
    }

    /// The total scatter including frames still buffered.
    fn total_scatter(&self) -> DMatrix<f64> {
        let mut s = self.scatter.clone();
        fold_scatter(&mut s, &self.buf_x, &self.buf_w, self.dim);
        symmetrised(&s)
    }

    /// The within-class (W) and between-class (B) covariances, both
    /// normalised by the total count, as est-lda's GetStats computes them,
    /// and the diagonal of the uncentred second moment (W's rounding scale).
    fn covariances(&self) -> Result<(DMatrix<f64>, DMatrix<f64>, Vec<f64>)> {
        let dim = self.dim;
        let total: f64 = self.total_count();
        if total.is_nan() || total <= 0.0 {
            return Err(Error::Invalid(format!(
                "LDA: no statistics (total count {total})"
            )));
        }
        let used: Vec<usize> = (0..self.num_classes)
            .filter(|&c| self.counts[c] > 0.0)
            .collect();
        // Columns s_c / sqrt(n_c): M M^T = sum_c n_c mu_c mu_c^T.
        let m = DMatrix::from_fn(dim, used.len(), |j, k| {
            let c = used[k];
            self.sums[c * dim + j] / self.counts[c].sqrt()
        });
        let class_part = &m * m.transpose();
        let mut mean = DVector::<f64>::zeros(dim);
        for c in &used {
            for j in 0..dim {
                mean[j] += self.sums[c * dim + j];
            }
        }
        mean /= total;
        let scatter = self.total_scatter();
        let raw = scatter.diagonal().iter().map(|&v| v / total).collect();
        let within = symmetrised(&((scatter - &class_part) / total));
        let between = symmetrised(&(class_part / total - &mean * mean.transpose()));
        Ok((within, between, raw))
    }

    /// The LDA projection to out_dim dimensions: within-class covariance W and between-class B (of class means, weighted by counts);
    /// solve B v = lambda W v via Cholesky W = L L^T and the eigendecomposition of L^-1 B L^-T; rows = top out_dim eigenvectors mapped back (U^T L^-1),
    /// so that the projected within-class covariance is the identity (as est-lda does). Returns the transform (zero offset) and the eigenvalues, descending.
    ///
    /// All `dim` eigenvalues are returned (est-lda logs them all), the first
    /// `out_dim` belonging to the kept rows. Each row's sign is fixed so that
    /// its largest-magnitude entry is positive, for reproducible transforms.
    pub fn estimate(&self, out_dim: usize) -> Result<(AffineTransform, Vec<f64>)> {
        let dim = self.dim;
        if out_dim == 0 || out_dim > dim {
            return Err(Error::Invalid(format!(
                "LDA: output dimension {out_dim} must be in 1..={dim}"
            )));
        }
        let (within, between, raw) = self.covariances()?;
        let chol = spd_cholesky(&within, &raw).ok_or_else(|| {
            Error::Invalid(format!(
                "LDA: within-class covariance ({dim}x{dim}) is singular (not positive definite); \
                 are some feature dimensions constant or linearly dependent?"
            ))
        })?;
        let l_inv = chol
            .l()
            .solve_lower_triangular(&DMatrix::identity(dim, dim))
            .ok_or_else(|| {
                Error::Invalid(
                    "LDA: Cholesky factor of the within-class covariance is singular".into(),
                )
            })?;
        let m = symmetrised(&(&l_inv * between * l_inv.transpose()));
        let eig = SymmetricEigen::new(m);
        let mut order: Vec<usize> = (0..dim).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let mut rows = Vec::with_capacity(out_dim * dim);
        for &k in &order[..out_dim] {
            // Row u^T L^-1, i.e. (L^-T u)^T.
            let mut r = l_inv.tr_mul(&eig.eigenvectors.column(k));
            let big = r
                .iter()
                .fold(0.0f64, |m, &v| if v.abs() > m.abs() { v } else { m });
            if big < 0.0 {
                r.neg_mut();
            }
            rows.extend(r.iter());
        }
        let values = order.iter().map(|&k| eig.eigenvalues[k]).collect();
        Ok((AffineTransform::linear(out_dim, dim, &rows), values))
    }
}

/// MLLT / semi-tied covariance statistics (Kaldi MlltAccs, Gales 1999): beta = total count and, for each dimension i, G_i = sum over Gaussians m of (1/var_{m,i}) * sum_t gamma_m(t) (x_t - mu_m)(x_t - mu_m)^T.
#[derive(Debug, Clone)]
pub struct MlltAccs {
    dim: usize,
    beta: f64,
    /// G_0 .. G_{dim-1}, each dim x dim row-major, concatenated.
    g: Vec<f64>,
    /// For each i, the diagonal of sum_m (1/var_{m,i}) sum_t gamma x x^T
    /// (dim x dim row-major): the uncentred sums the diagonal of G_i was
    /// computed from, the scale its rounding error is relative to.
    raw_diag: Vec<f64>,
}

impl MlltAccs {
    pub fn new(dim: usize) -> Self {
        MlltAccs {
            dim,
            beta: 0.0,
            g: vec![0.0; dim * dim * dim],
            raw_diag: vec![0.0; dim * dim],
        }
    }

    /// Total count beta.
    pub fn count(&self) -> f64 {
        self.beta
    }

    /// One Gaussian's full statistics: count n, sum of x (dim), sum of x x^T (dim*dim row-major), and the Gaussian's model mean and diagonal variance.
    /// (The caller accumulates per-Gaussian full statistics itself; this folds them into the G_i.)
    pub fn add_gaussian(&mut self, n: f64, sum: &[f64], sum_sq: &[f64], mean: &[f32], var: &[f32]) {
        let dim = self.dim;
        assert!(
            sum.len() == dim && sum_sq.len() == dim * dim && mean.len() == dim && var.len() == dim,
            "MlltAccs::add_gaussian: expected sum {dim}, sum_sq {}, mean {dim}, var {dim}; \
             got {}, {}, {}, {}",
            dim * dim,
            sum.len(),
            sum_sq.len(),
            mean.len(),
            var.len()
        );
        assert!(
            var.iter().all(|&v| v > 0.0),
            "MlltAccs::add_gaussian: variances must be positive"
        );
        if n == 0.0 {
            return;
        }
        self.beta += n;
        // Scatter about the model mean:
        // sum gamma (x - mu)(x - mu)^T = S2 - s mu^T - mu s^T + n mu mu^T.
        let mu: Vec<f64> = mean.iter().map(|&v| v as f64).collect();
        let mut s = vec![0.0; dim * dim];
        for j in 0..dim {
            for k in 0..dim {
                s[j * dim + k] =
                    sum_sq[j * dim + k] - sum[j] * mu[k] - mu[j] * sum[k] + n * mu[j] * mu[k];
            }
        }
        for (i, &v) in var.iter().enumerate() {
            let inv = 1.0 / v as f64;
            for (g, &sv) in self.g[i * dim * dim..(i + 1) * dim * dim]
                .iter_mut()
                .zip(&s)
            {
                *g += inv * sv;
            }
            for j in 0..dim {
                self.raw_diag[i * dim + j] += inv * sum_sq[j * dim + j];
            }
        }
    }

    pub fn merge(&mut self, other: &MlltAccs) {
        assert_eq!(self.dim, other.dim, "MlltAccs::merge: dimensions differ");
        self.beta += other.beta;
        for (a, b) in self.g.iter_mut().zip(&other.g) {
            *a += b;
        }
        for (a, b) in self.raw_diag.iter_mut().zip(&other.raw_diag) {
            *a += b;
        }
    }

    fn g_matrix(&self, i: usize) -> DMatrix<f64> {
        let d2 = self.dim * self.dim;
        symmetrised(&DMatrix::from_row_slice(
            self.dim,
            self.dim,
            &self.g[i * d2..(i + 1) * d2],
        ))
    }

    /// beta log|det T| - 0.5 sum_i t_i G_i t_i^T.
    fn aux(&self, t: &DMatrix<f64>, gs: &[DMatrix<f64>]) -> f64 {
        let quad: f64 = gs
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let row = t.row(i).transpose();
                row.dot(&(g * &row))
            })
            .sum();
        self.beta * log_abs_det(t) - 0.5 * quad
    }

    /// Estimate the square transform T (dim x dim) by Kaldi's row-by-row update (MlltAccs::Update: for each row i, a_i = c_i G_i^-1 sqrt(beta / (c_i G_i^-1 c_i^T)), c_i the cofactor row), starting from identity, `iters` sweeps (Kaldi default 10).
    /// Returns the transform and the auxiliary function beta*log|det T| - 0.5*sum_i t_i G_i t_i^T after every sweep (index 0 = before the first sweep), so callers can log it and tests can assert it never decreases.
    pub fn update(&self, iters: usize) -> Result<(AffineTransform, Vec<f64>)> {
        let dim = self.dim;
        if self.beta.is_nan() || self.beta <= 0.0 {
            return Err(Error::Invalid(format!(
                "MLLT: no statistics (total count {})",
                self.beta
            )));
        }
        let gs: Vec<DMatrix<f64>> = (0..dim).map(|i| self.g_matrix(i)).collect();
        let g_inv = gs
            .iter()
            .enumerate()
            .map(|(i, g)| {
                spd_inverse(g, &self.raw_diag[i * dim..(i + 1) * dim]).ok_or_else(|| {
                    Error::Invalid(format!(
                        "MLLT: statistics G_{i} ({dim}x{dim}) are singular (not positive definite)"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut t = DMatrix::<f64>::identity(dim, dim);
        let mut aux = vec![self.aux(&t, &gs)];
        for _ in 0..iters {
            for (i, gi_inv) in g_inv.iter().enumerate() {
                // The cofactor row c_i is det(T) times column i of T^-1; the
                // update is invariant to its scale, so the column suffices.
                let t_inv = t
                    .clone()
                    .try_inverse()
                    .ok_or_else(|| Error::Invalid("MLLT: the transform became singular".into()))?;
                let c = t_inv.column(i).into_owned();
                let gc = gi_inv * &c;
                let denom = c.dot(&gc);
                if denom.is_nan() || denom <= 0.0 {
                    return Err(Error::Invalid(format!(
                        "MLLT: c G_{i}^-1 c^T = {denom} is not positive"
                    )));
                }
                let row = gc * (self.beta / denom).sqrt();
                t.set_row(i, &row.transpose());
            }
            aux.push(self.aux(&t, &gs));
        }
        let rows: Vec<f64> = (0..dim)
            .flat_map(|r| t.row(r).iter().copied().collect::<Vec<_>>())
            .collect();
        Ok((AffineTransform::linear(dim, dim, &rows), aux))
    }
}

/// fMLLR (CMLLR) statistics for one speaker (Kaldi FmllrDiagGmmAccs): beta, K = sum_t sum_m gamma Sigma_m^-1 mu_m xi_t^T (dim x (dim+1)), G_i = sum_t (sum_m gamma_m(t)/var_{m,i}) xi_t xi_t^T ((dim+1)^2), xi = [x; 1].
#[derive(Debug, Clone)]
pub struct FmllrAccs {
    dim: usize,
    beta: f64,
    /// K of the frames already folded, dim x (dim+1).
    k: DMatrix<f64>,
    /// Upper triangles of the G_i of the frames already folded: column i
    /// holds G_i's entries (j, l), j <= l, row by row ((dim+1)(dim+2)/2).
    g_packed: DMatrix<f64>,
    /// Buffered frames: xi = [x; 1] (dim+1 per frame), the per-dimension
    /// weights sum_m gamma/var_{m,i} (dim per frame) and the K row factors
    /// sum_m gamma mu_{m,i}/var_{m,i} (dim per frame).
    buf_xi: Vec<f64>,
    buf_w: Vec<f64>,
    buf_kv: Vec<f64>,
}

impl FmllrAccs {
    pub fn new(dim: usize) -> Self {
        FmllrAccs {
            dim,
            beta: 0.0,
            k: DMatrix::zeros(dim, dim + 1),
            g_packed: DMatrix::zeros(packed_len(dim + 1), dim),
            buf_xi: Vec::new(),
            buf_w: Vec::new(),
            buf_kv: Vec::new(),
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// One frame x (in the un-adapted space) with its posteriors over Gaussians: (mean, diag var, gamma).
    pub fn add_frame(&mut self, x: &[f32], gaussians: &[(&[f32], &[f32], f64)]) {
        let dim = self.dim;
        assert_eq!(
            x.len(),
            dim,
            "FmllrAccs::add_frame: frame has {} values, accumulator expects {dim}",
            x.len()
        );
        let start = self.buf_w.len();
        self.buf_w.resize(start + dim, 0.0);
        self.buf_kv.resize(start + dim, 0.0);
        let mut total = 0.0;
        for &(mean, var, gamma) in gaussians {
            assert!(
                mean.len() == dim && var.len() == dim,
                "FmllrAccs::add_frame: Gaussian mean/var have {}/{} values, expected {dim}",
                mean.len(),
                var.len()
            );
            if gamma == 0.0 {
                continue;
            }
            total += gamma;
            let w = &mut self.buf_w[start..];
            let kv = &mut self.buf_kv[start..];
            for i in 0..dim {
                assert!(
                    var[i] > 0.0,
                    "FmllrAccs::add_frame: variances must be positive"
                );
                let p = gamma / var[i] as f64;
                w[i] += p;
                kv[i] += p * mean[i] as f64;
            }
        }
        if total == 0.0 {
            self.buf_w.truncate(start);
            self.buf_kv.truncate(start);
            return;
        }
        self.beta += total;
        self.buf_xi.extend(x.iter().map(|&v| v as f64));
        self.buf_xi.push(1.0);
        if self.buffered() >= BLOCK_FRAMES {
            self.flush();
        }
    }

    pub fn merge(&mut self, other: &FmllrAccs) {
        assert_eq!(self.dim, other.dim, "FmllrAccs::merge: dimensions differ");
        self.beta += other.beta;
        self.k += &other.k;
        self.g_packed += &other.g_packed;
        self.buf_xi.extend_from_slice(&other.buf_xi);
        self.buf_w.extend_from_slice(&other.buf_w);
        self.buf_kv.extend_from_slice(&other.buf_kv);
        if self.buffered() >= BLOCK_FRAMES {
            self.flush();
        }
    }

    /// Total posterior weight beta.
    pub fn count(&self) -> f64 {
        self.beta
    }

    fn buffered(&self) -> usize {
        self.buf_xi.len() / (self.dim + 1)
    }

    fn flush(&mut self) {
        Self::fold(
            self.dim,
            &mut self.k,
            &mut self.g_packed,
            &self.buf_xi,
            &self.buf_w,
            &self.buf_kv,
        );
        self.buf_xi.clear();
        self.buf_w.clear();
        self.buf_kv.clear();
    }

    /// K += KV^T Xi and G_i += Xi^T diag(w_i) Xi for the buffered frames.
    ///
    /// The G_i are symmetric, so only their upper triangles are formed, all
    /// dimensions at once: with Z the n x P matrix of products
    /// xi_j xi_l (j <= l, P = (dim+1)(dim+2)/2) per frame, and W the n x dim
    /// per-dimension weights, packed G = Z^T W is a single matrix product,
    /// half the multiply-adds of dim separate (dim+1)^2 products.
    fn fold(
        dim: usize,
        k: &mut DMatrix<f64>,
        g_packed: &mut DMatrix<f64>,
        xi: &[f64],
        w: &[f64],
        kv: &[f64],
    ) {
        let d1 = dim + 1;
        let n = xi.len() / d1;
        if n == 0 {
            return;
        }
        // Read column-major, the frame-major KV buffer is KV^T (dim x n).
        let xi_rows = DMatrix::from_row_slice(n, d1, xi);
        let kv_t = DMatrix::from_column_slice(dim, n, kv);
        k.gemm(1.0, &kv_t, &xi_rows, 1.0);
        let p = packed_len(d1);
        let mut z = Vec::with_capacity(p * n);
        for frame in xi.chunks_exact(d1) {
            for j in 0..d1 {
                let xj = frame[j];
                z.extend(frame[j..].iter().map(|&xl| xj * xl));
            }
        }
        // Z^T (P x n, column-major: one frame's products per column).
        let z_t = DMatrix::from_vec(p, n, z);
        let weights = DMatrix::from_row_slice(n, dim, w);
        g_packed.gemm(1.0, &z_t, &weights, 1.0);
    }

    /// K and the G_i including the buffered frames.
    fn folded(&self) -> (DMatrix<f64>, Vec<DMatrix<f64>>) {
        let d1 = self.dim + 1;
        let mut k = self.k.clone();
        let mut packed = self.g_packed.clone();
        Self::fold(
            self.dim,
            &mut k,
            &mut packed,
            &self.buf_xi,
            &self.buf_w,
            &self.buf_kv,
        );
        let g = (0..self.dim)
            .map(|i| {
                let mut gi = DMatrix::zeros(d1, d1);
                let mut idx = 0;
                for j in 0..d1 {
                    for l in j..d1 {
                        gi[(j, l)] = packed[(idx, i)];
                        gi[(l, j)] = packed[(idx, i)];
                        idx += 1;
                    }
                }
                gi
            })
            .collect();
        (k, g)
    }

    /// beta log|det A| + sum_i (w_i k_i^T - 0.5 w_i G_i w_i^T).
    fn aux(&self, w: &DMatrix<f64>, k: &DMatrix<f64>, gs: &[DMatrix<f64>]) -> f64 {
        let a = w.columns(0, self.dim).into_owned();
        let mut total = self.beta * log_abs_det(&a);
        for (i, g) in gs.iter().enumerate() {
            let wi = w.row(i).transpose();
            total += wi.dot(&k.row(i).transpose()) - 0.5 * wi.dot(&(g * &wi));
        }
        total
    }

    /// Estimate W = [A b] (dim x (dim+1)) by the row-by-row update of Kaldi's ComputeFmllrMatrixDiagGmmFull (Gales 1998: for row i, cofactor row p_i of the current A extended with 0, solve the quadratic for alpha, w_i = (alpha p_i + k_i) G_i^-1), `iters` sweeps (Kaldi default 40 would be fine; take it as a parameter), starting from `init` (usually identity).
    /// When count() < min_count return the identity and an empty aux vector (Kaldi's --fmllr-min-count behaviour).
    /// Returns the transform and the auxiliary function beta*log|det A| + sum_i (w_i k_i^T - 0.5 w_i G_i w_i^T) after every sweep (index 0 = at init).
    pub fn estimate(
        &self,
        init: &AffineTransform,
        iters: usize,
        min_count: f64,
    ) -> Result<(AffineTransform, Vec<f64>)> {
        let dim = self.dim;
        if self.beta < min_count {
            return Ok((AffineTransform::identity(dim), Vec::new()));
        }
        if init.out_dim != dim || init.in_dim != dim {
            return Err(Error::Invalid(format!(
                "fMLLR: initial transform is {}x{}, statistics are for dimension {dim}",
                init.out_dim,
                init.in_dim + 1
            )));
        }
        if self.beta.is_nan() || self.beta <= 0.0 {
            return Err(Error::Invalid(format!(
                "fMLLR: no statistics (count {})",
                self.beta
            )));
        }
        let (k, gs) = self.folded();
        let g_inv = gs
            .iter()
            .enumerate()
            .map(|(i, g)| {
                // Uncentred sums: each diagonal is its own rounding scale.
                let own: Vec<f64> = g.diagonal().iter().copied().collect();
                spd_inverse(g, &own).ok_or_else(|| {
                    Error::Invalid(format!(
                        "fMLLR: statistics G_{i} ({0}x{0}) are singular (not positive definite); \
                         too few frames (count {1})?",
                        dim + 1,
                        self.beta
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let beta = self.beta;
        let mut w = init.full_f64();
        let mut aux = vec![self.aux(&w, &k, &gs)];
        for _ in 0..iters {
            for (i, gi_inv) in g_inv.iter().enumerate() {
                // Cofactor row of A, extended with 0 for the offset; its
                // scale cancels in alpha p, so column i of A^-1 serves.
                let a_inv = w
                    .columns(0, dim)
                    .into_owned()
                    .try_inverse()
                    .ok_or_else(|| Error::Invalid("fMLLR: the transform became singular".into()))?;
                let mut p = DVector::<f64>::zeros(dim + 1);
                p.rows_mut(0, dim).copy_from(&a_inv.column(i));
                let ki = k.row(i).transpose();
                let gp = gi_inv * &p;
                let e1 = p.dot(&gp);
                let e2 = ki.dot(&gp);
                if e1.is_nan() || e1 <= 0.0 {
                    return Err(Error::Invalid(format!(
                        "fMLLR: p G_{i}^-1 p^T = {e1} is not positive"
                    )));
                }
                // Stationary point: alpha (alpha e1 + e2) = beta; of the two
                // roots take the one with the larger auxiliary function
                // beta log|alpha e1 + e2| - 0.5 alpha^2 e1.
                let discr = (e2 * e2 + 4.0 * e1 * beta).sqrt();
                let f = |alpha: f64| beta * (alpha * e1 + e2).abs().ln() - 0.5 * alpha * alpha * e1;
                let alpha1 = (-e2 + discr) / (2.0 * e1);
                let alpha2 = (-e2 - discr) / (2.0 * e1);
                let alpha = if f(alpha1) >= f(alpha2) {
                    alpha1
                } else {
                    alpha2
                };
                let row = gi_inv * (p * alpha + ki);
                w.set_row(i, &row.transpose());
            }
            aux.push(self.aux(&w, &k, &gs));
        }
        Ok((from_dmatrix(&w), aux))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A standard normal draw (Box-Muller).
    fn randn(rng: &mut ChaCha8Rng) -> f64 {
        let u1: f64 = 1.0 - rng.gen::<f64>();
        let u2: f64 = rng.gen();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    fn random_matrix(rng: &mut ChaCha8Rng, r: usize, c: usize) -> DMatrix<f64> {
        DMatrix::from_fn(r, c, |_, _| randn(rng))
    }

    /// Normalised off-diagonal mass of a covariance: sum_{i != j} rho_ij^2.
    fn off_diagonal_mass(c: &DMatrix<f64>) -> f64 {
        let n = c.nrows();
        let mut m = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    m += c[(i, j)].powi(2) / (c[(i, i)] * c[(j, j)]);
                }
            }
        }
        m
    }

    fn assert_non_decreasing(aux: &[f64], what: &str) {
        for (k, pair) in aux.windows(2).enumerate() {
            let tol = 1e-9 * pair[0].abs().max(1.0);
            assert!(
                pair[1] >= pair[0] - tol,
                "{what}: aux decreased at sweep {}: {} -> {}",
                k + 1,
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn splice_repeats_edge_frames() {
        let feats = Matrix::from_vec(5, 2, (0..10).map(|v| v as f32).collect());
        let s = splice(&feats, 1);
        assert_eq!((s.rows, s.cols), (5, 6));
        let expect: [[f32; 6]; 5] = [
            [0., 1., 0., 1., 2., 3.],
            [0., 1., 2., 3., 4., 5.],
            [2., 3., 4., 5., 6., 7.],
            [4., 5., 6., 7., 8., 9.],
            [6., 7., 8., 9., 8., 9.],
        ];
        for (t, row) in expect.iter().enumerate() {
            assert_eq!(s.row(t), row, "row {t}");
        }
        assert_eq!(splice(&feats, 0), feats);
        assert_eq!(splice(&Matrix::zeros(0, 3), 2).cols, 15);
    }

    #[test]
    fn lda_recovers_discriminating_direction() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let dim = 5;
        let v = DVector::from_vec(vec![1.0, 2.0, -1.0, 0.5, 3.0]).normalize();
        let scales = [0.5, 1.0, 2.0, 1.5, 3.0];
        let offsets = [-3.0, 0.5, 4.0];
        let per_class = 4000;
        let mut accs = LdaAccs::new(dim, 3);
        let mut samples = Vec::new();
        for (c, &a) in offsets.iter().enumerate() {
            for _ in 0..per_class {
                let x: Vec<f32> = (0..dim)
                    .map(|j| (a * v[j] + scales[j] * randn(&mut rng)) as f32)
                    .collect();
                accs.add(c, &x, 1.0);
                samples.push((c, x));
            }
        }
        let (lda, eig) = accs.estimate(2).unwrap();
        assert_eq!((lda.out_dim, lda.in_dim), (2, dim));
        assert!(lda.offset().iter().all(|&b| b == 0.0));
        // Analytic direction W^-1 v with the true W = diag(scales^2).
        let want = DVector::from_fn(dim, |j, _| v[j] / (scales[j] * scales[j])).normalize();
        let a = lda.linear_part();
        let row0 = DVector::from_row_slice(&a[..dim]).normalize();
        let cos = row0.dot(&want).abs();
        assert!(cos > 0.99, "first LDA row vs W^-1 v: |cos| = {cos}");
        assert_eq!(eig.len(), dim);
        assert!(
            eig.windows(2).all(|p| p[0] >= p[1]),
            "eigenvalues not descending: {eig:?}"
        );
        // Means lie on a line: B has rank one.
        assert!(
            eig[0] > 1.0 && eig[1] < 0.01 * eig[0],
            "eigenvalues {eig:?}"
        );

        // Projected pooled within-class covariance, computed from the samples.
        let feats = Matrix::from_vec(
            samples.len(),
            dim,
            samples
                .iter()
                .flat_map(|(_, x)| x.iter().copied())
                .collect(),
        );
        let y = lda.apply(&feats);
        let mut means = vec![[0.0f64; 2]; 3];
        for (t, (c, _)) in samples.iter().enumerate() {
            for j in 0..2 {
                means[*c][j] += y.row(t)[j] as f64 / per_class as f64;
            }
        }
        let mut wc = DMatrix::<f64>::zeros(2, 2);
        for (t, (c, _)) in samples.iter().enumerate() {
            let d: Vec<f64> = (0..2).map(|j| y.row(t)[j] as f64 - means[*c][j]).collect();
            for i in 0..2 {
                for j in 0..2 {
                    wc[(i, j)] += d[i] * d[j] / samples.len() as f64;
                }
            }
        }
        let err = (wc - DMatrix::<f64>::identity(2, 2)).abs().max();
        assert!(
            err < 1e-3,
            "projected within-class covariance off identity by {err}"
        );
    }

    #[test]
    fn lda_blocked_scatter_and_merge_match_direct_sums() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (dim, classes, frames) = (7, 4, 3000);
        let mut whole = LdaAccs::new(dim, classes);
        let mut first = LdaAccs::new(dim, classes);
        let mut second = LdaAccs::new(dim, classes);
        let mut direct = DMatrix::<f64>::zeros(dim, dim);
        for t in 0..frames {
            let c = rng.gen_range(0..classes);
            let x: Vec<f32> = (0..dim)
                .map(|j| (randn(&mut rng) + (c * j) as f64 * 0.3) as f32)
                .collect();
            let w = rng.gen_range(0.1..1.0);
            whole.add(c, &x, w);
            // 2000 frames (one folded block and a partial one) and 1000.
            (if t < 2000 { &mut first } else { &mut second }).add(c, &x, w);
            let xv = DVector::from_iterator(dim, x.iter().map(|&v| v as f64));
            direct += &xv * xv.transpose() * w;
        }
        let blocked = whole.total_scatter();
        let err = (&blocked - &direct).abs().max() / direct.abs().max();
        assert!(
            err < 1e-12,
            "blocked scatter differs from the direct sum by {err}"
        );
        first.merge(&second);
        // Four classes: B has rank 3, so only 3 directions are determined.
        let (a, ea) = whole.estimate(3).unwrap();
        let (b, eb) = first.estimate(3).unwrap();
        for (x, y) in a.data.iter().zip(&b.data) {
            assert!((x - y).abs() < 1e-4, "merged LDA differs: {x} vs {y}");
        }
        for (x, y) in ea.iter().zip(&eb) {
            assert!((x - y).abs() < 1e-9 * x.abs().max(1.0));
        }
    }

    #[test]
    fn lda_singular_within_class_is_an_error() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // A constant dimension (with a large offset, so its rounding residue
        // is not tiny in absolute terms), and one that is a combination of
        // the others: W is singular either way.
        let cases: [(&str, fn(f32, f32) -> f32); 2] = [
            ("constant", |_, _| 1000.0),
            ("dependent", |a, b| a + 2.0 * b),
        ];
        for (name, third) in cases {
            let mut accs = LdaAccs::new(3, 2);
            for t in 0..2000 {
                let (a, b) = (
                    randn(&mut rng) as f32,
                    randn(&mut rng) as f32 + t as f32 % 2.0,
                );
                accs.add(t % 2, &[a, b, third(a, b)], 1.0);
            }
            match accs.estimate(1) {
                Err(Error::Invalid(msg)) => assert!(msg.contains("singular"), "{name}: {msg}"),
                other => panic!("{name}: expected a singular-statistics error, got {other:?}"),
            }
            assert!(accs.estimate(4).is_err(), "{name}: out_dim > dim accepted");
        }
        assert!(
            LdaAccs::new(3, 2).estimate(2).is_err(),
            "empty statistics accepted"
        );
    }

    #[test]
    fn mllt_singular_statistics_are_an_error() {
        let dim = 3;
        let mut accs = MlltAccs::new(dim);
        assert!(accs.update(1).is_err(), "empty statistics accepted");
        // Two points per Gaussian span one direction: every G_i has rank <= 2.
        for m in 0..2 {
            let (p, q) = ([1.0, 2.0, m as f64], [-1.0, 0.5, 3.0]);
            let sum: Vec<f64> = (0..dim).map(|j| p[j] + q[j]).collect();
            let sum_sq: Vec<f64> = (0..dim * dim)
                .map(|jk| p[jk / dim] * p[jk % dim] + q[jk / dim] * q[jk % dim])
                .collect();
            let mean: Vec<f32> = sum.iter().map(|&v| (v / 2.0) as f32).collect();
            accs.add_gaussian(2.0, &sum, &sum_sq, &mean, &[1.0, 2.0, 0.5]);
        }
        match accs.update(3) {
            Err(Error::Invalid(msg)) => assert!(msg.contains("singular"), "{msg}"),
            other => panic!("expected a singular-statistics error, got {other:?}"),
        }
    }

    #[test]
    fn mllt_diagonalises_a_shared_full_covariance() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let dim = 5;
        let rot = random_matrix(&mut rng, dim, dim).qr().q();
        let sd = DVector::from_vec(vec![0.4, 1.0, 1.7, 2.5, 3.2]);
        let mut accs = MlltAccs::new(dim);
        let mut pooled = DMatrix::<f64>::zeros(dim, dim);
        let mut total = 0.0;
        for _class in 0..4 {
            let mu = random_matrix(&mut rng, dim, 1) * 3.0;
            let n = 5000;
            let mut sum = DVector::<f64>::zeros(dim);
            let mut sum_sq = DMatrix::<f64>::zeros(dim, dim);
            for _ in 0..n {
                let z = DVector::from_fn(dim, |j, _| sd[j] * randn(&mut rng));
                let x = &mu + &rot * z;
                sum += &x;
                sum_sq += &x * x.transpose();
            }
            let nf = n as f64;
            let mean = &sum / nf;
            let cov = &sum_sq / nf - &mean * mean.transpose();
            pooled += &cov * nf;
            total += nf;
            let mean32: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
            let var32: Vec<f32> = cov.diagonal().iter().map(|&v| v as f32).collect();
            let sum_sq_rows: Vec<f64> = sum_sq.transpose().as_slice().to_vec();
            accs.add_gaussian(nf, sum.as_slice(), &sum_sq_rows, &mean32, &var32);
        }
        pooled /= total;
        let (t, aux) = accs.update(10).unwrap();
        assert_eq!(aux.len(), 11);
        assert_non_decreasing(&aux, "MLLT");
        assert!(aux[10] > aux[0] + 1.0, "MLLT did not improve: {aux:?}");
        let tm = DMatrix::from_row_slice(dim, dim, &t.linear_part());
        let before = off_diagonal_mass(&pooled);
        let after = off_diagonal_mass(&(&tm * &pooled * tm.transpose()));
        assert!(before > 0.5, "test data not correlated enough: {before}");
        assert!(
            after < 0.01 * before,
            "off-diagonal mass {before} -> {after}"
        );
    }

    #[test]
    fn fmllr_recovers_the_inverse_transform() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let dim = 6;
        let gaussians: Vec<(Vec<f32>, Vec<f32>)> = (0..8)
            .map(|_| {
                let mean = (0..dim).map(|_| (3.0 * randn(&mut rng)) as f32).collect();
                let var = (0..dim).map(|_| rng.gen_range(0.3..2.0) as f32).collect();
                (mean, var)
            })
            .collect();
        let m = DMatrix::<f64>::identity(dim, dim) + random_matrix(&mut rng, dim, dim) * 0.25;
        let c = random_matrix(&mut rng, dim, 1);
        let mut accs = FmllrAccs::new(dim);
        for _ in 0..20_000 {
            let (mean, var) = &gaussians[rng.gen_range(0..gaussians.len())];
            let y = DVector::from_fn(dim, |j, _| {
                mean[j] as f64 + (var[j] as f64).sqrt() * randn(&mut rng)
            });
            let x = &m * y + &c;
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            accs.add_frame(&x32, &[(mean, var, 1.0)]);
        }
        assert!((accs.count() - 20_000.0).abs() < 1e-9);
        let (w, aux) = accs
            .estimate(&AffineTransform::identity(dim), 40, 100.0)
            .unwrap();
        assert_eq!(aux.len(), 41);
        assert_non_decreasing(&aux, "fMLLR");
        assert!(aux[40] > aux[0], "fMLLR did not improve: {aux:?}");
        let m_inv = m.clone().try_inverse().unwrap();
        let b_want = -(&m_inv * &c);
        let a = w.linear_part();
        let b = w.offset();
        let mut err: f64 = 0.0;
        for r in 0..dim {
            for col in 0..dim {
                err = err.max((a[r * dim + col] - m_inv[(r, col)]).abs());
            }
            err = err.max((b[r] - b_want[r]).abs());
        }
        assert!(err < 0.05, "fMLLR estimate off [M^-1, -M^-1 c] by {err}");
    }

    #[test]
    fn fmllr_blocked_stats_and_merge_match_direct_sums() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let dim = 6;
        let d1 = dim + 1;
        let means: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..dim).map(|_| randn(&mut rng) as f32).collect())
            .collect();
        let vars: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..dim).map(|_| rng.gen_range(0.5..2.0) as f32).collect())
            .collect();
        let mut whole = FmllrAccs::new(dim);
        let mut first = FmllrAccs::new(dim);
        let mut second = FmllrAccs::new(dim);
        let mut k_direct = DMatrix::<f64>::zeros(dim, d1);
        let mut g_direct = vec![DMatrix::<f64>::zeros(d1, d1); dim];
        for t in 0..2500 {
            let x: Vec<f32> = (0..dim).map(|_| (2.0 * randn(&mut rng)) as f32).collect();
            let g0 = rng.gen_range(0.0..1.0);
            let post = [(0usize, g0), (1 + t % 2, 1.0 - g0)];
            let frame: Vec<(&[f32], &[f32], f64)> = post
                .iter()
                .map(|&(m, g)| (&means[m][..], &vars[m][..], g))
                .collect();
            whole.add_frame(&x, &frame);
            (if t < 1500 { &mut first } else { &mut second }).add_frame(&x, &frame);
            let mut xi = DVector::<f64>::from_element(d1, 1.0);
            for j in 0..dim {
                xi[j] = x[j] as f64;
            }
            for &(m, g) in &post {
                for i in 0..dim {
                    let p = g / vars[m][i] as f64;
                    for j in 0..d1 {
                        k_direct[(i, j)] += p * means[m][i] as f64 * xi[j];
                    }
                    g_direct[i] += &xi * xi.transpose() * p;
                }
            }
        }
        let (k, g) = whole.folded();
        let rel = |a: &DMatrix<f64>, b: &DMatrix<f64>| (a - b).abs().max() / b.abs().max();
        assert!(rel(&k, &k_direct) < 1e-12, "K differs");
        for i in 0..dim {
            assert!(rel(&g[i], &g_direct[i]) < 1e-12, "G_{i} differs");
        }
        first.merge(&second);
        assert!((first.count() - whole.count()).abs() < 1e-9);
        let init = AffineTransform::identity(dim);
        let (wa, aa) = whole.estimate(&init, 5, 0.0).unwrap();
        let (wb, ab) = first.estimate(&init, 5, 0.0).unwrap();
        assert_non_decreasing(&aa, "fMLLR soft posteriors");
        for (x, y) in wa.data.iter().zip(&wb.data) {
            assert!((x - y).abs() < 1e-5, "merged fMLLR differs: {x} vs {y}");
        }
        for (x, y) in aa.iter().zip(&ab) {
            assert!((x - y).abs() < 1e-8 * x.abs().max(1.0));
        }
    }

    #[test]
    fn fmllr_below_min_count_is_identity() {
        let dim = 4;
        let mean = [0.0f32; 4];
        let var = [1.0f32; 4];
        let mut accs = FmllrAccs::new(dim);
        for t in 0..3 {
            let x = [t as f32, 1.0, -1.0, 0.5 * t as f32];
            accs.add_frame(&x, &[(&mean, &var, 1.0)]);
        }
        let mut init = AffineTransform::identity(dim);
        init.data[dim] = 2.0; // a non-identity start must not leak through
        let (w, aux) = accs.estimate(&init, 10, 50.0).unwrap();
        assert_eq!(w, AffineTransform::identity(dim));
        assert!(aux.is_empty());
        // Above the threshold, 3 frames in 4 dimensions are singular statistics.
        match accs.estimate(&init, 10, 0.0) {
            Err(Error::Invalid(msg)) => assert!(msg.contains("singular"), "{msg}"),
            other => panic!("expected a singular-statistics error, got {other:?}"),
        }
    }

    #[test]
    fn affine_compose_and_apply_agree() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let random_affine = |rng: &mut ChaCha8Rng, out: usize, inp: usize| {
            let w: Vec<f64> = (0..out * (inp + 1)).map(|_| randn(rng)).collect();
            AffineTransform::from_full(out, inp, &w)
        };
        let inner = random_affine(&mut rng, 7, 9);
        let outer = random_affine(&mut rng, 6, 7);
        let feats = Matrix::from_vec(20, 9, (0..180).map(|_| randn(&mut rng) as f32).collect());
        let twice = outer.apply(&inner.apply(&feats));
        let composed = outer.compose(&inner);
        assert_eq!((composed.out_dim, composed.in_dim), (6, 9));
        let once = composed.apply(&feats);
        assert_eq!((once.rows, once.cols), (20, 6));
        for (a, b) in once.data.iter().zip(&twice.data) {
            assert!((a - b).abs() < 1e-4 * b.abs().max(1.0), "{a} vs {b}");
        }
        // apply_row agrees with apply.
        let mut row = vec![0.0f32; 6];
        for t in 0..feats.rows {
            composed.apply_row(feats.row(t), &mut row);
            for (a, b) in row.iter().zip(once.row(t)) {
                assert!((a - b).abs() < 1e-4 * b.abs().max(1.0));
            }
        }
        // The identity is a no-op, alone and composed.
        assert_eq!(AffineTransform::identity(9).apply(&feats), feats);
        let id_composed = outer.compose(&AffineTransform::identity(7));
        for (a, b) in id_composed.data.iter().zip(&outer.data) {
            assert!((a - b).abs() < 1e-6);
        }
        // linear() keeps the linear part and a zero offset.
        let lin = AffineTransform::linear(6, 9, &composed.linear_part());
        assert!(lin.offset().iter().all(|&b| b == 0.0));
        assert_eq!(lin.linear_part(), composed.linear_part());
    }

    #[test]
    #[should_panic(expected = "columns")]
    fn affine_apply_rejects_wrong_width() {
        AffineTransform::identity(3).apply(&Matrix::zeros(2, 4));
    }
}
