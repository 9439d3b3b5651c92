//! The live stream: SSE and WebSocket deliver metric_update, event and trace_completed as they
//! are ingested, filtered by type and service.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::support::{Opts, TestServer};

/// Reads SSE `data:` payloads from a response until `n` are collected.
pub(crate) async fn sse_messages(resp: reqwest::Response, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut body = resp.bytes_stream();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while out.len() < n {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("stream timed out")
            .expect("stream ended")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(pos) = buf.find("\n\n") {
            let block = buf[..pos].to_string();
            buf.drain(..pos + 2);
            for line in block.lines() {
                if let Some(d) = line.strip_prefix("data:") {
                    out.push(serde_json::from_str(d.trim()).unwrap());
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn sse_delivers_metric_event_and_trace_messages_filtered() {
    let srv = TestServer::start_with(Opts {
        config_yaml: Some("tracing:\n  completion_quiet: 200ms\n".into()),
        ..Opts::default()
    })
    .await;
    let resp = srv
        .client
        .get(srv.url("/api/v1/telemetry/stream?types=metric_update,event,trace_completed"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    srv.wait_subscribers(1).await;
    srv.post_json(
        "/api/v1/telemetry/logs",
        json!({"message": "not subscribed to logs"}),
    )
    .await;
    srv.post_json(
        "/api/v1/telemetry/metrics",
        json!({"name": "live.m", "value": 7, "type": "gauge"}),
    )
    .await;
    srv.post_json(
        "/api/v1/telemetry/events",
        json!({"event_type": "live.e", "source": "s"}),
    )
    .await;
    let (_, span) = srv
        .post_json("/api/v1/telemetry/traces/spans", json!({"name": "live.op"}))
        .await;
    let sid = span["span_id"].as_str().unwrap();
    srv.post_json(
        &format!("/api/v1/telemetry/traces/spans/{sid}/finish"),
        json!({}),
    )
    .await;
    let msgs = sse_messages(resp, 3).await;
    let types: Vec<&str> = msgs.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["metric_update", "event", "trace_completed"]);
    assert_eq!(msgs[0]["data"]["name"], "live.m");
    assert_eq!(msgs[0]["data"]["value"], 7.0);
    assert_eq!(msgs[1]["data"]["event_type"], "live.e");
    assert_eq!(msgs[2]["data"]["trace_id"], span["trace_id"]);
    assert!(msgs[0]["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn sse_service_filter() {
    let srv = TestServer::start().await;
    let resp = srv
        .client
        .get(srv.url("/api/v1/telemetry/stream?types=event&service=wanted"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    srv.wait_subscribers(1).await;
    srv.post_json(
        "/api/v1/telemetry/events",
        json!({"event_type": "a", "source": "other"}),
    )
    .await;
    srv.post_json(
        "/api/v1/telemetry/events",
        json!({"event_type": "b", "source": "wanted"}),
    )
    .await;
    let msgs = sse_messages(resp, 1).await;
    assert_eq!(msgs[0]["data"]["event_type"], "b");
}

#[tokio::test]
async fn unknown_stream_type_is_a_400() {
    let srv = TestServer::start().await;
    let (s, b) = srv.get_json("/api/v1/telemetry/stream?types=bogus").await;
    assert_eq!(s, 400);
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("types:"));
}

#[tokio::test]
async fn websocket_delivers_events() {
    let srv = TestServer::start().await;
    let url = srv
        .url("/api/v1/telemetry/stream?types=event")
        .replace("http://", "ws://");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    srv.wait_subscribers(1).await;
    srv.post_json(
        "/api/v1/telemetry/events",
        json!({"event_type": "ws.e", "source": "s"}),
    )
    .await;
    let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
    assert_eq!(v["type"], "event");
    assert_eq!(v["data"]["event_type"], "ws.e");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_ingest_continues() {
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(
            "stream:\n  buffer_size: 64\n  max_lag_events: 100\n  send_timeout: 1s\n".into(),
        ),
        ..Opts::default()
    })
    .await;
    // Open a stream and never read it.
    let _resp = srv
        .client
        .get(srv.url("/api/v1/telemetry/stream?types=event"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    srv.wait_subscribers(1).await;
    let big = "z".repeat(4000);
    for _ in 0..50 {
        let batch: Vec<_> = (0..100)
            .map(|_| json!({"event_type": "flood", "data": big}))
            .collect();
        let (s, _) = srv
            .post_json("/api/v1/telemetry/events", json!(batch))
            .await;
        assert_eq!(s, 200, "ingest must not wait for a stuck subscriber");
    }
    crate::support::eventually("stuck subscriber dropped", || async {
        let (_, s) = srv.get_json("/api/v1/telemetry/stats").await;
        (s["stream"]["dropped_subscribers"].as_u64() >= Some(1)).then_some(())
    })
    .await;
    let (_, m) = srv.get_text("/metrics").await;
    assert!(
        m.contains("blazar_stream_dropped_subscribers_total 1"),
        "{m}"
    );
}

#[tokio::test]
async fn sigterm_with_a_stream_open_stops_cleanly() {
    let mut srv = TestServer::start().await;
    let resp = srv
        .client
        .get(srv.url("/api/v1/telemetry/stream"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    srv.wait_subscribers(1).await;
    srv.signal("TERM");
    let code = srv.wait_exit().await;
    assert_eq!(
        code,
        Some(0),
        "server did not exit cleanly; log:\n{}",
        srv.log_text()
    );
    assert!(srv.log_text().contains("stopped"));
    drop(resp);
}

#[tokio::test]
async fn a_client_that_disconnects_is_unsubscribed_even_if_nothing_matches() {
    let srv = TestServer::start().await;
    let resp = srv
        .client
        .get(srv.url("/api/v1/telemetry/stream?types=anomaly"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    srv.wait_subscribers(1).await;
    drop(resp);
    srv.wait_subscribers(0).await;
}

#[tokio::test]
async fn a_malformed_websocket_upgrade_gets_a_json_error() {
    let srv = TestServer::start().await;
    let r = srv
        .client
        .get(srv.url("/api/v1/telemetry/stream"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let b: Value = r.json().await.unwrap();
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("upgrade:"),
        "{b}"
    );
}
