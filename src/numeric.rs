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
