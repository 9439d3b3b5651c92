//! RED metrics derived from spans at trace completion, as the OpenTelemetry spanmetrics
//! connector names them: calls and a latency histogram per service, span name, kind and
//! status. Pure aggregation; the store writes each pass as deltas through `write_series`, so
//! the head holds the running totals and a restart continues from them.

use std::collections::{HashMap, HashSet};

use blazar_model::{
    Labels, Limits, MetricFamily, MetricKind, Sample, SampleMode, SeriesBatch, SeriesWrite, Span,
    SpanKind, SpanStatus,
};

use crate::catalog::format_le;

/// Family of `traces_span_metrics_calls_total`.
pub const CALLS_FAMILY: &str = "traces_span_metrics_calls";
/// The calls counter series.
pub const CALLS_SERIES: &str = "traces_span_metrics_calls_total";
/// The latency histogram family (`_bucket{le}`, `_sum`, `_count`).
pub const DURATION_FAMILY: &str = "traces_span_metrics_duration_seconds";
/// Latency bucket bounds in seconds (`+Inf` is implied).
pub const DURATION_BUCKETS: [f64; 13] = [
    0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Most distinct label sets tracked; spans of further label sets are counted and dropped, so a
/// high-cardinality span name cannot grow memory or series without bound.
pub const MAX_LABEL_SETS: usize = 10_000;

const CALLS_HELP: &str = "Spans ended, per service, span name, span kind and status code";
const DURATION_HELP: &str =
    "Span durations in seconds, per service, span name, span kind and status code";

/// One label set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    service: String,
    span_name: String,
    kind: SpanKind,
    status: SpanStatus,
}

/// What one pass observed for a label set; bucket counts are per bucket, not cumulative.
#[derive(Debug, Clone, Default)]
struct Agg {
    calls: u64,
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    sum: f64,
}

/// Label sets seen so far (the bound) and what the current pass observed.
#[derive(Debug, Default)]
pub(crate) struct SpanMetrics {
    known: HashSet<Key>,
    pending: HashMap<Key, Agg>,
}

impl SpanMetrics {
    /// Counts one ended span; returns false (and counts nothing) when its label set would be
    /// past [`MAX_LABEL_SETS`]. Label values are cut to `limits.max_label_value_len`.
    pub(crate) fn observe(&mut self, span: &Span, limits: &Limits) -> bool {
        let Some(d) = span.duration_nanos() else {
            return true;
        };
        let cut = |s: &str| truncate(s, limits.max_label_value_len).to_string();
        let key = Key {
            service: cut(&span.service),
            span_name: cut(&span.name),
            kind: span.kind,
            status: span.status,
        };
        if !self.known.contains(&key) {
            if self.known.len() >= MAX_LABEL_SETS {
                return false;
            }
            self.known.insert(key.clone());
        }
        let secs = d as f64 / 1e9;
        let agg = self.pending.entry(key).or_default();
        agg.calls += 1;
        agg.sum += secs;
        let i = DURATION_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(DURATION_BUCKETS.len());
        if let Some(c) = agg.buckets.get_mut(i) {
            *c += 1;
        }
        true
    }

    /// Returns what this pass observed as delta series at `t_ms`, and forgets it. Label sets
    /// whose labels break `limits` (a name the limits refuse) are skipped and counted.
    pub(crate) fn take_batch(&mut self, t_ms: i64, limits: &Limits) -> (SeriesBatch, usize) {
        let mut batch = SeriesBatch::default();
        let mut skipped = 0;
        let mut pending: Vec<(Key, Agg)> = self.pending.drain().collect();
        // A stable order keeps WAL contents reproducible.
        pending.sort_by(|(a, _), (b, _)| {
            let order = |k: &Key| {
                (
                    k.service.clone(),
                    k.span_name.clone(),
                    kind_label(k.kind),
                    status_label(k.status),
                )
            };
            order(a).cmp(&order(b))
        });
        for (key, agg) in pending {
            if push_series(&mut batch, &key, &agg, t_ms, limits).is_err() {
                skipped += agg.calls as usize;
            }
        }
        if !batch.series.is_empty() {
            batch.families = vec![
                MetricFamily {
                    name: CALLS_FAMILY.to_string(),
                    kind: MetricKind::Counter,
                    help: CALLS_HELP.to_string(),
                    unit: String::new(),
                    original: None,
                },
                MetricFamily {
                    name: DURATION_FAMILY.to_string(),
                    kind: MetricKind::Histogram,
                    help: DURATION_HELP.to_string(),
                    unit: "s".to_string(),
                    original: None,
                },
            ];
        }
        (batch, skipped)
    }
}

fn push_series(
    batch: &mut SeriesBatch,
    key: &Key,
    agg: &Agg,
    t: i64,
    limits: &Limits,
) -> Result<(), blazar_model::LabelsError> {
    let tags = [
        ("service", key.service.as_str()),
        ("span_name", key.span_name.as_str()),
        ("span_kind", kind_label(key.kind)),
        ("status_code", status_label(key.status)),
    ];
    let calls = Labels::for_metric(CALLS_SERIES, tags, limits)?;
    let mut out = vec![delta(calls, t, agg.calls as f64)];
    let bucket_name = format!("{DURATION_FAMILY}_bucket");
    let mut cumulative = 0u64;
    for (le, c) in DURATION_BUCKETS
        .iter()
        .copied()
        .chain(std::iter::once(f64::INFINITY))
        .zip(agg.buckets.iter())
    {
        cumulative += c;
        let le = format_le(le);
        let labels = Labels::for_metric(
            &bucket_name,
            tags.iter().copied().chain([("le", le.as_str())]),
            limits,
        )?;
        out.push(delta(labels, t, cumulative as f64));
    }
    let sum = Labels::for_metric(&format!("{DURATION_FAMILY}_sum"), tags, limits)?;
    out.push(delta(sum, t, agg.sum));
    let count = Labels::for_metric(&format!("{DURATION_FAMILY}_count"), tags, limits)?;
    out.push(delta(count, t, agg.calls as f64));
    batch.series.extend(out);
    Ok(())
}

fn delta(labels: Labels, t: i64, v: f64) -> SeriesWrite {
    SeriesWrite {
        labels,
        mode: SampleMode::Delta,
        samples: vec![Sample { t, v }],
    }
}

/// Returns the span kind as the spanmetrics connector labels it.
fn kind_label(k: SpanKind) -> &'static str {
    match k {
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

/// Returns the status as the spanmetrics connector labels it.
fn status_label(s: SpanStatus) -> &'static str {
    match s {
        SpanStatus::Unset => "STATUS_CODE_UNSET",
        SpanStatus::Ok => "STATUS_CODE_OK",
        SpanStatus::Error => "STATUS_CODE_ERROR",
    }
}

/// Returns the longest prefix of `s` of at most `max` bytes ending on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazar_model::{SpanId, TraceId};

    fn span(name: &str, ms: i64, status: SpanStatus) -> Span {
        Span {
            trace_id: TraceId([1; 16]),
            span_id: SpanId([2; 8]),
            parent_span_id: None,
            name: name.into(),
            service: "api".into(),
            kind: SpanKind::Server,
            start_unix_nano: 0,
            end_unix_nano: Some(ms * 1_000_000),
            status,
            status_message: None,
            attributes: Default::default(),
            events: Vec::new(),
            resource: Default::default(),
            links: Vec::new(),
            scope: None,
            trace_state: None,
        }
    }

    fn value(batch: &SeriesBatch, name: &str, extra: Option<(&str, &str)>) -> f64 {
        batch
            .series
            .iter()
            .find(|w| {
                w.labels.name() == name && extra.is_none_or(|(k, v)| w.labels.get(k) == Some(v))
            })
            .map(|w| w.samples[0].v)
            .unwrap()
    }

    #[test]
    fn a_pass_yields_calls_and_a_histogram_per_label_set() {
        let mut m = SpanMetrics::default();
        let limits = Limits::default();
        for ms in [1, 3, 300] {
            assert!(m.observe(&span("GET /", ms, SpanStatus::Ok), &limits));
        }
        assert!(m.observe(&span("GET /", 20, SpanStatus::Error), &limits));
        let (batch, skipped) = m.take_batch(1_000, &limits);
        assert_eq!(skipped, 0);
        // Two label sets: calls + 14 buckets + sum + count each.
        assert_eq!(batch.series.len(), 2 * 17);
        assert!(batch.series.iter().all(|w| w.mode == SampleMode::Delta));
        let ok = batch
            .series
            .iter()
            .find(|w| {
                w.labels.name() == CALLS_SERIES
                    && w.labels.get("status_code") == Some("STATUS_CODE_OK")
            })
            .unwrap();
        assert_eq!(ok.samples[0].v, 3.0);
        assert_eq!(ok.labels.get("span_kind"), Some("SPAN_KIND_SERVER"));
        assert_eq!(ok.labels.get("service"), Some("api"));
        assert_eq!(ok.labels.get("span_name"), Some("GET /"));
        let only_ok = SeriesBatch {
            series: batch
                .series
                .iter()
                .filter(|w| w.labels.get("status_code") == Some("STATUS_CODE_OK"))
                .cloned()
                .collect(),
            families: vec![],
        };
        let bucket = format!("{DURATION_FAMILY}_bucket");
        assert_eq!(value(&only_ok, &bucket, Some(("le", "0.002"))), 1.0);
        assert_eq!(value(&only_ok, &bucket, Some(("le", "0.005"))), 2.0);
        assert_eq!(value(&only_ok, &bucket, Some(("le", "0.5"))), 3.0);
        assert_eq!(value(&only_ok, &bucket, Some(("le", "+Inf"))), 3.0);
        assert_eq!(
            value(&only_ok, &format!("{DURATION_FAMILY}_count"), None),
            3.0
        );
        assert!((value(&only_ok, &format!("{DURATION_FAMILY}_sum"), None) - 0.304).abs() < 1e-9);
        assert_eq!(batch.families.len(), 2);
        // The pass is forgotten once taken.
        assert!(m.take_batch(2_000, &limits).0.series.is_empty());
    }

    #[test]
    fn label_sets_are_bounded() {
        let mut m = SpanMetrics::default();
        let limits = Limits::default();
        for i in 0..MAX_LABEL_SETS {
            assert!(m.observe(&span(&format!("op{i}"), 1, SpanStatus::Ok), &limits));
        }
        assert!(!m.observe(&span("one too many", 1, SpanStatus::Ok), &limits));
        assert!(m.observe(&span("op0", 1, SpanStatus::Ok), &limits));
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
