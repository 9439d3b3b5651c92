//! Exponential histograms → classic `le` buckets, since the store keeps classic histograms only.
//!
//! Bucket `i` at scale `s` holds values in `(base^i, base^(i+1)]`, `base = 2^(2^-s)`; its `le`
//! is `base^(i+1)`. Scales are reduced (adjacent buckets merged) until at most [`MAX_BUCKETS`]
//! remain. The zero bucket and all negative buckets fold into the lowest `le` bucket.

use opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint;

/// Most classic buckets one exponential histogram point becomes (besides `+Inf`).
pub(crate) const MAX_BUCKETS: usize = 40;

/// Returns `(le, cumulative count)` for each finite bucket bound, lowest first; the caller adds
/// `+Inf` with the point's total count.
pub(crate) fn to_classic(p: &ExponentialHistogramDataPoint) -> Vec<(f64, u64)> {
    let (offset, counts) = match &p.positive {
        Some(b) if !b.bucket_counts.is_empty() => (i64::from(b.offset), b.bucket_counts.clone()),
        _ => return Vec::new(),
    };
    let mut scale = i64::from(p.scale);
    let mut first = offset;
    let mut counts = counts;
    // Each pass halves the bucket span, so this ends within 64 passes.
    while counts.len() > MAX_BUCKETS {
        let new_first = first >> 1;
        let mut merged: Vec<u64> = Vec::with_capacity(counts.len() / 2 + 1);
        for (k, c) in counts.iter().enumerate() {
            let idx = first + k as i64;
            let slot = usize::try_from((idx >> 1) - new_first).unwrap_or(0);
            if slot >= merged.len() {
                merged.resize(slot + 1, 0);
            }
            if let Some(m) = merged.get_mut(slot) {
                *m = m.saturating_add(*c);
            }
        }
        counts = merged;
        first = new_first;
        scale -= 1;
    }
    let below: u64 = p
        .negative
        .as_ref()
        .map_or(0, |n| {
            n.bucket_counts
                .iter()
                .fold(0u64, |a, c| a.saturating_add(*c))
        })
        .saturating_add(p.zero_count);
    let step = (-(scale as f64)).exp2();
    let mut cum = below;
    let mut out = Vec::with_capacity(counts.len());
    for (k, c) in counts.iter().enumerate() {
        cum = cum.saturating_add(*c);
        let le = (((first + k as i64 + 1) as f64) * step).exp2();
        // Bounds past f64's range belong to +Inf, which the caller emits.
        if !le.is_finite() {
            break;
        }
        out.push((le, cum));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;

    fn point(
        scale: i32,
        offset: i32,
        counts: Vec<u64>,
        zero: u64,
        neg: u64,
    ) -> ExponentialHistogramDataPoint {
        ExponentialHistogramDataPoint {
            scale,
            zero_count: zero,
            positive: Some(Buckets {
                offset,
                bucket_counts: counts,
            }),
            negative: Some(Buckets {
                offset: 0,
                bucket_counts: vec![neg],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn scale_zero_bounds_are_powers_of_two() {
        let b = to_classic(&point(0, 0, vec![1, 2, 3], 4, 5));
        // Zero and negative counts fold into the lowest bucket.
        assert_eq!(b, vec![(2.0, 10), (4.0, 12), (8.0, 15)]);
    }

    #[test]
    fn scale_one_uses_sqrt_two_base() {
        let b = to_classic(&point(1, -2, vec![1, 1], 0, 0));
        assert_eq!(b.len(), 2);
        assert!((b[0].0 - 2f64.powf(-0.5)).abs() < 1e-12);
        assert_eq!(b[1], (1.0, 2));
    }

    #[test]
    fn wide_histograms_are_downscaled_to_forty_buckets() {
        let b = to_classic(&point(3, -7, vec![1; 160], 0, 0));
        assert!(b.len() <= MAX_BUCKETS, "{}", b.len());
        assert_eq!(b.last().unwrap().1, 160);
        assert!(b.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    }
}
