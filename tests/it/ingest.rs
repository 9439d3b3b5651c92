//! The native JSON API end to end: seed 004 metrics and spans, seed 002 events and stats.

use serde_json::json;

use crate::support::{Opts, TestServer};

#[tokio::test]
async fn seed_004_metrics_add_set_and_observe() {
    let srv = TestServer::start().await;
    let post = |v| srv.post_json("/api/v1/telemetry/metrics", v);
    for _ in 0..3 {
        let (s, _) = post(json!({"name": "plugin.my_plugin.commands_processed", "value": 1, "type": "counter", "tags": {"status": "success"}})).await;
        assert_eq!(s, 200);
    }
    post(json!({"name": "plugin.my_plugin.active_connections", "value": 5, "type": "gauge"})).await;
    post(json!({"name": "plugin.my_plugin.active_connections", "value": 3, "type": "gauge"})).await;
    post(json!({"name": "plugin.my_plugin.response_time", "value": 0.234, "type": "histogram"}))
        .await;
    post(json!({"name": "plugin.my_plugin.response_time", "value": 2.0, "type": "histogram"}))
        .await;
    post(json!([{"name": "plugin.my_plugin.size", "value": 10, "type": "summary"}, {"name": "plugin.my_plugin.size", "value": 30, "type": "summary"}])).await;
    post(json!({"name": "plugin.my_plugin.enabled", "value": true})).await;
    post(json!({"name": "plugin.other.x", "value": 1})).await;

    let (s, body) = srv
        .get_json("/api/v1/telemetry/metrics?name=plugin.my_plugin.*")
        .await;
    assert_eq!(s, 200);
    let rows = body["metrics"].as_array().unwrap();
    let find = |n: &str| {
        rows.iter()
            .find(|r| r["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing in {body}"))
    };
    assert!(rows
        .iter()
        .all(|r| r["name"].as_str().unwrap().starts_with("plugin.my_plugin.")));
    let c = find("plugin.my_plugin.commands_processed");
    assert_eq!(
        (c["type"].as_str(), c["value"].as_f64()),
        (Some("counter"), Some(3.0))
    );
    assert_eq!(c["tags"]["status"], "success");
    assert!(c["last_update"].as_str().unwrap().ends_with('Z'));
    assert_eq!(find("plugin.my_plugin.active_connections")["value"], 3.0);
    let h = find("plugin.my_plugin.response_time");
    assert_eq!(
        (h["type"].as_str(), h["count"].as_u64(), h["sum"].as_f64()),
        (Some("histogram"), Some(2), Some(2.234))
    );
    assert_eq!(h["buckets"]["0.25"], 1);
    assert_eq!(h["buckets"]["+Inf"], 2);
    let sm = find("plugin.my_plugin.size");
    assert_eq!(
        (sm["count"].as_u64(), sm["quantiles"]["0.5"].as_f64()),
        (Some(2), Some(10.0))
    );
    assert_eq!(find("plugin.my_plugin.enabled")["value"], 1.0);
}

#[tokio::test]
async fn seed_004_spans_assemble_into_traces() {
    let srv = TestServer::start().await;
    let (s, span) = srv
        .post_json(
            "/api/v1/telemetry/traces/spans",
            json!({"name": "plugin.process_request", "parent_trace_id": null, "tags": {}}),
        )
        .await;
    assert_eq!(s, 200, "{span}");
    let sid = span["span_id"].as_str().unwrap().to_string();
    let tid = span["trace_id"].as_str().unwrap().to_string();
    assert_eq!((sid.len(), tid.len()), (16, 32));
    let (s, _) = srv
        .post_json(
            &format!("/api/v1/telemetry/traces/spans/{sid}/tags"),
            json!({"plugin_id": "my_plugin"}),
        )
        .await;
    assert_eq!(s, 200);
    srv.post_json(
        &format!("/api/v1/telemetry/traces/spans/{sid}/tags"),
        json!({"request_type": "query"}),
    )
    .await;
    // A child span joining the trace by id, as seed 004's handle_command does.
    let (_, child) = srv.post_json("/api/v1/telemetry/traces/spans", json!({"name": "plugin.handle_command", "parent_trace_id": tid, "tags": {"plugin_id": "my_plugin"}})).await;
    assert_eq!(child["trace_id"], tid.as_str());
    let cid = child["span_id"].as_str().unwrap().to_string();
    let (s, _) = srv
        .post_json(
            &format!("/api/v1/telemetry/traces/spans/{cid}/logs"),
            json!({"message": "Error: boom", "level": "error"}),
        )
        .await;
    assert_eq!(s, 200);
    srv.post_json(
        &format!("/api/v1/telemetry/traces/spans/{cid}/finish"),
        json!({"status": "error"}),
    )
    .await;
    let (s, _) = srv
        .post_json(
            &format!("/api/v1/telemetry/traces/spans/{sid}/finish"),
            json!({"status": "ok"}),
        )
        .await;
    assert_eq!(s, 200);

    let (s, body) = srv
        .get_json("/api/v1/telemetry/traces?plugin_id=my_plugin&limit=10")
        .await;
    assert_eq!(s, 200);
    let traces = body["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 1, "{body}");
    let t = &traces[0];
    assert_eq!(t["trace_id"], tid.as_str());
    assert_eq!(t["span_count"], 2);
    assert_eq!(t["error_count"], 1);
    assert_eq!(t["status"], "error");
    assert!(t["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(t["root_name"], "plugin.process_request");

    let (_, one) = srv
        .get_json(&format!("/api/v1/telemetry/traces/{tid}"))
        .await;
    let spans = one["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    let c = spans.iter().find(|s| s["span_id"] == cid.as_str()).unwrap();
    assert_eq!(c["parent_span_id"], sid.as_str());
    assert_eq!(c["events"][0]["name"], "Error: boom");
    let (_, none) = srv
        .get_json("/api/v1/telemetry/traces?plugin_id=someone_else")
        .await;
    assert_eq!(none["traces"].as_array().unwrap().len(), 0);
    // The span log is also a log record with trace context.
    let (_, logs) = srv
        .get_json(&format!("/api/v1/telemetry/logs?trace_id={tid}"))
        .await;
    assert_eq!(logs["logs"][0]["body"], "Error: boom");
}

#[tokio::test]
async fn seed_002_events_batches_filters_and_stats() {
    let srv = TestServer::start().await;
    for i in 0..5 {
        let (s, b) = srv
            .post_json(
                "/api/v1/telemetry/events",
                json!({"event_type": "user.action", "source": "my-app", "data": {"n": i}}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["accepted"], 1);
    }
    srv.post_json("/api/v1/telemetry/events", json!([{"event_type": "system.startup", "source": "svc"}, {"event_type": "system.error", "source": "svc"}])).await;
    let (_, b) = srv.get_json("/api/v1/telemetry/events?batch_size=3").await;
    let ev = b["events"].as_array().unwrap();
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0]["data"]["n"], 0);
    assert_eq!(ev[2]["data"]["n"], 2);
    assert!(uuid_like(ev[0]["event_id"].as_str().unwrap()));
    assert!(ev[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    let after = b["next_after"].as_u64().unwrap();
    let (_, b2) = srv
        .get_json(&format!(
            "/api/v1/telemetry/events?batch_size=3&after={after}"
        ))
        .await;
    assert_eq!(b2["events"][0]["data"]["n"], 3);
    let (_, sys) = srv
        .get_json("/api/v1/telemetry/events?event_type=system.*")
        .await;
    assert_eq!(sys["events"].as_array().unwrap().len(), 2);
    let (_, src) = srv
        .get_json("/api/v1/telemetry/events?source=my-app&batch_size=100")
        .await;
    assert_eq!(src["events"].as_array().unwrap().len(), 5);
    let (_, stats) = srv.get_json("/api/v1/telemetry/stats").await;
    assert_eq!(stats["signals"]["events"]["received"], 7);
    assert_eq!(stats["signals"]["events"]["accepted"], 7);
    assert_eq!(stats["event_types"]["user.action"]["accepted"], 5);
}

#[tokio::test]
async fn seed_002_config_sampling_filter_buffer_and_source() {
    let srv = TestServer::start_with(Opts {
        config_yaml: Some("enabled: true\nbuffer_size: 10\nbatch_size: 4\nsource_id: isbl-telemetry\nevent_types: [\"user.*\"]\nsampling_rate: 0.5\n".into()),
        ..Opts::default()
    })
    .await;
    let batch: Vec<_> = (0..400)
        .map(|i| json!({"event_type": "user.click", "data": {"i": i}}))
        .collect();
    let (s, b) = srv
        .post_json("/api/v1/telemetry/events", json!(batch))
        .await;
    assert_eq!(s, 200);
    let accepted = b["accepted"].as_u64().unwrap();
    let sampled = b["sampled_out"].as_u64().unwrap();
    assert_eq!(accepted + sampled, 400);
    // A fair coin over 400 events: far outside these bounds means sampling is broken.
    assert!(
        (120..=280).contains(&accepted),
        "accepted {accepted} of 400 at rate 0.5"
    );
    let (_, f) = srv
        .post_json(
            "/api/v1/telemetry/events",
            json!({"event_type": "system.boot"}),
        )
        .await;
    assert_eq!(f["filtered"], 1);
    // buffer_size is a hard bound; batch_size is the default read size; source_id fills source.
    let (_, all) = srv
        .get_json("/api/v1/telemetry/events?batch_size=1000")
        .await;
    assert_eq!(all["events"].as_array().unwrap().len(), 10);
    let (_, d) = srv.get_json("/api/v1/telemetry/events").await;
    assert_eq!(d["events"].as_array().unwrap().len(), 4);
    assert_eq!(d["events"][0]["source"], "isbl-telemetry");
    let (_, stats) = srv.get_json("/api/v1/telemetry/stats").await;
    assert_eq!(stats["signals"]["events"]["sampled_out"], sampled);
    assert!(stats["signals"]["events"]["dropped"].as_u64().unwrap() >= accepted - 10);
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn gzip_request_bodies_are_accepted() {
    use std::io::Write;
    let srv = TestServer::start().await;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(
        json!([{"event_type": "gz.e", "data": {"k": 1}}, {"event_type": "gz.e"}])
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let body = enc.finish().unwrap();
    let r = srv
        .client
        .post(srv.url("/api/v1/telemetry/events"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, e) = srv
        .get_json("/api/v1/telemetry/events?event_type=gz.e")
        .await;
    assert_eq!(e["events"].as_array().unwrap().len(), 2);
    let bad = srv
        .client
        .post(srv.url("/api/v1/telemetry/events"))
        .header("content-encoding", "gzip")
        .body(b"not gzip at all".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn concurrent_counter_writes_are_never_lost_or_refused() {
    let srv = TestServer::start().await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (client, url) = (srv.client.clone(), srv.url("/api/v1/telemetry/metrics"));
            tokio::spawn(async move {
                for _ in 0..100 {
                    let body = json!([{"name": "hot.counter", "value": 1, "type": "counter"}, {"name": "hot.counter", "value": 1, "type": "counter"}]);
                    let r = client.post(&url).json(&body).send().await.unwrap();
                    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let (_, m) = srv
        .get_json("/api/v1/telemetry/metrics?name=hot.counter")
        .await;
    assert_eq!(m["metrics"][0]["value"], 1600.0);
}
