//! The real Prometheus (Debian's `prometheus`) beside blazar: it scrapes blazar's `/metrics`
//! and remote-writes what it scraped back into blazar. Fails, saying why, if Prometheus is
//! not installed (scripts/test installs it).

use std::process::{Child, Command, Stdio};

use crate::support::{eventually, TestServer};

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn prometheus_scrapes_blazar_and_remote_writes_into_it() {
    let srv = TestServer::start().await;
    let blazar = srv.base.trim_start_matches("http://").to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n\
         scrape_configs:\n  - job_name: blazar\n    static_configs:\n      - targets: ['{blazar}']\n\
         remote_write:\n  - url: http://{blazar}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n      max_samples_per_send: 500\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus not found: install Debian's prometheus package (scripts/test does)");
    let _prom = Prometheus(child);

    // Prometheus scraped blazar's /metrics and accepted the format.
    let prom = format!("http://127.0.0.1:{port}");
    eventually("Prometheus to scrape blazar", || async {
        let r = srv
            .client
            .get(format!("{prom}/api/v1/query?query=up{{job=\"blazar\"}}"))
            .send()
            .await
            .ok()?;
        let v: serde_json::Value = r.json().await.ok()?;
        (v["data"]["result"][0]["value"][1] == "1").then_some(())
    })
    .await;
    // And its remote_write of those samples reached blazar's store.
    eventually("remote-written series in blazar", || async {
        let (_, m) = srv
            .get_json("/api/v1/telemetry/metrics?name=blazar_ingested_total")
            .await;
        m["metrics"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| r["tags"]["job"] == "blazar"))
            .then_some(())
    })
    .await;
    let (_, up) = srv.get_json("/api/v1/telemetry/metrics?name=up").await;
    assert_eq!(up["metrics"][0]["value"], 1.0, "{up}");
    let (_, stats) = srv.get_json("/api/v1/telemetry/stats").await;
    assert_eq!(stats["signals"]["metrics"]["rejected"], 0, "{stats}");
}
