//! OTLP/HTTP: `POST /v1/traces`, `/v1/metrics`, `/v1/logs`, on the main port and on the OTLP
//! HTTP port. Answers as the OTLP specification prescribes, in the request's encoding:
//! 200 with an `Export*ServiceResponse` (partial success when items were refused), 400 for a
//! bad payload, 413 over the size limit, 415 for an unsupported content type or encoding,
//! 429/503 with `Retry-After` when a budget is full. Error bodies are `google.rpc.Status`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use blazar_otlp::{Encoding, Signal};
use blazar_store::RejectReason;

use crate::otlp::{grpc_code, store_signal, worker_failed, Accepted};
use crate::{ApiError, AppState};

pub(crate) async fn traces(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    export(state, Signal::Traces, headers, body).await
}

pub(crate) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    export(state, Signal::Metrics, headers, body).await
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    export(state, Signal::Logs, headers, body).await
}

async fn export(state: AppState, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    let metrics = state.store.self_metrics().clone();
    let counted = store_signal(signal);
    let enc = match encoding(&headers) {
        Ok(e) => e,
        Err(e) => {
            metrics.rejected(counted, RejectReason::Invalid, 1);
            return status_response(Encoding::Json, e);
        }
    };
    if let Err(e) = check_content_encoding(&headers) {
        metrics.rejected(counted, RejectReason::Invalid, 1);
        return status_response(enc, e);
    }
    let settings = state.settings();
    let bytes = match crate::body::read(&headers, body, settings.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => {
            let reason = if e.status == StatusCode::PAYLOAD_TOO_LARGE {
                RejectReason::TooLarge
            } else {
                RejectReason::Invalid
            };
            metrics.rejected(counted, reason, 1);
            return status_response(enc, e);
        }
    };
    let store = state.store.clone();
    let limits = settings.limits;
    let now = crate::params::now_ns();
    let work = tokio::task::spawn_blocking(move || -> Result<Accepted, ApiError> {
        let invalid = |e: blazar_otlp::DecodeError| {
            store
                .self_metrics()
                .rejected(counted, RejectReason::Invalid, 1);
            ApiError::new(blazar_model::ErrorKind::InvalidInput, e.to_string())
        };
        match signal {
            Signal::Traces => {
                let req = blazar_otlp::decode_traces(&bytes, enc).map_err(invalid)?;
                crate::otlp::ingest_traces(&store, req, now)
            }
            Signal::Metrics => {
                let req = blazar_otlp::decode_metrics(&bytes, enc).map_err(invalid)?;
                crate::otlp::ingest_metrics(&store, req, now, &limits)
            }
            Signal::Logs => {
                let req = blazar_otlp::decode_logs(&bytes, enc).map_err(invalid)?;
                crate::otlp::ingest_logs(&store, req, now)
            }
        }
    })
    .await;
    match work.map_err(worker_failed).and_then(|r| r) {
        Ok(accepted) => {
            let body =
                blazar_otlp::encode_response(signal, accepted.rejected, &accepted.message, enc);
            ([(header::CONTENT_TYPE, content_type(enc))], body).into_response()
        }
        Err(e) => status_response(enc, e),
    }
}

/// Chooses the payload encoding from `Content-Type`; anything else is a 415.
fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        _ => Err(unsupported(format!(
            "Content-Type: expected application/x-protobuf or application/json, got {:?}",
            ct
        ))),
    }
}

/// Only identity and gzip bodies are understood (OTLP/HTTP requires no other).
fn check_content_encoding(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(v) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(());
    };
    let v = v.to_str().unwrap_or("").trim();
    if v.is_empty() || v.eq_ignore_ascii_case("identity") || v.eq_ignore_ascii_case("gzip") {
        Ok(())
    } else {
        Err(unsupported(format!(
            "Content-Encoding: expected gzip or identity, got {v:?}"
        )))
    }
}

fn unsupported(message: String) -> ApiError {
    ApiError {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: "unsupported_media_type",
        message,
        retry_after: None,
    }
}

fn content_type(enc: Encoding) -> HeaderValue {
    match enc {
        Encoding::Protobuf => HeaderValue::from_static("application/x-protobuf"),
        Encoding::Json => HeaderValue::from_static("application/json"),
    }
}

/// `google.rpc.Status`, the body OTLP/HTTP error responses carry.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// An error as OTLP/HTTP answers it: the HTTP status, `Retry-After` when retryable, and a
/// `google.rpc.Status` body in the request's encoding.
fn status_response(enc: Encoding, e: ApiError) -> Response {
    let code = grpc_code(e.status);
    let body = match enc {
        Encoding::Protobuf => prost::Message::encode_to_vec(&RpcStatus {
            code,
            message: e.message.clone(),
        }),
        Encoding::Json => serde_json::json!({"code": code, "message": e.message})
            .to_string()
            .into_bytes(),
    };
    let mut resp = (e.status, [(header::CONTENT_TYPE, content_type(enc))], body).into_response();
    if let Some(secs) = e.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
