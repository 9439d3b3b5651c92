//! The health monitor against real local servers: an HTTP service that flips between healthy,
//! degraded (503 and `{"status":"degraded"}`), failing and gone; a TCP listener; a gRPC server
//! speaking the standard health protocol; a command. Asserts statuses, transitions, the
//! `health_update` messages, dependencies, the overall status and the recorded series.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::stream::sse_messages;
use crate::support::{eventually, Opts, TestServer};

const HEALTHY: u8 = 0;
const UNAVAILABLE: u8 = 1;
const SAYS_DEGRADED: u8 = 2;
const ERROR: u8 = 3;
/// Alternates 503 and healthy on every request.
const FLAP: u8 = 4;

/// An HTTP health endpoint whose answer the test sets; returns its port and a way to stop it.
async fn flipping_server(mode: Arc<AtomicU8>) -> (u16, tokio::sync::oneshot::Sender<()>) {
    use axum::http::StatusCode;
    let requests = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let mode = mode.clone();
            let n = requests.fetch_add(1, Ordering::SeqCst);
            async move {
                let m = match mode.load(Ordering::SeqCst) {
                    FLAP if n % 2 == 0 => UNAVAILABLE,
                    FLAP => HEALTHY,
                    m => m,
                };
                match m {
                    HEALTHY => (StatusCode::OK, r#"{"status":"healthy"}"#),
                    UNAVAILABLE => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                    SAYS_DEGRADED => (
                        StatusCode::OK,
                        r#"{"status":"degraded","message":"replica lag"}"#,
                    ),
                    _ => (StatusCode::INTERNAL_SERVER_ERROR, "boom"),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (port, tx)
}

/// A gRPC server with the standard health service; returns its port and the reporter.
async fn grpc_server() -> (u16, tonic_health::server::HealthReporter) {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("orders", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    (port, reporter)
}

async fn status_of(srv: &TestServer, service: &str) -> Value {
    let (code, body) = srv
        .get_json(&format!("/api/v1/telemetry/health/{service}"))
        .await;
    assert_eq!(code, 200, "{body}");
    body
}

async fn wait_status(srv: &TestServer, service: &str, want: &str) -> Value {
    eventually(&format!("{service} {want}"), || async {
        let (_, v) = srv
            .get_json(&format!("/api/v1/telemetry/health/{service}"))
            .await;
        (v["status"] == want).then_some(v)
    })
    .await
}

#[tokio::test]
async fn monitor_follows_real_services_through_every_status() {
    let mode = Arc::new(AtomicU8::new(HEALTHY));
    let (http_port, stop_http) = flipping_server(mode.clone()).await;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();
    let (grpc_port, reporter) = grpc_server().await;
    let yaml = format!(
        "health:\n  check_interval: 200ms\n  unhealthy_timeout: 700ms\n  success_threshold: 1\n  failure_threshold: 1\n  services:\n    \
         flip: {{health_endpoint: \"http://127.0.0.1:{http_port}/health\", criticality_level: critical, timeout: 500ms}}\n    \
         cache: {{health_endpoint: \"tcp://127.0.0.1:{tcp_port}\", criticality_level: optional}}\n    \
         rpc: {{health_endpoint: \"grpc://127.0.0.1:{grpc_port}\", grpc_service: orders, dependencies: [flip]}}\n    \
         edge: {{command: [sh, -c, \"echo edge cache cold; exit 1\"], dependencies: [rpc], criticality_level: optional}}\n"
    );
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(yaml),
        ..Opts::default()
    })
    .await;

    let flip = wait_status(&srv, "flip", "healthy").await;
    assert_eq!(flip["criticality"], "critical");
    assert_eq!(flip["check"], "http");
    assert_eq!(flip["error_count"], 0);
    assert!(flip["response_time_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(flip["transitions"][0]["from"], "unknown");
    assert_eq!(flip["transitions"][0]["to"], "healthy");
    wait_status(&srv, "cache", "healthy").await;
    let rpc = wait_status(&srv, "rpc", "healthy").await;
    assert_eq!(rpc["check"], "grpc");
    assert_eq!(rpc["dependencies"]["flip"], "healthy");
    let edge = wait_status(&srv, "edge", "degraded").await;
    assert_eq!(edge["message"], "edge cache cold");
    // An optional service degraded degrades the whole.
    let (_, all) = srv.get_json("/api/v1/telemetry/health").await;
    assert_eq!(all["status"], "degraded");
    assert_eq!(all["services"].as_array().unwrap().len(), 4);

    // From here on every change of `flip` must arrive on the stream.
    let resp = srv
        .client
        .get(srv.url("/api/v1/telemetry/stream?types=health_update&service=flip"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    srv.wait_subscribers(1).await;
    let messages = tokio::spawn(sse_messages(resp, 4));

    mode.store(UNAVAILABLE, Ordering::SeqCst);
    let v = wait_status(&srv, "flip", "degraded").await;
    assert_eq!(v["message"], "HTTP 503");
    mode.store(HEALTHY, Ordering::SeqCst);
    wait_status(&srv, "flip", "healthy").await;
    mode.store(SAYS_DEGRADED, Ordering::SeqCst);
    let v = wait_status(&srv, "flip", "degraded").await;
    assert_eq!(v["message"], "HTTP 200: degraded: replica lag");
    // 500s are failures: degraded at first, unhealthy once they have lasted 700ms.
    mode.store(ERROR, Ordering::SeqCst);
    let v = wait_status(&srv, "flip", "unhealthy").await;
    assert!(v["error_count"].as_u64().unwrap() >= 2, "{v}");
    assert_eq!(v["message"], "HTTP 500");
    // A critical service down makes the whole unhealthy, and its dependents name it.
    let (_, all) = srv.get_json("/api/v1/telemetry/health").await;
    assert_eq!(all["status"], "unhealthy");
    let rpc = status_of(&srv, "rpc").await;
    assert_eq!(rpc["dependencies"]["flip"], "unhealthy");
    assert_eq!(rpc["affected_by"], serde_json::json!(["flip"]));
    let edge = status_of(&srv, "edge").await;
    assert_eq!(
        edge["affected_by"],
        serde_json::json!(["flip"]),
        "the root cause, not the healthy middle"
    );
    let (code, own) = srv.get_json("/health").await;
    assert_eq!(code, 503, "{own}");
    assert_eq!(own["checks"]["services"]["status"], "unhealthy");

    // Gone: the process stops listening; still unhealthy, now saying why.
    let _ = stop_http.send(());
    let v = eventually("flip refused", || async {
        let v = status_of(&srv, "flip").await;
        (v["message"] != "HTTP 500").then_some(v)
    })
    .await;
    assert_eq!(v["status"], "unhealthy");
    mode.store(HEALTHY, Ordering::SeqCst);

    let got = messages.await.unwrap();
    let pairs: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            assert_eq!(m["type"], "health_update");
            assert_eq!(m["data"]["name"], "flip");
            (
                m["data"]["previous"].as_str().unwrap().to_string(),
                m["data"]["status"].as_str().unwrap().to_string(),
            )
        })
        .take(4)
        .collect();
    let want = [
        ("healthy", "degraded"),
        ("degraded", "healthy"),
        ("healthy", "degraded"),
        ("degraded", "unhealthy"),
    ];
    assert_eq!(
        pairs,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );
    assert_eq!(got[3]["data"]["overall"], "unhealthy");

    // gRPC NOT_SERVING is unhealthy at once.
    reporter
        .set_service_status("orders", tonic_health::ServingStatus::NotServing)
        .await;
    wait_status(&srv, "rpc", "unhealthy").await;

    // The transitions are kept, oldest first.
    let flip = status_of(&srv, "flip").await;
    let tos: Vec<&str> = flip["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        tos,
        ["healthy", "degraded", "healthy", "degraded", "unhealthy"]
    );

    // Recorded for alert rules and charts: the current status series, and response times.
    let (_, listed) = srv
        .get_json("/api/v1/telemetry/metrics?name=service.health.status")
        .await;
    let flip_series: Vec<&Value> = listed["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["tags"]["service"] == "flip")
        .collect();
    assert_eq!(
        flip_series.len(),
        1,
        "earlier statuses' series are marked stale: {flip_series:?}"
    );
    let current = flip_series
        .iter()
        .find(|m| m["tags"]["status"] == "unhealthy")
        .expect("the unhealthy series");
    assert_eq!(current["value"], 0.0, "{current}");
    assert_eq!(current["tags"]["criticality"], "critical");
    // Response times are written every 5 s.
    let n = eventually("cache response times", || async {
        let (_, counts) = srv
            .get_json("/api/v1/telemetry/metrics?name=service.health.response_time_seconds_count")
            .await;
        counts["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["tags"]["service"] == "cache")
            .and_then(|m| m["value"].as_f64())
    })
    .await;
    assert!(n >= 1.0);
    let (_, text) = srv.get_text("/metrics").await;
    assert!(
        text.contains("blazar_health_checks_total{result=\"fail\"}"),
        "{text}"
    );
    assert!(text.contains("blazar_health_services{status=\"unhealthy\"} 2"));
    drop(tcp);
}

#[tokio::test]
async fn unknown_service_is_404_and_no_services_is_healthy() {
    let srv = TestServer::start().await;
    let (code, body) = srv.get_json("/api/v1/telemetry/health/nope").await;
    assert_eq!(code, 404);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("nope"),
        "{body}"
    );
    let (code, all) = srv.get_json("/api/v1/telemetry/health").await;
    assert_eq!(code, 200);
    assert_eq!(all["status"], "healthy");
    assert_eq!(all["services"], serde_json::json!([]));
}

#[tokio::test]
async fn flapping_is_damped_by_thresholds() {
    let mode = Arc::new(AtomicU8::new(HEALTHY));
    let (port, _stop) = flipping_server(mode.clone()).await;
    let yaml = format!(
        "health:\n  check_interval: 100ms\n  success_threshold: 3\n  failure_threshold: 3\n  services:\n    \
         web: {{health_endpoint: \"http://127.0.0.1:{port}/health\"}}\n"
    );
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(yaml),
        ..Opts::default()
    })
    .await;
    wait_status(&srv, "web", "healthy").await;
    // Flip on every check: never three in a row, so no change.
    let before = status_of(&srv, "web").await["checks_total"]
        .as_u64()
        .unwrap();
    mode.store(FLAP, Ordering::SeqCst);
    eventually("ten flapping checks", || async {
        let n = status_of(&srv, "web").await["checks_total"]
            .as_u64()
            .unwrap();
        (n >= before + 10).then_some(())
    })
    .await;
    let web = status_of(&srv, "web").await;
    assert_eq!(
        web["transitions"].as_array().unwrap().len(),
        1,
        "only unknown -> healthy: {web}"
    );
    // A real outage still gets through.
    mode.store(UNAVAILABLE, Ordering::SeqCst);
    wait_status(&srv, "web", "degraded").await;
}

/// Pushes `p2p.peer.connections` and `p2p.network.latency_ms` for the `node` service.
async fn push_p2p(srv: &TestServer, peers: f64, latency_ms: f64) {
    let (code, body) = srv
        .post_json(
            "/api/v1/telemetry/metrics",
            serde_json::json!([
                {"name": "p2p.peer.connections", "type": "gauge", "value": peers, "tags": {"service": "node"}},
                {"name": "p2p.network.latency_ms", "type": "gauge", "value": latency_ms, "tags": {"service": "node"}},
            ]),
        )
        .await;
    assert!(code < 300, "{body}");
}

#[tokio::test]
async fn peer_health_follows_pushed_metrics_as_seed_001_rules_say() {
    let yaml = "check_interval: 200ms\nhealth:\n  success_threshold: 1\n  services:\n    \
                node: {p2p: {min_connections: 3, max_latency_threshold: 500ms}, criticality_level: critical}\n    \
                queue: {metrics: [{name: queue.depth, degraded_above: 100, unhealthy_above: 1000}]}\n";
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(yaml.into()),
        ..Opts::default()
    })
    .await;
    // Nothing pushed yet: a failure, degraded until unhealthy_timeout.
    let v = wait_status(&srv, "node", "degraded").await;
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("no series p2p.peer.connections"),
        "{v}"
    );
    assert_eq!(v["check"], "metric");
    push_p2p(&srv, 8.0, 20.0).await;
    wait_status(&srv, "node", "healthy").await;
    push_p2p(&srv, 2.0, 20.0).await;
    let v = wait_status(&srv, "node", "degraded").await;
    assert!(
        v["message"].as_str().unwrap().contains("2 is below 3"),
        "{v}"
    );
    push_p2p(&srv, 0.0, 20.0).await;
    wait_status(&srv, "node", "unhealthy").await;
    let (_, all) = srv.get_json("/api/v1/telemetry/health").await;
    assert_eq!(all["status"], "unhealthy");
    push_p2p(&srv, 9.0, 900.0).await;
    let v = wait_status(&srv, "node", "degraded").await;
    assert!(
        v["message"].as_str().unwrap().contains("900 is above 500"),
        "{v}"
    );
    push_p2p(&srv, 9.0, 10.0).await;
    wait_status(&srv, "node", "healthy").await;

    for (depth, want) in [(5.0, "healthy"), (500.0, "degraded"), (5000.0, "unhealthy")] {
        let (code, _) = srv
            .post_json(
                "/api/v1/telemetry/metrics",
                serde_json::json!({"name": "queue.depth", "type": "gauge", "value": depth}),
            )
            .await;
        assert_eq!(code, 200);
        wait_status(&srv, "queue", want).await;
    }
}

#[tokio::test]
async fn sighup_reload_adds_and_removes_services_keeping_the_rest() {
    let mode = Arc::new(AtomicU8::new(HEALTHY));
    let (port, _stop) = flipping_server(mode.clone()).await;
    let svc = |name: &str| {
        format!("    {name}: {{health_endpoint: \"http://127.0.0.1:{port}/health\"}}\n")
    };
    let head = "health:\n  check_interval: 200ms\n  services:\n";
    let mut srv = TestServer::start_with(Opts {
        config_yaml: Some(format!("{head}{}{}", svc("a"), svc("b"))),
        ..Opts::default()
    })
    .await;
    wait_status(&srv, "a", "healthy").await;
    let checks_before = status_of(&srv, "a").await["checks_total"].as_u64().unwrap();
    let tmp = srv.keep_tmp();
    std::fs::write(
        tmp.path().join("blazar.yaml"),
        format!("{head}{}{}", svc("a"), svc("c")),
    )
    .unwrap();
    srv.signal("HUP");
    wait_status(&srv, "c", "healthy").await;
    let (code, _) = srv.get_json("/api/v1/telemetry/health/b").await;
    assert_eq!(code, 404, "b is no longer monitored");
    let (_, listed) = srv
        .get_json("/api/v1/telemetry/metrics?name=service.health.status")
        .await;
    let services: Vec<&str> = listed["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["tags"]["service"].as_str().unwrap())
        .collect();
    assert!(
        !services.contains(&"b") && services.contains(&"a"),
        "b's status series ended: {services:?}"
    );
    let a = status_of(&srv, "a").await;
    assert!(
        a["checks_total"].as_u64().unwrap() >= checks_before,
        "a kept its state across the reload: {a}"
    );
    assert_eq!(a["transitions"].as_array().unwrap().len(), 1, "{a}");
    // A config with a dependency cycle is refused; the running services stay.
    std::fs::write(
        tmp.path().join("blazar.yaml"),
        format!(
            "{head}    a: {{health_endpoint: \"tcp://127.0.0.1:1\", dependencies: [c]}}\n    c: {{health_endpoint: \"tcp://127.0.0.1:1\", dependencies: [a]}}\n"
        ),
    )
    .unwrap();
    srv.signal("HUP");
    eventually("reload refused", || async {
        srv.log_text().contains("dependency cycle").then_some(())
    })
    .await;
    let (_, all) = srv.get_json("/api/v1/telemetry/health").await;
    assert_eq!(all["status"], "healthy", "{all}");
}

#[tokio::test]
async fn process_watch_records_liveness_cpu_and_memory() {
    let mut child = std::process::Command::new("sleep")
        .arg("300")
        .spawn()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("worker.pid");
    std::fs::write(&pid_file, child.id().to_string()).unwrap();
    let yaml = format!(
        "health:\n  check_interval: 200ms\n  success_threshold: 1\n  unhealthy_timeout: 400ms\n  services:\n    \
         worker: {{pid_file: {:?}}}\n",
        pid_file.display().to_string()
    );
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(yaml),
        ..Opts::default()
    })
    .await;
    let v = wait_status(&srv, "worker", "healthy").await;
    assert_eq!(v["check"], "process");
    assert_eq!(v["process"]["alive"], true, "{v}");
    assert_eq!(v["process"]["pid"], child.id());
    assert!(v["process"]["memory_bytes"].as_u64().unwrap() > 0, "{v}");
    let (_, up) = srv
        .get_json("/api/v1/telemetry/metrics?name=service.process.*")
        .await;
    let names: Vec<&str> = up["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["tags"]["service"] == "worker")
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for want in [
        "service.process.up",
        "service.process.cpu_percent",
        "service.process.memory_bytes",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    // The process dies: degraded at once, unhealthy once that has lasted unhealthy_timeout.
    child.kill().unwrap();
    child.wait().unwrap();
    let v = wait_status(&srv, "worker", "unhealthy").await;
    assert_eq!(v["process"]["alive"], false, "{v}");
    let (_, up) = srv
        .get_json("/api/v1/telemetry/metrics?name=service.process.up")
        .await;
    let value = up["metrics"][0]["value"].as_f64().unwrap();
    assert_eq!(value, 0.0, "{up}");
}

/// Kills the child on drop.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn https_checks_verify_certificates_unless_told_not_to() {
    // A real TLS server with a self-signed certificate: `openssl s_server -www` answers any GET
    // with 200 and a status page.
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed for this test (Debian package openssl)");
    assert!(made.status.success(), "{made:?}");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _server = Reap(
        std::process::Command::new("openssl")
            .args(["s_server", "-www", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-key")
            .arg(&key)
            .arg("-cert")
            .arg(&cert)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let yaml = format!(
        "health:\n  check_interval: 200ms\n  services:\n    \
         strict: {{health_endpoint: \"https://127.0.0.1:{port}/\"}}\n    \
         lenient: {{health_endpoint: \"https://127.0.0.1:{port}/\", tls_verify: false}}\n"
    );
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(yaml),
        ..Opts::default()
    })
    .await;
    let v = wait_status(&srv, "lenient", "healthy").await;
    assert_eq!(v["message"], "HTTP 200");
    let v = wait_status(&srv, "strict", "degraded").await;
    let msg = v["message"].as_str().unwrap().to_ascii_lowercase();
    assert!(msg.contains("certificate"), "{v}");
}
