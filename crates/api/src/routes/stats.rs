//! `GET /api/v1/telemetry/stats`: counts per signal and per event type, buffer use, uptime.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::AppState;

pub(crate) async fn get(State(state): State<AppState>) -> Json<Value> {
    let store = &state.store;
    let stats = store.stats();
    let bus = store.bus();
    Json(json!({
        "uptime_seconds": state.started.elapsed().as_secs_f64(),
        "signals": store.signal_counts(),
        "event_types": store.event_type_counts(),
        "buffer": {"events": stats.events, "buffer_size": stats.event_buffer_size},
        "store": stats,
        "server": {
            "writes_in_flight": state.writes_in_flight(),
            "max_inflight_writes": state.settings().max_inflight_writes,
        },
        "stream": {
            "subscribers": bus.subscribers(),
            "published": bus.stats().published.load(std::sync::atomic::Ordering::Relaxed),
            "dropped_subscribers": bus.stats().dropped_subscribers.load(std::sync::atomic::Ordering::Relaxed),
        },
    }))
}
