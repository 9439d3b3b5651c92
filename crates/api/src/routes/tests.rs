//! Router tests without a socket: `router(state)` + `oneshot`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use blazar_bus::Bus;
use blazar_store::{SelfMetrics, Settings, Store};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::{router, AppState};

fn app() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = blazar_config::Config::default();
    cfg.storage.data_dir = dir.path().to_path_buf();
    let (store, _) = Store::open(
        Settings::from_config(&cfg),
        Bus::new(16),
        Arc::new(SelfMetrics::new()),
    )
    .unwrap();
    let audit = Arc::new(blazar_audit::AuditLog::open(&dir.path().join("audit")).unwrap());
    (router(AppState::new(Arc::new(store), &cfg, audit)), dir)
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn unknown_path_is_a_json_404() {
    let (app, _d) = app();
    let (s, b) = call(&app, "GET", "/nope", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "not_found");
}

#[tokio::test]
async fn metric_written_is_listed() {
    let (app, _d) = app();
    let (s, _) = call(
        &app,
        "POST",
        "/api/v1/telemetry/metrics",
        Some(json!({"name": "a.b", "value": 2, "type": "counter"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = call(&app, "GET", "/api/v1/telemetry/metrics?name=a.*", None).await;
    assert_eq!(b["metrics"][0]["value"], 2.0);
}

#[tokio::test]
async fn invalid_metric_is_a_400_naming_the_field() {
    let (app, _d) = app();
    let (s, b) = call(
        &app,
        "POST",
        "/api/v1/telemetry/metrics",
        Some(json!({"name": "a", "value": {}})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("value:"));
}

#[tokio::test]
async fn bad_query_parameters_name_the_parameter() {
    let (app, _d) = app();
    let (s, b) = call(
        &app,
        "GET",
        "/api/v1/telemetry/traces?min_duration=soon",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("min_duration:"),
        "{b}"
    );
    let (s, b) = call(&app, "GET", "/api/v1/telemetry/events?batch_size=0", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("batch_size:"),
        "{b}"
    );
    let (s, _) = call(&app, "GET", "/api/v1/telemetry/traces/zzz", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
