//! The `alertmanager` channel: `POST {url}/api/v2/alerts` with every firing and resolved alert
//! of the notification.
//!
//! ```json
//! [{
//!   "labels": {"alertname": "HighCPU", "service": "api", "severity": "critical"},
//!   "annotations": {"runbook": "https://runbooks/cpu", "summary": "CPU at 95.5%"},
//!   "startsAt": "2024-05-01T12:01:00Z"
//! }, {
//!   "labels": {"alertname": "HighCPU", "service": "db", "severity": "warning"},
//!   "annotations": {"summary": "CPU at 40%"},
//!   "startsAt": "2024-05-01T12:01:00Z",
//!   "endsAt": "2024-05-01T12:10:00Z"
//! }]
//! ```
//!
//! Labels are the alert's, with `alertname` ensured (its rule id when absent), empty values
//! dropped and names made valid for Alertmanager (`[a-zA-Z_][a-zA-Z0-9_]*`: other characters
//! become `_`, so `service.name` is `service_name`; a name that then collides keeps the first
//! value). `summary` is added from the message when absent. `startsAt` is when it fired (or
//! started). Only resolved alerts carry `endsAt` (their resolution time): a firing alert without
//! it stays firing in Alertmanager until its `resolve_timeout` unless we send it again, which
//! every repeat notification does. No `generatorURL` (the server does not know its public URL).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value};

use super::transport::{self, Channel};
use super::DeliveryError;
use crate::alert::{Alert, AlertState, Notification};

/// POSTs `n`'s alerts to the Alertmanager at `url` (no trailing `/`).
pub(super) async fn deliver(
    http: &reqwest::Client,
    name: &str,
    url: &str,
    timeout: Duration,
    n: &Notification,
) -> Result<(), DeliveryError> {
    let channel = Channel {
        kind: "alertmanager",
        name,
    };
    let alerts = alerts(n);
    if alerts.is_empty() {
        return Ok(());
    }
    let body = serde_json::to_vec(&Value::Array(alerts))
        .map_err(|e| transport::render_error(channel, &e))?;
    let url = format!("{}/api/v2/alerts", url.trim_end_matches('/'));
    transport::post_json(http, channel, &url, timeout, HeaderMap::new(), body).await
}

/// The `postableAlerts` for `n` (pending alerts left out).
pub(super) fn alerts(n: &Notification) -> Vec<Value> {
    n.alerts
        .iter()
        .filter(|a| a.state != AlertState::Pending)
        .map(postable)
        .collect()
}

fn postable(a: &Alert) -> Value {
    let mut labels = BTreeMap::new();
    for (k, v) in &a.labels {
        if !v.is_empty() {
            labels.entry(label_name(k)).or_insert_with(|| v.clone());
        }
    }
    labels
        .entry("alertname".to_string())
        .or_insert_with(|| a.rule_id.clone());
    let mut annotations = BTreeMap::new();
    for (k, v) in &a.annotations {
        annotations
            .entry(label_name(k))
            .or_insert_with(|| v.clone());
    }
    if !a.message.is_empty() {
        annotations
            .entry("summary".to_string())
            .or_insert_with(|| a.message.clone());
    }
    let mut m = Map::new();
    m.insert("labels".into(), json!(labels));
    m.insert("annotations".into(), json!(annotations));
    m.insert(
        "startsAt".into(),
        json!(a.fired_at.as_deref().unwrap_or(&a.started_at)),
    );
    if a.state == AlertState::Resolved {
        // Without a recorded time, now: Alertmanager resolves an alert whose endsAt has passed.
        let ends = a
            .resolved_at
            .clone()
            .unwrap_or_else(|| blazar_model::format_rfc3339_nanos(super::now_ns()));
        m.insert("endsAt".into(), json!(ends));
    }
    Value::Object(m)
}

/// Returns `name` as a valid Alertmanager (Prometheus) label name.
fn label_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use blazar_config::{ChannelKind, Severity};

    use super::super::testkit::{alert, notification, resolved, Receiver};
    use super::super::Sender;
    use super::*;

    fn kind(url: String) -> ChannelKind {
        ChannelKind::Alertmanager {
            url,
            timeout: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn posts_every_alert_with_ends_at_only_when_resolved() {
        let rx = Receiver::start().await;
        let sender = Sender::new().unwrap();
        let mut db = alert("id2", Severity::Warning, Some("db"), "CPU at 40%");
        db.annotations.insert("summary".into(), "kept".into());
        let n = notification(
            AlertState::Firing,
            vec![
                alert("id1", Severity::Critical, Some("api"), "CPU at 95.5%"),
                resolved(db),
            ],
        );
        sender
            .deliver("am", &kind(rx.url("/am")), &n)
            .await
            .unwrap();
        let reqs = rx.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].path.as_str()),
            ("POST", "/am/api/v2/alerts")
        );
        assert_eq!(
            reqs[0].json(),
            json!([
                {
                    "labels": {"alertname": "HighCPU", "service": "api", "severity": "critical"},
                    "annotations": {"runbook": "https://runbooks/cpu", "summary": "CPU at 95.5%"},
                    "startsAt": "2024-05-01T12:01:00Z",
                },
                {
                    "labels": {"alertname": "HighCPU", "service": "db", "severity": "warning"},
                    "annotations": {"runbook": "https://runbooks/cpu", "summary": "kept"},
                    "startsAt": "2024-05-01T12:01:00Z",
                    "endsAt": "2024-05-01T12:10:00Z",
                },
            ])
        );
    }

    #[test]
    fn labels_are_made_valid_and_alertname_ensured() {
        let mut a = alert("id1", Severity::Info, None, "");
        a.labels.remove("alertname");
        a.labels.insert("service.name".into(), "api".into());
        a.labels.insert("9lives".into(), "x".into());
        a.labels.insert("empty".into(), String::new());
        a.fired_at = None;
        let v = postable(&a);
        assert_eq!(
            v,
            json!({
                "labels": {"alertname": "high_cpu", "_9lives": "x", "service_name": "api", "severity": "info"},
                "annotations": {"runbook": "https://runbooks/cpu"},
                "startsAt": "2024-05-01T12:00:00Z",
            })
        );
    }

    #[tokio::test]
    async fn bad_request_is_permanent() {
        let rx = Receiver::start().await;
        rx.reply(
            400,
            "{\"code\":400,\"message\":\"start time must be before end time\"}",
        );
        let sender = Sender::new().unwrap();
        let err = sender
            .deliver(
                "am",
                &kind(rx.url("")),
                &notification(AlertState::Firing, vec![]),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, DeliveryError::Permanent(_)), "{err:?}");
    }
}
