//! Prometheus remote_write 1.0 in: 204 on success, 400 (never retried) for a bad body.

use blazar_ingest::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};

use crate::support::TestServer;

fn request(n_series: usize, t0: i64) -> WriteRequest {
    WriteRequest {
        timeseries: (0..n_series)
            .map(|i| TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "node_cpu_seconds_total".into(),
                    },
                    Label {
                        name: "cpu".into(),
                        value: i.to_string(),
                    },
                    Label {
                        name: "instance".into(),
                        value: "host:9100".into(),
                    },
                ],
                samples: (0..3)
                    .map(|k| Sample {
                        value: (i * 10 + k) as f64,
                        timestamp: t0 + k as i64 * 15_000,
                    })
                    .collect(),
            })
            .collect(),
        metadata: vec![],
    }
}

#[tokio::test]
async fn remote_write_stores_samples_and_rejects_garbage() {
    let srv = TestServer::start().await;
    let now = chrono_now_ms();
    let body = blazar_ingest::remote_write::encode(&request(4, now));
    let r = srv
        .client
        .post(srv.url("/api/v1/write"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, m) = srv
        .get_json("/api/v1/telemetry/metrics?name=node_cpu_seconds_total")
        .await;
    let rows = m["metrics"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{m}");
    let cpu2 = rows.iter().find(|r| r["tags"]["cpu"] == "2").unwrap();
    assert_eq!(cpu2["value"], 22.0);

    let (s, b) = srv
        .post_raw(
            "/api/v1/write",
            b"definitely not snappy".to_vec(),
            "application/x-protobuf",
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        b["error"]["message"].as_str().unwrap().starts_with("body:"),
        "{b}"
    );
    let (_, stats) = srv.get_json("/api/v1/telemetry/stats").await;
    assert_eq!(stats["signals"]["metrics"]["accepted"], 12);
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn write(srv: &TestServer, n_series: usize, t0: i64) {
    let r = srv
        .client
        .post(srv.url("/api/v1/write"))
        .body(blazar_ingest::remote_write::encode(&request(n_series, t0)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

async fn stored(srv: &TestServer) -> (u64, u64) {
    let (_, s) = srv.get_json("/api/v1/telemetry/stats").await;
    (
        s["store"]["series"].as_u64().unwrap(),
        s["store"]["samples"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn remote_write_survives_kill_9_with_and_without_a_checkpoint() {
    let cfg = "storage:\n  checkpoint_interval: 1s\n";
    let mut srv = TestServer::start_with(crate::support::Opts {
        config_yaml: Some(cfg.into()),
        ..Default::default()
    })
    .await;
    let now = chrono_now_ms() - 600_000;
    write(&srv, 64, now).await;
    assert_eq!(stored(&srv).await, (64, 192));
    // Across a checkpoint: wait for one, then write more series and samples after it.
    srv.wait_checkpoint().await;
    write(&srv, 100, now + 60_000).await;
    assert_eq!(stored(&srv).await, (100, 492));
    let mut opts = srv.kill9();
    opts.config_yaml = Some(cfg.into());
    let srv = TestServer::start_with(opts).await;
    assert_eq!(stored(&srv).await, (100, 492), "log:\n{}", srv.log_text());
    let (_, m) = srv
        .get_json("/api/v1/telemetry/metrics?name=node_cpu_seconds_total&limit=1000")
        .await;
    let cpu99 = m["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tags"]["cpu"] == "99")
        .unwrap();
    assert_eq!(cpu99["value"], 992.0);
    // And new series keep getting fresh refs after the restart.
    write(&srv, 120, now + 120_000).await;
    assert_eq!(stored(&srv).await.0, 120);
}

#[tokio::test]
async fn new_series_past_max_series_are_dropped_and_counted() {
    let srv = TestServer::start_with(crate::support::Opts {
        config_yaml: Some("limits:\n  max_series: 10\n".into()),
        ..Default::default()
    })
    .await;
    let now = chrono_now_ms() - 60_000;
    write(&srv, 20, now).await;
    assert_eq!(stored(&srv).await, (10, 30));
    // Existing series keep taking samples.
    write(&srv, 10, now + 60_000).await;
    assert_eq!(stored(&srv).await, (10, 60));
    let (_, m) = srv.get_text("/metrics").await;
    assert!(
        m.contains("blazar_dropped_total{signal=\"metrics\",reason=\"series_limit\"} 30"),
        "{m}"
    );
    // A native-API write that would create a series is refused with 429.
    let (s, b) = srv
        .post_json(
            "/api/v1/telemetry/metrics",
            serde_json::json!({"name": "one.more", "value": 1}),
        )
        .await;
    assert_eq!(s, 429, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("limits.max_series"),
        "{b}"
    );
}

#[tokio::test]
async fn remote_written_series_appear_on_the_live_stream() {
    let srv = TestServer::start().await;
    let resp = srv
        .client
        .get(srv.url("/api/v1/telemetry/stream?types=metric_update"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    srv.wait_subscribers(1).await;
    write(&srv, 3, chrono_now_ms() - 60_000).await;
    let msgs = crate::stream::sse_messages(resp, 3).await;
    let mut cpus: Vec<&str> = msgs
        .iter()
        .map(|m| m["data"]["tags"]["cpu"].as_str().unwrap())
        .collect();
    cpus.sort_unstable();
    assert_eq!(cpus, ["0", "1", "2"]);
    assert_eq!(msgs[0]["data"]["name"], "node_cpu_seconds_total");
}
