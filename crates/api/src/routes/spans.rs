//! Seed 004's span API: create, tag, log, finish.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use blazar_ingest::json_http::{parse_finish, parse_span_log, parse_span_start, parse_span_tags};
use blazar_model::SpanId;
use blazar_store::{RejectReason, Signal};
use serde_json::{json, Value};

use super::{counted, json_body, store_write};
use crate::params::now_ns;
use crate::{ApiError, AppState};

fn span_id(raw: &str, state: &AppState) -> Result<SpanId, ApiError> {
    raw.parse().map_err(|e| {
        state
            .store
            .self_metrics()
            .rejected(Signal::Spans, RejectReason::Invalid, 1);
        ApiError::invalid("span_id", format!("{e}, got {raw:?}"))
    })
}

pub(crate) async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = json_body(&state, Signal::Spans, &headers, body).await?;
    let now = now_ns();
    let req = counted(&state, Signal::Spans, parse_span_start(&v, now))?;
    let (span_id, trace_id) = store_write(&state, move |s| s.start_span(req, now)).await?;
    Ok((
        StatusCode::OK,
        Json(json!({"span_id": span_id, "trace_id": trace_id})),
    ))
}

pub(crate) async fn tags(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let id = span_id(&id, &state)?;
    let v = json_body(&state, Signal::Spans, &headers, body).await?;
    let tags = counted(&state, Signal::Spans, parse_span_tags(&v))?;
    let now = now_ns();
    store_write(&state, move |s| s.tag_span(id, tags, now)).await?;
    Ok(Json(json!({"status": "ok", "span_id": id})))
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let id = span_id(&id, &state)?;
    let v = json_body(&state, Signal::Spans, &headers, body).await?;
    let now = now_ns();
    let log = counted(&state, Signal::Spans, parse_span_log(&v, now))?;
    store_write(&state, move |s| s.log_span(id, log, now)).await?;
    Ok(Json(json!({"status": "ok", "span_id": id})))
}

pub(crate) async fn finish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let id = span_id(&id, &state)?;
    let v = json_body(&state, Signal::Spans, &headers, body).await?;
    let now = now_ns();
    let fin = counted(&state, Signal::Spans, parse_finish(&v, now))?;
    store_write(&state, move |s| s.finish_span(id, fin, now)).await?;
    Ok(Json(json!({"status": "ok", "span_id": id})))
}
