//! Seed 004's span API: create, tag, log, finish.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use blazar_ingest::json_http::{parse_finish, parse_span_log, parse_span_start, parse_span_tags};
use blazar_model::SpanId;
use blazar_store::{RejectReason, Signal};
use serde_json::{json, Value};

use super::json_body;
use crate::params::now_ns;
use crate::{ApiError, AppState};

async fn read(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    json_body(state, headers, body).await.inspect_err(|_| {
        state
            .store
            .self_metrics()
            .rejected(Signal::Spans, RejectReason::Invalid, 1)
    })
}

fn span_id(raw: &str, state: &AppState) -> Result<SpanId, ApiError> {
    raw.parse().map_err(|e| {
        state
            .store
            .self_metrics()
            .rejected(Signal::Spans, RejectReason::Invalid, 1);
        ApiError::invalid("span_id", format!("{e}, got {raw:?}"))
    })
}

fn invalid(state: &AppState) -> impl Fn(&blazar_ingest::InputError) + '_ {
    |_| {
        state
            .store
            .self_metrics()
            .rejected(Signal::Spans, RejectReason::Invalid, 1)
    }
}

pub(crate) async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = read(&state, &headers, body).await?;
    let now = now_ns();
    let req = parse_span_start(&v, now).inspect_err(invalid(&state))?;
    let (span_id, trace_id) = state.store.start_span(req, now)?;
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
    let v = read(&state, &headers, body).await?;
    let tags = parse_span_tags(&v).inspect_err(invalid(&state))?;
    state.store.tag_span(id, tags, now_ns())?;
    Ok(Json(json!({"status": "ok", "span_id": id})))
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let id = span_id(&id, &state)?;
    let v = read(&state, &headers, body).await?;
    let now = now_ns();
    let log = parse_span_log(&v, now).inspect_err(invalid(&state))?;
    state.store.log_span(id, log, now)?;
    Ok(Json(json!({"status": "ok", "span_id": id})))
}

pub(crate) async fn finish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let id = span_id(&id, &state)?;
    let v = read(&state, &headers, body).await?;
    let now = now_ns();
    let fin = parse_finish(&v, now).inspect_err(invalid(&state))?;
    state.store.finish_span(id, fin, now)?;
    Ok(Json(json!({"status": "ok", "span_id": id})))
}
