//! `POST/GET /api/v1/telemetry/logs`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use blazar_model::Severity;
use blazar_signals::LogQuery;
use blazar_store::Signal;
use serde_json::{json, Value};

use super::{counted, json_body, store_write};
use crate::params::{now_ns, opt_count, opt_time};
use crate::{ApiError, AppState};

pub(crate) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let s = state.settings();
    let value = json_body(&state, Signal::Logs, &headers, body).await?;
    let now = now_ns();
    let parsed = blazar_ingest::json_http::parse_logs(&value, s.max_batch_items, now);
    let logs = counted(&state, Signal::Logs, parsed)?;
    let n = store_write(&state, move |s| s.write_logs(logs)).await?;
    Ok((StatusCode::OK, Json(json!({"status": "ok", "accepted": n}))))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let now = now_ns();
    let query = LogQuery {
        service: q.get("service").cloned(),
        min_severity: q
            .get("level")
            .map(|l| {
                Severity::parse(l).ok_or_else(|| {
                    ApiError::invalid(
                        "level",
                        format!("expected trace, debug, info, warn, error or fatal, got {l:?}"),
                    )
                })
            })
            .transpose()?,
        text: q.get("q").cloned(),
        trace_id: q
            .get("trace_id")
            .map(|t| t.parse().map_err(|e| ApiError::invalid("trace_id", e)))
            .transpose()?,
        since_ns: opt_time(&q, "since", now)?,
        limit: opt_count(&q, "limit", 10_000)?.unwrap_or(100),
    };
    let logs: Vec<Value> = state
        .store
        .logs(&query)
        .into_iter()
        .map(|l| {
            let mut v = serde_json::to_value(&l).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "timestamp".into(),
                    json!(blazar_model::format_rfc3339_nanos(l.timestamp_ns)),
                );
            }
            v
        })
        .collect();
    Ok(Json(json!({"logs": logs})))
}
