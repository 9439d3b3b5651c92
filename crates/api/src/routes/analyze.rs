//! `GET /api/v1/telemetry/traces/analyze`: performance issues completed traces matched
//! (seed 001's `AnalyzePerformanceIssues`), newest trace first.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use serde_json::{json, Value};

use crate::params::{now_ns, opt_count, opt_time};
use crate::{ApiError, AppState};

/// Issues listed when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;
/// Most issues one request lists.
const MAX_LIMIT: usize = 10_000;

pub(crate) async fn get(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let now = now_ns();
    let since = opt_time(&q, "since", now)?.unwrap_or(i64::MIN);
    let limit = opt_count(&q, "limit", MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let pattern = q.get("pattern").map(String::as_str);
    let issues = state.analysis.issues(since, pattern, limit);
    if let Some(name) = pattern {
        let patterns = state.analysis.patterns();
        if issues.is_empty() && !patterns.iter().any(|p| p.name == name) {
            let known: Vec<&str> = patterns.iter().map(|p| p.name.as_str()).collect();
            return Err(ApiError::invalid(
                "pattern",
                format!("unknown pattern {name:?}; known: {}", known.join(", ")),
            ));
        }
    }
    let issues: Vec<Value> = issues.iter().map(|i| i.to_json()).collect();
    Ok(Json(json!({ "issues": issues })))
}
