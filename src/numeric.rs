//! Small numeric helpers: log-domain arithmetic shared by the GMMs, the
//! decoders and CTC search, and the error ratio the scorer and bootstrap share.

/// `ln(e^a + e^b)` without overflow; `-inf` is the additive identity.
pub fn log_add(a: f32, b: f32) -> f32 {
    if a == f32::NEG_INFINITY {
        return b;
    }
    if b == f32::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// `ln(sum(e^x))` over a slice, stable for large magnitudes; `-inf` when empty or all `-inf`.
pub fn log_sum_exp(v: &[f32]) -> f32 {
    let m = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    if m == f32::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f32>().ln()
}

/// `num / den`, with 0/0 = 0 and x/0 = infinity (errors against an empty reference).
pub fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        if num == 0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        num as f64 / den as f64
    }
}

/// The `q` quantile (`q` in [0, 1]) of sorted values, interpolating linearly
/// between the two nearest order statistics; None when there are none.
///
/// This is the one percentile of the tool (every bootstrap interval: WER,
/// paired differences, crossings, projections). Linear interpolation is
/// numpy's and R's default (Hyndman & Fan type 7), so an interval a user
/// recomputes from the replicates with `numpy.percentile` matches; it also
/// moves smoothly with `q` where nearest rank jumps between replicates.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let frac = pos - lo as f64;
    Some(if lo == hi || sorted[lo] == sorted[hi] {
        sorted[lo]
    } else {
        sorted[lo] + frac * (sorted[hi] - sorted[lo])
    })
}

#[cfg(test)]
mod percentile_tests {
    use super::percentile;

    #[test]
    fn percentile_interpolates_between_order_statistics_as_numpy_does() {
        let v = [1.0, 2.0, 4.0, 8.0];
        // numpy.percentile([1, 2, 4, 8], [0, 25, 50, 97.5, 100])
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 0.25), Some(1.75));
        assert_eq!(percentile(&v, 0.5), Some(3.0));
        assert!((percentile(&v, 0.975).unwrap() - 7.7).abs() < 1e-12);
        assert_eq!(percentile(&v, 1.0), Some(8.0));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(
            percentile(&[f64::INFINITY, f64::INFINITY], 0.5),
            Some(f64::INFINITY)
        );
    }
}
