//! `GET /api/v1/telemetry/health` (every monitored service and the overall status) and
//! `GET /api/v1/telemetry/health/{service}` (one service with its transitions).

use axum::extract::{Path, State};
use axum::Json;

use crate::{ApiError, AppState};

pub(crate) async fn list(State(state): State<AppState>) -> Json<blazar_health::HealthView> {
    Json(state.health.view())
}

pub(crate) async fn one(
    State(state): State<AppState>,
    Path(service): Path<String>,
) -> Result<Json<blazar_health::ServiceView>, ApiError> {
    state.health.service(&service).map(Json).ok_or_else(|| {
        ApiError::new(
            blazar_model::ErrorKind::NotFound,
            format!("service: no monitored service {service:?}"),
        )
    })
}
