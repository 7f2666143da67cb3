//! Kaldi's `add-deltas` (`DeltaFeatures`): regression coefficients of order
//! 1..=`order` over +-`window` frames, with the first and last frames
//! replicated at the edges.
use crate::matrix::Matrix;

/// Kaldi's delta filter taps: `scales[i]` has `2*i*window + 1` taps.
pub fn delta_scales(order: usize, window: usize) -> Vec<Vec<f32>> {
    let mut scales = vec![vec![1.0f32]];
    for i in 1..=order {
        let prev = &scales[i - 1];
        let prev_offset = (prev.len() - 1) / 2;
        let cur_offset = prev_offset + window;
        let mut cur = vec![0f32; prev.len() + 2 * window];
        let mut normalizer = 0f32;
        let w = window as i64;
        for j in -w..=w {
            normalizer += (j * j) as f32;
            for k in -(prev_offset as i64)..=prev_offset as i64 {
                cur[(j + k + cur_offset as i64) as usize] +=
                    j as f32 * prev[(k + prev_offset as i64) as usize];
            }
        }
        cur.iter_mut().for_each(|x| *x /= normalizer);
        scales.push(cur);
    }
    scales
}

/// Append deltas: output has `m.cols * (order + 1)` columns, the original
/// features first, exactly as Kaldi's `add-deltas --delta-order --delta-window`.
pub fn add_deltas(m: &Matrix, order: usize, window: usize) -> Matrix {
    let dim = m.cols;
    let n = m.rows;
    let scales = delta_scales(order, window);
    let mut out = Matrix::zeros(n, dim * (order + 1));
    for f in 0..n {
        let row = out.row_mut(f);
        for (i, sc) in scales.iter().enumerate() {
            let max_offset = ((sc.len() - 1) / 2) as i64;
            let dst = &mut row[i * dim..(i + 1) * dim];
            for j in -max_offset..=max_offset {
                let scale = sc[(j + max_offset) as usize];
                if scale == 0.0 {
                    continue;
                }
                let src = (f as i64 + j).clamp(0, n as i64 - 1) as usize;
                for (d, s) in dst.iter_mut().zip(m.row(src)) {
                    *d += scale * s;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_match_kaldi() {
        let s = delta_scales(2, 2);
        assert_eq!(s[1], vec![-0.2, -0.1, 0.0, 0.1, 0.2]);
        // Second order = first-order filter convolved with itself.
        let expect = [4.0, 4.0, 1.0, -4.0, -10.0, -4.0, 1.0, 4.0, 4.0].map(|x: f32| x / 100.0);
        for (a, b) in s[2].iter().zip(expect) {
            assert!((a - b).abs() < 1e-7, "{:?}", s[2]);
        }
    }

    #[test]
    fn deltas_by_hand() {
        // One feature dimension: 0, 1, 4, 9, 16 (x^2) over 5 frames.
        let m = Matrix::from_vec(5, 1, vec![0.0, 1.0, 4.0, 9.0, 16.0]);
        let d = add_deltas(&m, 2, 2);
        assert_eq!((d.rows, d.cols), (5, 3));
        let x = |i: i64| m.data[i.clamp(0, 4) as usize];
        for f in 0..5i64 {
            // First order by the regression formula with edge replication.
            let d1 = (-2.0 * x(f - 2) - x(f - 1) + x(f + 1) + 2.0 * x(f + 2)) / 10.0;
            assert!((d.row(f as usize)[0] - x(f)).abs() < 1e-6);
            assert!(
                (d.row(f as usize)[1] - d1).abs() < 1e-5,
                "frame {f}: {} vs {d1}",
                d.row(f as usize)[1]
            );
        }
        // Centre frame of x^2: first delta of f^2 at f=2 is exactly 2f = 4... with edge clamping
        // frames 0..4 are all real, so d1(2) = (-0 -1 +9 +32)/10 = 4.
        assert!((d.row(2)[1] - 4.0).abs() < 1e-6);
        // Second order at f=2: sum_j c_j x(2+j) with Kaldi's 9 taps and clamped edges, by hand:
        // taps [4,4,1,-4,-10,-4,1,4,4]/100 over x(-2..6) = [0,0,0,1,4,9,16,16,16].
        let d2 = (4.0 * 0.0 + 4.0 * 0.0 + 1.0 * 0.0 - 4.0 * 1.0 - 10.0 * 4.0 - 4.0 * 9.0
            + 16.0
            + 4.0 * 16.0
            + 4.0 * 16.0)
            / 100.0;
        assert!((d.row(2)[2] - d2).abs() < 1e-5, "{} vs {d2}", d.row(2)[2]);
    }

    #[test]
    fn constant_features_have_zero_deltas() {
        let m = Matrix::from_vec(3, 2, vec![5.0, -1.0, 5.0, -1.0, 5.0, -1.0]);
        let d = add_deltas(&m, 2, 2);
        for r in 0..3 {
            assert_eq!(&d.row(r)[..2], &[5.0, -1.0]);
            assert!(d.row(r)[2..].iter().all(|x| x.abs() < 1e-6));
        }
    }
}
