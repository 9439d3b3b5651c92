//! Alerting through the real binary with a local webhook receiver: thresholds held for
//! `duration` fire once and resolve once, flapping inside `duration` never notifies, health
//! changes raise the built-in alerts, acknowledgement, and the Prometheus-shaped endpoints.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{eventually, Opts, TestServer};

/// A webhook receiver on a free port; every body it got, in order.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                sink.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn config(url: &str, rules: &str) -> String {
    format!(
        "alerting:\n  evaluation_interval: 200ms\n  group_wait: 0s\n  group_interval: 200ms\n  rules:\n{rules}  channels:\n    - {{name: hook, type: webhook, config: {{url: \"{url}\"}}}}\n"
    )
}

async fn gauge(srv: &TestServer, name: &str, value: f64, host: &str) {
    let (code, body) = srv
        .post_json(
            "/api/v1/telemetry/metrics",
            json!({"name": name, "type": "gauge", "value": value, "tags": {"host": host}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
}

fn statuses(got: &Arc<Mutex<Vec<Value>>>) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[tokio::test]
async fn a_threshold_held_for_its_duration_fires_once_and_resolves_once() {
    let (url, got) = receiver().await;
    let rules = "    - {id: hot_cpu, name: HighCPU, description: CPU is hot, metric: 'cpu.usage{host=\"a\"}', condition: gt, threshold: 90, duration: 1s, severity: critical, notification_channels: [hook], annotations: {summary: '{{ $labels.host }} at {{ $value }}%'}}\n";
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(config(&url, rules)),
        ..Opts::default()
    })
    .await;
    gauge(&srv, "cpu.usage", 95.0, "a").await;
    // Pending as soon as the engine has taken the sample (no evaluation interval to wait for).
    let pending = eventually("pending", || async {
        let (_, v) = srv.get_json("/api/v1/telemetry/alerts?state=pending").await;
        (v["alerts"].as_array().is_some_and(|a| !a.is_empty())).then_some(v)
    })
    .await;
    assert_eq!(pending["alerts"][0]["rule_id"], "hot_cpu", "{pending}");
    // Keep it hot until it fires.
    let firing = eventually("firing", || async {
        gauge(&srv, "cpu.usage", 96.0, "a").await;
        let (_, v) = srv.get_json("/api/v1/telemetry/alerts?state=firing").await;
        (v["alerts"].as_array().unwrap().len() == 1).then_some(v)
    })
    .await;
    let alert = &firing["alerts"][0];
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["labels"]["host"], "a");
    assert_eq!(alert["labels"]["alertname"], "HighCPU");
    assert_eq!(alert["annotations"]["summary"], "a at 95%");
    let id = alert["id"].as_str().unwrap().to_string();
    eventually("the firing notification", || async {
        (statuses(&got) == ["firing"]).then_some(())
    })
    .await;
    let n = got.lock().unwrap()[0].clone();
    assert_eq!(n["alerts"][0]["alert_id"], id.as_str(), "{n}");
    assert_eq!(n["severity"], "critical");
    // Re-triggered while firing: counted, not notified again.
    for v in [97.0, 98.0] {
        gauge(&srv, "cpu.usage", v, "a").await;
    }
    let (_, one) = srv
        .get_json(&format!("/api/v1/telemetry/alerts/{id}"))
        .await;
    assert!(one["count"].as_u64().unwrap() >= 3, "{one}");

    // Prometheus's shapes.
    let (_, prom) = srv.get_json("/api/v1/alerts").await;
    assert_eq!(prom["status"], "success");
    assert_eq!(prom["data"]["alerts"][0]["state"], "firing");
    assert_eq!(prom["data"]["alerts"][0]["labels"]["alertname"], "HighCPU");
    let (_, rules) = srv.get_json("/api/v1/rules").await;
    let rule = rules["data"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "HighCPU")
        .cloned()
        .unwrap();
    assert_eq!(rule["state"], "firing");
    assert_eq!(rule["type"], "alerting");

    // Acknowledged by someone.
    let (code, acked) = srv
        .post_json(
            &format!("/api/v1/telemetry/alerts/{id}/ack"),
            json!({"by": "ops"}),
        )
        .await;
    assert_eq!(code, 200, "{acked}");
    assert_eq!(acked["acknowledged_by"], "ops");
    let (code, _) = srv
        .post_json("/api/v1/telemetry/alerts/0000000000000000/ack", json!({}))
        .await;
    assert_eq!(code, 404);

    gauge(&srv, "cpu.usage", 10.0, "a").await;
    eventually("the resolved notification", || async {
        (statuses(&got) == ["firing", "resolved"]).then_some(())
    })
    .await;
    let (_, resolved) = srv
        .get_json("/api/v1/telemetry/alerts?state=resolved")
        .await;
    assert_eq!(resolved["alerts"][0]["id"], id.as_str());
    assert!(resolved["alerts"][0]["resolved_at"].is_string());
    // Nothing more arrives: the evaluation timer keeps running but has nothing new to say.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(statuses(&got), ["firing", "resolved"]);
}

#[tokio::test]
async fn flapping_inside_the_duration_never_notifies() {
    let (url, got) = receiver().await;
    let rules = "    - {id: hot_cpu, metric: cpu.usage, condition: gt, threshold: 90, duration: 2s, severity: warning, notification_channels: [hook]}\n";
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(config(&url, rules)),
        ..Opts::default()
    })
    .await;
    for i in 0..8 {
        gauge(&srv, "cpu.usage", if i % 2 == 0 { 95.0 } else { 20.0 }, "a").await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Well past the duration since the first crossing, and cool now.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, all) = srv.get_json("/api/v1/telemetry/alerts").await;
    assert_eq!(all["alerts"], json!([]), "{all}");
    assert!(statuses(&got).is_empty(), "{:?}", got.lock().unwrap());
}

#[tokio::test]
async fn a_service_going_down_raises_the_built_in_health_alert() {
    let (url, _got) = receiver().await;
    // Nothing listens on port 1: the service fails from the first check.
    let yaml = format!(
        "{}health:\n  check_interval: 200ms\n  unhealthy_timeout: 300ms\n  services:\n    payments: {{health_endpoint: \"tcp://127.0.0.1:1\", criticality_level: critical}}\n",
        config(&url, "    []\n").replace("  rules:\n    []\n", "  rules: []\n")
    );
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(yaml),
        ..Opts::default()
    })
    .await;
    let v = eventually("ServiceDown", || async {
        let (_, v) = srv.get_json("/api/v1/telemetry/alerts?state=firing").await;
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["rule_id"] == "service_unhealthy_critical")
            .cloned()
    })
    .await;
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["service"], "payments");
    assert_eq!(v["type"], "service_health");
    assert_eq!(v["message"], "Service payments is unhealthy");
    let (_, rules) = srv.get_json("/api/v1/telemetry/rules").await;
    let builtin = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["builtin"] == true)
        .count();
    assert_eq!(builtin, 6, "four health rules and two trace-issue rules");
}

#[tokio::test]
async fn bad_alert_requests_name_the_field() {
    let srv = TestServer::start().await;
    let (code, body) = srv.get_json("/api/v1/telemetry/alerts?state=burning").await;
    assert_eq!(code, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("state"),
        "{body}"
    );
    let (code, body) = srv
        .post_json("/api/v1/telemetry/alerts/abc/ack", json!({"by": 7}))
        .await;
    assert_eq!(code, 400, "{body}");
    let (code, _) = srv.get_json("/api/v1/telemetry/alerts/abc").await;
    assert_eq!(code, 404);
}

/// Two receivers' worth of config: channels `first` and `second`.
fn two_channels(first: &str, second: &str) -> String {
    format!(
        "    - {{name: first, type: webhook, config: {{url: \"{first}\"}}}}\n    - {{name: second, type: webhook, config: {{url: \"{second}\"}}}}\n"
    )
}

#[tokio::test]
async fn a_silence_holds_notifications_back_until_it_is_expired() {
    let (url, got) = receiver().await;
    let rules = "    - {id: hot_cpu, name: HighCPU, metric: cpu.usage, condition: gt, threshold: 90, severity: warning, notification_channels: [hook]}\n";
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(config(&url, rules)),
        ..Opts::default()
    })
    .await;
    let (code, silence) = srv
        .post_json(
            "/api/v1/telemetry/silences",
            json!({"matchers": "alertname=\"HighCPU\",host=~\"a|b\"", "duration": "1h", "created_by": "ops", "comment": "maintenance"}),
        )
        .await;
    assert_eq!(code, 200, "{silence}");
    assert_eq!(silence["state"], "active");
    gauge(&srv, "cpu.usage", 95.0, "a").await;
    let (_, firing) = eventually("firing", || async {
        let (c, v) = srv.get_json("/api/v1/telemetry/alerts?state=firing").await;
        (v["alerts"].as_array().unwrap().len() == 1).then_some((c, v))
    })
    .await;
    assert_eq!(firing["alerts"][0]["silenced_by"][0], silence["id"]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        statuses(&got).is_empty(),
        "silenced: {:?}",
        got.lock().unwrap()
    );
    // Expired: the still-firing alert goes out.
    let id = silence["id"].as_str().unwrap();
    let resp = srv
        .client
        .delete(srv.url(&format!("/api/v1/telemetry/silences/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    eventually("notified after the silence", || async {
        (statuses(&got) == ["firing"]).then_some(())
    })
    .await;
    let (_, list) = srv.get_json("/api/v1/telemetry/silences").await;
    assert_eq!(list["silences"][0]["state"], "expired");
    let (code, body) = srv
        .post_json(
            "/api/v1/telemetry/silences",
            json!({"matchers": "alertname=\"x\""}),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("duration"),
        "{body}"
    );
}

#[tokio::test]
async fn a_dependency_outage_is_one_page_naming_the_affected_services() {
    let (url, got) = receiver().await;
    // db is down; api and web depend on it and fail too (all on closed ports).
    let yaml = format!(
        "alerting:\n  evaluation_interval: 200ms\n  group_wait: 1s\n  group_interval: 1s\n  group_by: []\n  rules: []\n  routes:\n    - {{match: {{}}, channels: [hook]}}\n  channels:\n    - {{name: hook, type: webhook, config: {{url: \"{url}\"}}}}\n\
         health:\n  check_interval: 200ms\n  unhealthy_timeout: 200ms\n  services:\n    \
         db: {{health_endpoint: \"tcp://127.0.0.1:1\", criticality_level: critical}}\n    \
         api: {{health_endpoint: \"tcp://127.0.0.1:2\", criticality_level: critical, dependencies: [db]}}\n    \
         web: {{health_endpoint: \"tcp://127.0.0.1:3\", dependencies: [api]}}\n"
    );
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(yaml),
        ..Opts::default()
    })
    .await;
    eventually("three services alerting", || async {
        let (_, v) = srv.get_json("/api/v1/telemetry/alerts?state=firing").await;
        let services: Vec<String> = v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["status"] == "unhealthy")
            .filter_map(|a| a["service"].as_str().map(str::to_string))
            .collect();
        (services.len() == 3).then_some(())
    })
    .await;
    let page = eventually("the page", || async {
        got.lock().unwrap().first().cloned()
    })
    .await;
    // Give any other notification its chance to arrive (it must not).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all = got.lock().unwrap().clone();
    let unhealthy: Vec<&Value> = all
        .iter()
        .flat_map(|n| n["alerts"].as_array().unwrap().iter())
        .filter(|a| a["labels"]["status"] == "unhealthy")
        .collect();
    assert_eq!(unhealthy.len(), 1, "only db pages: {all:?}");
    assert_eq!(unhealthy[0]["service"], "db");
    assert_eq!(
        unhealthy[0]["annotations"]["affected_services"], "api, web",
        "{page}"
    );
}

#[tokio::test]
async fn escalation_reaches_the_second_channel_only_when_not_acknowledged() {
    let (first, got_first) = receiver().await;
    let (second, got_second) = receiver().await;
    let yaml = format!(
        "alerting:\n  evaluation_interval: 200ms\n  group_wait: 0s\n  group_interval: 200ms\n  rules:\n    \
         - {{id: hot, metric: cpu.usage, condition: gt, threshold: 90, severity: critical}}\n  \
         routes:\n    - {{match: {{alertname: hot}}, channels: [first], escalation: [{{after: 2s, channels: [second]}}]}}\n  \
         channels:\n{}",
        two_channels(&first, &second)
    );
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(yaml),
        ..Opts::default()
    })
    .await;
    // Host a: acknowledged at once, never escalates. Host b: not acknowledged, escalates.
    gauge(&srv, "cpu.usage", 95.0, "a").await;
    gauge(&srv, "cpu.usage", 95.0, "b").await;
    let alerts = eventually("both firing", || async {
        let (_, v) = srv.get_json("/api/v1/telemetry/alerts?state=firing").await;
        let a = v["alerts"].as_array().unwrap().clone();
        (a.len() == 2).then_some(a)
    })
    .await;
    let a_id = alerts.iter().find(|x| x["labels"]["host"] == "a").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, _) = srv
        .post_json(
            &format!("/api/v1/telemetry/alerts/{a_id}/ack"),
            json!({"by": "ops"}),
        )
        .await;
    assert_eq!(code, 200);
    eventually("the first channel", || async {
        (!got_first.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    let escalated = eventually("escalation", || async {
        got_second.lock().unwrap().first().cloned()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second_all = got_second.lock().unwrap().clone();
    assert_eq!(second_all.len(), 1, "{second_all:?}");
    let hosts: Vec<&str> = escalated["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["b"], "only the unacknowledged alert escalates");
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_the_notification_even_across_a_restart() {
    use std::sync::atomic::{AtomicBool, Ordering};
    // The receiver answers 503 until `up`; it records the key of every request.
    let up = Arc::new(AtomicBool::new(false));
    let attempts: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let app = {
        let (up, attempts) = (up.clone(), attempts.clone());
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let (up, attempts) = (up.clone(), attempts.clone());
                async move {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let ok = up.load(Ordering::SeqCst);
                    attempts
                        .lock()
                        .unwrap()
                        .push((v["key"].as_str().unwrap_or("").to_string(), ok));
                    if ok {
                        axum::http::StatusCode::OK
                    } else {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let rules = "    - {id: hot_cpu, metric: cpu.usage, condition: gt, threshold: 90, severity: critical, notification_channels: [hook]}\n";
    let mut srv = TestServer::start_with(Opts {
        config_yaml: Some(config(&url, rules)),
        ..Opts::default()
    })
    .await;
    gauge(&srv, "cpu.usage", 95.0, "a").await;
    let first_key = eventually("a failed attempt", || async {
        attempts.lock().unwrap().first().map(|(k, _)| k.clone())
    })
    .await;
    // The receiver stays down; blazar is killed with the notification undelivered.
    let mut opts = srv.kill9();
    opts.config_yaml = Some(config(&url, rules));
    srv = TestServer::start_with(opts).await;
    up.store(true, Ordering::SeqCst);
    eventually("the notification from before the restart", || async {
        attempts
            .lock()
            .unwrap()
            .iter()
            .any(|(k, ok)| *ok && *k == first_key)
            .then_some(())
    })
    .await;
    let delivered: Vec<String> = attempts
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(k, _)| k.clone())
        .collect();
    let mut unique = delivered.clone();
    unique.dedup();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "each delivered once: {delivered:?}"
    );
    let (_, text) = srv.get_text("/metrics").await;
    assert!(
        text.contains("blazar_notifications_delivered_total{channel=\"hook\""),
        "{text}"
    );
}

#[tokio::test]
async fn a_remediation_command_runs_and_its_outcome_shows_on_the_alert() {
    let yaml = "alerting:\n  evaluation_interval: 200ms\n  group_wait: 0s\n  rules:\n    \
                - {id: hot, metric: cpu.usage, condition: gt, threshold: 90, severity: critical, notification_channels: [fix]}\n  \
                channels:\n    - {name: fix, type: exec, config: {command: [sh, -c, 'echo restarted $BLAZAR_ALERT_RULE on $BLAZAR_ALERT_SEVERITY'], timeout: 5s, cooldown: 1h, max_attempts: 2}}\n";
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(yaml.into()),
        ..Opts::default()
    })
    .await;
    gauge(&srv, "cpu.usage", 95.0, "a").await;
    let outcome = eventually("the remediation outcome", || async {
        let (_, v) = srv.get_json("/api/v1/telemetry/alerts?state=firing").await;
        let r = v["alerts"][0]["remediation"][0].clone();
        (r["status"] == "succeeded").then_some(r)
    })
    .await;
    assert_eq!(outcome["output"], "restarted hot on critical", "{outcome}");
    assert_eq!(outcome["exit_code"], 0);
    assert_eq!(outcome["attempts"], 1);
}

#[tokio::test]
async fn a_trace_analysis_finding_raises_the_built_in_trace_alert() {
    use crate::analysis::{base_secs, failing_trace};
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(
            "tracing:\n  completion_quiet: 200ms\nalerting:\n  evaluation_interval: 200ms\n".into(),
        ),
        ..Opts::default()
    })
    .await;
    // api → orders → db ×3 failing: seed 001's cascading_failures pattern (critical).
    failing_trace(&srv, base_secs()).await;
    let alert = eventually("TraceIssue", || async {
        let (_, v) = srv.get_json("/api/v1/telemetry/alerts?state=firing").await;
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["rule_id"] == "trace_issue_critical")
            .cloned()
    })
    .await;
    assert_eq!(alert["labels"]["pattern"], "cascading_failures", "{alert}");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["type"], "performance");
    assert_eq!(alert["service"], "api");
}
