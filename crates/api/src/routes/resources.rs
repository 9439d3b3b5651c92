//! `GET /api/v1/telemetry/resources`: the host now (seed 001's system resource monitor).

use axum::extract::State;
use axum::Json;

use crate::{ApiError, AppState};

pub(crate) async fn get(
    State(state): State<AppState>,
) -> Result<Json<blazar_host::HostSnapshot>, ApiError> {
    state.host.latest().map(Json).ok_or_else(|| {
        ApiError::new(
            blazar_model::ErrorKind::Unavailable,
            "resources: no sample taken yet (host.metrics_interval), or host.enabled is false",
        )
    })
}
