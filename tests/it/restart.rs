//! Durability: kill -9 mid-load loses no acknowledged write; a torn WAL tail is truncated, not
//! fatal; checkpoints bound replay; retention removes old data.

use std::io::Write;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::Mutex;

use crate::support::{eventually, Opts, TestServer};

#[derive(Default)]
struct Acked {
    counter: u64,
    events: Vec<String>,
    traces: Vec<String>,
}

async fn load(srv_base: String, acked: Arc<Mutex<Acked>>, writer: usize) {
    let client = reqwest::Client::new();
    for i in 0.. {
        let m = client
            .post(format!("{srv_base}/api/v1/telemetry/metrics"))
            .json(&json!({"name": "durable.count", "value": 1, "type": "counter", "tags": {"writer": writer.to_string()}}))
            .send()
            .await;
        match m {
            Ok(r) if r.status() == 200 => acked.lock().await.counter += 1,
            _ => return,
        }
        let e = client
            .post(format!("{srv_base}/api/v1/telemetry/events"))
            .json(&json!({"event_type": "durable.e", "data": {"w": writer, "i": i}}))
            .send()
            .await;
        match e {
            Ok(r) if r.status() == 200 => {
                let b: serde_json::Value = r.json().await.unwrap_or_default();
                if let Some(id) = b["event_ids"][0].as_str() {
                    acked.lock().await.events.push(id.to_string());
                }
            }
            _ => return,
        }
        let s = client
            .post(format!("{srv_base}/api/v1/telemetry/traces/spans"))
            .json(&json!({"name": "durable.op"}))
            .send()
            .await;
        match s {
            Ok(r) if r.status() == 200 => {
                let b: serde_json::Value = r.json().await.unwrap_or_default();
                if let Some(t) = b["trace_id"].as_str() {
                    acked.lock().await.traces.push(t.to_string());
                }
            }
            _ => return,
        }
    }
}

#[tokio::test]
async fn kill_9_mid_load_loses_no_acknowledged_write() {
    let mut srv = TestServer::start().await;
    let acked = Arc::new(Mutex::new(Acked::default()));
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(load(srv.base.clone(), acked.clone(), w)))
        .collect();
    eventually("some acknowledged writes", || async {
        (acked.lock().await.events.len() > 200).then_some(())
    })
    .await;
    let opts = srv.kill9();
    for w in writers {
        let _ = w.await;
    }
    let a = acked.lock().await;
    let srv = TestServer::start_with(opts).await;
    assert!(
        srv.log_text().contains("store opened"),
        "{}",
        srv.log_text()
    );
    let (_, m) = srv
        .get_json("/api/v1/telemetry/metrics?name=durable.count")
        .await;
    let total: f64 = m["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_f64().unwrap())
        .sum();
    assert!(
        total >= a.counter as f64,
        "counter {total} < acknowledged {}",
        a.counter
    );
    let (_, e) = srv
        .get_json("/api/v1/telemetry/events?event_type=durable.e&batch_size=10000")
        .await;
    let ids: std::collections::HashSet<&str> = e["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["event_id"].as_str().unwrap())
        .collect();
    for id in &a.events {
        assert!(ids.contains(id.as_str()), "acknowledged event {id} lost");
    }
    for t in a.traces.iter().step_by(7) {
        let (s, _) = srv.get_json(&format!("/api/v1/telemetry/traces/{t}")).await;
        assert_eq!(s, 200, "acknowledged span of trace {t} lost");
    }
}

#[tokio::test]
async fn torn_wal_tail_is_truncated_with_a_warning() {
    let mut srv = TestServer::start().await;
    for i in 0..20 {
        srv.post_json(
            "/api/v1/telemetry/events",
            json!({"event_type": "torn.e", "data": {"i": i}}),
        )
        .await;
    }
    let opts = srv.kill9();
    // Append half a frame of garbage to the newest segment, as a crash mid-write would.
    let wal = opts.data_dir.clone().unwrap().join("wal");
    let mut segs: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    segs.sort();
    let last = segs.last().unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(last).unwrap();
    f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
    drop(f);
    let torn_len = std::fs::metadata(last).unwrap().len();
    let mut srv = TestServer::start_with(opts).await;
    assert!(
        srv.log_text().contains("truncating torn wal tail"),
        "{}",
        srv.log_text()
    );
    let len_after = std::fs::metadata(last).unwrap().len();
    assert_eq!(len_after, torn_len - 10, "the torn bytes were cut off");
    let (_, e) = srv
        .get_json("/api/v1/telemetry/events?event_type=torn.e&batch_size=100")
        .await;
    assert_eq!(e["events"].as_array().unwrap().len(), 20);
    // And the truncated log keeps working across another restart.
    srv.post_json("/api/v1/telemetry/events", json!({"event_type": "torn.e"}))
        .await;
    let opts = srv.kill9();
    let srv = TestServer::start_with(opts).await;
    let (_, e) = srv
        .get_json("/api/v1/telemetry/events?event_type=torn.e&batch_size=100")
        .await;
    assert_eq!(e["events"].as_array().unwrap().len(), 21);
}

#[tokio::test]
async fn checkpoint_bounds_replay_and_removes_old_segments() {
    let cfg = "storage:\n  checkpoint_interval: 1s\n  segment_bytes: 64KiB\n";
    let mut srv = TestServer::start_with(Opts {
        config_yaml: Some(cfg.into()),
        ..Opts::default()
    })
    .await;
    let pad = "p".repeat(1000);
    for i in 0..300 {
        srv.post_json(
            "/api/v1/telemetry/metrics",
            json!({"name": "ck.g", "value": i, "type": "gauge"}),
        )
        .await;
        srv.post_json(
            "/api/v1/telemetry/events",
            json!({"event_type": "ck.e", "data": {"i": i, "pad": pad}}),
        )
        .await;
    }
    srv.wait_checkpoint().await;
    srv.post_json(
        "/api/v1/telemetry/events",
        json!({"event_type": "ck.e", "data": {"after": true}}),
    )
    .await;
    let mut opts = srv.kill9();
    opts.config_yaml = Some(cfg.into());
    let wal = opts.data_dir.clone().unwrap().join("wal");
    let names: Vec<String> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("checkpoint")),
        "{names:?}"
    );
    // 300 KiB of events in 64 KiB segments: without removal there would be 5+ segments.
    assert!(
        names.iter().filter(|n| n.ends_with(".wal")).count() < 5,
        "{names:?}"
    );
    let srv = TestServer::start_with(opts).await;
    let (_, e) = srv
        .get_json("/api/v1/telemetry/events?event_type=ck.e&batch_size=10000")
        .await;
    assert_eq!(e["events"].as_array().unwrap().len(), 301);
    let (_, m) = srv.get_json("/api/v1/telemetry/metrics?name=ck.g").await;
    assert_eq!(m["metrics"][0]["value"], 299.0);
}

#[tokio::test]
async fn events_and_logs_older_than_retention_are_removed() {
    let cfg = "storage:\n  events: { retention: 1s }\n  logs: { retention: 1s }\n";
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(cfg.into()),
        ..Opts::default()
    })
    .await;
    srv.post_json("/api/v1/telemetry/events", json!({"event_type": "old.e"}))
        .await;
    srv.post_json("/api/v1/telemetry/logs", json!({"message": "old log"}))
        .await;
    let (_, e) = srv
        .get_json("/api/v1/telemetry/events?event_type=old.e")
        .await;
    assert_eq!(e["events"].as_array().unwrap().len(), 1);
    eventually("retention to remove the event", || async {
        let (_, e) = srv
            .get_json("/api/v1/telemetry/events?event_type=old.e")
            .await;
        let (_, l) = srv.get_json("/api/v1/telemetry/logs").await;
        (e["events"].as_array().unwrap().is_empty() && l["logs"].as_array().unwrap().is_empty())
            .then_some(())
    })
    .await;
    let (_, m) = srv.get_text("/metrics").await;
    assert!(
        m.contains("blazar_dropped_total{signal=\"events\",reason=\"retention\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn event_memory_stays_within_its_byte_budget() {
    let cfg = "storage:\n  events: { max_bytes: 64KiB }\n";
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(cfg.into()),
        ..Opts::default()
    })
    .await;
    let pad = "b".repeat(2000);
    for i in 0..20 {
        let batch: Vec<_> = (0..25)
            .map(|k| json!({"event_type": "budget.e", "data": {"i": i * 25 + k, "pad": pad}}))
            .collect();
        let (s, _) = srv
            .post_json("/api/v1/telemetry/events", json!(batch))
            .await;
        assert_eq!(s, 200);
    }
    let (_, stats) = srv.get_json("/api/v1/telemetry/stats").await;
    let bytes = stats["store"]["events_bytes"].as_u64().unwrap();
    assert!(
        bytes <= 64 * 1024,
        "events hold {bytes} bytes, over the 64 KiB budget"
    );
    // The newest events are the ones kept.
    let (_, e) = srv
        .get_json("/api/v1/telemetry/events?batch_size=10000")
        .await;
    let kept = e["events"].as_array().unwrap();
    assert!(!kept.is_empty() && kept.len() < 500);
    assert_eq!(kept.last().unwrap()["data"]["i"], 499);
    assert!(stats["signals"]["events"]["dropped"].as_u64().unwrap() >= (500 - kept.len()) as u64);
}

#[tokio::test]
async fn fsync_always_acknowledges_only_synced_writes() {
    let cfg = "storage:\n  fsync: always\n";
    let mut srv = TestServer::start_with(Opts {
        config_yaml: Some(cfg.into()),
        ..Opts::default()
    })
    .await;
    for i in 0..20 {
        let (s, _) = srv
            .post_json(
                "/api/v1/telemetry/events",
                json!({"event_type": "sync.e", "data": {"i": i}}),
            )
            .await;
        assert_eq!(s, 200);
    }
    srv.post_json(
        "/api/v1/telemetry/metrics",
        json!({"name": "sync.c", "value": 3, "type": "counter"}),
    )
    .await;
    let (_, m) = srv.get_text("/metrics").await;
    let fsyncs: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("blazar_wal_fsyncs_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        fsyncs >= 21.0,
        "one fsync per acknowledged write, got {fsyncs}"
    );
    let mut opts = srv.kill9();
    opts.config_yaml = Some(cfg.into());
    let srv = TestServer::start_with(opts).await;
    let (_, e) = srv
        .get_json("/api/v1/telemetry/events?event_type=sync.e&batch_size=100")
        .await;
    assert_eq!(e["events"].as_array().unwrap().len(), 20);
    let (_, c) = srv.get_json("/api/v1/telemetry/metrics?name=sync.c").await;
    assert_eq!(c["metrics"][0]["value"], 3.0);
}

#[tokio::test]
async fn a_wal_it_cannot_read_stops_the_start_instead_of_losing_it() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = tmp.path().join("data").join("wal");
    std::fs::create_dir_all(&wal).unwrap();
    // A segment written by a future format version.
    let mut header = b"BZWL".to_vec();
    header.extend_from_slice(&[9, 1, 0, 0]);
    header.extend_from_slice(&1u64.to_le_bytes());
    std::fs::write(wal.join("00000001.wal"), &header).unwrap();
    let out = std::process::Command::new(crate::support::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error:") && err.contains("version"), "{err}");
    // The file is left for the operator.
    assert_eq!(std::fs::read(wal.join("00000001.wal")).unwrap(), header);
}

#[tokio::test]
async fn event_cursors_stay_valid_across_a_restart_from_a_checkpoint() {
    let cfg = "buffer_size: 3\nstorage:\n  checkpoint_interval: 1s\n";
    let mut srv = TestServer::start_with(Opts {
        config_yaml: Some(cfg.into()),
        ..Opts::default()
    })
    .await;
    for i in 0..5 {
        srv.post_json(
            "/api/v1/telemetry/events",
            json!({"event_type": "cur.e", "data": {"i": i}}),
        )
        .await;
    }
    // buffer_size 3 evicted the first two: the stored ones are seq 3, 4, 5.
    let (_, e) = srv.get_json("/api/v1/telemetry/events?batch_size=10").await;
    let seqs: Vec<u64> = e["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4, 5]);
    srv.wait_checkpoint().await;
    let mut opts = srv.kill9();
    opts.config_yaml = Some(cfg.into());
    let srv = TestServer::start_with(opts).await;
    srv.post_json(
        "/api/v1/telemetry/events",
        json!({"event_type": "cur.e", "data": {"i": 5}}),
    )
    .await;
    let (_, e) = srv.get_json("/api/v1/telemetry/events?after=5").await;
    let after: Vec<(u64, i64)> = e["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["seq"].as_u64().unwrap(), v["data"]["i"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        after,
        [(6, 5)],
        "a reader holding after=5 sees exactly the new event"
    );
}
