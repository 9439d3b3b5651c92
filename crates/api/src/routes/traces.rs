//! `GET /api/v1/telemetry/traces` and `/traces/{trace_id}` (with its critical path and bottleneck).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use blazar_model::{format_rfc3339_nanos, TraceId};
use blazar_signals::TraceQuery;
use blazar_store::StoreError;
use serde_json::{json, Value};

use crate::params::{duration_ns, now_ns, opt_count, opt_time, time_or_ago};
use crate::{ApiError, AppState};

pub(crate) async fn list(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let now = now_ns();
    let mut tags: Vec<(String, String)> = q
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("tag.").map(|t| (t.to_string(), v.clone())))
        .collect();
    if let Some(p) = q.get("plugin_id") {
        tags.push(("plugin_id".into(), p.clone()));
    }
    tags.sort();
    let errors_only = match q.get("status").map(String::as_str) {
        None | Some("any") => false,
        Some("error") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "status",
                format!("expected \"error\", got {other:?}"),
            ))
        }
    };
    let start_ns = match (q.get("since"), q.get("start")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("since", "give since or start, not both"))
        }
        (Some(v), None) => Some(time_or_ago("since", v, now)?),
        (None, Some(v)) => Some(time_or_ago("start", v, now)?),
        (None, None) => None,
    };
    let query = TraceQuery {
        service: q.get("service").cloned(),
        operation: q.get("operation").cloned(),
        tags,
        errors_only,
        min_duration_ns: q
            .get("min_duration")
            .map(|v| duration_ns("min_duration", v))
            .transpose()?,
        start_ns,
        end_ns: opt_time(&q, "end", now)?,
        limit: opt_count(&q, "limit", 10_000)?.unwrap_or(100),
    };
    let traces: Vec<Value> = state
        .store
        .traces(&query)
        .iter()
        .map(blazar_store::summary_json)
        .collect();
    Ok(Json(json!({"traces": traces})))
}

pub(crate) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tid: TraceId = id
        .parse()
        .map_err(|e| ApiError::invalid("trace_id", format!("{e}, got {id:?}")))?;
    let store = state.store.clone();
    // A trace may hold `max_trace_length` spans: copy, render and walk it off the async workers.
    let (view, spans, path) = tokio::task::spawn_blocking(move || {
        let view = store.trace(tid)?;
        let spans: Vec<Value> = view
            .spans
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert(
                        "start_time".into(),
                        json!(format_rfc3339_nanos(s.start_unix_nano)),
                    );
                    o.insert(
                        "duration_ms".into(),
                        json!(s.duration_nanos().map(|d| d as f64 / 1e6)),
                    );
                }
                v
            })
            .collect();
        let path = blazar_analysis::critical_path(&view);
        Some((view, spans, path))
    })
    .await
    .map_err(|e| {
        ApiError::new(
            blazar_model::ErrorKind::Internal,
            format!("trace worker: {e}"),
        )
    })?
    .ok_or_else(|| {
        ApiError::from(StoreError::NotFound {
            field: "trace_id".into(),
            message: format!("no trace {tid}"),
        })
    })?;
    Ok(Json(json!({
        "trace": blazar_store::summary_json(&view.summary),
        "spans": spans,
        "critical_path": path.spans,
        "bottleneck": path.bottleneck,
    })))
}
