//! The audit trail through the real binary: an alert transition is recorded, `GET
//! /api/v1/telemetry/audit` answers it as JSON lines, `blazar audit export` writes them,
//! `blazar audit verify` accepts the export and names the line once one byte of it is changed.

use serde_json::{json, Value};

use crate::support::{cli, eventually, Opts, TestServer};

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

/// Changes one byte inside the `data` of `line`: the first letter or digit after `"data":{"`
/// (the first key's first character), so the line stays JSON but no longer hashes right.
fn tamper(line: &str) -> String {
    let mut bytes = line.as_bytes().to_vec();
    let from = line
        .find("\"data\":{\"")
        .expect("data is a non-empty object")
        + 9;
    let at = (from..bytes.len())
        .find(|&i| bytes[i].is_ascii_alphanumeric())
        .unwrap();
    bytes[at] = match bytes[at] {
        b'9' => b'8',
        b'0'..=b'8' => bytes[at] + 1,
        b'a' => b'b',
        _ => b'a',
    };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn an_alert_is_recorded_exported_verified_and_tampering_is_named() {
    let yaml = "alerting:\n  evaluation_interval: 200ms\n  group_wait: 0s\n  rules:\n    - {id: hot, metric: cpu.usage, condition: gt, threshold: 90, severity: critical}\n";
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(yaml.to_string()),
        ..Opts::default()
    })
    .await;
    let (code, body) = srv
        .post_json(
            "/api/v1/telemetry/metrics",
            json!({"name": "cpu.usage", "type": "gauge", "value": 95.0}),
        )
        .await;
    assert_eq!(code, 200, "{body}");

    // The transition shows up in the trail, as JSON lines.
    let lines = eventually("an alert record in the audit trail", || async {
        let r = srv
            .client
            .get(srv.url("/api/v1/telemetry/audit"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(ct, "application/x-ndjson");
        let text = r.text().await.unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        records.iter().any(|r| r["kind"] == "alert").then_some(text)
    })
    .await;
    let records: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"], i as u64, "oldest first, from the chain's start");
        assert_eq!(r["hash"].as_str().unwrap().len(), 64);
    }
    let (_, bad) = srv.get_json("/api/v1/telemetry/audit?limit=0").await;
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("limit:"),
        "{bad}"
    );

    // Export, then verify the copy: intact.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("audit-export.jsonl");
    let file_arg = file.to_str().unwrap();
    let (code, _, err) = run(
        &srv.base,
        &["audit", "export", "--since", "1h", "-o", file_arg],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("exported"), "{err}");
    let exported = std::fs::read_to_string(&file).unwrap();
    assert!(
        exported.starts_with(&lines),
        "the export holds the trail byte for byte"
    );
    let n = exported.lines().count();
    let (code, out, err) = run(&srv.base, &["audit", "verify", file_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!("ok: {n} lines, chain intact")),
        "{out}"
    );
    let (code, out, _) = run(&srv.base, &["--json", "audit", "verify", file_arg]).await;
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["lines"], n as u64);

    // One byte of the alert record's data changed: verify fails and names that line.
    let mut edited: Vec<String> = exported.lines().map(str::to_string).collect();
    let idx = edited
        .iter()
        .position(|l| serde_json::from_str::<Value>(l).unwrap()["kind"] == "alert")
        .unwrap();
    edited[idx] = tamper(&edited[idx]);
    std::fs::write(&file, edited.join("\n") + "\n").unwrap();
    let (code, out, err) = run(&srv.base, &["audit", "verify", file_arg]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "line {}: hash mismatch (content changed)",
            idx + 1
        )),
        "{out}"
    );

    // Verify needs no server, and a missing file is an error, not a verdict.
    let (code, _, err) = run(
        "http://127.0.0.1:9",
        &["audit", "verify", tmp.path().join("nope").to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.starts_with("error: opening audit log"), "{err}");
}
