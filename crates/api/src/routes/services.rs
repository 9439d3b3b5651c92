//! `GET /api/v1/telemetry/services`: the service dependency graph built from completed traces.

use axum::extract::State;
use axum::Json;

use crate::AppState;

pub(crate) async fn get(State(state): State<AppState>) -> Json<blazar_analysis::ServiceGraph> {
    Json(state.analysis.graph())
}
