//! Router tests for trace analysis (`/traces/analyze`, `/services`, critical path in trace
//! detail) and the trace list's filters. Completion is driven by hand: the test feeds stored
//! traces to `state.analysis`, as the server's completion task does.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use blazar_bus::Bus;
use blazar_signals::TraceQuery;
use blazar_store::{SelfMetrics, Settings, Store};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::{router, AppState};

/// Unix seconds all test spans start from (2023-11-14T22:13:20Z).
const T0: f64 = 1_700_000_000.0;

struct App {
    router: axum::Router,
    state: AppState,
    _dir: tempfile::TempDir,
}

fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = blazar_config::Config::default();
    cfg.storage.data_dir = dir.path().to_path_buf();
    let (store, _) = Store::open(
        Settings::from_config(&cfg),
        Bus::new(16),
        Arc::new(SelfMetrics::new()),
    )
    .unwrap();
    let audit =
        Arc::new(blazar_audit::AuditLog::open(&cfg.storage.data_dir.join("audit")).unwrap());
    let state = AppState::new(Arc::new(store), &cfg, audit);
    App {
        router: router(state.clone()),
        state,
        _dir: dir,
    }
}

impl App {
    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn get(&self, uri: &str) -> Value {
        let (s, b) = self.call("GET", uri, None).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {b}");
        b
    }

    /// Creates and finishes one span; returns `(trace_id, span_id)`.
    async fn span(&self, s: SpanSpec<'_>) -> (String, String) {
        let mut body = json!({"name": s.name, "service": s.service, "start_time": T0 + s.start});
        if let Some((t, p)) = s.parent {
            body["parent_trace_id"] = json!(t);
            body["parent_span_id"] = json!(p);
        }
        if !s.tags.is_null() {
            body["tags"] = s.tags;
        }
        let (st, b) = self
            .call("POST", "/api/v1/telemetry/traces/spans", Some(body))
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let (tid, sid) = (
            b["trace_id"].as_str().unwrap().to_string(),
            b["span_id"].as_str().unwrap().to_string(),
        );
        let status = if s.error { "error" } else { "ok" };
        let (st, b) = self
            .call(
                "POST",
                &format!("/api/v1/telemetry/traces/spans/{sid}/finish"),
                Some(json!({"status": status, "end_time": T0 + s.end})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        (tid, sid)
    }

    /// Feeds every stored trace to the analyzer, as the completion task would.
    fn complete_all(&self) {
        let views: Vec<_> = self
            .state
            .store
            .traces(&TraceQuery::default())
            .iter()
            .filter_map(|t| self.state.store.trace(t.trace_id))
            .collect();
        self.state.analysis.on_completed(&views, 0);
    }
}

struct SpanSpec<'a> {
    name: &'a str,
    service: &'a str,
    start: f64,
    end: f64,
    parent: Option<(&'a str, &'a str)>,
    error: bool,
    tags: Value,
}

fn spec<'a>(name: &'a str, service: &'a str, start: f64, end: f64) -> SpanSpec<'a> {
    SpanSpec {
        name,
        service,
        start,
        end,
        parent: None,
        error: false,
        tags: Value::Null,
    }
}

/// A trace `api → orders → db ×3` whose three db calls failed; returns its id.
async fn failing_trace(app: &App) -> String {
    let (t, root) = app.span(spec("GET /orders", "api", 0.0, 1.0)).await;
    let (_, orders) = app
        .span(SpanSpec {
            parent: Some((&t, &root)),
            ..spec("list", "orders", 0.1, 0.9)
        })
        .await;
    for i in 0..3 {
        let start = 0.2 + f64::from(i) * 0.2;
        app.span(SpanSpec {
            parent: Some((&t, &orders)),
            error: true,
            ..spec("db.query", "db", start, start + 0.1)
        })
        .await;
    }
    t
}

#[tokio::test]
async fn analyze_lists_issues_in_seed_shape() {
    let app = app();
    let failing = failing_trace(&app).await;
    let (p2p, root) = app.span(spec("sync", "node", 100.0, 140.0)).await;
    app.span(SpanSpec {
        parent: Some((&p2p, &root)),
        ..spec("p2p.discovery.find_peers", "node", 101.0, 135.0)
    })
    .await;
    app.span(spec("fast", "api", 200.0, 200.5)).await;
    let b = app.get("/api/v1/telemetry/traces/analyze").await;
    assert_eq!(b, json!({"issues": []}), "nothing before completion");
    app.complete_all();

    let b = app.get("/api/v1/telemetry/traces/analyze").await;
    let issues = b["issues"].as_array().unwrap();
    let found: Vec<(&str, &str)> = issues
        .iter()
        .map(|i| {
            (
                i["trace_id"].as_str().unwrap(),
                i["pattern"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (p2p.as_str(), "slow_service_call"),
            (p2p.as_str(), "p2p_discovery_timeout"),
            (failing.as_str(), "cascading_failures"),
        ]
    );
    assert_eq!(
        issues[2],
        json!({
            "trace_id": failing,
            "pattern": "cascading_failures",
            "description": "Multiple services failing in sequence",
            "severity": "critical",
            "timestamp": "2023-11-14T22:13:20Z",
            "duration_ms": 1000.0,
            "services": ["api", "db", "orders"],
        })
    );

    let b = app
        .get("/api/v1/telemetry/traces/analyze?pattern=p2p_discovery_timeout")
        .await;
    assert_eq!(b["issues"].as_array().unwrap().len(), 1);
    assert_eq!(b["issues"][0]["duration_ms"], 40_000.0);
    let b = app
        .get("/api/v1/telemetry/traces/analyze?since=2023-11-14T22:14:00Z&limit=1")
        .await;
    assert_eq!(b["issues"].as_array().unwrap().len(), 1);
    assert_eq!(b["issues"][0]["trace_id"], json!(p2p));

    for (uri, field) in [
        (
            "/api/v1/telemetry/traces/analyze?pattern=slow_requests",
            "pattern:",
        ),
        ("/api/v1/telemetry/traces/analyze?since=soon", "since:"),
        ("/api/v1/telemetry/traces/analyze?limit=0", "limit:"),
    ] {
        let (s, b) = app.call("GET", uri, None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with(field), "{msg}");
    }
}

#[tokio::test]
async fn services_returns_the_dependency_graph() {
    let app = app();
    failing_trace(&app).await;
    let b = app.get("/api/v1/telemetry/services").await;
    assert_eq!(b, json!({"services": [], "edges": []}));
    app.complete_all();
    let b = app.get("/api/v1/telemetry/services").await;
    let edges: Vec<(String, String, u64, u64)> = b["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["caller"].as_str().unwrap().to_string(),
                e["callee"].as_str().unwrap().to_string(),
                e["calls"].as_u64().unwrap(),
                e["errors"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        edges,
        vec![
            ("api".into(), "orders".into(), 1, 0),
            ("orders".into(), "db".into(), 3, 3),
        ]
    );
    let db = &b["edges"][1];
    assert_eq!(db["error_rate"], 1.0);
    let p50 = db["p50_ms"].as_f64().unwrap();
    assert!((p50 - 100.0).abs() < 5.0, "{p50}");
    assert!(db["last_seen"].is_string());
    let services: Vec<&str> = b["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(services, vec!["api", "db", "orders"]);
    assert_eq!(b["services"][1]["errors"], 3);
}

#[tokio::test]
async fn trace_detail_has_critical_path_and_bottleneck() {
    let app = app();
    let (t, root) = app.span(spec("GET /", "api", 0.0, 1.0)).await;
    app.span(SpanSpec {
        parent: Some((&t, &root)),
        ..spec("a", "db", 0.1, 0.3)
    })
    .await;
    let (_, slow) = app
        .span(SpanSpec {
            parent: Some((&t, &root)),
            ..spec("b", "cache", 0.2, 0.9)
        })
        .await;
    let b = app.get(&format!("/api/v1/telemetry/traces/{t}")).await;
    assert_eq!(b["spans"].as_array().unwrap().len(), 3);
    let path: Vec<(&str, f64)> = b["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["on_path_ms"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(path.len(), 2, "{path:?}");
    assert_eq!(path[0].0, "GET /");
    assert_eq!(path[1].0, "b");
    assert!((path[0].1 - 300.0).abs() < 1e-3, "{path:?}");
    assert!((path[1].1 - 700.0).abs() < 1e-3, "{path:?}");
    assert_eq!(b["bottleneck"]["span_id"], json!(slow));
    assert_eq!(b["bottleneck"]["service"], "cache");
    assert!((b["bottleneck"]["self_time_ms"].as_f64().unwrap() - 700.0).abs() < 1e-3);
    assert!(b["critical_path"][0]["self_time_ms"].is_number());
}

#[tokio::test]
async fn trace_list_supports_every_design_filter() {
    let app = app();
    let failing = failing_trace(&app).await;
    let (tagged, _) = app
        .span(SpanSpec {
            tags: json!({"plugin_id": "p1", "region": "eu"}),
            ..spec("upload", "storage", 10.0, 12.5)
        })
        .await;
    let (late, _) = app.span(spec("cron", "batch", 3600.0, 3600.1)).await;
    let ids = |b: &Value| -> Vec<String> {
        b["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap().to_string())
            .collect()
    };
    let q = |params: &str| format!("/api/v1/telemetry/traces?{params}");
    let cases: Vec<(String, Vec<&String>)> = vec![
        (q("service=db"), vec![&failing]),
        (q("operation=upload"), vec![&tagged]),
        (q("tag.region=eu"), vec![&tagged]),
        (q("tag.region=us"), vec![]),
        (q("plugin_id=p1"), vec![&tagged]),
        (q("status=error"), vec![&failing]),
        (q("min_duration=2s"), vec![&tagged]),
        (q("start=2023-11-14T22:13:25Z"), vec![&late, &tagged]),
        (q("since=2023-11-14T22:13:25Z"), vec![&late, &tagged]),
        (
            q("start=2023-11-14T22:13:25Z&end=2023-11-14T22:14:00Z"),
            vec![&tagged],
        ),
        (q("end=1700000005"), vec![&failing]),
        (q("limit=1"), vec![&late]),
        (
            q("service=db&status=error&min_duration=500ms"),
            vec![&failing],
        ),
    ];
    for (uri, want) in cases {
        let b = app.get(&uri).await;
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(ids(&b), want, "{uri}");
    }
    // `since` as a duration ago: these traces are from 2023.
    assert!(ids(&app.get(&q("since=1h")).await).is_empty());
    for (params, field) in [
        ("status=ok", "status:"),
        ("since=1h&start=1h", "since:"),
        ("end=later", "end:"),
        ("limit=x", "limit:"),
    ] {
        let (s, b) = app.call("GET", &q(params), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{params}");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with(field), "{params}: {msg}");
    }
}

#[tokio::test]
async fn reload_replaces_patterns() {
    let app = app();
    let mut cfg = blazar_config::Config::default();
    cfg.tracing.default_patterns = false;
    cfg.tracing.patterns = vec![blazar_config::TracePatternConfig {
        name: "any_db".into(),
        description: "touches the db".into(),
        severity: blazar_config::PatternSeverity::Info,
        min_duration: None,
        span_name: None,
        span_min_duration: None,
        attributes: Vec::new(),
        min_error_spans: None,
        min_spans: None,
        service: Some("db".into()),
    }];
    app.state.reload(&cfg);
    failing_trace(&app).await;
    app.complete_all();
    let b = app.get("/api/v1/telemetry/traces/analyze").await;
    let patterns: Vec<&str> = b["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(patterns, vec!["any_db"]);
    assert_eq!(b["issues"][0]["severity"], "info");
}
