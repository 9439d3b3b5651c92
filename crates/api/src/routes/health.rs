//! `GET /health`: seed 001's handler over blazar's own components (store, WAL, bus) and any
//! registered health sources: 200 healthy or degraded, 503 unhealthy.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::params::now_ns;
use crate::{AppState, ComponentCheck};

pub(crate) async fn get(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let stats = state.store.stats();
    let mut checks: Vec<(String, ComponentCheck)> = vec![
        (
            "store".into(),
            ComponentCheck {
                status: "healthy",
                message: format!(
                    "{} series, {} events, {} spans, {} logs",
                    stats.series, stats.events, stats.spans, stats.logs
                ),
            },
        ),
        (
            "wal".into(),
            match (&stats.wal_healthy, &stats.wal_error) {
                (true, _) => ComponentCheck {
                    status: "healthy",
                    message: format!(
                        "{} segments, {} bytes on disk",
                        stats.wal_segments, stats.wal_disk_bytes
                    ),
                },
                (false, e) => ComponentCheck {
                    status: "unhealthy",
                    message: format!("writes refused: {}", e.clone().unwrap_or_default()),
                },
            },
        ),
        ("bus".into(), {
            let bus = state.store.bus();
            let dropped = bus
                .stats()
                .dropped_subscribers
                .load(std::sync::atomic::Ordering::Relaxed);
            ComponentCheck {
                status: "healthy",
                message: format!(
                    "{} subscribers, {} dropped for lagging",
                    bus.subscribers(),
                    dropped
                ),
            }
        }),
    ];
    {
        // The services blazar monitors: seed 001's system health. Before any check has run
        // (unknown) this says so without degrading blazar's own status.
        let (overall, message) = state.health.summary();
        let status = match overall {
            blazar_health::HealthStatus::Unknown => "healthy",
            s => s.as_str(),
        };
        checks.push(("services".into(), ComponentCheck { status, message }));
    }
    for src in state.health_sources.iter() {
        checks.extend(src.checks());
    }
    let worst = checks
        .iter()
        .map(|(_, c)| rank(c.status))
        .max()
        .unwrap_or(0);
    let status = match worst {
        0 => "healthy",
        1 => "degraded",
        _ => "unhealthy",
    };
    let code = if worst >= 2 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let checks: Map<String, Value> = checks
        .into_iter()
        .map(|(k, c)| (k, json!({"status": c.status, "message": c.message})))
        .collect();
    (
        code,
        Json(
            json!({"status": status, "checks": checks, "timestamp": blazar_model::format_rfc3339_nanos(now_ns())}),
        ),
    )
}

fn rank(s: &str) -> u8 {
    match s {
        "healthy" => 0,
        "degraded" | "unknown" => 1,
        _ => 2,
    }
}
