//! `POST/GET /api/v1/telemetry/metrics` (seeds 003, 004).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use blazar_ingest::json_http::parse_metrics;
use blazar_model::Glob;
use blazar_store::Signal;
use serde_json::{json, Value};

use super::{counted, json_body, store_write};
use crate::params::{now_ns, opt_count};
use crate::{ApiError, AppState};

pub(crate) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let s = state.settings();
    let value = json_body(&state, Signal::Metrics, &headers, body).await?;
    let parsed = parse_metrics(&value, &s.limits, s.max_batch_items, now_ns());
    let points = counted(&state, Signal::Metrics, parsed)?;
    let n = store_write(&state, move |s| s.write_points(points)).await?;
    Ok((StatusCode::OK, Json(json!({"status": "ok", "accepted": n}))))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let glob = q.get("name").map(|n| Glob::new(n));
    let limit = opt_count(&q, "limit", 100_000)?.unwrap_or(1000);
    let store = state.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.list_metrics(glob.as_ref(), limit))
        .await
        .map_err(|e| {
            ApiError::new(
                blazar_model::ErrorKind::Internal,
                format!("listing metrics: {e}"),
            )
        })?;
    Ok(Json(json!({"metrics": rows})))
}
