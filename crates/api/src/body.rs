//! Request bodies: read with a hard size limit (413 with a JSON error), gunzip when sent
//! gzip-encoded (bounded after decompression too), parse JSON with a message naming the position.

use std::io::Read;

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use http_body_util::BodyExt;

use crate::ApiError;

/// How long a client may take to send a body: a write holds a permit while it arrives, so a
/// client trickling bytes must not hold one for ever.
pub(crate) const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads a whole body of at most `limit` bytes (after decompression) within [`READ_TIMEOUT`].
pub(crate) async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, limit);
    let Ok(collected) = tokio::time::timeout(READ_TIMEOUT, limited.collect()).await else {
        return Err(ApiError {
            status: axum::http::StatusCode::REQUEST_TIMEOUT,
            code: "timeout",
            message: format!("body: not received within {}s", READ_TIMEOUT.as_secs()),
            retry_after: None,
        });
    };
    let bytes = match collected {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_finishes_times_out_with_408() {
        let stalled = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
        let err = read(&HeaderMap::new(), Body::from_stream(stalled), 1024)
            .await
            .unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::REQUEST_TIMEOUT);
        assert!(err.message.contains("30s"), "{}", err.message);
    }
}
