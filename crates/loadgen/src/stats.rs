//! Small figures both load tools report: nearest-rank quantiles, rounding, rates.

/// Returns the `p`-quantile (0..=1) of sorted values by the nearest-rank method.
pub(crate) fn quantile(sorted: &[u64], p: f64) -> u64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied().unwrap_or(0)
}

/// Rounds to `digits` decimal places.
pub(crate) fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Returns `n` per second over `secs`, 0 for an empty interval.
pub(crate) fn per_s(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}
