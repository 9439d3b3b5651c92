//! Configuration through the real binary: check-config errors name key and line, env vars
//! override the file, SIGHUP reloads without losing data.

use serde_json::json;

use crate::support::{eventually, Opts, TestServer, BIN};

fn check_config(yaml: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.yaml");
    std::fs::write(&p, yaml).unwrap();
    let out = std::process::Command::new(BIN)
        .arg("check-config")
        .arg(&p)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn check_config_reports_unknown_key_with_line() {
    let (code, out) = check_config("storage:\n  fsync: always\n  retenton: 1h\n");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("retenton") && out.contains("line 3"), "{out}");
}

#[test]
fn check_config_reports_bad_value_with_expected_form() {
    let (code, out) = check_config("sampling_rate: 2.5\n");
    assert_eq!(code, 1);
    assert!(
        out.contains("sampling_rate") && out.contains("between 0.0 and 1.0"),
        "{out}"
    );
    let (code, out) = check_config("metrics_interval: fast\n");
    assert_eq!(code, 1);
    assert!(out.contains("line 1") && out.contains("duration"), "{out}");
}

#[test]
fn check_config_refuses_dependency_cycles_and_unknown_dependencies() {
    let (code, out) = check_config(
        "services:\n  api:\n    health_endpoint: http://127.0.0.1:1/health\n    dependencies: [db]\n  db:\n    health_endpoint: tcp://127.0.0.1:2\n    dependencies: [api]\n",
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("line 7") && out.contains("dependency cycle: api -> db -> api"),
        "{out}"
    );
    let (code, out) = check_config(
        "services:\n  api:\n    health_endpoint: http://127.0.0.1:1/health\n    dependencies: [cache]\n",
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("services.api.dependencies") && out.contains("\"cache\""),
        "{out}"
    );
}

#[test]
fn check_config_accepts_the_example_and_a_seed_flat_block() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/blazar.example.yaml"
    ))
    .unwrap();
    let (code, out) = check_config(&example);
    assert_eq!(code, 0, "{out}");
    let flat = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/config/testdata/seed_flat.good.yaml"
    ))
    .unwrap();
    let (code, out) = check_config(&flat);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn env_var_overrides_file() {
    let srv = TestServer::start_with(Opts {
        config_yaml: Some("events:\n  source_id: from-file\n".into()),
        env: vec![("BLAZAR_EVENTS__SOURCE_ID".into(), "from-env".into())],
        ..Opts::default()
    })
    .await;
    srv.post_json("/api/v1/telemetry/events", json!({"event_type": "x"}))
        .await;
    let (_, e) = srv.get_json("/api/v1/telemetry/events").await;
    assert_eq!(e["events"][0]["source"], "from-env");
}

#[tokio::test]
async fn sighup_reloads_without_losing_data() {
    let mut srv = TestServer::start_with(Opts {
        config_yaml: Some("event_types: [\"a.*\"]\n".into()),
        ..Opts::default()
    })
    .await;
    srv.post_json("/api/v1/telemetry/events", json!({"event_type": "a.one"}))
        .await;
    let (_, f) = srv
        .post_json("/api/v1/telemetry/events", json!({"event_type": "b.one"}))
        .await;
    assert_eq!(f["filtered"], 1);
    // Rewrite the config file the server was started with, then SIGHUP.
    let tmp = srv.keep_tmp();
    std::fs::write(tmp.path().join("blazar.yaml"), "event_types: [\"b.*\"]\n").unwrap();
    srv.signal("HUP");
    eventually("reload", || async {
        let (_, r) = srv
            .post_json("/api/v1/telemetry/events", json!({"event_type": "b.two"}))
            .await;
        (r["accepted"] == 1).then_some(())
    })
    .await;
    let (_, e) = srv
        .get_json("/api/v1/telemetry/events?batch_size=100")
        .await;
    let types: Vec<&str> = e["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["event_type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"a.one"),
        "data from before the reload was lost: {types:?}"
    );
    assert!(srv.log_text().contains("config reloaded"));
    drop(tmp);
}
