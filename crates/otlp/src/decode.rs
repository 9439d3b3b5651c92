//! Request bodies to OTLP messages: bounded gunzip, protobuf via prost, JSON via [`crate::json`].

use std::io::Read;

use prost::Message;

use crate::{
    json, DecodeError, ExportLogsServiceRequest, ExportMetricsServiceRequest,
    ExportTraceServiceRequest,
};

/// The body encodings OTLP/HTTP defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `application/x-protobuf` (also the gRPC message encoding).
    Protobuf,
    /// `application/json`, the OTLP JSON mapping (hex ids, integer enums).
    Json,
}

/// Returns the gunzipped `body`, at most `max_bytes` long.
///
/// # Errors
/// Not gzip, truncated, or inflating past `max_bytes` (a gzip bomb is refused, not inflated).
pub fn gunzip(body: &[u8], max_bytes: usize) -> Result<Vec<u8>, DecodeError> {
    let limit = u64::try_from(max_bytes).unwrap_or(u64::MAX);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max_bytes));
    flate2::read::MultiGzDecoder::new(body)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::new("body", format!("invalid gzip: {e}")))?;
    if out.len() > max_bytes {
        return Err(DecodeError::new(
            "body",
            format!("decompressed size is over the limit of {max_bytes} bytes"),
        ));
    }
    Ok(out)
}

fn decode_pb<M: Message + Default>(body: &[u8]) -> Result<M, DecodeError> {
    M::decode(body).map_err(|e| DecodeError::new("body", format!("invalid protobuf: {e}")))
}

/// Decodes an OTLP traces export request.
///
/// # Errors
/// A malformed body, naming the offending field where the encoding allows (JSON).
pub fn decode_traces(body: &[u8], enc: Encoding) -> Result<ExportTraceServiceRequest, DecodeError> {
    match enc {
        Encoding::Protobuf => decode_pb(body),
        Encoding::Json => json::traces(body),
    }
}

/// Decodes an OTLP metrics export request.
///
/// # Errors
/// A malformed body, naming the offending field where the encoding allows (JSON).
pub fn decode_metrics(
    body: &[u8],
    enc: Encoding,
) -> Result<ExportMetricsServiceRequest, DecodeError> {
    match enc {
        Encoding::Protobuf => decode_pb(body),
        Encoding::Json => json::metrics(body),
    }
}

/// Decodes an OTLP logs export request.
///
/// # Errors
/// A malformed body, naming the offending field where the encoding allows (JSON).
pub fn decode_logs(body: &[u8], enc: Encoding) -> Result<ExportLogsServiceRequest, DecodeError> {
    match enc {
        Encoding::Protobuf => decode_pb(body),
        Encoding::Json => json::logs(body),
    }
}
