//! `POST /api/v1/write`: Prometheus remote_write 1.0. Answers as Prometheus does: 204 when
//! stored, 400 for a bad body (senders never retry it), 503 when the WAL refuses.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use blazar_ingest::remote_write;
use blazar_store::{RejectReason, Signal};

use crate::{ApiError, AppState};

pub(crate) async fn post(
    State(state): State<AppState>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let s = state.settings();
    let m = state.store.self_metrics().clone();
    // remote_write bodies are snappy, not gzip: read raw with the same byte limit.
    let bytes = crate::body::read(&HeaderMap::new(), body, s.max_body_bytes)
        .await
        .inspect_err(|e| {
            let reason = if e.status == StatusCode::PAYLOAD_TOO_LARGE {
                RejectReason::TooLarge
            } else {
                RejectReason::Invalid
            };
            m.rejected(Signal::Metrics, reason, 1);
        })?;
    // Decompress the body to at most 8x the wire limit (remote_write compresses ~5-10x).
    let max_raw = s.max_body_bytes.saturating_mul(8);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let parsed = remote_write::decompress(&bytes, max_raw).and_then(|raw| {
            let req = remote_write::borrowed::parse(&raw)?;
            Ok(store.write_remote(&req))
        });
        match parsed {
            Ok(written) => written.map_err(ApiError::from),
            Err(e) => {
                m.rejected(Signal::Metrics, RejectReason::Invalid, 1);
                Err(ApiError::from(e))
            }
        }
    })
    .await
    .map_err(|e| {
        ApiError::new(
            blazar_model::ErrorKind::Internal,
            format!("remote_write worker: {e}"),
        )
    })??;
    Ok(StatusCode::NO_CONTENT)
}
