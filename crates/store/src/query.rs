//! Read side: listings and JSON views for the native API, stats, and the store's own health.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use blazar_model::Labels;
use blazar_model::{format_rfc3339_nanos, Event, Glob, LogRecord, MetricKind, NANOS_PER_MILLI};
use blazar_signals::{EventQuery, LogQuery, TraceQuery, TraceSummary, TraceView};
use blazar_tsdb::{Matcher, SeriesRef};
use serde::Serialize;
use serde_json::{json, Value};

use crate::catalog::{format_le, InstrumentState};
use crate::write_series::{family_of, FAMILY_SUFFIXES};
use crate::{DropReason, RejectReason, Signal, Store};

/// Per-event-type counts for the stats API.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TypeCounts {
    pub received: u64,
    pub accepted: u64,
    pub sampled_out: u64,
    pub dropped: u64,
}

/// A metric's current value as the native API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum MetricValueView {
    Scalar {
        value: f64,
    },
    Histogram {
        count: u64,
        sum: f64,
        buckets: BTreeMap<String, u64>,
    },
    Summary {
        count: u64,
        sum: f64,
        quantiles: BTreeMap<String, f64>,
    },
}

/// One row of `GET /api/v1/telemetry/metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct MetricListing {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: MetricKind,
    pub tags: BTreeMap<String, String>,
    #[serde(flatten)]
    pub value: MetricValueView,
    pub last_update: String,
    /// Unit of the metric's family as its producer sent it (OTLP), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The producer's own name of the family (e.g. OTLP `orders.requests`) when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

/// What the store holds, for `/api/v1/telemetry/stats`, `/metrics` and `/health`.
#[derive(Debug, Clone, Serialize)]
pub struct StoreStats {
    pub series: usize,
    pub samples: usize,
    pub metrics_bytes: usize,
    pub events: usize,
    pub events_bytes: usize,
    pub event_buffer_size: usize,
    pub traces: usize,
    pub spans: usize,
    pub open_spans: usize,
    pub traces_bytes: usize,
    pub logs: usize,
    pub logs_bytes: usize,
    pub wal_segments: usize,
    pub wal_disk_bytes: u64,
    pub wal_healthy: bool,
    pub wal_error: Option<String>,
}

/// Renders an event as the API shows it (seed 002 fields; `seq` is the batch cursor).
pub fn event_json(e: &Event, seq: Option<u64>) -> Value {
    let mut v = json!({
        "event_id": e.event_id,
        "timestamp": format_rfc3339_nanos(e.timestamp_ns),
        "event_type": e.event_type,
        "source": e.source,
        "data": e.data,
        "metadata": e.metadata,
    });
    if let (Some(seq), Some(o)) = (seq, v.as_object_mut()) {
        o.insert("seq".into(), json!(seq));
    }
    v
}

/// Returns whether `v` is Prometheus's stale marker (a NaN with one exact bit pattern).
fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == 0x7ff0_0000_0000_0002
}

/// Renders a trace summary with human units beside the nanoseconds.
pub fn summary_json(t: &TraceSummary) -> Value {
    json!({
        "trace_id": t.trace_id,
        "root_service": t.root_service,
        "root_name": t.root_name,
        "start_time": format_rfc3339_nanos(t.start_ns),
        "start_ns": t.start_ns,
        "end_ns": t.end_ns,
        "duration_ms": t.duration_ns.map(|d| d as f64 / 1e6),
        "span_count": t.span_count,
        "error_count": t.error_count,
        "services": t.services,
        "status": t.status,
        "complete": t.complete,
    })
}

impl Store {
    /// Lists metrics whose name matches `glob` (all when `None`): native-API instruments with
    /// their state, then other series (remote_write, OTLP) with their latest sample, then the
    /// series of families whose producer's name (`original`) matches `glob`.
    pub fn list_metrics(&self, glob: Option<&Glob>, limit: usize) -> Vec<MetricListing> {
        let matches = |n: &str| glob.is_none_or(|g| g.matches(n));
        let catalog = self.mem.catalog.read();
        let mut out: Vec<MetricListing> = catalog
            .list(matches)
            .into_iter()
            .take(limit)
            .map(|i| MetricListing {
                name: i.labels.name().to_string(),
                kind: i.kind,
                tags: i
                    .labels
                    .tags()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                value: view(&i.state),
                last_update: format_rfc3339_nanos(i.updated_ms.saturating_mul(NANOS_PER_MILLI)),
                unit: None,
                original: None,
            })
            .collect();
        let owned = catalog.owned_names();
        drop(catalog);
        if out.len() >= limit {
            return out;
        }
        let pattern = glob.map_or_else(|| ".+".to_string(), Glob::to_regex);
        let Ok(matcher) = Matcher::regex(blazar_model::METRIC_NAME_LABEL, &pattern) else {
            return out;
        };
        let meta = self.mem.metadata.read();
        let mut listed = std::collections::HashSet::new();
        let mut push = |r: SeriesRef, labels: &Labels, out: &mut Vec<MetricListing>| {
            if owned.contains_key(labels.name()) || !listed.insert(r) {
                return;
            }
            // A series whose latest sample is a stale marker has ended (Prometheus drops it
            // from instant queries too).
            let Some(latest) = self.mem.head.latest(r).filter(|l| !is_stale_marker(l.v)) else {
                return;
            };
            let family = family_of(&meta, labels.name());
            out.push(MetricListing {
                name: labels.name().to_string(),
                kind: family.map_or(MetricKind::Unknown, |m| m.kind),
                tags: labels
                    .tags()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                value: MetricValueView::Scalar { value: latest.v },
                last_update: format_rfc3339_nanos(latest.t.saturating_mul(NANOS_PER_MILLI)),
                unit: family.map(|m| m.unit.clone()).filter(|u| !u.is_empty()),
                original: family.and_then(|m| m.original.clone()),
            });
        };
        for (r, labels) in self.mem.head.select_series(&[matcher]) {
            if out.len() >= limit {
                return out;
            }
            push(r, &labels, &mut out);
        }
        // A glob also finds families by their producer's name (`orders.requests` finds
        // `orders_requests_total`): each such family's series, by exact name.
        let Some(glob) = glob else {
            return out;
        };
        let mut by_original: Vec<&str> = meta
            .iter()
            .filter(|(_, m)| m.original.as_deref().is_some_and(|o| glob.matches(o)))
            .map(|(name, _)| name.as_str())
            .collect();
        by_original.sort_unstable();
        for family in by_original {
            let names = std::iter::once(family.to_string())
                .chain(FAMILY_SUFFIXES.iter().map(|s| format!("{family}{s}")));
            for name in names {
                let m = Matcher::equal(blazar_model::METRIC_NAME_LABEL, name);
                for (r, labels) in self.mem.head.select_series(&[m]) {
                    if out.len() >= limit {
                        return out;
                    }
                    push(r, &labels, &mut out);
                }
            }
        }
        out
    }

    /// Returns events oldest first, with their sequence numbers.
    pub fn events(&self, q: &EventQuery) -> Vec<Value> {
        self.mem
            .events
            .read()
            .query(q)
            .into_iter()
            .map(|(seq, e)| event_json(e, Some(seq)))
            .collect()
    }

    /// Returns trace summaries, newest first.
    pub fn traces(&self, q: &TraceQuery) -> Vec<TraceSummary> {
        self.mem.traces.read().query(q)
    }

    /// Returns one trace with every span.
    pub fn trace(&self, id: blazar_model::TraceId) -> Option<TraceView> {
        self.mem.traces.read().trace(id)
    }

    /// Returns log records, oldest first among the newest `limit`.
    pub fn logs(&self, q: &LogQuery) -> Vec<LogRecord> {
        self.mem.logs.read().query(q).into_iter().cloned().collect()
    }

    /// Returns what the store holds and refreshes the memory gauges.
    pub fn stats(&self) -> StoreStats {
        let h = self.mem.head.stats();
        let (events, events_bytes) = {
            let e = self.mem.events.read();
            (e.len(), e.bytes())
        };
        let t = self.mem.traces.read().stats();
        let (logs, logs_bytes) = {
            let l = self.mem.logs.read();
            (l.len(), l.bytes())
        };
        let (segments, disk) = {
            let w = self.wal.lock();
            let s = w.stats();
            (s.segments, s.disk_bytes)
        };
        let m = &self.metrics;
        m.set_memory("metrics", h.total_bytes);
        m.set_memory("events", events_bytes);
        m.set_memory("traces", t.bytes);
        m.set_memory("logs", logs_bytes);
        m.active_series.set(h.series as i64);
        m.wal_segments.set(segments as i64);
        m.wal_disk_bytes
            .set(i64::try_from(disk).unwrap_or(i64::MAX));
        StoreStats {
            series: h.series,
            samples: h.samples,
            metrics_bytes: h.total_bytes,
            events,
            events_bytes,
            event_buffer_size: self.settings.read().events.max_events,
            traces: t.traces,
            spans: t.spans,
            open_spans: t.open_spans,
            traces_bytes: t.bytes,
            logs,
            logs_bytes,
            wal_segments: segments,
            wal_disk_bytes: disk,
            wal_healthy: self.wal_healthy.load(Ordering::Relaxed),
            wal_error: self.last_wal_error.lock().clone(),
        }
    }

    /// Returns per-signal counts for the stats API.
    pub fn signal_counts(&self) -> Value {
        let m = &self.metrics;
        let mut out = serde_json::Map::new();
        for s in Signal::ALL {
            let dropped: u64 = [
                DropReason::Filtered,
                DropReason::Disabled,
                DropReason::BufferFull,
                DropReason::Retention,
                DropReason::MemoryBudget,
                DropReason::OutOfOrder,
                DropReason::Duplicate,
                DropReason::SeriesLimit,
            ]
            .iter()
            .map(|r| m.dropped_count(s, *r))
            .sum();
            let rejected: u64 = [
                RejectReason::Invalid,
                RejectReason::TooLarge,
                RejectReason::Overloaded,
                RejectReason::Conflict,
                RejectReason::NotFound,
            ]
            .iter()
            .map(|r| m.rejected_count(s, *r))
            .sum();
            let mut counts = json!({
                "received": m.received_count(s),
                "accepted": m.ingested_count(s),
                "sampled_out": m.dropped_count(s, DropReason::SampledOut),
                "dropped": dropped,
                "rejected": rejected,
            });
            if let (Signal::Spans, Some(o)) = (s, counts.as_object_mut()) {
                // Tail sampling drops whole traces; `sampled_out` above counts their spans.
                o.insert(
                    "sampled_out_traces".into(),
                    json!(m.traces_sampled_out_count()),
                );
            }
            out.insert(s.as_str().to_string(), counts);
        }
        Value::Object(out)
    }

    /// Returns per-event-type counts.
    pub fn event_type_counts(&self) -> BTreeMap<String, TypeCounts> {
        self.event_types.lock().clone()
    }
}

fn view(s: &InstrumentState) -> MetricValueView {
    match s {
        InstrumentState::Counter { value } | InstrumentState::Gauge { value } => {
            MetricValueView::Scalar { value: *value }
        }
        InstrumentState::Histogram { sum, count, .. } => MetricValueView::Histogram {
            count: *count,
            sum: *sum,
            buckets: s
                .cumulative_buckets()
                .unwrap_or_default()
                .into_iter()
                .map(|(le, c)| (format_le(le), c))
                .collect(),
        },
        InstrumentState::Summary { sum, count, .. } => MetricValueView::Summary {
            count: *count,
            sum: *sum,
            quantiles: s
                .quantiles()
                .unwrap_or_default()
                .into_iter()
                .map(|(q, v)| (format!("{q}"), v))
                .collect(),
        },
    }
}
