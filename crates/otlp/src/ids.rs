//! Id checks over a decoded request. An id of the wrong size is a malformed payload, refused
//! whole with a 400 / INVALID_ARGUMENT naming the field (as the JSON decoder does for hex ids),
//! not a partial success: a sender with broken ids should hear about it loudly.

use blazar_model::{SpanId, TraceId};

use crate::{DecodeError, ExportLogsServiceRequest, ExportTraceServiceRequest};

/// Checks every trace, span, parent and link id of `req`.
///
/// # Errors
/// The first bad id, e.g. `resourceSpans[0].scopeSpans[1].spans[3].spanId: ...`.
pub fn check_trace_ids(req: &ExportTraceServiceRequest) -> Result<(), DecodeError> {
    for (ri, rs) in req.resource_spans.iter().enumerate() {
        for (si, ss) in rs.scope_spans.iter().enumerate() {
            for (pi, sp) in ss.spans.iter().enumerate() {
                let at = |f: &str| format!("resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}].{f}");
                TraceId::from_bytes(&sp.trace_id)
                    .map_err(|e| DecodeError::new(at("traceId"), e.to_string()))?;
                SpanId::from_bytes(&sp.span_id)
                    .map_err(|e| DecodeError::new(at("spanId"), e.to_string()))?;
                // Empty or all-zero: a root span.
                if !sp.parent_span_id.iter().all(|b| *b == 0) {
                    SpanId::from_bytes(&sp.parent_span_id)
                        .map_err(|e| DecodeError::new(at("parentSpanId"), e.to_string()))?;
                }
                for (li, l) in sp.links.iter().enumerate() {
                    TraceId::from_bytes(&l.trace_id).map_err(|e| {
                        DecodeError::new(at(&format!("links[{li}].traceId")), e.to_string())
                    })?;
                    SpanId::from_bytes(&l.span_id).map_err(|e| {
                        DecodeError::new(at(&format!("links[{li}].spanId")), e.to_string())
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// Checks the trace context ids of every log record of `req` (empty or all-zero is "none").
///
/// # Errors
/// The first bad id, e.g. `resourceLogs[0].scopeLogs[0].logRecords[2].traceId: ...`.
pub fn check_log_ids(req: &ExportLogsServiceRequest) -> Result<(), DecodeError> {
    for (ri, rl) in req.resource_logs.iter().enumerate() {
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            for (li, lr) in sl.log_records.iter().enumerate() {
                let at =
                    |f: &str| format!("resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}].{f}");
                if !lr.trace_id.iter().all(|b| *b == 0) {
                    TraceId::from_bytes(&lr.trace_id)
                        .map_err(|e| DecodeError::new(at("traceId"), e.to_string()))?;
                }
                if !lr.span_id.iter().all(|b| *b == 0) {
                    SpanId::from_bytes(&lr.span_id)
                        .map_err(|e| DecodeError::new(at("spanId"), e.to_string()))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::trace::v1::{span::Link, ResourceSpans, ScopeSpans, Span};

    use super::*;

    fn traces(span: Span) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn good() -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        }
    }

    #[test]
    fn good_ids_and_roots_pass() {
        assert!(check_trace_ids(&traces(good())).is_ok());
        let zero_parent = Span {
            parent_span_id: vec![0; 8],
            ..good()
        };
        assert!(check_trace_ids(&traces(zero_parent)).is_ok());
    }

    #[test]
    fn wrong_sizes_name_the_field() {
        let cases = [
            (
                Span {
                    span_id: vec![2; 7],
                    ..good()
                },
                "spans[0].spanId",
            ),
            (
                Span {
                    trace_id: vec![1; 8],
                    ..good()
                },
                "spans[0].traceId",
            ),
            (
                Span {
                    trace_id: vec![0; 16],
                    ..good()
                },
                "spans[0].traceId",
            ),
            (
                Span {
                    parent_span_id: vec![3; 9],
                    ..good()
                },
                "spans[0].parentSpanId",
            ),
            (
                Span {
                    links: vec![Link {
                        trace_id: vec![1; 16],
                        span_id: vec![1; 4],
                        ..Default::default()
                    }],
                    ..good()
                },
                "spans[0].links[0].spanId",
            ),
        ];
        for (span, field) in cases {
            let e = check_trace_ids(&traces(span)).unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn log_ids_are_optional_but_sized() {
        let req = |lr: LogRecord| ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![lr],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert!(check_log_ids(&req(LogRecord::default())).is_ok());
        let e = check_log_ids(&req(LogRecord {
            trace_id: vec![5; 15],
            ..Default::default()
        }))
        .unwrap_err();
        assert!(e.to_string().contains("logRecords[0].traceId"), "{e}");
    }
}
