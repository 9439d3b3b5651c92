//! Store behaviour across restarts: what is acknowledged comes back exactly.

use std::sync::Arc;

use blazar_bus::Bus;
use blazar_ingest::remote_write::{borrowed, proto};
use blazar_model::{Labels, Span, SpanId, SpanKind, SpanStatus, TraceId};
use blazar_signals::TraceView;
use prost::Message;

use crate::{SelfMetrics, Settings, Store};

fn open(dir: &std::path::Path) -> Store {
    let mut cfg = blazar_config::Config::default();
    cfg.storage.data_dir = dir.to_path_buf();
    Store::open(
        Settings::from_config(&cfg),
        Bus::new(16),
        Arc::new(SelfMetrics::new()),
    )
    .unwrap()
    .0
}

fn write(store: &Store, series: &[&str], t: i64, v: f64) {
    let req = proto::WriteRequest {
        timeseries: series
            .iter()
            .map(|name| proto::TimeSeries {
                labels: vec![proto::Label {
                    name: "__name__".into(),
                    value: (*name).into(),
                }],
                samples: vec![proto::Sample {
                    value: v,
                    timestamp: t,
                }],
            })
            .collect(),
        metadata: vec![],
    };
    let raw = req.encode_to_vec();
    store.write_remote(&borrowed::parse(&raw).unwrap()).unwrap();
}

fn latest(store: &Store, name: &str) -> Option<(i64, f64)> {
    let labels = Labels::try_from_pairs([("__name__", name)]).unwrap();
    let r = store.head().lookup(&labels)?;
    store.head().latest(r).map(|s| (s.t, s.v))
}

#[test]
fn a_series_removed_by_retention_and_written_again_replays_under_its_new_ref() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        write(&store, &["churn", "other"], 1_000, 1.0);
        // Retention far in the future removes both series (their only chunk is past it).
        store.enforce_retention(i64::MAX / 2);
        assert_eq!(latest(&store, "churn"), None);
        // The same labels come back: a new ref, declared again in the WAL.
        write(&store, &["churn"], 2_000, 2.0);
        write(&store, &["other", "fresh"], 3_000, 3.0);
        assert_eq!(latest(&store, "churn"), Some((2_000, 2.0)));
    }
    let store = open(dir.path());
    assert_eq!(latest(&store, "churn"), Some((2_000, 2.0)));
    assert_eq!(latest(&store, "other"), Some((3_000, 3.0)));
    assert_eq!(latest(&store, "fresh"), Some((3_000, 3.0)));
}

#[test]
fn many_new_series_in_one_request_all_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    {
        let store = open(dir.path());
        write(&store, &refs, 1_000, 7.0);
    }
    let store = open(dir.path());
    for n in &refs {
        assert_eq!(latest(&store, n), Some((1_000, 7.0)), "{n}");
    }
}

#[test]
fn remote_write_metadata_is_bounded_by_max_series() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = blazar_config::Config::default();
    cfg.storage.data_dir = dir.path().to_path_buf();
    cfg.limits.max_series = 2;
    let store = Store::open(
        Settings::from_config(&cfg),
        Bus::new(16),
        Arc::new(SelfMetrics::new()),
    )
    .unwrap()
    .0;
    let req = proto::WriteRequest {
        timeseries: vec![],
        metadata: (0..5)
            .map(|i| proto::MetricMetadata {
                r#type: proto::MetricType::Counter as i32,
                metric_family_name: format!("family_{i}"),
                help: "h".into(),
                unit: String::new(),
            })
            .collect(),
    };
    let raw = req.encode_to_vec();
    store.write_remote(&borrowed::parse(&raw).unwrap()).unwrap();
    assert_eq!(store.mem.metadata.read().len(), 2);
}

#[test]
fn limits_are_checked_for_new_remote_write_series() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let long = "v".repeat(5000);
    let req = proto::WriteRequest {
        timeseries: vec![
            proto::TimeSeries {
                labels: vec![proto::Label {
                    name: "__name__".into(),
                    value: "ok_series".into(),
                }],
                samples: vec![proto::Sample {
                    value: 1.0,
                    timestamp: 1,
                }],
            },
            proto::TimeSeries {
                labels: vec![
                    proto::Label {
                        name: "__name__".into(),
                        value: "bad".into(),
                    },
                    proto::Label {
                        name: "host".into(),
                        value: long,
                    },
                ],
                samples: vec![proto::Sample {
                    value: 1.0,
                    timestamp: 1,
                }],
            },
        ],
        metadata: vec![],
    };
    let raw = req.encode_to_vec();
    let err = store
        .write_remote(&borrowed::parse(&raw).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("timeseries[1].labels: tags.host:"), "{err}");
    // All or nothing: the valid series of the refused request was not kept either.
    assert_eq!(latest(&store, "ok_series"), None);
    assert_eq!(store.head().series_count(), 0);
}

// === tail sampling and span metrics at trace completion ===

const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * SEC;

fn open_tracing(dir: &std::path::Path, rate: f64) -> Store {
    let mut cfg = blazar_config::Config::default();
    cfg.storage.data_dir = dir.to_path_buf();
    cfg.tracing.sample_rate = rate;
    cfg.tracing.keep_errors = true;
    cfg.tracing.keep_slower_than = std::time::Duration::from_secs(5);
    Store::open(
        Settings::from_config(&cfg),
        Bus::new(64),
        Arc::new(SelfMetrics::new()),
    )
    .unwrap()
    .0
}

/// An ended span of trace `trace` (its root when `parent` is `None`) lasting `ms`.
fn span(trace: u8, id: u8, parent: Option<u8>, ms: i64, status: SpanStatus) -> Span {
    Span {
        trace_id: TraceId([trace; 16]),
        span_id: SpanId([id; 8]),
        parent_span_id: parent.map(|p| SpanId([p; 8])),
        name: if parent.is_none() {
            "GET /orders"
        } else {
            "SELECT"
        }
        .into(),
        service: "orders".into(),
        kind: if parent.is_none() {
            SpanKind::Server
        } else {
            SpanKind::Client
        },
        start_unix_nano: T0,
        end_unix_nano: Some(T0 + ms * 1_000_000),
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

fn trace_ids(views: &[TraceView]) -> Vec<u8> {
    let mut v: Vec<u8> = views.iter().map(|t| t.summary.trace_id.0[0]).collect();
    v.sort_unstable();
    v
}

fn series_value(store: &Store, pairs: &[(&str, &str)]) -> Option<f64> {
    let labels = Labels::try_from_pairs(pairs.iter().copied()).unwrap();
    let r = store.head().lookup(&labels)?;
    store.head().latest(r).map(|s| s.v)
}

fn calls(store: &Store, name: &str, kind: &str, status: &str) -> Option<f64> {
    series_value(
        store,
        &[
            ("__name__", crate::CALLS_SERIES),
            ("service", "orders"),
            ("span_name", name),
            ("span_kind", kind),
            ("status_code", status),
        ],
    )
}

#[test]
fn rate_zero_drops_normal_traces_and_keeps_error_and_slow_ones() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_tracing(dir.path(), 0.0);
        store
            .write_spans(
                vec![
                    span(1, 1, None, 10, SpanStatus::Ok),
                    span(1, 2, Some(1), 5, SpanStatus::Ok),
                    span(2, 3, None, 10, SpanStatus::Ok),
                    span(2, 4, Some(3), 5, SpanStatus::Error),
                    span(3, 5, None, 6_000, SpanStatus::Ok),
                ],
                T0,
            )
            .unwrap();
        assert!(store.complete_traces(T0 + SEC).is_empty(), "not quiet yet");
        let mut rx = store.bus().subscribe();
        let kept = store.complete_traces(T0 + 3 * SEC);
        assert_eq!(trace_ids(&kept), [2, 3]);
        assert_eq!(kept.iter().map(|v| v.spans.len()).sum::<usize>(), 3);
        let mut published = Vec::new();
        while let Ok(m) = rx.try_recv() {
            assert_eq!(m.kind, blazar_bus::MessageKind::TraceCompleted);
            published.push(m.data["trace_id"].as_str().unwrap().to_string());
        }
        assert_eq!(published.len(), 2);
        assert!(store.trace(TraceId([1; 16])).is_none());
        assert_eq!(store.stats().spans, 3);
        let counts = store.signal_counts();
        assert_eq!(counts["spans"]["sampled_out"], 2);
        assert_eq!(counts["spans"]["sampled_out_traces"], 1);
        let text = store.self_metrics().encode();
        assert!(text.contains("blazar_traces_sampled_out_total 1"), "{text}");
        assert!(
            text.contains("blazar_dropped_total{signal=\"spans\",reason=\"sampled_out\"} 2"),
            "{text}"
        );
    }
    // Replay drops it again although its span records come first in the WAL.
    let store = open_tracing(dir.path(), 0.0);
    assert!(store.trace(TraceId([1; 16])).is_none());
    assert!(store.trace(TraceId([2; 16])).is_some());
    assert!(store.trace(TraceId([3; 16])).is_some());
    // Replayed complete traces are not announced again.
    assert!(store.complete_traces(T0 + 10 * SEC).is_empty());
    // A late span of the dropped trace starts a new trace entry, sampled on its own.
    store
        .write_spans(vec![span(1, 6, Some(1), 1, SpanStatus::Ok)], T0 + 11 * SEC)
        .unwrap();
    assert_eq!(store.trace(TraceId([1; 16])).unwrap().spans.len(), 1);
    assert!(store.complete_traces(T0 + 20 * SEC).is_empty());
    assert!(store.trace(TraceId([1; 16])).is_none());
    store.checkpoint().unwrap();
    drop(store);
    let store = open_tracing(dir.path(), 0.0);
    assert!(store.trace(TraceId([1; 16])).is_none());
    assert_eq!(store.stats().traces, 2);
}

#[test]
fn rate_one_keeps_every_trace() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_tracing(dir.path(), 1.0);
    let spans = (1..=20u8)
        .map(|i| span(i, i, None, 1, SpanStatus::Ok))
        .collect();
    store.write_spans(spans, T0).unwrap();
    assert_eq!(store.complete_traces(T0 + 3 * SEC).len(), 20);
    assert_eq!(store.stats().traces, 20);
    assert_eq!(store.signal_counts()["spans"]["sampled_out"], 0);
}

#[test]
fn span_metrics_count_every_span_once() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = format!("{}_bucket", crate::DURATION_FAMILY);
    let count = format!("{}_count", crate::DURATION_FAMILY);
    {
        // Rate 0: the trace is dropped, but its spans still count.
        let store = open_tracing(dir.path(), 0.0);
        let mut spans = vec![span(1, 1, None, 30, SpanStatus::Ok)];
        spans.extend((2..=8u8).map(|i| span(1, i, Some(1), 3, SpanStatus::Ok)));
        store.write_spans(spans, T0).unwrap();
        store.complete_traces(T0 + 3 * SEC);
        assert!(store.trace(TraceId([1; 16])).is_none());
        assert_eq!(
            calls(&store, "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_OK"),
            Some(7.0)
        );
        assert_eq!(
            calls(&store, "GET /orders", "SPAN_KIND_SERVER", "STATUS_CODE_OK"),
            Some(1.0)
        );
        let select = |name: &str, le: Option<&str>| {
            let mut pairs = vec![
                ("__name__", name),
                ("service", "orders"),
                ("span_name", "SELECT"),
                ("span_kind", "SPAN_KIND_CLIENT"),
                ("status_code", "STATUS_CODE_OK"),
            ];
            pairs.extend(le.map(|le| ("le", le)));
            series_value(&store, &pairs)
        };
        assert_eq!(select(&count, None), Some(7.0));
        assert_eq!(select(&bucket, Some("0.002")), Some(0.0));
        assert_eq!(select(&bucket, Some("0.005")), Some(7.0));
        assert_eq!(select(&bucket, Some("+Inf")), Some(7.0));
        let listed = store.list_metrics(Some(&blazar_model::Glob::new(&bucket)), 100);
        assert!(listed
            .iter()
            .all(|m| m.kind == blazar_model::MetricKind::Histogram));

        // A kept trace that completes again after a late span counts only the late span.
        store
            .write_spans(
                vec![
                    span(2, 20, None, 10, SpanStatus::Error),
                    span(2, 21, Some(20), 3, SpanStatus::Ok),
                ],
                T0 + 4 * SEC,
            )
            .unwrap();
        assert_eq!(store.complete_traces(T0 + 7 * SEC).len(), 1);
        assert_eq!(
            calls(&store, "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_OK"),
            Some(8.0)
        );
        store
            .write_spans(vec![span(2, 22, Some(20), 3, SpanStatus::Ok)], T0 + 8 * SEC)
            .unwrap();
        let again = store.complete_traces(T0 + 11 * SEC);
        assert_eq!(again.first().map(|v| v.spans.len()), Some(3));
        assert_eq!(
            calls(&store, "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_OK"),
            Some(9.0)
        );
        assert_eq!(
            calls(
                &store,
                "GET /orders",
                "SPAN_KIND_SERVER",
                "STATUS_CODE_ERROR"
            ),
            Some(1.0)
        );
    }
    // After a restart the totals continue from the stored values, and spans of traces that
    // completed before it are not counted again.
    let store = open_tracing(dir.path(), 0.0);
    store
        .write_spans(
            vec![span(2, 23, Some(20), 3, SpanStatus::Ok)],
            T0 + 20 * SEC,
        )
        .unwrap();
    store.complete_traces(T0 + 23 * SEC);
    assert_eq!(
        calls(&store, "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_OK"),
        Some(10.0)
    );
}

#[test]
fn replayed_spans_of_one_resource_share_its_map_again() {
    let dir = tempfile::tempdir().unwrap();
    let resource: blazar_model::Resource = Arc::new(
        [("service.name".to_string(), serde_json::json!("orders"))]
            .into_iter()
            .collect(),
    );
    let spans: Vec<Span> = (1..=3u8)
        .map(|i| Span {
            resource: resource.clone(),
            ..span(7, i, (i > 1).then_some(1), 10, SpanStatus::Ok)
        })
        .collect();
    {
        let store = open(dir.path());
        store.write_spans(spans, T0).unwrap();
    }
    let store = open(dir.path());
    let view = store.trace(TraceId([7; 16])).unwrap();
    assert_eq!(view.spans.len(), 3);
    let first = &view.spans[0].resource;
    assert_eq!(
        first.get("service.name"),
        Some(&serde_json::json!("orders"))
    );
    assert!(view.spans.iter().all(|s| Arc::ptr_eq(&s.resource, first)));
}

#[test]
fn a_trace_quiet_at_a_crash_completes_after_the_restart_and_a_completed_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_tracing(dir.path(), 1.0);
        // Trace 1 completes before the "crash"; trace 2 is still in its quiet period.
        store
            .write_spans(
                vec![
                    span(1, 1, None, 10, SpanStatus::Ok),
                    span(1, 2, Some(1), 5, SpanStatus::Ok),
                ],
                T0,
            )
            .unwrap();
        assert_eq!(store.complete_traces(T0 + 3 * SEC).len(), 1);
        store
            .write_spans(
                vec![
                    span(2, 3, None, 10, SpanStatus::Ok),
                    span(2, 4, Some(3), 5, SpanStatus::Ok),
                ],
                T0 + 4 * SEC,
            )
            .unwrap();
        assert_eq!(
            calls(&store, "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_OK"),
            Some(1.0)
        );
        // Dropped without a shutdown pass: the crash.
    }
    let store = open_tracing(dir.path(), 1.0);
    let done = store.complete_traces(i64::MAX / 2);
    assert_eq!(trace_ids(&done), [2], "only the trace that was still quiet");
    assert_eq!(
        calls(&store, "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_OK"),
        Some(2.0),
        "trace 2's span counted once, trace 1's not again"
    );
    // Through a checkpoint too: both are completed now and stay so.
    store.checkpoint().unwrap();
    drop(store);
    let store = open_tracing(dir.path(), 1.0);
    assert!(store.complete_traces(i64::MAX / 2).is_empty());
    assert_eq!(
        calls(&store, "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_OK"),
        Some(2.0)
    );
    assert_eq!(store.stats().traces, 2);
}

#[test]
fn a_checkpoint_of_a_trace_pending_again_keeps_what_was_counted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_tracing(dir.path(), 1.0);
        store
            .write_spans(
                vec![
                    span(1, 1, None, 10, SpanStatus::Ok),
                    span(1, 2, Some(1), 5, SpanStatus::Ok),
                ],
                T0,
            )
            .unwrap();
        assert_eq!(store.complete_traces(T0 + 3 * SEC).len(), 1);
        // A late span: the trace is pending again when the checkpoint is taken.
        store
            .write_spans(vec![span(1, 3, Some(1), 5, SpanStatus::Ok)], T0 + 4 * SEC)
            .unwrap();
        store.checkpoint().unwrap();
    }
    let store = open_tracing(dir.path(), 1.0);
    assert_eq!(
        calls(&store, "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_OK"),
        Some(1.0)
    );
    // It completes again after the restart and counts only the late span.
    let again = store.complete_traces(i64::MAX / 2);
    assert_eq!(again.first().map(|v| v.spans.len()), Some(3));
    assert_eq!(
        calls(&store, "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_OK"),
        Some(2.0)
    );
    assert!(store.traces(&blazar_signals::TraceQuery::default())[0].ever_completed);
}
