//! The router: one module per resource (DESIGN §3).

mod alerts;
mod analyze;
mod audit;
mod events;
mod health;
mod logs;
mod metrics;
mod otlp;
mod remote_write;
mod resources;
mod self_metrics;
mod service_health;
mod services;
mod spans;
mod stats;
mod stream;
mod traces;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Builds every route over `state`.
pub fn router(state: AppState) -> Router {
    let writes = Router::new()
        .route("/api/v1/write", post(remote_write::post))
        .route("/api/v1/telemetry/metrics", post(metrics::post))
        .route("/api/v1/telemetry/events", post(events::post))
        .route("/api/v1/telemetry/logs", post(logs::post))
        .route("/api/v1/telemetry/traces/spans", post(spans::start))
        .route("/api/v1/telemetry/alerts/{id}/ack", post(alerts::ack))
        .route("/api/v1/telemetry/silences", post(alerts::add_silence))
        .route(
            "/api/v1/telemetry/silences/{id}",
            axum::routing::delete(alerts::expire_silence),
        )
        .route(
            "/api/v1/telemetry/traces/spans/{span_id}/tags",
            post(spans::tags),
        )
        .route(
            "/api/v1/telemetry/traces/spans/{span_id}/logs",
            post(spans::logs),
        )
        .route(
            "/api/v1/telemetry/traces/spans/{span_id}/finish",
            post(spans::finish),
        )
        .merge(otlp_routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            write_admission,
        ));
    Router::new()
        .merge(writes)
        .route("/health", get(health::get))
        .route("/metrics", get(self_metrics::get))
        .route("/api/v1/telemetry/metrics", get(metrics::list))
        .route("/api/v1/telemetry/events", get(events::list))
        .route("/api/v1/telemetry/stats", get(stats::get))
        .route("/api/v1/telemetry/logs", get(logs::list))
        .route("/api/v1/telemetry/traces", get(traces::list))
        .route("/api/v1/telemetry/traces/analyze", get(analyze::get))
        .route("/api/v1/telemetry/traces/{trace_id}", get(traces::one))
        .route("/api/v1/telemetry/services", get(services::get))
        .route("/api/v1/telemetry/stream", get(stream::get))
        .route("/api/v1/telemetry/resources", get(resources::get))
        .route("/api/v1/telemetry/health", get(service_health::list))
        .route("/api/v1/telemetry/alerts", get(alerts::list))
        .route("/api/v1/telemetry/alerts/{id}", get(alerts::one))
        .route("/api/v1/telemetry/rules", get(alerts::rules))
        .route("/api/v1/telemetry/audit", get(audit::get))
        .route("/api/v1/telemetry/silences", get(alerts::silences))
        .route("/api/v1/alerts", get(alerts::prom_alerts))
        .route("/api/v1/rules", get(alerts::prom_rules))
        .route(
            "/api/v1/telemetry/health/{service}",
            get(service_health::one),
        )
        .fallback(not_found)
        .with_state(state)
}

/// OTLP/HTTP's three export paths (on the main port and, alone, on the OTLP HTTP port).
fn otlp_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/traces", post(otlp::traces))
        .route("/v1/metrics", post(otlp::metrics))
        .route("/v1/logs", post(otlp::logs))
}

/// The OTLP HTTP port's router: only `/v1/traces`, `/v1/metrics` and `/v1/logs`, behind the
/// same write admission as the main port.
pub fn otlp_http_router(state: AppState) -> Router {
    otlp_routes()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            write_admission,
        ))
        .fallback(not_found)
        .with_state(state)
}

/// Admits a write only while a permit is free: a flood gets 429 with `Retry-After` instead of
/// piling request bodies up in memory.
async fn write_admission(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Ok(_permit) = state.write_permits.clone().try_acquire_owned() else {
        state.store.self_metrics().rejected(
            signal_for_path(req.uri().path()),
            blazar_store::RejectReason::Overloaded,
            1,
        );
        return crate::ApiError::new(
            blazar_model::ErrorKind::Overloaded,
            "server: too many writes in flight (server.max_inflight_writes); retry later",
        )
        .into_response();
    };
    next.run(req).await
}

/// The signal a write path carries, for counting refusals.
fn signal_for_path(path: &str) -> blazar_store::Signal {
    match path {
        "/v1/traces" => blazar_store::Signal::Spans,
        "/v1/logs" => blazar_store::Signal::Logs,
        "/v1/metrics" => blazar_store::Signal::Metrics,
        other => blazar_store::Signal::for_path(other),
    }
}

async fn not_found(uri: axum::http::Uri) -> crate::ApiError {
    crate::ApiError::new(
        blazar_model::ErrorKind::NotFound,
        format!("path: no route for {}", uri.path()),
    )
}

/// Reads a JSON body with the configured limit; a refusal is counted against `signal`.
pub(crate) async fn json_body(
    state: &AppState,
    signal: blazar_store::Signal,
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<serde_json::Value, crate::ApiError> {
    let limit = state.settings().max_body_bytes;
    let read = crate::body::read(headers, body, limit).await;
    let parsed = read.and_then(|bytes| crate::body::json(&bytes));
    parsed.inspect_err(|e| {
        let reason = if e.status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            blazar_store::RejectReason::TooLarge
        } else {
            blazar_store::RejectReason::Invalid
        };
        state.store.self_metrics().rejected(signal, reason, 1);
    })
}

/// Runs a store write. Under `storage.fsync: always` the write waits for an fdatasync, so it
/// runs on the blocking pool instead of stalling an async worker; otherwise inline (a buffered
/// `write` syscall is cheaper than the hop).
pub(crate) async fn store_write<T, F>(state: &AppState, f: F) -> Result<T, crate::ApiError>
where
    T: Send + 'static,
    F: FnOnce(&blazar_store::Store) -> Result<T, blazar_store::StoreError> + Send + 'static,
{
    if state.fsync_always {
        let store = state.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| {
                crate::ApiError::new(
                    blazar_model::ErrorKind::Internal,
                    format!("write worker: {e}"),
                )
            })?
            .map_err(crate::ApiError::from)
    } else {
        f(&state.store).map_err(crate::ApiError::from)
    }
}

/// Turns a payload-translation result into an API result, counting a rejection against `signal`.
pub(crate) fn counted<T>(
    state: &AppState,
    signal: blazar_store::Signal,
    r: Result<T, blazar_ingest::InputError>,
) -> Result<T, crate::ApiError> {
    r.map_err(|e| {
        state
            .store
            .self_metrics()
            .rejected(signal, blazar_store::RejectReason::Invalid, 1);
        e.into()
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_analysis;
