//! `/health` and `/metrics` as operators and Prometheus see them.

use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn health_reports_store_wal_and_bus() {
    let srv = TestServer::start().await;
    let (s, h) = srv.get_json("/health").await;
    assert_eq!(s, 200);
    assert_eq!(h["status"], "healthy");
    for c in ["store", "wal", "bus"] {
        assert_eq!(h["checks"][c]["status"], "healthy", "{h}");
    }
    assert!(h["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn metrics_exposition_passes_promtool() {
    let srv = TestServer::start().await;
    srv.post_json(
        "/api/v1/telemetry/metrics",
        json!({"name": "m", "value": 1}),
    )
    .await;
    srv.post_json(
        "/api/v1/telemetry/metrics",
        json!({"name": "m", "value": "bad"}),
    )
    .await;
    srv.post_json("/api/v1/telemetry/events", json!({"event_type": "e"}))
        .await;
    let (s, text) = srv.get_text("/metrics").await;
    assert_eq!(s, 200);
    for needle in [
        "blazar_received_total{signal=\"metrics\"}",
        "blazar_ingested_total{signal=\"events\"} 1",
        "blazar_rejected_total{signal=\"metrics\",reason=\"invalid\"} 1",
        "blazar_wal_written_bytes_total",
        "blazar_wal_fsyncs_total",
        "blazar_active_series",
        "blazar_memory_bytes{store=\"metrics\"}",
        "blazar_stream_subscribers",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    // The real promtool is the judge of the format; the test fails if it is not installed.
    let promtool = which("promtool")
        .expect("promtool not found: install Debian's prometheus package (scripts/test does)");
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(bin: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(bin))
        .find(|p| p.exists())
}
