//! `Analysis`: issues stored and queried, re-completion, eviction, rebuild, reload.

use super::*;
use crate::testutil::{span, view};
use blazar_model::{SpanStatus, TraceId};
use serde_json::json;

const S: i64 = 1_000_000_000;

fn slow(trace: u8, start: i64) -> TraceView {
    let mut root = span(
        u64::from(trace) * 10 + 1,
        None,
        "api",
        "GET /",
        start,
        start + 6 * S,
    );
    let mut child = span(
        u64::from(trace) * 10 + 2,
        Some(u64::from(trace) * 10 + 1),
        "db",
        "query",
        start + S,
        start + 2 * S,
    );
    root.trace_id = TraceId([trace; 16]);
    child.trace_id = TraceId([trace; 16]);
    view(vec![root, child])
}

fn failing(trace: u8, start: i64) -> TraceView {
    let mut v = slow(trace, start);
    let extra: Vec<_> = (0..3u64)
        .map(|i| {
            let mut s = span(
                u64::from(trace) * 10 + 3 + i,
                None,
                "db",
                "q",
                start,
                start + S,
            );
            s.parent_span_id = v.spans.first().map(|r| r.span_id);
            s.trace_id = TraceId([trace; 16]);
            s.status = SpanStatus::Error;
            s
        })
        .collect();
    v.spans.extend(extra);
    view(v.spans)
}

#[test]
fn issue_serialises_in_seed_shape() {
    let a = Analysis::new(default_patterns(), 10);
    let issues = a.on_completed(&[slow(1, 1_700_000_000 * S)], 0);
    assert_eq!(issues.len(), 1);
    assert_eq!(
        issues[0].to_json(),
        json!({
            "trace_id": "01010101010101010101010101010101",
            "pattern": "slow_service_call",
            "description": "Service call took longer than expected",
            "severity": "warning",
            "timestamp": "2023-11-14T22:13:20Z",
            "duration_ms": 6000.0,
            "services": ["api", "db"],
        })
    );
    let m = issue_message(&issues[0], 42);
    assert_eq!(m.kind, blazar_bus::MessageKind::Anomaly);
    assert_eq!(m.timestamp_ns, 42);
    assert_eq!(m.service.as_deref(), Some("api"));
    assert_eq!(m.data["pattern"], "slow_service_call");
}

#[test]
fn issues_filter_by_since_and_pattern_newest_first() {
    let a = Analysis::new(default_patterns(), 10);
    a.on_completed(&[slow(1, 10 * S), failing(2, 20 * S), slow(3, 30 * S)], 0);
    let all: Vec<(u8, String)> = a
        .issues(0, None, 100)
        .into_iter()
        .map(|i| (i.trace_id.0[0], i.pattern))
        .collect();
    assert_eq!(
        all,
        vec![
            (3, SLOW_SERVICE_CALL.to_string()),
            (2, SLOW_SERVICE_CALL.to_string()),
            (2, CASCADING_FAILURES.to_string()),
            (1, SLOW_SERVICE_CALL.to_string()),
        ]
    );
    assert_eq!(a.issues(20 * S, None, 100).len(), 3);
    assert_eq!(a.issues(0, Some(CASCADING_FAILURES), 100).len(), 1);
    assert_eq!(a.issues(0, Some("nope"), 100).len(), 0);
    assert_eq!(a.issues(0, None, 2).len(), 2);
}

#[test]
fn a_trace_completed_again_announces_only_new_issues() {
    let a = Analysis::new(default_patterns(), 10);
    assert_eq!(a.on_completed(&[slow(1, 0)], 0).len(), 1);
    // A late span re-completes it with the same finding: nothing new to publish or count.
    assert!(a.on_completed(&[slow(1, 0)], 1).is_empty());
    assert_eq!(a.issues(0, None, 100).len(), 1);
}

#[test]
fn a_trace_completed_again_replaces_its_issues() {
    let a = Analysis::new(default_patterns(), 10);
    a.on_completed(&[slow(1, 0)], 0);
    let again = a.on_completed(&[failing(1, 0)], 1);
    // Stored: both findings of the new shape; announced: only the one it did not have.
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].pattern, "cascading_failures");
    assert_eq!(a.issues(0, None, 100).len(), 2);
    assert_eq!(a.stats().issues, 2);
}

#[test]
fn the_ring_evicts_the_oldest_issue() {
    let a = Analysis::new(default_patterns(), 2);
    a.on_completed(&[slow(1, 10 * S), slow(2, 20 * S), slow(3, 30 * S)], 0);
    let ids: Vec<u8> = a
        .issues(0, None, 10)
        .iter()
        .map(|i| i.trace_id.0[0])
        .collect();
    assert_eq!(ids, vec![3, 2]);
    assert_eq!(a.stats().issues_evicted, 1);
}

#[test]
fn completed_traces_feed_the_graph_and_rebuild_restores_it() {
    let a = Analysis::new(default_patterns(), 10);
    a.on_completed(&[slow(1, 0), slow(2, S)], 5 * S);
    let g = a.graph();
    assert_eq!(g.edges.len(), 1);
    assert_eq!(g.edges[0].calls, 2);
    assert_eq!(g.edges[0].last_seen, "1970-01-01T00:00:05Z");

    let restarted = Analysis::new(default_patterns(), 10);
    restarted.rebuild([slow(1, 0), slow(2, S)]);
    assert_eq!(restarted.graph().edges[0].calls, 2);
    assert_eq!(restarted.issues(0, None, 10).len(), 2);
    // The same traces completing after the restart are not counted twice.
    restarted.on_completed(&[slow(1, 0)], 9 * S);
    assert_eq!(restarted.graph().edges[0].calls, 2);
    assert_eq!(restarted.issues(0, None, 10).len(), 2);
}

#[test]
fn reload_swaps_patterns_and_keeps_issues() {
    let a = Analysis::new(default_patterns(), 10);
    a.on_completed(&[slow(1, 0)], 0);
    let mut cfg = blazar_config::Config::default();
    cfg.tracing.default_patterns = false;
    a.reload(&cfg);
    assert!(a.patterns().is_empty());
    assert!(a.analyze(&slow(2, 0)).is_empty());
    assert_eq!(a.issues(0, None, 10).len(), 1);
    assert_eq!(
        Analysis::from_config(&blazar_config::Config::default())
            .stats()
            .patterns,
        3
    );
}
