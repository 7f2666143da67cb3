//! Log-domain arithmetic shared by the GMMs, the decoders and CTC search.

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
