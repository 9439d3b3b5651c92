//! OTLP (traces, metrics, logs) decoding and mapping onto blazar's model.
//!
//! Transport-free: receivers (HTTP, gRPC) decode with [`decode_traces`] & co. (or get a decoded
//! request from tonic), then call [`map_traces`] & co. Every mapping rule is in `docs/OTLP.md`.
#![deny(clippy::indexing_slicing)]

mod attrs;
mod decode;
mod error;
mod ids;
mod json;
mod logs;
mod metrics;
mod response;
mod traces;

pub use decode::{decode_logs, decode_metrics, decode_traces, gunzip, Encoding};
pub use error::DecodeError;
pub use ids::{check_log_ids, check_trace_ids};
pub use logs::map_logs;
pub use metrics::{data_point_count, map_metrics};
pub use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
pub use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
pub use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
pub use response::{encode_response, Signal};
pub use traces::map_traces;

/// How many rejection reasons [`Mapped::errors`] keeps; the rest are only counted.
pub const MAX_ERRORS: usize = 5;

/// The result of mapping one request: what was accepted, and what was not and why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapped<T> {
    /// The accepted items.
    pub items: T,
    /// Items (spans, log records, metric data points) rejected.
    pub rejected: u64,
    /// The first few reasons (at most [`MAX_ERRORS`]), for `partial_success.error_message`.
    pub errors: Vec<String>,
}

impl<T> Mapped<T> {
    /// Returns the reasons joined into one `partial_success.error_message`, "" when none.
    pub fn error_message(&self) -> String {
        self.errors.join("; ")
    }

    /// Counts one rejected item and keeps its reason while there is room.
    pub(crate) fn reject(&mut self, reason: String) {
        self.rejected += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(reason);
        }
    }
}
