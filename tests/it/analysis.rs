//! Trace analysis end to end: spans in through the seed 004 span API (with explicit times),
//! completion after `tracing.completion_quiet`, then `/traces/analyze` (seed 001's issue shape),
//! `/services` (the dependency graph, kept across a restart) and the trace's critical path.

use serde_json::{json, Value};

use crate::support::{eventually, Opts, TestServer};

/// A short quiet period so traces complete quickly, and one configured pattern beside the
/// built-ins.
pub(crate) const CONFIG: &str = "tracing:\n  completion_quiet: 200ms\n  patterns:\n    - name: db_errors\n      description: The database failed\n      severity: info\n      service: db\n      min_error_spans: 1\n";

/// Unix seconds a few minutes ago, so `since=1h` covers the test's traces.
pub(crate) fn base_secs() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    (now - 600.0).floor()
}

/// One finished span.
pub(crate) struct Span<'a> {
    pub name: &'a str,
    pub service: &'a str,
    pub start: f64,
    pub end: f64,
    pub parent: Option<(&'a str, &'a str)>,
    pub error: bool,
}

impl<'a> Span<'a> {
    pub(crate) fn new(name: &'a str, service: &'a str, start: f64, end: f64) -> Self {
        Self {
            name,
            service,
            start,
            end,
            parent: None,
            error: false,
        }
    }
}

/// Creates and finishes `s`; returns `(trace_id, span_id)`.
pub(crate) async fn post_span(srv: &TestServer, s: Span<'_>) -> (String, String) {
    let mut body = json!({"name": s.name, "service": s.service, "start_time": s.start});
    if let Some((t, p)) = s.parent {
        body["parent_trace_id"] = json!(t);
        body["parent_span_id"] = json!(p);
    }
    let (code, b) = srv.post_json("/api/v1/telemetry/traces/spans", body).await;
    assert_eq!(code, 200, "{b}");
    let t = b["trace_id"].as_str().unwrap().to_string();
    let id = b["span_id"].as_str().unwrap().to_string();
    let status = if s.error { "error" } else { "ok" };
    let (code, b) = srv
        .post_json(
            &format!("/api/v1/telemetry/traces/spans/{id}/finish"),
            json!({"status": status, "end_time": s.end}),
        )
        .await;
    assert_eq!(code, 200, "{b}");
    (t, id)
}

/// `api → orders → db ×3`, every db call failing; returns the trace id.
pub(crate) async fn failing_trace(srv: &TestServer, t0: f64) -> String {
    let (t, root) = post_span(srv, Span::new("GET /orders", "api", t0, t0 + 1.0)).await;
    let (_, orders) = post_span(
        srv,
        Span {
            parent: Some((&t, &root)),
            ..Span::new("orders.list", "orders", t0 + 0.1, t0 + 0.9)
        },
    )
    .await;
    for i in 0..3 {
        let start = t0 + 0.2 + f64::from(i) * 0.2;
        post_span(
            srv,
            Span {
                parent: Some((&t, &orders)),
                error: true,
                ..Span::new("db.query", "db", start, start + 0.1)
            },
        )
        .await;
    }
    t
}

/// `node: sync` (40 s) around a 34 s `p2p.discovery.find_peers`; returns the trace id.
pub(crate) async fn p2p_trace(srv: &TestServer, t0: f64) -> String {
    let (t, root) = post_span(srv, Span::new("sync", "node", t0, t0 + 40.0)).await;
    post_span(
        srv,
        Span {
            parent: Some((&t, &root)),
            ..Span::new("p2p.discovery.find_peers", "node", t0 + 1.0, t0 + 35.0)
        },
    )
    .await;
    t
}

/// Waits until `/traces/analyze` lists at least `n` issues; returns them.
pub(crate) async fn wait_issues(srv: &TestServer, n: usize) -> Vec<Value> {
    eventually("trace issues", || async {
        let (_, b) = srv.get_json("/api/v1/telemetry/traces/analyze").await;
        let issues = b["issues"].as_array().cloned().unwrap_or_default();
        (issues.len() >= n).then_some(issues)
    })
    .await
}

fn opts() -> Opts {
    Opts {
        config_yaml: Some(CONFIG.into()),
        ..Opts::default()
    }
}

#[tokio::test]
async fn completed_traces_are_analyzed_with_seed_patterns() {
    let srv = TestServer::start_with(opts()).await;
    let t0 = base_secs();
    let failing = failing_trace(&srv, t0).await;
    let p2p = p2p_trace(&srv, t0 + 60.0).await;
    post_span(&srv, Span::new("fast", "api", t0 + 120.0, t0 + 120.2)).await;

    let issues = wait_issues(&srv, 4).await;
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
            (failing.as_str(), "db_errors"),
        ]
    );
    let cascading = &issues[2];
    let mut keys: Vec<&str> = cascading
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "description",
            "duration_ms",
            "pattern",
            "services",
            "severity",
            "timestamp",
            "trace_id"
        ]
    );
    assert_eq!(cascading["severity"], "critical");
    assert_eq!(
        cascading["description"],
        "Multiple services failing in sequence"
    );
    assert_eq!(cascading["duration_ms"], 1000.0);
    assert_eq!(cascading["services"], json!(["api", "db", "orders"]));
    assert!(cascading["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(issues[1]["severity"], "warning");
    assert_eq!(issues[1]["duration_ms"], 40_000.0);
    assert_eq!(issues[3]["severity"], "info");

    let (code, b) = srv
        .get_json("/api/v1/telemetry/traces/analyze?pattern=cascading_failures&since=1h")
        .await;
    assert_eq!(code, 200);
    assert_eq!(b["issues"].as_array().unwrap().len(), 1);
    let (code, b) = srv
        .get_json("/api/v1/telemetry/traces/analyze?pattern=slow_requests")
        .await;
    assert_eq!(code, 400);
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("pattern:"));

    let (code, g) = srv.get_json("/api/v1/telemetry/services").await;
    assert_eq!(code, 200);
    let db = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["caller"] == "orders" && e["callee"] == "db")
        .cloned()
        .unwrap_or_else(|| panic!("no orders -> db edge: {g}"));
    assert_eq!(
        (db["calls"].as_u64(), db["errors"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(db["p95_ms"].as_f64().unwrap() > 90.0, "{db}");
    assert!(g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["caller"] == "api" && e["callee"] == "orders"));

    let (code, d) = srv
        .get_json(&format!("/api/v1/telemetry/traces/{p2p}"))
        .await;
    assert_eq!(code, 200);
    let path: Vec<&str> = d["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(path, vec!["sync", "p2p.discovery.find_peers"]);
    assert_eq!(d["bottleneck"]["name"], "p2p.discovery.find_peers");
    assert_eq!(d["bottleneck"]["self_time_ms"], 34_000.0);
}

#[tokio::test]
async fn service_graph_and_issues_survive_a_restart() {
    let mut srv = TestServer::start_with(opts()).await;
    failing_trace(&srv, base_secs()).await;
    wait_issues(&srv, 2).await;
    let graph = |srv: &TestServer| {
        let srv_url = srv.url("/api/v1/telemetry/services");
        let client = srv.client.clone();
        async move {
            let b: Value = client
                .get(srv_url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut edges: Vec<(String, String, u64)> = b["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["caller"].as_str().unwrap().to_string(),
                        e["callee"].as_str().unwrap().to_string(),
                        e["calls"].as_u64().unwrap(),
                    )
                })
                .collect();
            edges.sort();
            edges
        }
    };
    let before = graph(&srv).await;
    assert_eq!(before.len(), 2, "{before:?}");

    let restart = Opts {
        config_yaml: Some(CONFIG.into()),
        ..srv.kill9()
    };
    let srv = TestServer::start_with(restart).await;
    assert_eq!(graph(&srv).await, before);
    // Replayed traces count as completed: a few completion ticks (250 ms each) after the
    // restart must not add them to the graph again or double their issues. Waiting is the only
    // way to see that nothing happens.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(graph(&srv).await, before);
    let issues = wait_issues(&srv, 2).await;
    assert_eq!(issues.len(), 2, "{issues:?}");
}
