//! The trace CLI against a running server: `traces` (filters, table), `trace ID` (waterfall,
//! critical path, bottleneck, `--json`), `analyze` and `logs`.

use serde_json::{json, Value};

use crate::analysis::{base_secs, failing_trace, p2p_trace, post_span, wait_issues, Span, CONFIG};
use crate::support::{cli, Opts, TestServer};

/// Runs the CLI off the async runtime.
async fn run(base: &str, args: &[&str]) -> (i32, String, String) {
    let base = base.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&base, &args)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn trace_commands_show_lists_waterfalls_and_issues() {
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(CONFIG.into()),
        ..Opts::default()
    })
    .await;
    let t0 = base_secs();
    let failing = failing_trace(&srv, t0).await;
    let p2p = p2p_trace(&srv, t0 + 60.0).await;
    let (tagged, _) = post_span(&srv, Span::new("upload", "storage", t0 + 120.0, t0 + 120.5)).await;
    let base = srv.base.clone();

    // traces: filters reach the server, the table shows root, duration, spans and errors.
    let (code, out, err) = run(&base, &["traces", "--since", "1h"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("START"), "{out}");
    for id in [&failing, &p2p, &tagged] {
        assert!(out.contains(id.as_str()), "{out}");
    }
    let (code, out, err) = run(&base, &["traces", "--errors", "--service", "db"]).await;
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(
        rows[0].contains(&failing) && rows[0].contains("api: GET /orders"),
        "{out}"
    );
    assert!(
        rows[0].contains("1.00s") && rows[0].contains("error"),
        "{out}"
    );
    let (_, out, _) = run(
        &base,
        &["traces", "--min-duration", "30s", "--operation", "sync"],
    )
    .await;
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(&p2p), "{out}");
    let (_, out, _) = run(&base, &["traces", "--tag", "nope=1"]).await;
    assert_eq!(out.lines().count(), 1, "{out}");
    let (code, _, err) = run(&base, &["traces", "--tag", "novalue"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("KEY=VALUE"), "{err}");

    // trace ID: a waterfall, then the critical path and bottleneck.
    let (code, out, err) = run(&base, &["trace", &p2p, "--width", "40"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("trace {p2p}  node: sync  40.00s  2 spans")),
        "{out}"
    );
    assert!(
        lines[1].starts_with("node: sync ") && lines[1].ends_with("|  40.00s"),
        "{out}"
    );
    assert!(lines[1].contains(&format!("|{}|", "█".repeat(40))), "{out}");
    assert!(
        lines[2].starts_with("  node: p2p.discovery.find_peers"),
        "{out}"
    );
    assert!(lines[2].contains(&format!("| {}", "█".repeat(34))), "{out}");
    assert!(out.contains("critical path:"), "{out}");
    assert!(
        out.contains("bottleneck: node: p2p.discovery.find_peers (34.00s on the critical path, 34.00s self time)"),
        "{out}"
    );
    let (code, out, _) = run(&base, &["trace", &failing]).await;
    assert_eq!(code, 0);
    assert_eq!(out.matches("ERROR").count(), 3, "{out}");
    let (code, out, _) = run(&base, &["--json", "trace", &failing]).await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["spans"].as_array().unwrap().len(), 5);
    assert!(
        v["critical_path"].is_array() && v["bottleneck"].is_object(),
        "{v}"
    );
    let (code, _, err) = run(&base, &["trace", "0123456789abcdef0123456789abcdef"]).await;
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error:") && err.contains("404"), "{err}");

    // analyze: a table of issues, filtered by pattern; an unknown pattern is one error line.
    wait_issues(&srv, 4).await;
    let (code, out, err) = run(&base, &["analyze", "--since", "1h"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("START") && out.contains("PATTERN"), "{out}");
    assert_eq!(out.lines().count(), 5, "{out}");
    let (_, out, _) = run(&base, &["analyze", "--pattern", "cascading_failures"]).await;
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(
        rows[0].contains("critical") && rows[0].contains(&failing),
        "{out}"
    );
    assert!(
        rows[0].contains("api,db,orders") && rows[0].contains("Multiple services failing"),
        "{out}"
    );
    let (code, _, err) = run(&base, &["analyze", "--pattern", "slow_requests"]).await;
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("pattern: unknown pattern"), "{err}");
}

#[tokio::test]
async fn logs_command_filters_by_service_level_trace_and_text() {
    let srv = TestServer::start().await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let (code, b) = srv
        .post_json(
            "/api/v1/telemetry/logs",
            json!([
                {"message": "peer discovery slow", "level": "warn", "service": "node", "trace_id": trace},
                {"message": "started", "level": "info", "service": "node"},
                {"message": "db timeout", "level": "error", "service": "orders"}
            ]),
        )
        .await;
    assert_eq!(code, 200, "{b}");
    let base = srv.base.clone();
    let (code, out, err) = run(&base, &["logs", "--since", "10m"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("TIME"), "{out}");
    assert_eq!(out.lines().count(), 4, "{out}");
    let (_, out, _) = run(&base, &["logs", "--level", "warn"]).await;
    assert_eq!(out.lines().count(), 3, "{out}");
    let (_, out, _) = run(&base, &["logs", "--service", "node", "--level", "warn"]).await;
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(
        rows[0].contains("WARN")
            && rows[0].contains(trace)
            && rows[0].contains("peer discovery slow"),
        "{out}"
    );
    let (_, out, _) = run(&base, &["logs", "--trace", trace]).await;
    assert_eq!(out.lines().count(), 2, "{out}");
    let (_, out, _) = run(&base, &["logs", "-q", "TIMEOUT"]).await;
    assert!(
        out.contains("db timeout") && out.lines().count() == 2,
        "{out}"
    );
    let (_, out, _) = run(&base, &["logs", "--limit", "1"]).await;
    assert_eq!(out.lines().count(), 2, "{out}");
    let (code, out, _) = run(&base, &["--json", "logs", "--service", "orders"]).await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["logs"][0]["body"], "db timeout");
    let (code, _, err) = run(&base, &["logs", "--level", "loud"]).await;
    assert_ne!(code, 0);
    assert!(err.starts_with("error:") && err.contains("level:"), "{err}");
}
