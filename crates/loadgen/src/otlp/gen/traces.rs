//! Trace requests: traces of 5–11 spans (8 on average) across several services, children
//! nested inside their parents in time, HTTP/RPC/DB attributes of string, int, double and bool
//! type, and about 3 % error spans with an `exception` event.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use rand::rngs::StdRng;
use rand::Rng;

use super::{
    kv_bool, kv_f64, kv_int, kv_str, resource, scope, service_name, span_id, trace_id, Spec,
    HTTP_ROUTES, TIME_BIAS_NS,
};

/// Traces in one request start this far apart.
const TRACE_STAGGER_NS: u64 = 250_000;
const ERROR_RATE: f64 = 0.03;

/// Where a span sits, for placing its children.
#[derive(Clone, Copy)]
struct Placed {
    local: u64,
    service: usize,
    start: u64,
    end: u64,
}

/// Returns a request of exactly `spec.batch` spans; the last trace is cut short to fit
/// (children always follow their parents, so a cut trace has no dangling parent).
pub(super) fn request(spec: &Spec, rng: &mut StdRng) -> ExportTraceServiceRequest {
    let services = spec.services.max(1);
    let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); services];
    let mut next_span = 0u64;
    let mut trace = 0u64;
    while (next_span as usize) < spec.batch {
        let len = rng.gen_range(5..=11).min(spec.batch - next_span as usize);
        let start = TIME_BIAS_NS + trace * TRACE_STAGGER_NS;
        let mut placed: Vec<Placed> = Vec::with_capacity(len);
        for i in 0..len {
            let local = next_span;
            next_span += 1;
            let (parent, service, s, e) = match placed.get(rng.gen_range(0..placed.len().max(1))) {
                Some(p) if i > 0 => {
                    let room = p.end - p.start;
                    let s = p.start + rng.gen_range(0..=room / 2);
                    let e = s + rng.gen_range(room / 10..=(p.end - s)).max(1_000);
                    // Half the children cross into another service (an RPC).
                    let service = if rng.gen_bool(0.5) {
                        rng.gen_range(0..services)
                    } else {
                        p.service
                    };
                    (Some(*p), service, s, e.min(p.end))
                }
                _ => {
                    let d = rng.gen_range(5_000_000..200_000_000);
                    (None, 0, start, start + d)
                }
            };
            placed.push(Placed {
                local,
                service,
                start: s,
                end: e,
            });
            let span = make_span(rng, trace, local, parent, service, s, e);
            if let Some(v) = by_service.get_mut(service) {
                v.push(span);
            }
        }
        trace += 1;
    }
    let resource_spans = by_service
        .into_iter()
        .enumerate()
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(i, spans)| ResourceSpans {
            resource: Some(resource(&service_name(i), 0)),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

fn make_span(
    rng: &mut StdRng,
    trace: u64,
    local: u64,
    parent: Option<Placed>,
    service: usize,
    start: u64,
    end: u64,
) -> Span {
    let route = HTTP_ROUTES
        .get(rng.gen_range(0..HTTP_ROUTES.len()))
        .copied()
        .unwrap_or("/");
    let error = rng.gen_bool(ERROR_RATE);
    let (name, kind, mut attributes) = match (parent, rng.gen_range(0..3)) {
        (None, _) => (
            format!("GET {route}"),
            SpanKind::Server,
            vec![
                kv_str("http.request.method", "GET"),
                kv_str("http.route", route),
                kv_int("http.response.status_code", if error { 500 } else { 200 }),
                kv_str(
                    "client.address",
                    &format!("10.0.{}.{}", rng.gen_range(0..4), rng.gen_range(1..255)),
                ),
            ],
        ),
        (Some(p), 0) if p.service != service => (
            format!("POST {route}"),
            SpanKind::Client,
            vec![
                kv_str("rpc.system", "grpc"),
                kv_str("server.address", &service_name(service)),
                kv_int("server.port", 8080),
                kv_f64("retry.backoff_ms", f64::from(rng.gen_range(0u8..50)) / 2.0),
            ],
        ),
        (_, 1) => (
            "SELECT orders".to_string(),
            SpanKind::Client,
            vec![
                kv_str("db.system", "postgresql"),
                kv_str("db.operation.name", "SELECT"),
                kv_int("db.response.returned_rows", rng.gen_range(0..500)),
                kv_bool("db.cached", rng.gen_bool(0.3)),
            ],
        ),
        _ => (
            format!("process {}", route.trim_start_matches("/api/")),
            SpanKind::Internal,
            vec![
                kv_int("items", rng.gen_range(1..40)),
                kv_f64("ratio", f64::from(rng.gen_range(0u16..1000)) / 1000.0),
                kv_bool("cache.hit", rng.gen_bool(0.7)),
            ],
        ),
    };
    attributes.push(kv_str(
        "thread.name",
        &format!("worker-{}", rng.gen_range(0..8)),
    ));
    let (status, events) = if error {
        (
            Some(Status {
                message: "upstream returned 503".into(),
                code: StatusCode::Error as i32,
            }),
            vec![Event {
                time_unix_nano: end.saturating_sub(1_000).max(start),
                name: "exception".into(),
                attributes: vec![
                    kv_str("exception.type", "UpstreamUnavailable"),
                    kv_str("exception.message", "upstream returned 503"),
                ],
                dropped_attributes_count: 0,
            }],
        )
    } else {
        (None, Vec::new())
    };
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(local),
        trace_state: String::new(),
        parent_span_id: parent.map(|p| span_id(p.local)).unwrap_or_default(),
        flags: 0x100 | 1, // sampled; parent is local (has-is-remote set, is-remote clear)
        name,
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        dropped_attributes_count: 0,
        events,
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status,
    }
}
