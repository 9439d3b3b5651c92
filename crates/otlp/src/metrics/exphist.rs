//! Exponential histograms → classic `le` buckets, since the store keeps classic histograms only.
//!
//! Bucket `i` at scale `s` holds values in `(base^i, base^(i+1)]`, `base = 2^(2^-s)`. Every
//! point is written on one fixed grid, `le = 2^k` ([`GRID`]), so a series' bucket set never
//! changes: deltas add up bucket by bucket, and an SDK rescaling leaves no stale buckets. The
//! zero bucket and all negative buckets fold into the lowest `le` bucket.

use opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint;

/// The fixed grid: `le = 2^k` for `k` in this range (about 0.001 to 5.4e8; 40 buckets).
pub(crate) const GRID: std::ops::RangeInclusive<i64> = -10..=29;

/// Returns `(le, cumulative count)` on the fixed [`GRID`] (scale 0), every bound every time.
///
/// Delta points are added to the stored buckets `le` by `le`, so every point must write the same
/// `le` set whatever its own scale and offset, or buckets stop being monotonic; cumulative
/// points would otherwise leave stale buckets behind when the SDK rescales. A bucket finer than the grid goes to the grid bucket holding its upper
/// bound; one coarser (scale < 0) is put whole at its upper bound. Values past the grid's top
/// are counted only in `+Inf` (the caller's).
pub(crate) fn to_fixed_grid(p: &ExponentialHistogramDataPoint) -> Vec<(f64, u64)> {
    let below: u64 = p
        .negative
        .as_ref()
        .map_or(0, |n| {
            n.bucket_counts
                .iter()
                .fold(0u64, |a, c| a.saturating_add(*c))
        })
        .saturating_add(p.zero_count);
    let (lo, hi) = (*GRID.start(), *GRID.end());
    // counts[k - lo]: observations whose scale-0 bucket index j has le = 2^(j+1) = 2^k.
    let mut per_le = vec![0u64; usize::try_from(hi - lo + 1).unwrap_or(0)];
    let mut first_le = below;
    if let Some(b) = &p.positive {
        let scale = i64::from(p.scale);
        for (n, c) in b.bucket_counts.iter().enumerate() {
            let idx = i64::from(b.offset).saturating_add(n as i64);
            // Scale-0 index of the bucket holding this bucket's upper bound.
            let j = if scale >= 0 {
                idx >> scale.min(62)
            } else {
                idx.saturating_add(1)
                    .saturating_mul(1i64 << (-scale).min(62))
                    .saturating_sub(1)
            };
            let k = j.saturating_add(1);
            if k < lo {
                first_le = first_le.saturating_add(*c);
            } else if k <= hi {
                if let Some(slot) = usize::try_from(k - lo).ok().and_then(|i| per_le.get_mut(i)) {
                    *slot = slot.saturating_add(*c);
                }
            }
            // k > hi: only in +Inf.
        }
    }
    let mut cum = first_le;
    GRID.zip(per_le)
        .map(|(k, c)| {
            cum = cum.saturating_add(c);
            ((k as f64).exp2(), cum)
        })
        .collect()
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
    fn delta_points_of_any_scale_land_on_the_same_grid() {
        let a = to_fixed_grid(&point(3, 0, vec![1, 2, 3], 1, 0));
        let b = to_fixed_grid(&point(-1, 1, vec![4], 0, 0));
        let c = to_fixed_grid(&point(0, 40, vec![7], 0, 0));
        for g in [&a, &b, &c] {
            assert_eq!(g.len(), GRID.count());
            assert!(g.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        }
        assert!(a.iter().zip(&b).all(|(x, y)| x.0 == y.0));
        // Scale 3, buckets 0..3 are (1, 2^(3/8)]: all under le = 2; plus the zero count.
        let le2 = a.iter().find(|(le, _)| *le == 2.0).unwrap().1;
        assert_eq!(le2, 7);
        // Scale -1, bucket 1 is (4, 16]: put at 16.
        assert_eq!(b.iter().find(|(le, _)| *le == 8.0).unwrap().1, 0);
        assert_eq!(b.iter().find(|(le, _)| *le == 16.0).unwrap().1, 4);
        // Past the grid's top: only in +Inf, which the caller adds.
        assert_eq!(c.last().unwrap().1, 0);
        // Summed as deltas, any two points stay monotonic in le.
        let sum: Vec<u64> = a.iter().zip(&b).map(|(x, y)| x.1 + y.1).collect();
        assert!(sum.windows(2).all(|w| w[0] <= w[1]));
    }
}
