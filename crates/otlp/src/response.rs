//! Export responses for the OTLP/HTTP receiver, in the request's encoding.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

use crate::Encoding;

/// The three OTLP signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    /// Returns the JSON name of the partial-success count field.
    fn rejected_field(self) -> &'static str {
        match self {
            Self::Traces => "rejectedSpans",
            Self::Metrics => "rejectedDataPoints",
            Self::Logs => "rejectedLogRecords",
        }
    }
}

/// Returns an `Export*ServiceResponse` body. `partial_success` is set only when something was
/// rejected or there is a message, as the OTLP spec asks; JSON follows the proto3 JSON mapping
/// (`int64` as a decimal string).
pub fn encode_response(kind: Signal, rejected: u64, message: &str, enc: Encoding) -> Vec<u8> {
    let partial = rejected > 0 || !message.is_empty();
    let rejected_i64 = i64::try_from(rejected).unwrap_or(i64::MAX);
    let error_message = message.to_string();
    match enc {
        Encoding::Json => {
            let body = if partial {
                let mut ps = serde_json::Map::new();
                if rejected > 0 {
                    ps.insert(
                        kind.rejected_field().into(),
                        serde_json::Value::String(rejected_i64.to_string()),
                    );
                }
                if !message.is_empty() {
                    ps.insert(
                        "errorMessage".into(),
                        serde_json::Value::String(error_message),
                    );
                }
                serde_json::json!({ "partialSuccess": ps })
            } else {
                serde_json::json!({})
            };
            body.to_string().into_bytes()
        }
        Encoding::Protobuf => match kind {
            Signal::Traces => ExportTraceServiceResponse {
                partial_success: partial.then_some(ExportTracePartialSuccess {
                    rejected_spans: rejected_i64,
                    error_message,
                }),
            }
            .encode_to_vec(),
            Signal::Metrics => ExportMetricsServiceResponse {
                partial_success: partial.then_some(ExportMetricsPartialSuccess {
                    rejected_data_points: rejected_i64,
                    error_message,
                }),
            }
            .encode_to_vec(),
            Signal::Logs => ExportLogsServiceResponse {
                partial_success: partial.then_some(ExportLogsPartialSuccess {
                    rejected_log_records: rejected_i64,
                    error_message,
                }),
            }
            .encode_to_vec(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_partial_success_uses_string_int64() {
        let b = encode_response(Signal::Traces, 2, "bad id", Encoding::Json);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            r#"{"partialSuccess":{"errorMessage":"bad id","rejectedSpans":"2"}}"#
        );
        let b = encode_response(Signal::Logs, 0, "", Encoding::Json);
        assert_eq!(b, b"{}");
    }

    #[test]
    fn protobuf_response_omits_partial_success_when_all_accepted() {
        let b = encode_response(Signal::Metrics, 0, "", Encoding::Protobuf);
        assert!(b.is_empty());
        let b = encode_response(Signal::Metrics, 3, "x", Encoding::Protobuf);
        let r = ExportMetricsServiceResponse::decode(b.as_slice()).unwrap();
        assert_eq!(r.partial_success.unwrap().rejected_data_points, 3);
    }
}
