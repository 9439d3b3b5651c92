//! `blazar alerts`, `blazar ack` and `blazar rules` against a running server whose rule fires on
//! a gauge posted over HTTP: the tables, `--json`, `--state`, acknowledgement and its errors.

use std::process::Command;

use serde_json::{json, Value};

use crate::support::{cli, eventually, Opts, TestServer, BIN};

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

async fn gauge(srv: &TestServer, value: f64) {
    let (code, body) = srv
        .post_json(
            "/api/v1/telemetry/metrics",
            json!({"name": "cpu.usage", "type": "gauge", "value": value}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
}

/// The cells of the table row whose first cell is `first`, split on whitespace.
fn row<'a>(table: &'a str, first: &str) -> Option<Vec<&'a str>> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&first))
}

async fn server() -> TestServer {
    TestServer::start_with(Opts {
        config_yaml: Some(
            "alerting:\n  evaluation_interval: 200ms\n  rules:\n    \
             - {id: hot, metric: cpu.usage, condition: gt, threshold: 90, severity: critical}\n"
                .to_string(),
        ),
        ..Opts::default()
    })
    .await
}

#[tokio::test]
async fn alerts_rules_and_ack_through_the_cli() {
    let srv = server().await;
    let base = srv.base.clone();

    // Nothing yet.
    let (code, out, err) = run(&base, &["alerts"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "no alerts\n");

    gauge(&srv, 95.0).await;
    let out = eventually("the alert to fire", || async {
        let (_, out, _) = run(&base, &["alerts"]).await;
        out.lines()
            .any(|l| l.contains(" firing ") && l.contains(" hot "))
            .then_some(out)
    })
    .await;
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "STATE", "SEVERITY", "RULE", "SERVICE", "VALUE", "STARTED", "ACK", "MESSAGE"],
        "{out}"
    );
    let cells: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let id = cells[0].to_string();
    assert_eq!(id.len(), 16, "{out}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{out}");
    assert_eq!(
        &cells[1..6],
        ["firing", "critical", "hot", "-", "95"],
        "{out}"
    );
    assert!(
        ["ago", "now"].contains(&cells[7]),
        "STARTED is relative: {out}"
    );
    assert_eq!(cells[8], "-", "not acknowledged yet: {out}");
    assert!(!out.contains('\x1b'), "no colour on a pipe: {out:?}");

    // Filters go to the server.
    let (code, out, _) = run(&base, &["alerts", "--state", "firing", "--since", "1h"]).await;
    assert_eq!(code, 0);
    assert!(row(&out, &id).is_some(), "{out}");
    for args in [
        &["alerts", "--state", "pending"][..],
        &["alerts", "--service", "nope"][..],
        &["alerts", "--state", "resolved"][..],
    ] {
        let (code, out, err) = run(&base, args).await;
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(out, "no alerts\n", "{args:?}");
    }
    let (code, _, err) = run(&base, &["alerts", "--state", "bogus"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("firing"), "clap names the choices: {err}");

    // Rules: ours firing, and the four built-in health rules, marked.
    let (code, out, err) = run(&base, &["rules"]).await;
    assert_eq!(code, 0, "{err}");
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "RULE",
            "NAME",
            "STATE",
            "SEVERITY",
            "CONDITION",
            "ALERTS",
            "LAST",
            "EVAL",
            "CHANNELS"
        ],
        "{out}"
    );
    let hot = row(&out, "hot").unwrap();
    assert_eq!(hot[2..4], ["firing", "critical"], "{out}");
    let hot_line = out.lines().find(|l| l.starts_with("hot ")).unwrap();
    assert!(hot_line.contains("cpu.usage gt 90"), "{out}");
    assert!(hot_line.trim_end().ends_with("log"), "{out}");
    for builtin in [
        "service_unhealthy_critical",
        "service_unhealthy",
        "service_degraded_critical",
        "service_degraded",
    ] {
        let cells = row(&out, builtin).unwrap_or_else(|| panic!("{builtin}: {out}"));
        assert_eq!(cells[1], "*", "{builtin} marked built-in: {out}");
        assert!(cells.contains(&"inactive"), "{out}");
    }
    assert!(out.contains("\n* built-in rule"), "{out}");
    let (code, out, _) = run(&base, &["rules", "--json"]).await;
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["rules"].as_array().unwrap().len(), 7, "{doc}");

    // Acknowledge it.
    let (code, out, err) = run(&base, &["ack", &id, "--by", "ops"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("acknowledged {id} by ops\n"));
    let (code, out, _) = run(&base, &["alerts", "--json"]).await;
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["alerts"][0]["id"], id.as_str(), "{doc}");
    assert_eq!(doc["alerts"][0]["acknowledged_by"], "ops", "{doc}");
    let (_, out, _) = run(&base, &["alerts"]).await;
    assert_eq!(row(&out, &id).unwrap()[8], "ops", "{out}");

    // Without --by: $USER, else `cli`.
    let ack_as = |user: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.args(["--server", &base, "ack", &id]);
        match user {
            Some(u) => cmd.env("USER", u),
            None => cmd.env_remove("USER"),
        };
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        ack_as(Some("alice")),
        format!("acknowledged {id} by alice\n")
    );
    assert_eq!(ack_as(None), format!("acknowledged {id} by cli\n"));

    // An unknown id: one error line, exit 1.
    let (code, out, err) = run(&base, &["ack", "0000000000000000"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with("error: ") && err.contains("0000000000000000") && err.contains("404"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // Cool down: the alert resolves.
    gauge(&srv, 10.0).await;
    let out = eventually("the alert to resolve", || async {
        let (_, out, _) = run(&base, &["alerts", "--state", "resolved"]).await;
        row(&out, &id)
            .is_some_and(|cells| cells[1] == "resolved")
            .then_some(out)
    })
    .await;
    assert_eq!(row(&out, &id).unwrap()[3], "hot", "{out}");
    let (code, out, _) = run(&base, &["alerts"]).await;
    assert_eq!(code, 0);
    assert_eq!(out, "no alerts\n");
    let (_, out, _) = run(&base, &["rules"]).await;
    assert_eq!(row(&out, "hot").unwrap()[2], "inactive", "{out}");

    // A resolved alert cannot be acknowledged: 409, one line, exit 1.
    let (code, out, err) = run(&base, &["ack", &id, "--by", "ops"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("error: ") && err.contains("409"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test]
async fn alerts_without_a_server_is_one_error_line() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for cmd in [
        &["alerts"][..],
        &["rules"][..],
        &["ack", "0123456789abcdef"][..],
    ] {
        let (code, out, err) = run(&format!("http://127.0.0.1:{dead}"), cmd).await;
        assert_eq!(code, 1, "{cmd:?}");
        assert!(out.is_empty(), "{out}");
        assert!(err.starts_with("error: cannot reach blazar"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
