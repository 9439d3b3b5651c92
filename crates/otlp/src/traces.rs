//! `ExportTraceServiceRequest` → blazar spans. A span with bad ids or over-deep attributes is
//! rejected alone (partial success); the rest of the request is kept.

use blazar_model::{Span, SpanEvent, SpanId, SpanKind, SpanLink, SpanStatus, TraceId};
use opentelemetry_proto::tonic::trace::v1 as pb;

use crate::attrs::{self, to_map};
use crate::{ExportTraceServiceRequest, Mapped};

/// Maps every span of `req`; a span that cannot be mapped is counted in `rejected`.
/// `now_ns` is unused for spans (they always carry times) but kept for a uniform signature.
pub fn map_traces(req: ExportTraceServiceRequest, now_ns: i64) -> Mapped<Vec<Span>> {
    let _ = now_ns;
    let mut out = Mapped {
        items: Vec::with_capacity(span_count(&req)),
        ..Mapped::default()
    };
    for (ri, rs) in req.resource_spans.iter().enumerate() {
        let res = match attrs::resource(rs.resource.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                for _ in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
                    out.reject(format!("resourceSpans[{ri}]: {e}"));
                }
                continue;
            }
        };
        for (si, ss) in rs.scope_spans.iter().enumerate() {
            let scope = attrs::scope(ss.scope.as_ref());
            for (pi, sp) in ss.spans.iter().enumerate() {
                match span(sp) {
                    Ok(mut s) => {
                        s.service.clone_from(&res.service);
                        s.resource = res.attrs.clone();
                        s.scope.clone_from(&scope);
                        out.items.push(s);
                    }
                    Err(e) => out.reject(format!(
                        "resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}].{e}"
                    )),
                }
            }
        }
    }
    out
}

fn span_count(req: &ExportTraceServiceRequest) -> usize {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

/// Returns nanoseconds as the model's signed type; times past 2262 saturate.
pub(crate) fn nanos(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Maps one span; the error is `field: reason` relative to the span.
fn span(sp: &pb::Span) -> Result<Span, String> {
    let trace_id = TraceId::from_bytes(&sp.trace_id).map_err(|e| format!("traceId: {e}"))?;
    let span_id = SpanId::from_bytes(&sp.span_id).map_err(|e| format!("spanId: {e}"))?;
    // Empty (and, leniently, all-zero) parent ids mean a root span.
    let parent_span_id = if sp.parent_span_id.iter().all(|b| *b == 0) {
        None
    } else {
        Some(SpanId::from_bytes(&sp.parent_span_id).map_err(|e| format!("parentSpanId: {e}"))?)
    };
    let (status, status_message) = match &sp.status {
        Some(st) => (status(st.code), non_empty(&st.message)),
        None => (SpanStatus::Unset, None),
    };
    let events = sp
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(SpanEvent {
                time_unix_nano: nanos(e.time_unix_nano),
                name: e.name.clone(),
                attributes: to_map(&e.attributes).map_err(|m| format!("events[{i}]: {m}"))?,
            })
        })
        .collect::<Result<_, String>>()?;
    let links = sp
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(SpanLink {
                trace_id: TraceId::from_bytes(&l.trace_id)
                    .map_err(|e| format!("links[{i}].traceId: {e}"))?,
                span_id: SpanId::from_bytes(&l.span_id)
                    .map_err(|e| format!("links[{i}].spanId: {e}"))?,
                trace_state: non_empty(&l.trace_state),
                attributes: to_map(&l.attributes).map_err(|m| format!("links[{i}]: {m}"))?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        name: sp.name.clone(),
        service: String::new(),
        kind: kind(sp.kind),
        start_unix_nano: nanos(sp.start_time_unix_nano),
        end_unix_nano: Some(nanos(sp.end_time_unix_nano)),
        status,
        status_message,
        attributes: to_map(&sp.attributes).map_err(|m| format!("attributes: {m}"))?,
        events,
        resource: Default::default(),
        links,
        scope: None,
        trace_state: non_empty(&sp.trace_state),
    })
}

/// Maps OTLP `SpanKind`; unspecified and unknown values are internal.
fn kind(k: i32) -> SpanKind {
    match pb::span::SpanKind::try_from(k) {
        Ok(pb::span::SpanKind::Server) => SpanKind::Server,
        Ok(pb::span::SpanKind::Client) => SpanKind::Client,
        Ok(pb::span::SpanKind::Producer) => SpanKind::Producer,
        Ok(pb::span::SpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

/// Maps OTLP `StatusCode`; unknown values are unset.
fn status(c: i32) -> SpanStatus {
    match pb::status::StatusCode::try_from(c) {
        Ok(pb::status::StatusCode::Ok) => SpanStatus::Ok,
        Ok(pb::status::StatusCode::Error) => SpanStatus::Error,
        _ => SpanStatus::Unset,
    }
}
