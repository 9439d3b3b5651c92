//! OTLP ingest shared by both transports: a decoded `Export*ServiceRequest` is mapped onto the
//! model (`blazar-otlp`), written to the store, and answered with the partial-success counts
//! the OTLP specification prescribes. The HTTP handlers (`routes/otlp.rs`) and the gRPC
//! services (in `blazar-server`) differ only in framing and in how a failure is reported.

use blazar_model::ErrorKind;
use blazar_store::{RejectReason, Signal, Store};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::ApiError;

/// What a request left behind: how many items were refused and why (partial success).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Spans, data points or log records not stored.
    pub rejected: u64,
    /// Why, briefly (the first few reasons); empty when nothing was refused.
    pub message: String,
}

/// Returns the partial-success message: the first reasons (one per refused item, at most
/// [`blazar_otlp::MAX_ERRORS`]) and how many more items were refused.
fn summarise(rejected: u64, errors: &[String]) -> String {
    if rejected == 0 {
        return String::new();
    }
    let shown: Vec<&str> = errors
        .iter()
        .take(blazar_otlp::MAX_ERRORS)
        .map(String::as_str)
        .collect();
    let more = rejected.saturating_sub(shown.len() as u64);
    let mut msg = shown.join("; ");
    if more > 0 {
        msg.push_str(&format!("; and {more} more"));
    }
    msg
}

/// Maps and stores spans. A request with an id of the wrong size is refused whole (400); spans
/// the mapping refuses (over-deep attributes) or that would take their trace past
/// `tracing.max_trace_length` are counted and reported (partial success), the rest stored.
///
/// # Errors
/// An id of the wrong size (400), or a WAL failure (503).
pub fn ingest_traces(
    store: &Store,
    req: ExportTraceServiceRequest,
    now_ns: i64,
) -> Result<Accepted, ApiError> {
    blazar_otlp::check_trace_ids(&req).map_err(|e| malformed(store, Signal::Spans, &e))?;
    let mapped = blazar_otlp::map_traces(req, now_ns);
    count_rejected(store, Signal::Spans, mapped.rejected);
    let (mut rejected, mut errors) = (mapped.rejected, mapped.errors);
    if !mapped.items.is_empty() {
        // A trace at `max_trace_length` refuses its further spans alone; the rest are stored.
        let refused = store.write_spans_partial(mapped.items, now_ns)?;
        rejected += refused.len() as u64;
        errors.extend(refused.into_iter().map(|(_, reason)| reason));
    }
    Ok(Accepted {
        rejected,
        message: summarise(rejected, &errors),
    })
}

/// Maps and stores log records.
///
/// # Errors
/// A store refusal (WAL failure → 503).
pub fn ingest_logs(
    store: &Store,
    req: ExportLogsServiceRequest,
    now_ns: i64,
) -> Result<Accepted, ApiError> {
    blazar_otlp::check_log_ids(&req).map_err(|e| malformed(store, Signal::Logs, &e))?;
    let mapped = blazar_otlp::map_logs(req, now_ns);
    count_rejected(store, Signal::Logs, mapped.rejected);
    if !mapped.items.is_empty() {
        store.write_logs(mapped.items)?;
    }
    Ok(Accepted {
        rejected: mapped.rejected,
        message: summarise(mapped.rejected, &mapped.errors),
    })
}

/// Maps data points onto Prometheus-shaped series and stores them; delta points accumulate.
///
/// # Errors
/// A store refusal (WAL failure → 503).
pub fn ingest_metrics(
    store: &Store,
    req: ExportMetricsServiceRequest,
    now_ns: i64,
    limits: &blazar_model::Limits,
) -> Result<Accepted, ApiError> {
    let mapped = blazar_otlp::map_metrics(req, now_ns, limits);
    count_rejected(store, Signal::Metrics, mapped.rejected);
    let rejected = mapped.rejected;
    let mut message = summarise(rejected, &mapped.errors);
    if !mapped.items.series.is_empty() {
        let out = store.write_series(&mapped.items)?;
        // Samples the store dropped (new series past `limits.max_series`, stale or repeated
        // timestamps) are not data points, so they are not in `rejected`; the message says so
        // (OTLP allows a message with nothing rejected, as a warning), and `/metrics` counts them.
        let mut notes = Vec::new();
        if out.over_series_limit > 0 {
            notes.push(format!(
                "{} samples of new series past limits.max_series were dropped",
                out.over_series_limit
            ));
        }
        if out.out_of_order > 0 {
            notes.push(format!(
                "{} samples not newer than their series' latest were dropped",
                out.out_of_order
            ));
        }
        if !notes.is_empty() {
            if !message.is_empty() {
                message.push_str("; ");
            }
            message.push_str(&notes.join("; "));
        }
    }
    Ok(Accepted { rejected, message })
}

/// A malformed request (e.g. an id of the wrong size): counted, and refused whole.
fn malformed(store: &Store, signal: Signal, e: &blazar_otlp::DecodeError) -> ApiError {
    store
        .self_metrics()
        .rejected(signal, RejectReason::Invalid, 1);
    ApiError::new(ErrorKind::InvalidInput, e.to_string())
}

fn count_rejected(store: &Store, signal: Signal, n: u64) {
    if n > 0 {
        store
            .self_metrics()
            .rejected(signal, RejectReason::Invalid, n);
    }
}

/// The store signal an OTLP signal counts against.
pub fn store_signal(signal: blazar_otlp::Signal) -> Signal {
    match signal {
        blazar_otlp::Signal::Traces => Signal::Spans,
        blazar_otlp::Signal::Metrics => Signal::Metrics,
        blazar_otlp::Signal::Logs => Signal::Logs,
    }
}

/// The gRPC status code OTLP prescribes for an error of this kind (the OTLP/HTTP status
/// body carries it too).
pub fn grpc_code(status: axum::http::StatusCode) -> i32 {
    use axum::http::StatusCode as S;
    match status {
        S::BAD_REQUEST | S::PAYLOAD_TOO_LARGE | S::UNSUPPORTED_MEDIA_TYPE => 3, // INVALID_ARGUMENT
        S::NOT_FOUND => 5,                                                      // NOT_FOUND
        S::TOO_MANY_REQUESTS => 8,    // RESOURCE_EXHAUSTED
        S::SERVICE_UNAVAILABLE => 14, // UNAVAILABLE
        _ => 13,                      // INTERNAL
    }
}

/// An error for a request whose worker task failed.
pub(crate) fn worker_failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorKind::Internal, format!("otlp worker: {e}"))
}
