//! Host resources (issue 4's first part): the collector samples this machine, the API answers
//! with seed 001's structures, the samples are metrics under seed 001's names, the CLI prints them.

use serde_json::Value;

use crate::support::{cli, eventually, Opts, TestServer};

#[tokio::test]
async fn host_resources_are_sampled_served_recorded_and_printed() {
    let srv = TestServer::start_with(Opts {
        config_yaml: Some("host:\n  metrics_interval: 1s\n".into()),
        env: vec![("BLAZAR_HOST__ENABLED".into(), "true".into())],
        ..Opts::default()
    })
    .await;
    let r: Value = eventually("a host sample", || async {
        let (s, v) = srv.get_json("/api/v1/telemetry/resources").await;
        (s == 200).then_some(v)
    })
    .await;
    assert!(r["cpu"]["cores"].as_u64().unwrap() > 0, "{r}");
    let usage = r["cpu"]["usage_percent"].as_f64().unwrap();
    assert!((0.0..=100.0 * 64.0).contains(&usage), "{r}");
    assert!(r["cpu"]["load_average_1m"].as_f64().unwrap() >= 0.0);
    let m = &r["memory"];
    assert!(m["total_bytes"].as_u64().unwrap() > 0);
    assert!(m["used_bytes"].as_u64().unwrap() <= m["total_bytes"].as_u64().unwrap());
    assert!((0.0..=100.0).contains(&m["usage_percent"].as_f64().unwrap()));
    let disks = r["disks"].as_array().unwrap();
    assert!(!disks.is_empty(), "{r}");
    assert!(disks.iter().all(|d| d["total_bytes"].as_u64().unwrap() > 0));
    assert!(r["network"]["bytes_received_per_sec"].as_f64().unwrap() >= 0.0);
    assert!(r["process"]["memory_bytes"].as_u64().unwrap() > 0);

    // Recorded as metrics under seed 001's names, so alert rules and charts can use them.
    for name in [
        "system.cpu.usage_percent",
        "system.cpu.load_average_1m",
        "system.memory.usage_percent",
        "system.memory.available_bytes",
        "system.disk.usage_percent",
        "system.disk.available_bytes",
        "system.network.bytes_sent_per_sec",
        "system.network.bytes_received_per_sec",
        "blazar.process.memory_bytes",
    ] {
        let (_, l) = srv
            .get_json(&format!("/api/v1/telemetry/metrics?name={name}"))
            .await;
        let rows = l["metrics"].as_array().unwrap();
        assert!(!rows.is_empty(), "{name}: {l}");
        assert!(rows.iter().all(|r| r["type"] == "gauge"), "{name}: {l}");
    }
    let (_, l) = srv
        .get_json("/api/v1/telemetry/metrics?name=system.disk.usage_percent")
        .await;
    assert!(l["metrics"][0]["tags"]["mount"].is_string(), "{l}");
    // A later sample replaces the first (the collector keeps running).
    let first = r["timestamp"].as_str().unwrap().to_string();
    eventually("a second sample", || async {
        let (_, v) = srv.get_json("/api/v1/telemetry/resources").await;
        (v["timestamp"].as_str() != Some(first.as_str())).then_some(())
    })
    .await;

    let (code, out, err) = cli(&srv.base, &["resources"]);
    assert_eq!(code, 0, "{err}");
    let starts: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for s in ["CPU", "MEMORY", "DISK", "NETWORK", "BLAZAR"] {
        assert!(starts.contains(&s), "{s} missing: {out}");
    }
    let (code, out, _) = cli(&srv.base, &["--json", "resources"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["memory"]["total_bytes"].as_u64().unwrap() > 0);
}
