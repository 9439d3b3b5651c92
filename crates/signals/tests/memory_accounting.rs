//! The byte budgets (`storage.traces.max_bytes`, `storage.logs.max_bytes`) bound what the
//! stores *count*; this checks the count tracks the resident memory it stands for, so a
//! 256 MiB budget is about 256 MiB of RSS, not 2.5 times that. Measured under mimalloc, the
//! allocator the binary uses. One test, so nothing else allocates in this process meanwhile;
//! the bound is a wide band (allocator and page effects), not an exact figure.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use blazar_model::{
    LogRecord, Scope, Severity, Span, SpanId, SpanKind, SpanStatus, TraceId, UnixNanos,
};
use blazar_signals::{LogStore, LogStoreOptions, TraceStore, TraceStoreOptions};
use serde_json::{json, Value};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: u64 = 200_000;

fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    s.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 4096
}

/// Resource attributes as the OpenTelemetry SDKs send them.
fn resource() -> BTreeMap<String, Value> {
    [
        ("service.name", "orders"),
        ("service.namespace", "shop"),
        ("service.instance.id", "orders-0"),
        ("service.version", "1.14.0"),
        ("telemetry.sdk.language", "python"),
        ("telemetry.sdk.name", "opentelemetry"),
        ("telemetry.sdk.version", "1.45.2"),
        ("deployment.environment.name", "prod"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), json!(v)))
    .collect()
}

fn span(i: u64) -> Span {
    let mut attributes = BTreeMap::new();
    attributes.insert("http.request.method".to_string(), json!("GET"));
    attributes.insert("http.route".to_string(), json!("/api/orders/{id}"));
    attributes.insert("http.response.status_code".to_string(), json!(200));
    attributes.insert("server.address".to_string(), json!("orders.shop.svc"));
    attributes.insert("order.id".to_string(), json!(format!("ord-{i}")));
    let mut trace = [0u8; 16];
    trace[..8].copy_from_slice(&(i / 8 + 1).to_be_bytes());
    let (root, nth) = (i / 8 * 8 + 1, i % 8);
    Span {
        trace_id: TraceId(trace),
        span_id: SpanId((i + 1).to_be_bytes()),
        parent_span_id: (nth > 0).then(|| SpanId(root.to_be_bytes())),
        name: "orders.OrderService/GetOrder".into(),
        service: "orders".into(),
        kind: SpanKind::Server,
        start_unix_nano: 1_000_000 + i as UnixNanos,
        end_unix_nano: Some(2_000_000 + i as UnixNanos),
        status: SpanStatus::Ok,
        status_message: None,
        attributes,
        events: Vec::new(),
        resource: std::sync::Arc::new(resource()),
        links: Vec::new(),
        scope: Some(Scope {
            name: "orders.service".into(),
            version: "1.14.0".into(),
        }),
        trace_state: None,
    }
}

fn log(i: u64) -> LogRecord {
    let mut attributes = BTreeMap::new();
    attributes.insert("http.route".to_string(), json!("/api/orders/{id}"));
    attributes.insert("order.id".to_string(), json!(format!("ord-{i}")));
    LogRecord {
        timestamp_ns: i as UnixNanos,
        severity: Severity::Info,
        body: format!("GET /api/orders/ord-{i} 200 184ms"),
        service: "orders".into(),
        attributes,
        resource: std::sync::Arc::new(resource()),
        severity_number: Some(9),
        severity_text: Some("INFO".into()),
        trace_id: Some(TraceId([1; 16])),
        span_id: Some(SpanId([2; 8])),
        scope: Some(Scope {
            name: "orders.service".into(),
            version: "1.14.0".into(),
        }),
        ..LogRecord::default()
    }
}

fn check(what: &str, counted: usize, grown: usize) {
    let ratio = grown as f64 / counted as f64;
    println!(
        "{what}: counted {} B/item, resident {} B/item, ratio {ratio:.2}",
        counted / N as usize,
        grown / N as usize
    );
    assert!(
        (0.7..=1.5).contains(&ratio),
        "{what}: resident memory is {ratio:.2} x the bytes the budget counts"
    );
}

#[test]
fn budgets_count_about_what_the_stores_hold() {
    // Logs first, kept alive, then spans: each measurement sees only fresh pages.
    let mut logs = LogStore::new(LogStoreOptions {
        max_age_ns: i64::MAX,
        max_bytes: usize::MAX,
        max_records: usize::MAX,
    });
    let before = rss();
    let mut counted = 0;
    for i in 0..N {
        let r = log(i);
        counted += r.approx_bytes();
        logs.insert(r);
    }
    check("logs", counted, rss() - before);

    let mut traces = TraceStore::new(TraceStoreOptions {
        max_age_ns: i64::MAX,
        max_bytes: usize::MAX,
        max_spans_per_trace: 1000,
    });
    let before = rss();
    for i in 0..N {
        traces.upsert_span(span(i), i as i64).unwrap();
    }
    check("spans", traces.stats().bytes, rss() - before);
    assert_eq!(logs.len(), N as usize);

    // As OTLP delivers them: the spans of one request share their resource's map.
    let mut shared = TraceStore::new(TraceStoreOptions {
        max_age_ns: i64::MAX,
        max_bytes: usize::MAX,
        max_spans_per_trace: 1000,
    });
    let before = rss();
    for batch in 0..N / 500 {
        let resource = std::sync::Arc::new(resource());
        let spans: Vec<Span> = (0..500)
            .map(|j| Span {
                resource: resource.clone(),
                ..span(N + batch * 500 + j)
            })
            .collect();
        drop(resource);
        for s in spans {
            shared.upsert_span(s, 0).unwrap();
        }
    }
    check(
        "spans sharing a resource",
        shared.stats().bytes,
        rss() - before,
    );
}
