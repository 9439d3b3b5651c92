//! `POST/GET /api/v1/telemetry/events` (seed 002).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use blazar_ingest::json_http::{parse_events, EventDefaults};
use blazar_model::Glob;
use blazar_signals::EventQuery;
use blazar_store::Signal;
use serde_json::{json, Value};

use super::{counted, json_body, store_write};
use crate::params::{count, now_ns, opt_time};
use crate::{ApiError, AppState};

pub(crate) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let s = state.settings();
    let value = json_body(&state, Signal::Events, &headers, body).await?;
    let source_id = state.store.settings().source_id;
    let defaults = EventDefaults {
        source_id: &source_id,
        now: now_ns(),
    };
    let parsed = parse_events(&value, s.max_batch_items, &defaults);
    let events = counted(&state, Signal::Events, parsed)?;
    let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let out = store_write(&state, move |s| s.write_events(events)).await?;
    // Seed 002's emit never fails its caller: filtered or sampled-out events are still a 200,
    // and the counts say what was kept.
    Ok((
        StatusCode::OK,
        Json(json!({
            "status": "ok",
            "received": out.received,
            "accepted": out.accepted,
            "sampled_out": out.sampled_out,
            "filtered": out.filtered,
            "disabled": out.disabled,
            "event_ids": ids,
        })),
    ))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let now = now_ns();
    let default_batch = state.settings().batch_size;
    let limit = match q.get("batch_size").or_else(|| q.get("limit")) {
        Some(v) => count("batch_size", v, 10_000)?,
        None => default_batch,
    };
    let query = EventQuery {
        event_type: q
            .get("event_type")
            .or_else(|| q.get("type"))
            .map(|g| Glob::new(g)),
        source: q.get("source").cloned(),
        since_ns: opt_time(&q, "since", now)?,
        until_ns: opt_time(&q, "until", now)?,
        after_seq: q
            .get("after")
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::invalid("after", format!("expected a sequence number, got {v:?}"))
                })
            })
            .transpose()?,
        limit,
    };
    let events = state.store.events(&query);
    let next_after = events.last().and_then(|e| e.get("seq")).cloned();
    Ok(Json(json!({"events": events, "next_after": next_after})))
}
