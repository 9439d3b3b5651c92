//! Hand-built spans and traces for unit tests.

use blazar_model::{Span, SpanId, SpanStatus, TraceId};
use blazar_signals::{TraceSummary, TraceView};

pub(crate) fn id(n: u64) -> SpanId {
    let mut b = [0u8; 8];
    b.copy_from_slice(&n.max(1).to_be_bytes());
    SpanId(b)
}

pub(crate) fn span(
    n: u64,
    parent: Option<u64>,
    service: &str,
    name: &str,
    start: i64,
    end: i64,
) -> Span {
    Span {
        trace_id: TraceId([7; 16]),
        span_id: id(n),
        parent_span_id: parent.map(id),
        name: name.into(),
        service: service.into(),
        kind: Default::default(),
        start_unix_nano: start,
        end_unix_nano: Some(end),
        status: SpanStatus::Ok,
        status_message: None,
        attributes: Default::default(),
        events: Vec::new(),
        resource: Default::default(),
        links: Vec::new(),
        scope: None,
        trace_state: None,
    }
}

/// A view over `spans` with a summary computed the way the store computes it.
pub(crate) fn view(mut spans: Vec<Span>) -> TraceView {
    spans.sort_by_key(|s| (s.start_unix_nano, s.span_id));
    let start = spans.iter().map(|s| s.start_unix_nano).min().unwrap_or(0);
    let open = spans.iter().any(|s| s.end_unix_nano.is_none());
    let end = spans.iter().filter_map(|s| s.end_unix_nano).max();
    let end = if open { None } else { end };
    let mut services: Vec<String> = spans.iter().map(|s| s.service.clone()).collect();
    services.sort();
    services.dedup();
    let errors = spans
        .iter()
        .filter(|s| s.status == SpanStatus::Error)
        .count();
    let root = spans.first();
    TraceView {
        summary: TraceSummary {
            ever_completed: false,
            trace_id: spans.first().map_or(TraceId([7; 16]), |s| s.trace_id),
            root_service: root.map(|r| r.service.clone()).unwrap_or_default(),
            root_name: root.map(|r| r.name.clone()).unwrap_or_default(),
            start_ns: start,
            end_ns: end,
            duration_ns: end.map(|e| e - start),
            span_count: spans.len(),
            error_count: errors,
            services,
            status: if errors > 0 {
                SpanStatus::Error
            } else {
                SpanStatus::Ok
            },
            complete: true,
        },
        spans,
    }
}
