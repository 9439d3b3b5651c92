//! Request bodies: read with a hard size limit (413 with a JSON error), gunzip when sent
//! gzip-encoded (bounded after decompression too), parse JSON with a message naming the position.

use std::io::Read;

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use http_body_util::BodyExt;

use crate::ApiError;

/// Reads a whole body of at most `limit` bytes (after decompression).
pub(crate) async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, limit);
    let bytes = match limited.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Err(ApiError::too_large(limit))
        }
        Err(e) => return Err(ApiError::invalid("body", format!("could not be read: {e}"))),
    };
    let gzip = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(bytes.as_ref()).take(limit as u64 + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| ApiError::invalid("body", format!("not valid gzip: {e}")))?;
    if out.len() > limit {
        return Err(ApiError::too_large(limit));
    }
    Ok(Bytes::from(out))
}

/// Parses JSON; an empty body is `null` (seed 004's finish may send none).
pub(crate) fn json(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid("body", format!("invalid JSON: {e}")))
}
