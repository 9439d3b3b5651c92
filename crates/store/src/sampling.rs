//! Tail sampling: the keep-or-drop decision for a completed trace. Pure; the store applies it
//! at completion, logs dropped traces in the WAL and counts them.

use blazar_model::{SpanStatus, TraceId};
use blazar_signals::TraceSummary;

use crate::Settings;

/// The tail-sampling policy (`tracing.sample_rate`, `keep_errors`, `keep_slower_than`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TailSampler {
    pub(crate) rate: f64,
    pub(crate) keep_errors: bool,
    pub(crate) keep_slower_than_ns: i64,
}

impl TailSampler {
    pub(crate) fn from_settings(s: &Settings) -> Self {
        Self {
            rate: s.trace_sample_rate,
            keep_errors: s.keep_errors,
            keep_slower_than_ns: s.keep_slower_than_ns,
        }
    }

    /// Returns whether the completed trace is kept: it has an error span (with `keep_errors`),
    /// lasted at least `keep_slower_than`, or its id falls under the rate.
    pub(crate) fn keeps(&self, t: &TraceSummary) -> bool {
        (self.keep_errors && (t.error_count > 0 || t.status == SpanStatus::Error))
            || t.duration_ns.is_some_and(|d| d >= self.keep_slower_than_ns)
            || ratio_keeps(t.trace_id, self.rate)
    }
}

/// OpenTelemetry's `TraceIdRatioBased` decision: the low 8 bytes of the trace id, big-endian,
/// shifted right once, below `rate · 2^63`. Every blazar (and every OTel SDK sampling at the
/// same rate) decides the same for the same trace.
pub(crate) fn ratio_keeps(id: TraceId, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    let [.., a, b, c, d, e, f, g, h] = id.0;
    let x = u64::from_be_bytes([a, b, c, d, e, f, g, h]) >> 1;
    // rate < 1, so the bound is below 2^63 and the cast cannot saturate.
    let bound = (rate * 9_223_372_036_854_775_808.0) as u64;
    x < bound
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(low: u64) -> TraceId {
        let mut b = [0xab; 16];
        b[8..].copy_from_slice(&low.to_be_bytes());
        TraceId(b)
    }

    #[test]
    fn ratio_uses_the_low_eight_bytes_like_otel() {
        assert!(ratio_keeps(id(0), 0.000_001));
        assert!(!ratio_keeps(id(u64::MAX), 0.999_999));
        assert!(ratio_keeps(id(u64::MAX), 1.0));
        assert!(!ratio_keeps(id(0), 0.0));
        // Half the id space: ids with the top bit clear are kept at 0.5.
        assert!(ratio_keeps(id(0x7fff_ffff_ffff_ffff), 0.5));
        assert!(!ratio_keeps(id(0x8000_0000_0000_0000), 0.5));
    }

    #[test]
    fn about_rate_of_ids_are_kept() {
        let kept = (0u64..10_000)
            .filter(|i| ratio_keeps(id(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)), 0.25))
            .count();
        assert!((2_200..2_800).contains(&kept), "{kept}");
    }
}
