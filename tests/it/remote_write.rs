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
