use std::collections::{BTreeMap, BTreeSet};

use blazar_model::{SpanEvent, SpanKind};
use proptest::prelude::*;
use serde_json::json;

use super::*;

const MS: i64 = 1_000_000;

fn tid(n: u8) -> TraceId {
    TraceId([n; 16])
}

fn sid(n: u8) -> SpanId {
    SpanId([n; 8])
}

fn opts() -> TraceStoreOptions {
    TraceStoreOptions {
        max_age_ns: i64::MAX,
        max_bytes: usize::MAX,
        max_spans_per_trace: 100,
    }
}

/// An ended, ok span of `trace` lasting `[start, end]` ms.
fn span(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    service: &str,
    name: &str,
    start: i64,
    end: i64,
) -> Span {
    Span {
        trace_id: tid(trace),
        span_id: sid(id),
        parent_span_id: parent.map(sid),
        name: name.to_string(),
        service: service.to_string(),
        kind: SpanKind::Internal,
        start_unix_nano: start * MS,
        end_unix_nano: Some(end * MS),
        status: SpanStatus::Ok,
        status_message: None,
        attributes: BTreeMap::new(),
        events: Vec::new(),
        resource: Default::default(),
        links: Vec::new(),
        scope: None,
        trace_state: None,
    }
}

fn open(s: Span) -> Span {
    Span {
        end_unix_nano: None,
        status: SpanStatus::Unset,
        ..s
    }
}

fn ids(summaries: &[TraceSummary]) -> Vec<TraceId> {
    summaries.iter().map(|s| s.trace_id).collect()
}

/// Checks every index and count against a rebuild from the stored traces.
fn assert_consistent(store: &TraceStore) {
    let mut stats = TraceStoreStats {
        traces: store.traces.len(),
        ..TraceStoreStats::default()
    };
    let (mut by_start, mut by_activity, mut pending) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let (mut by_service, mut by_operation) = (index::Postings::new(), index::Postings::new());
    let mut span_count = 0;
    for (id, t) in &store.traces {
        assert!(t.len() > 0, "empty trace {id} stored");
        stats.spans += t.len();
        stats.open_spans += t.spans().filter(|s| s.end_unix_nano.is_none()).count();
        stats.bytes += t.spans().map(Span::approx_bytes).sum::<usize>();
        assert_eq!(
            t.start_ns(),
            t.spans().map(|s| s.start_unix_nano).min().unwrap()
        );
        assert_eq!(
            t.error_count(),
            t.spans().filter(|s| s.status == SpanStatus::Error).count()
        );
        by_start.insert((t.start_ns(), *id));
        by_activity.insert((t.last_activity_ns, *id));
        if !t.published {
            pending.insert((t.last_activity_ns, *id));
        }
        for s in t.spans() {
            span_count += 1;
            assert_eq!(store.span_trace.get(&s.span_id), Some(id));
            add_posting(&mut by_service, &s.service, (t.start_ns(), *id));
            add_posting(&mut by_operation, &s.name, (t.start_ns(), *id));
        }
    }
    assert_eq!(store.span_trace.len(), span_count);
    assert_eq!(store.stats(), stats);
    assert_eq!(store.index.by_start, by_start);
    assert_eq!(store.index.by_activity, by_activity);
    assert_eq!(store.index.pending, pending);
    assert_eq!(store.index.by_service, by_service);
    assert_eq!(store.index.by_operation, by_operation);
}

#[test]
fn open_span_is_replaced_when_finished() {
    let mut store = TraceStore::new(opts());
    let s = open(span(1, 1, None, "api", "GET /", 0, 0));
    assert_eq!(
        store.upsert_span(s.clone(), 0).unwrap(),
        Upserted {
            replaced: false,
            evicted: Evicted::default()
        }
    );
    assert_eq!(store.stats().open_spans, 1);
    let finished = Span {
        end_unix_nano: Some(5 * MS),
        status: SpanStatus::Error,
        ..s
    };
    assert!(store.upsert_span(finished, 1).unwrap().replaced);
    assert_eq!(
        store.stats(),
        TraceStoreStats {
            traces: 1,
            spans: 1,
            open_spans: 0,
            bytes: store.stats().bytes
        }
    );
    let sum = store.trace(tid(1)).unwrap().summary;
    assert_eq!(
        (sum.error_count, sum.status, sum.duration_ns),
        (1, SpanStatus::Error, Some(5 * MS))
    );
    assert_consistent(&store);
}

#[test]
fn update_span_applies_changes_and_keeps_ids() {
    let mut store = TraceStore::new(opts());
    store
        .upsert_span(open(span(1, 1, None, "api", "work", 0, 0)), 0)
        .unwrap();
    store
        .update_span(sid(1), 10, |s| {
            s.attributes.insert("plugin_id".into(), json!("p1"));
            s.events.push(SpanEvent {
                time_unix_nano: 1,
                name: "log".into(),
                attributes: BTreeMap::new(),
            });
            s.end_unix_nano = Some(3 * MS);
            s.span_id = sid(9);
            s.trace_id = tid(9);
        })
        .unwrap();
    let s = store.span(sid(1)).unwrap();
    assert_eq!(
        (s.trace_id, s.events.len(), s.end_unix_nano),
        (tid(1), 1, Some(3 * MS))
    );
    assert!(store.span(sid(9)).is_none());
    assert_eq!(store.stats().open_spans, 0);
    assert_consistent(&store);
}

#[test]
fn update_of_unknown_span_fails() {
    let mut store = TraceStore::new(opts());
    let err = store.update_span(sid(7), 0, |_| {}).unwrap_err();
    assert_eq!(err, TraceStoreError::UnknownSpan { span_id: sid(7) });
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn span_id_reused_in_another_trace_conflicts() {
    let mut store = TraceStore::new(opts());
    store
        .upsert_span(span(1, 1, None, "a", "x", 0, 1), 0)
        .unwrap();
    let err = store
        .upsert_span(span(2, 1, None, "a", "x", 0, 1), 0)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_consistent(&store);
}

#[test]
fn trace_over_max_spans_is_rejected_but_replacement_allowed() {
    let mut store = TraceStore::new(TraceStoreOptions {
        max_spans_per_trace: 2,
        ..opts()
    });
    store
        .upsert_span(span(1, 1, None, "a", "x", 0, 1), 0)
        .unwrap();
    store
        .upsert_span(span(1, 2, Some(1), "a", "y", 0, 1), 0)
        .unwrap();
    let err = store
        .upsert_span(span(1, 3, Some(1), "a", "z", 0, 1), 0)
        .unwrap_err();
    assert_eq!(
        err,
        TraceStoreError::TraceTooLong {
            trace_id: tid(1),
            max: 2
        }
    );
    assert!(
        store
            .upsert_span(span(1, 2, Some(1), "a", "y2", 0, 2), 0)
            .unwrap()
            .replaced
    );
    assert_eq!(store.stats().spans, 2);
    assert_consistent(&store);
}

#[test]
fn trace_assembles_from_services_arriving_out_of_order() {
    let mut store = TraceStore::new(opts());
    // Leaf first, root last, from three services.
    store
        .upsert_span(span(1, 3, Some(2), "db", "SELECT", 20, 30), 0)
        .unwrap();
    store
        .upsert_span(span(1, 2, Some(1), "orders", "create", 10, 40), 1)
        .unwrap();
    store
        .upsert_span(span(1, 4, Some(1), "billing", "charge", 41, 45), 2)
        .unwrap();
    let view = store.trace(tid(1)).unwrap();
    assert_eq!(
        view.summary.root_name, "create",
        "orphan is the root until its parent arrives"
    );
    store
        .upsert_span(span(1, 1, None, "gateway", "POST /orders", 5, 50), 3)
        .unwrap();

    let view = store.trace(tid(1)).unwrap();
    let order: Vec<SpanId> = view.spans.iter().map(|s| s.span_id).collect();
    assert_eq!(order, [sid(1), sid(2), sid(3), sid(4)]);
    let sum = view.summary;
    assert_eq!(
        (sum.root_service.as_str(), sum.root_name.as_str()),
        ("gateway", "POST /orders")
    );
    assert_eq!(
        (sum.start_ns, sum.end_ns, sum.duration_ns),
        (5 * MS, Some(50 * MS), Some(45 * MS))
    );
    assert_eq!(sum.services, ["billing", "db", "gateway", "orders"]);
    assert_eq!(
        (sum.span_count, sum.status, sum.complete),
        (4, SpanStatus::Ok, false)
    );
    assert_consistent(&store);
    // The start moved from 10ms to 5ms: the service postings follow it.
    let q = TraceQuery {
        service: Some("db".into()),
        end_ns: Some(6 * MS),
        ..TraceQuery::default()
    };
    assert_eq!(ids(&store.query(&q)), [tid(1)]);
}

#[test]
fn root_is_earliest_parentless_span() {
    let mut store = TraceStore::new(opts());
    store
        .upsert_span(span(1, 2, None, "late", "second", 10, 20), 0)
        .unwrap();
    store
        .upsert_span(span(1, 1, Some(99), "early", "first", 5, 20), 0)
        .unwrap();
    let sum = store.trace(tid(1)).unwrap().summary;
    assert_eq!(sum.root_name, "first");
}

#[test]
fn open_span_leaves_trace_unfinished() {
    let mut store = TraceStore::new(opts());
    store
        .upsert_span(span(1, 1, None, "a", "root", 0, 10), 0)
        .unwrap();
    store
        .upsert_span(open(span(1, 2, Some(1), "a", "child", 1, 0)), 0)
        .unwrap();
    let sum = store.trace(tid(1)).unwrap().summary;
    assert_eq!(
        (sum.end_ns, sum.duration_ns, sum.status),
        (None, None, SpanStatus::Unset)
    );
}

fn query_fixture() -> TraceStore {
    let mut store = TraceStore::new(opts());
    let mut a = span(1, 1, None, "api", "GET /users", 0, 100);
    a.attributes.insert("http.status_code".into(), json!(200));
    std::sync::Arc::make_mut(&mut a.resource).insert("plugin_id".into(), json!("auth"));
    store.upsert_span(a, 0).unwrap();
    let mut b = span(2, 2, None, "api", "POST /users", 10, 2_000);
    b.status = SpanStatus::Error;
    b.attributes.insert("http.status_code".into(), json!(500));
    b.attributes.insert("retry".into(), json!(true));
    store.upsert_span(b, 0).unwrap();
    store
        .upsert_span(span(2, 3, Some(2), "db", "INSERT", 20, 1_000), 0)
        .unwrap();
    store
        .upsert_span(open(span(3, 4, None, "worker", "job", 30, 0)), 0)
        .unwrap();
    store
}

#[test]
fn lists_newest_first_with_limit_and_time_range() {
    let store = query_fixture();
    assert_eq!(
        ids(&store.query(&TraceQuery::default())),
        [tid(3), tid(2), tid(1)]
    );
    assert_eq!(
        ids(&store.query(&TraceQuery {
            limit: 2,
            ..Default::default()
        })),
        [tid(3), tid(2)]
    );
    let q = TraceQuery {
        start_ns: Some(5 * MS),
        end_ns: Some(10 * MS),
        ..Default::default()
    };
    assert_eq!(ids(&store.query(&q)), [tid(2)]);
    let inverted = TraceQuery {
        start_ns: Some(10 * MS),
        end_ns: Some(5 * MS),
        ..Default::default()
    };
    assert!(store.query(&inverted).is_empty());
}

#[test]
fn service_and_operation_filters_use_any_span() {
    let store = query_fixture();
    assert_eq!(
        ids(&store.query(&TraceQuery {
            service: Some("db".into()),
            ..Default::default()
        })),
        [tid(2)]
    );
    assert_eq!(
        ids(&store.query(&TraceQuery {
            service: Some("api".into()),
            ..Default::default()
        })),
        [tid(2), tid(1)]
    );
    let q = TraceQuery {
        service: Some("api".into()),
        operation: Some("INSERT".into()),
        ..Default::default()
    };
    assert_eq!(ids(&store.query(&q)), [tid(2)]);
    assert!(store
        .query(&TraceQuery {
            service: Some("nope".into()),
            ..Default::default()
        })
        .is_empty());
}

#[test]
fn tag_filter_renders_values_as_text() {
    let store = query_fixture();
    let tags = |pairs: &[(&str, &str)]| TraceQuery {
        tags: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    assert_eq!(
        ids(&store.query(&tags(&[("http.status_code", "500")]))),
        [tid(2)]
    );
    assert_eq!(ids(&store.query(&tags(&[("retry", "true")]))), [tid(2)]);
    assert_eq!(
        ids(&store.query(&tags(&[("plugin_id", "auth")]))),
        [tid(1)],
        "resource attributes count"
    );
    assert!(store
        .query(&tags(&[("plugin_id", "auth"), ("retry", "true")]))
        .is_empty());
    assert!(store.query(&tags(&[("plugin_id", "\"auth\"")])).is_empty());
}

#[test]
fn errors_only_and_min_duration() {
    let store = query_fixture();
    assert_eq!(
        ids(&store.query(&TraceQuery {
            errors_only: true,
            ..Default::default()
        })),
        [tid(2)]
    );
    let slow = TraceQuery {
        min_duration_ns: Some(100 * MS),
        ..Default::default()
    };
    assert_eq!(
        ids(&store.query(&slow)),
        [tid(2), tid(1)],
        "open trace 3 has no duration yet"
    );
    let slower = TraceQuery {
        min_duration_ns: Some(101 * MS),
        ..Default::default()
    };
    assert_eq!(ids(&store.query(&slower)), [tid(2)]);
}

#[test]
fn completes_once_after_quiet_period() {
    let quiet = 5_000;
    let mut store = TraceStore::new(opts());
    store
        .upsert_span(span(1, 1, None, "a", "root", 0, 10), 1_000)
        .unwrap();
    store
        .upsert_span(span(1, 2, Some(1), "a", "child", 1, 9), 2_000)
        .unwrap();
    assert!(
        store.take_completed(6_999, quiet).is_empty(),
        "quiet period counts from the last activity"
    );
    let done = store.take_completed(7_000, quiet);
    assert_eq!(ids(&done), [tid(1)]);
    assert!(done.iter().all(|s| s.complete));
    assert!(
        store.take_completed(100_000, quiet).is_empty(),
        "exactly once"
    );
    assert!(store.trace(tid(1)).unwrap().summary.complete);
    assert_consistent(&store);
}

#[test]
fn does_not_complete_before_root_ends() {
    let mut store = TraceStore::new(opts());
    store
        .upsert_span(open(span(1, 1, None, "a", "root", 0, 0)), 0)
        .unwrap();
    store
        .upsert_span(span(1, 2, Some(1), "a", "child", 1, 2), 0)
        .unwrap();
    assert!(store.take_completed(1_000_000, 10).is_empty());
    store
        .update_span(sid(1), 1_000_000, |s| s.end_unix_nano = Some(3 * MS))
        .unwrap();
    assert!(store.take_completed(1_000_005, 10).is_empty());
    assert_eq!(ids(&store.take_completed(1_000_010, 10)), [tid(1)]);
}

#[test]
fn late_span_completes_trace_again_after_new_quiet_period() {
    let mut store = TraceStore::new(opts());
    store
        .upsert_span(span(1, 1, None, "a", "root", 0, 10), 0)
        .unwrap();
    assert_eq!(store.take_completed(10, 10).len(), 1);
    store
        .upsert_span(span(1, 2, Some(1), "b", "late", 1, 2), 20)
        .unwrap();
    assert!(!store.trace(tid(1)).unwrap().summary.complete);
    assert!(store.take_completed(29, 10).is_empty());
    let again = store.take_completed(30, 10);
    assert_eq!(again.first().map(|s| s.span_count), Some(2));
    assert_consistent(&store);
}

#[test]
fn ended_spans_are_counted_once_across_late_spans_and_retries() {
    let mut store = TraceStore::new(opts());
    store
        .upsert_span(span(1, 1, None, "a", "root", 0, 10), 0)
        .unwrap();
    store
        .upsert_span(open(span(1, 2, Some(1), "a", "open", 1, 1)), 0)
        .unwrap();
    let mut seen = Vec::new();
    assert_eq!(store.count_ended_spans(tid(1), |s| seen.push(s.span_id)), 1);
    assert_eq!(seen, [sid(1)]);
    // A retry of a counted span stays counted; the open span counts once it ends.
    store
        .upsert_span(span(1, 1, None, "a", "root", 0, 10), 5)
        .unwrap();
    store
        .update_span(sid(2), 6, |s| s.end_unix_nano = Some(2 * MS))
        .unwrap();
    store
        .upsert_span(span(1, 3, Some(1), "b", "late", 1, 2), 7)
        .unwrap();
    seen.clear();
    assert_eq!(store.count_ended_spans(tid(1), |s| seen.push(s.span_id)), 2);
    seen.sort();
    assert_eq!(seen, [sid(2), sid(3)]);
    assert_eq!(store.count_ended_spans(tid(1), |_| {}), 0);
    assert_eq!(store.count_ended_spans(tid(9), |_| {}), 0);
}

#[test]
fn remove_trace_drops_it_from_every_index() {
    let mut store = query_fixture();
    let before = store.stats();
    let held = store.trace(tid(1)).unwrap().spans.len();
    let gone = store.remove_trace(tid(1));
    assert_eq!(
        gone,
        Evicted {
            traces: 1,
            spans: held
        }
    );
    assert!(store.trace(tid(1)).is_none());
    assert_eq!(store.stats().traces, before.traces - 1);
    assert!(store.remove_trace(tid(1)).is_empty());
    assert_consistent(&store);
}

#[test]
fn retain_drops_traces_inactive_for_max_age() {
    let mut store = TraceStore::new(TraceStoreOptions {
        max_age_ns: 100,
        ..opts()
    });
    store
        .upsert_span(span(1, 1, None, "a", "x", 0, 1), 0)
        .unwrap();
    store
        .upsert_span(span(2, 2, None, "a", "x", 0, 1), 50)
        .unwrap();
    store
        .upsert_span(span(2, 3, Some(2), "a", "y", 0, 1), 60)
        .unwrap();
    store
        .upsert_span(span(1, 4, Some(1), "a", "y", 0, 1), 90)
        .unwrap();
    assert_eq!(
        store.retain(160),
        Evicted::default(),
        "activity at 60 is exactly max_age old"
    );
    assert_eq!(
        store.retain(161),
        Evicted {
            traces: 1,
            spans: 2
        }
    );
    assert!(store.span(sid(2)).is_none());
    assert!(store.span(sid(1)).is_some());
    assert_consistent(&store);
    assert_eq!(
        store.retain(1_000),
        Evicted {
            traces: 1,
            spans: 2
        }
    );
    assert_eq!(store.stats(), TraceStoreStats::default());
    assert_consistent(&store);
}

#[test]
fn byte_budget_evicts_least_recently_active_and_reports_it() {
    let one = span(1, 1, None, "a", "x", 0, 1).approx_bytes();
    let mut store = TraceStore::new(TraceStoreOptions {
        max_bytes: one * 2,
        ..opts()
    });
    store
        .upsert_span(span(1, 1, None, "a", "x", 0, 1), 0)
        .unwrap();
    store
        .upsert_span(span(2, 2, None, "a", "x", 0, 1), 1)
        .unwrap();
    // Touching trace 1 makes trace 2 the least recently active.
    store.update_span(sid(1), 2, |_| {}).unwrap();
    let up = store
        .upsert_span(span(3, 3, None, "a", "x", 0, 1), 3)
        .unwrap();
    assert_eq!(
        up.evicted,
        Evicted {
            traces: 1,
            spans: 1
        }
    );
    assert!(store.trace(tid(2)).is_none());
    assert!(store.stats().bytes <= one * 2);
    assert_eq!(
        store.set_limits(TraceStoreOptions {
            max_bytes: one,
            ..opts()
        }),
        Evicted {
            traces: 1,
            spans: 1
        }
    );
    assert!(store.trace(tid(3)).is_some());
    assert_consistent(&store);
}

#[test]
fn iter_spans_yields_every_span_least_recently_active_first() {
    let store = query_fixture();
    assert_eq!(store.iter_spans().count(), 4);
    let mut copy = TraceStore::new(opts());
    for s in store.iter_spans() {
        copy.upsert_span(s.clone(), 0).unwrap();
    }
    assert_eq!(
        copy.query(&TraceQuery::default()),
        store.query(&TraceQuery::default())
    );
}

#[test]
fn summary_serializes_with_snake_case_fields() {
    let store = query_fixture();
    let v = serde_json::to_value(store.trace(tid(2)).unwrap().summary).unwrap();
    assert_eq!(v["trace_id"], json!(tid(2).to_string()));
    assert_eq!(v["status"], json!("error"));
    assert_eq!(v["services"], json!(["api", "db"]));
}

#[derive(Debug, Clone)]
enum Op {
    Upsert {
        trace: u8,
        id: u8,
        parent: Option<u8>,
        service: u8,
        start: i64,
        end: Option<i64>,
        error: bool,
    },
    Update {
        id: u8,
        name: u8,
        start: i64,
    },
    Retain,
    Complete,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..4, 1u8..12, proptest::option::of(1u8..12), 0u8..3, 0i64..50, proptest::option::of(0i64..80), any::<bool>())
            .prop_map(|(trace, id, parent, service, start, end, error)| Op::Upsert { trace, id, parent, service, start, end, error }),
        2 => (1u8..12, 0u8..3, 0i64..50).prop_map(|(id, name, start)| Op::Update { id, name, start }),
        1 => Just(Op::Retain),
        1 => Just(Op::Complete),
    ]
}

proptest! {
    #[test]
    fn indexes_and_counts_stay_consistent(ops in proptest::collection::vec(op(), 0..60), budget in 1usize..6) {
        let one = span(1, 1, None, "svc0", "op", 0, 1).approx_bytes();
        let mut store = TraceStore::new(TraceStoreOptions {
            max_age_ns: 30,
            max_bytes: one * budget,
            max_spans_per_trace: 4,
        });
        for (now, op) in (0i64..).step_by(3).zip(ops) {
            match op {
                Op::Upsert { trace, id, parent, service, start, end, error } => {
                    let mut s = span(trace, id, parent, &format!("svc{service}"), "op", start, 0);
                    s.end_unix_nano = end;
                    if error { s.status = SpanStatus::Error; }
                    let _ = store.upsert_span(s, now);
                }
                Op::Update { id, name, start } => {
                    let _ = store.update_span(sid(id), now, |s| {
                        s.name = format!("op{name}");
                        s.start_unix_nano = start;
                    });
                }
                Op::Retain => {
                    store.retain(now);
                }
                Op::Complete => {
                    let done = store.take_completed(now, 5);
                    prop_assert!(done.iter().all(|s| s.complete));
                }
            }
            prop_assert!(store.stats().bytes <= one * budget);
            assert_consistent(&store);
        }
    }
}
