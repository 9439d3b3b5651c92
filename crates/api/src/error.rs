//! One error type for every handler: status decided once from `ErrorKind`, body
//! `{"error":{"code","message"}}`, internals logged once and not leaked.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use blazar_model::ErrorKind;
use serde_json::json;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds a client should wait before retrying (429/503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let status = match kind {
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = kind.is_retryable().then_some(1);
        Self {
            status,
            code: kind.as_str(),
            message: message.into(),
            retry_after,
        }
    }

    /// A 400 naming `field`.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidInput, format!("{field}: {message}"))
    }

    /// A 413 for a body over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: format!(
                "body: larger than the limit of {limit} bytes (server.max_body_bytes)"
            ),
            retry_after: None,
        }
    }
}

impl From<blazar_ingest::InputError> for ApiError {
    fn from(e: blazar_ingest::InputError) -> Self {
        Self::new(e.kind(), e.to_string())
    }
}

impl From<blazar_store::StoreError> for ApiError {
    fn from(e: blazar_store::StoreError) -> Self {
        let kind = e.kind();
        if matches!(kind, ErrorKind::Unavailable | ErrorKind::Internal) {
            tracing::error!(error = %format_chain(&e), "store write failed");
        }
        Self::new(kind, e.to_string())
    }
}

fn format_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
