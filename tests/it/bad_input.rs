//! Hostile and malformed input: each gets a 4xx naming the field; the server stays up and
//! nothing stored before is lost.

use serde_json::json;

use crate::support::{Opts, TestServer};

#[tokio::test]
async fn every_bad_request_names_its_field_and_loses_nothing() {
    let srv = TestServer::start_with(Opts {
        config_yaml: Some("server:\n  max_body_bytes: 64KiB\n".into()),
        ..Opts::default()
    })
    .await;
    srv.post_json(
        "/api/v1/telemetry/metrics",
        json!({"name": "kept.metric", "value": 42, "type": "gauge"}),
    )
    .await;
    srv.post_json(
        "/api/v1/telemetry/events",
        json!({"event_type": "kept.event"}),
    )
    .await;

    let long = "x".repeat(5000);
    let many_tags: serde_json::Map<String, serde_json::Value> =
        (0..40).map(|i| (format!("t{i}"), json!("v"))).collect();
    let cases: Vec<(&str, serde_json::Value, u16, &str)> = vec![
        (
            "/api/v1/telemetry/metrics",
            json!({"value": 1}),
            400,
            "name:",
        ),
        (
            "/api/v1/telemetry/metrics",
            json!({"name": "m", "value": "abc"}),
            400,
            "value:",
        ),
        (
            "/api/v1/telemetry/metrics",
            json!({"name": "m", "value": 1, "type": "meter"}),
            400,
            "type:",
        ),
        (
            "/api/v1/telemetry/metrics",
            json!({"name": long, "value": 1}),
            400,
            "name:",
        ),
        (
            "/api/v1/telemetry/metrics",
            json!({"name": "m", "value": 1, "tags": {"host": long}}),
            400,
            "tags.host:",
        ),
        (
            "/api/v1/telemetry/metrics",
            json!({"name": "m", "value": 1, "tags": many_tags}),
            400,
            "tags:",
        ),
        (
            "/api/v1/telemetry/metrics",
            json!({"name": "kept.metric", "value": 1, "type": "counter"}),
            400,
            "type:",
        ),
        ("/api/v1/telemetry/metrics", json!([]), 400, "body:"),
        (
            "/api/v1/telemetry/events",
            json!({"source": "x"}),
            400,
            "event_type:",
        ),
        (
            "/api/v1/telemetry/events",
            json!({"event_type": "a", "metadata": [1]}),
            400,
            "metadata:",
        ),
        (
            "/api/v1/telemetry/traces/spans",
            json!({"tags": {}}),
            400,
            "name:",
        ),
        (
            "/api/v1/telemetry/traces/spans",
            json!({"name": "s", "parent_trace_id": "xyz"}),
            400,
            "parent_trace_id:",
        ),
        (
            "/api/v1/telemetry/traces/spans/0123456789abcdef/finish",
            json!({"status": "ok"}),
            404,
            "span_id:",
        ),
        (
            "/api/v1/telemetry/traces/spans/nothex/finish",
            json!({"status": "ok"}),
            400,
            "span_id:",
        ),
        (
            "/api/v1/telemetry/logs",
            json!({"level": "info"}),
            400,
            "message:",
        ),
    ];
    for (path, body, want, field) in cases {
        let (s, b) = srv.post_json(path, body.clone()).await;
        assert_eq!(s, want, "{path} {body} -> {b}");
        let msg = b["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error.message in {b}"));
        assert!(
            msg.starts_with(field),
            "{path}: message {msg:?} should name {field}"
        );
        assert!(b["error"]["code"].is_string());
    }
    // Malformed JSON, a body over the limit, and a NaN smuggled as a string.
    let (s, b) = srv
        .post_raw(
            "/api/v1/telemetry/metrics",
            b"{\"name\": \"m\", ".to_vec(),
            "application/json",
        )
        .await;
    assert_eq!(s, 400);
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("body: invalid JSON"));
    let big = format!(
        "{{\"event_type\":\"a\",\"data\":\"{}\"}}",
        "y".repeat(100_000)
    );
    let (s, b) = srv
        .post_raw(
            "/api/v1/telemetry/events",
            big.into_bytes(),
            "application/json",
        )
        .await;
    assert_eq!(s, 413, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("limit"));
    let (s, _) = srv
        .post_json(
            "/api/v1/telemetry/metrics",
            json!({"name": "m", "value": "NaN"}),
        )
        .await;
    assert_eq!(s, 400);
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let (s, _) = srv
        .post_raw(
            "/api/v1/telemetry/events",
            deep.into_bytes(),
            "application/json",
        )
        .await;
    assert_eq!(s, 400);

    // Finish twice is a conflict.
    let (_, span) = srv
        .post_json("/api/v1/telemetry/traces/spans", json!({"name": "once"}))
        .await;
    let sid = span["span_id"].as_str().unwrap();
    let (s, _) = srv
        .post_json(
            &format!("/api/v1/telemetry/traces/spans/{sid}/finish"),
            json!({"status": "ok"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = srv
        .post_json(
            &format!("/api/v1/telemetry/traces/spans/{sid}/finish"),
            json!({"status": "ok"}),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already finished"));

    // Still up, and what was stored before is still there.
    let (s, m) = srv.get_json("/api/v1/telemetry/metrics?name=kept.*").await;
    assert_eq!(s, 200);
    assert_eq!(m["metrics"][0]["value"], 42.0);
    let (_, e) = srv
        .get_json("/api/v1/telemetry/events?event_type=kept.*")
        .await;
    assert_eq!(e["events"].as_array().unwrap().len(), 1);
    let (_, stats) = srv.get_json("/api/v1/telemetry/stats").await;
    assert!(stats["signals"]["metrics"]["rejected"].as_u64().unwrap() >= 8);
    let (s, _) = srv.get_json("/no/such/path").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn writes_past_the_inflight_limit_get_429_with_retry_after() {
    let srv = TestServer::start_with(Opts {
        config_yaml: Some("server:\n  max_inflight_writes: 1\n".into()),
        ..Opts::default()
    })
    .await;
    // Hold the only permit with a request whose body is still arriving.
    let held = srv
        .hold_write("/api/v1/telemetry/events", b"{\"event_type\": ")
        .await;
    let r = srv
        .client
        .post(srv.url("/api/v1/telemetry/metrics"))
        .json(&json!({"name": "m", "value": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    let b: serde_json::Value = r.json().await.unwrap();
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_inflight_writes"));
    // Reads are not limited.
    let (s, _) = srv.get_json("/api/v1/telemetry/stats").await;
    assert_eq!(s, 200);
    held.tx.send(Ok(b"\"held.e\"}".to_vec())).await.unwrap();
    drop(held.tx);
    assert_eq!(held.request.await.unwrap().unwrap().status(), 200);
    let (s, _) = srv
        .post_json(
            "/api/v1/telemetry/metrics",
            json!({"name": "m", "value": 1}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, m) = srv.get_text("/metrics").await;
    assert!(m.contains("reason=\"overloaded\""), "{m}");
}

#[tokio::test]
async fn a_span_holds_a_bounded_number_of_logs() {
    let srv = TestServer::start().await;
    let (_, span) = srv
        .post_json("/api/v1/telemetry/traces/spans", json!({"name": "chatty"}))
        .await;
    let sid = span["span_id"].as_str().unwrap().to_string();
    for i in 0..256 {
        let (s, b) = srv
            .post_json(
                &format!("/api/v1/telemetry/traces/spans/{sid}/logs"),
                json!({"message": format!("log {i}")}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = srv
        .post_json(
            &format!("/api/v1/telemetry/traces/spans/{sid}/logs"),
            json!({"message": "one too many"}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum of 256 logs"),
        "{b}"
    );
    // The span still finishes, and its logs are also log records with trace context.
    let (s, _) = srv
        .post_json(
            &format!("/api/v1/telemetry/traces/spans/{sid}/finish"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, logs) = srv
        .get_json(&format!(
            "/api/v1/telemetry/logs?trace_id={}&limit=1000",
            span["trace_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(logs["logs"].as_array().unwrap().len(), 256);
}
