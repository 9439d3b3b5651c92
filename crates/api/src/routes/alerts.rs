//! Alerts and rules: blazar's native `GET /api/v1/telemetry/alerts[/{id}]`,
//! `POST /api/v1/telemetry/alerts/{id}/ack`, `GET /api/v1/telemetry/rules`, and the
//! Prometheus-shaped `GET /api/v1/alerts` and `GET /api/v1/rules`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use blazar_alerting::{Alert, AlertState};
use serde_json::{json, Value};

use crate::params::{now_ns, opt_count, opt_time};
use crate::{ApiError, AppState};

/// Alerts listed when `limit` is not given.
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 10_000;

pub(crate) async fn list(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let now = now_ns();
    let limit = opt_count(&q, "limit", MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let since = opt_time(&q, "since", now)?;
    let wanted = match q.get("state").map(String::as_str) {
        None | Some("") => None,
        Some("firing") => Some(AlertState::Firing),
        Some("pending") => Some(AlertState::Pending),
        Some("resolved") => Some(AlertState::Resolved),
        Some(other) => {
            return Err(ApiError::invalid(
                "state",
                format!("expected firing, pending or resolved, got {other:?}"),
            ))
        }
    };
    let alerts: Vec<Alert> = match wanted {
        Some(AlertState::Resolved) => state.alerts.resolved_since(since.unwrap_or(i64::MIN)),
        Some(s) => state
            .alerts
            .active()
            .into_iter()
            .filter(|a| a.state == s)
            .collect(),
        None => state.alerts.active(),
    };
    let alerts: Vec<Alert> = alerts
        .into_iter()
        .filter(|a| {
            since.is_none_or(|t| a.last_seen_ns >= t || a.resolved_ns.is_some_and(|r| r >= t))
        })
        .filter(|a| {
            q.get("service")
                .is_none_or(|s| a.service.as_deref() == Some(s.as_str()))
        })
        .take(limit)
        .collect();
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("silenced_by".into(), json!(state.alerts.silenced_by(a)));
                o.insert("remediation".into(), json!(state.alerts.remediation(&a.id)));
            }
            v
        })
        .collect();
    Ok(Json(json!({"alerts": alerts})))
}

pub(crate) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Alert>, ApiError> {
    state
        .alerts
        .get(&id)
        .map(Json)
        .ok_or_else(|| not_found(&id))
}

pub(crate) async fn ack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Alert>, ApiError> {
    let limit = state.settings().max_body_bytes;
    let bytes = crate::body::read(&headers, body, limit).await?;
    let by = if bytes.iter().all(u8::is_ascii_whitespace) {
        "api".to_string()
    } else {
        let v = crate::body::json(&bytes)?;
        match v.get("by") {
            None | Some(Value::Null) => "api".to_string(),
            Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 256 => {
                s.trim().to_string()
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    "by",
                    "expected who acknowledges, a non-empty string of at most 256 bytes",
                ))
            }
        }
    };
    state.alerts.ack(&id, &by).map(Json).ok_or_else(|| {
        if state.alerts.get(&id).is_some() {
            ApiError::new(
                blazar_model::ErrorKind::Conflict,
                format!("id: alert {id:?} is resolved; only active alerts can be acknowledged"),
            )
        } else {
            not_found(&id)
        }
    })
}

pub(crate) async fn rules(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"rules": state.alerts.rules()}))
}

/// `GET /api/v1/alerts`, Prometheus's shape: active alerts.
pub(crate) async fn prom_alerts(State(state): State<AppState>) -> Json<Value> {
    let alerts: Vec<Value> = state.alerts.active().iter().map(prom_alert).collect();
    Json(json!({"status": "success", "data": {"alerts": alerts}}))
}

/// `GET /api/v1/rules`, Prometheus's shape: one group holding every rule.
pub(crate) async fn prom_rules(State(state): State<AppState>) -> Json<Value> {
    let rules = state.alerts.rules();
    let interval = rules.first().map_or(1.0, |r| r.interval_seconds);
    let rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut labels = r.labels.clone();
            labels.insert("severity".into(), r.severity.into());
            json!({
                "type": "alerting",
                "name": r.name,
                "query": format!("{} {} {}", r.metric, r.condition, r.threshold),
                "duration": r.duration_seconds,
                "keepFiringFor": r.keep_firing_for_seconds,
                "labels": labels,
                "annotations": r.annotations,
                "alerts": r.alerts.iter().map(prom_alert).collect::<Vec<_>>(),
                "health": if r.health.last_error.is_some() { "err" } else if r.health.evaluations == 0 { "unknown" } else { "ok" },
                "lastError": r.health.last_error.clone().unwrap_or_default(),
                "evaluationTime": r.health.evaluation_time_ms / 1000.0,
                "lastEvaluation": r.health.last_evaluation.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
                "state": r.state,
            })
        })
        .collect();
    Json(json!({"status": "success", "data": {"groups": [{
        "name": "blazar",
        "file": "blazar.yaml",
        "interval": interval,
        "rules": rules,
    }]}}))
}

fn prom_alert(a: &Alert) -> Value {
    json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "state": a.state,
        "activeAt": a.started_at,
        "value": format!("{:e}", a.value),
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        blazar_model::ErrorKind::NotFound,
        format!("id: no alert {id:?}"),
    )
}

pub(crate) async fn silences(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"silences": state.alerts.silences()}))
}

/// Most matchers in one silence.
const MAX_MATCHERS: usize = 64;

pub(crate) async fn add_silence(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let limit = state.settings().max_body_bytes;
    let bytes = crate::body::read(&headers, body, limit).await?;
    let v = crate::body::json(&bytes)?;
    let now = now_ns();
    let matchers = silence_matchers(v.get("matchers"))?;
    let text = |field: &str, default: &str| -> Result<String, ApiError> {
        match v.get(field) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::String(s)) if s.len() <= 4096 => Ok(s.clone()),
            Some(_) => Err(ApiError::invalid(
                field,
                "expected a string of at most 4096 bytes",
            )),
        }
    };
    let starts = match v.get("starts_at").and_then(Value::as_str) {
        Some(s) => crate::params::time_or_ago("starts_at", s, now)?,
        None => now,
    };
    let ends = match (
        v.get("ends_at").and_then(Value::as_str),
        v.get("duration").and_then(Value::as_str),
    ) {
        (Some(s), None) => crate::params::time_or_ago("ends_at", s, now)?,
        (None, Some(d)) => starts.saturating_add(crate::params::duration_ns("duration", d)?),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "duration",
                "give ends_at or duration, not both",
            ))
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "duration",
                "a silence needs ends_at or duration (e.g. \"2h\")",
            ))
        }
    };
    if ends <= starts || ends <= now {
        return Err(ApiError::invalid(
            "ends_at",
            "must be after starts_at and in the future",
        ));
    }
    let silence = blazar_alerting::silence::Silence::new(
        uuid::Uuid::new_v4().to_string(),
        matchers,
        starts,
        ends,
        text("created_by", "api")?,
        text("comment", "")?,
    )
    .map_err(|e| ApiError::invalid("matchers", e))?;
    let s = state.alerts.add_silence(silence).map_err(|e| {
        ApiError::new(
            blazar_model::ErrorKind::Overloaded,
            format!("silences: {e}"),
        )
    })?;
    Ok(Json(serde_json::to_value(s).unwrap_or_default()))
}

pub(crate) async fn expire_silence(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .alerts
        .expire_silence(&id)
        .map(|s| Json(serde_json::to_value(s).unwrap_or_default()))
        .ok_or_else(|| {
            ApiError::new(
                blazar_model::ErrorKind::NotFound,
                format!("id: no silence {id:?}"),
            )
        })
}

/// Matchers as a selector-style string (`alertname="X",service=~"a.*"`), a `{label: value}`
/// map, or Alertmanager's list of `{name, value, isRegex, isEqual}`.
fn silence_matchers(
    v: Option<&Value>,
) -> Result<Vec<blazar_config::selector::LabelMatch>, ApiError> {
    use blazar_config::selector::{LabelMatch, MatchOp};
    let bad = |m: &str| ApiError::invalid("matchers", m.to_string());
    let out: Vec<LabelMatch> =
        match v {
            Some(Value::String(s)) => {
                let body = s.trim().trim_start_matches('{').trim_end_matches('}');
                blazar_config::selector::parse(&format!("x{{{body}}}"))
                    .map_err(|e| bad(&e))?
                    .matchers
            }
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok::<_, ApiError>(LabelMatch {
                        name: k.clone(),
                        op: MatchOp::Equal,
                        value: s.clone(),
                    }),
                    _ => Err(bad(&format!("value of {k} must be a string"))),
                })
                .collect::<Result<_, _>>()?,
            Some(Value::Array(a)) => a
                .iter()
                .map(|m| {
                    let name = m
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("each matcher needs a name"))?;
                    let value = m
                        .get("value")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("each matcher needs a value"))?;
                    let regex = m.get("isRegex").and_then(Value::as_bool).unwrap_or(false);
                    let equal = m.get("isEqual").and_then(Value::as_bool).unwrap_or(true);
                    let op = match (regex, equal) {
                        (false, true) => MatchOp::Equal,
                        (false, false) => MatchOp::NotEqual,
                        (true, true) => MatchOp::Regex,
                        (true, false) => MatchOp::NotRegex,
                    };
                    Ok::<_, ApiError>(LabelMatch {
                        name: name.to_string(),
                        op,
                        value: value.to_string(),
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(bad(
                "expected matchers: a string like alertname=\"X\", a {label: value} map, or a list",
            )),
        };
    if out.is_empty() || out.len() > MAX_MATCHERS {
        return Err(bad(&format!("expected 1 to {MAX_MATCHERS} matchers")));
    }
    if out
        .iter()
        .all(|m| m.op == MatchOp::Equal && m.value.is_empty())
    {
        return Err(bad("a silence must not match every alert"));
    }
    Ok(out)
}
