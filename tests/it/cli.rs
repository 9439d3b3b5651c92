//! The CLI against a running server: human output, `--json`, and one-line errors.

use serde_json::{json, Value};

use crate::support::{cli, TestServer};

#[tokio::test]
async fn cli_commands_against_a_running_server() {
    let srv = TestServer::start().await;
    srv.post_json(
        "/api/v1/telemetry/metrics",
        json!({"name": "plugin.cli.requests", "value": 2, "type": "counter", "tags": {"k": "v"}}),
    )
    .await;
    let base = srv.base.clone();
    let run = move |args: Vec<&'static str>| {
        let base = base.clone();
        tokio::task::spawn_blocking(move || cli(&base, &args))
    };

    let (code, out, err) = run(vec!["status"]).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("healthy"), "{out}");

    let (code, out, _) = run(vec!["metrics", "plugin.cli.*"]).await.unwrap();
    assert_eq!(code, 0);
    assert!(
        out.contains("plugin.cli.requests") && out.contains("counter"),
        "{out}"
    );

    let (code, out, err) = run(vec![
        "emit",
        "deploy.finished",
        "--source",
        "ci",
        "--data",
        "{\"version\":\"1.2\"}",
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(vec!["--json", "events", "--type", "deploy.*"])
        .await
        .unwrap();
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["events"][0]["data"]["version"], "1.2");
    assert_eq!(v["events"][0]["source"], "ci");

    let (code, _, err) = run(vec!["emit", "x", "--source", "s", "--data", "{not json"])
        .await
        .unwrap();
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error:"), "{err}");

    let (code, out, _) = run(vec!["traces", "--since", "1h"]).await.unwrap();
    assert_eq!(code, 0, "{out}");
}

#[test]
fn cli_unreachable_server_is_one_line_and_nonzero() {
    let (code, _, err) = cli("http://127.0.0.1:9", &["status"]);
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
}

#[tokio::test]
async fn tail_prints_live_events() {
    let srv = TestServer::start().await;
    let mut child = std::process::Command::new(crate::support::BIN)
        .args(["--server", &srv.base, "tail", "--types", "event"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    srv.wait_subscribers(1).await;
    srv.post_json(
        "/api/v1/telemetry/events",
        json!({"event_type": "tail.me", "source": "t"}),
    )
    .await;
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("tail.me"))
    });
    let line = tokio::time::timeout(std::time::Duration::from_secs(30), line)
        .await
        .unwrap()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.unwrap().contains("event"));
}
