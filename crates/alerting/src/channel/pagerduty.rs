//! The `pagerduty` channel: PagerDuty Events API v2, one event per alert.
//!
//! A firing alert is a `trigger`, a resolved one a `resolve`; `dedup_key` is the alert's id (a
//! stable fingerprint of rule and labels), so PagerDuty keeps one incident per alert and the
//! resolve closes the right one. Trigger:
//!
//! ```json
//! {
//!   "routing_key": "<integration key>",
//!   "event_action": "trigger",
//!   "dedup_key": "a1b2c3d4e5f60718",
//!   "client": "blazar",
//!   "payload": {
//!     "summary": "CPU at 95.5%",          // the message, at most 1024 characters
//!     "source": "api",                    // the service, else "blazar"
//!     "severity": "critical",             // critical | warning | info
//!     "timestamp": "2024-05-01T12:01:00Z",
//!     "class": "resource",                // the alert type
//!     "group": "alertname=HighCPU",       // the notification group (when grouped)
//!     "component": "db-1",                // the `component` or `instance` label, if any
//!     "custom_details": {"alertname": "HighCPU", "rule_id": "high_cpu", "value": 95.5,
//!                        "labels": {..}, "annotations": {..}, "started_at": "..", "count": 3}
//!   }
//! }
//! ```
//!
//! Resolve: `{"routing_key", "event_action": "resolve", "dedup_key", "client"}` (PagerDuty
//! ignores a payload on resolve). 202 accepted; 400 invalid (permanent); 429 throttled and 5xx
//! retryable.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value};

use super::transport::{self, Channel};
use super::{alert_name, render_labels, truncate_chars, DeliveryError};
use crate::alert::{Alert, AlertState, Notification};

/// PagerDuty's limit on `payload.summary`.
const SUMMARY_CHARS: usize = 1024;

/// Sends one event per firing or resolved alert of `n`, in order.
///
/// Stops at the first failure and returns it; the caller retries the whole notification. Events
/// already accepted are sent again then, which is harmless: PagerDuty de-duplicates by
/// `dedup_key` (a repeated trigger appends to the open incident, a repeated resolve is a no-op).
pub(super) async fn deliver(
    http: &reqwest::Client,
    name: &str,
    routing_key: &str,
    url: &str,
    timeout: Duration,
    n: &Notification,
) -> Result<(), DeliveryError> {
    let channel = Channel {
        kind: "pagerduty",
        name,
    };
    let events = events(routing_key, n);
    let total = events.len();
    for (i, (alert_id, event)) in events.into_iter().enumerate() {
        let body = serde_json::to_vec(&event).map_err(|e| transport::render_error(channel, &e))?;
        transport::post_json(http, channel, url, timeout, HeaderMap::new(), body)
            .await
            .map_err(|e| {
                let context = format!(" (event {} of {total}, alert {alert_id})", i + 1);
                match e {
                    DeliveryError::Retryable(m) => DeliveryError::Retryable(m + &context),
                    DeliveryError::Permanent(m) => DeliveryError::Permanent(m + &context),
                }
            })?;
    }
    Ok(())
}

/// The events for `n`, each with its alert's id.
pub(super) fn events<'a>(routing_key: &str, n: &'a Notification) -> Vec<(&'a str, Value)> {
    n.alerts
        .iter()
        .filter_map(|a| {
            let event = match a.state {
                AlertState::Firing => trigger(routing_key, n, a),
                AlertState::Resolved => json!({
                    "routing_key": routing_key,
                    "event_action": "resolve",
                    "dedup_key": a.id,
                    "client": "blazar",
                }),
                AlertState::Pending => return None,
            };
            Some((a.id.as_str(), event))
        })
        .collect()
}

fn trigger(routing_key: &str, n: &Notification, a: &Alert) -> Value {
    let summary = if a.message.trim().is_empty() {
        match &a.service {
            Some(s) => format!("{} on {s}", alert_name(a)),
            None => alert_name(a).to_string(),
        }
    } else {
        a.message.clone()
    };
    let mut payload = Map::new();
    payload.insert(
        "summary".into(),
        json!(truncate_chars(&summary, SUMMARY_CHARS)),
    );
    payload.insert(
        "source".into(),
        json!(a.service.as_deref().unwrap_or("blazar")),
    );
    // Our severities are a subset of PagerDuty's (critical, error, warning, info).
    payload.insert("severity".into(), json!(a.severity.as_str()));
    payload.insert(
        "timestamp".into(),
        json!(a.fired_at.as_deref().unwrap_or(&a.started_at)),
    );
    payload.insert("class".into(), json!(a.kind));
    if !n.group_labels.is_empty() {
        payload.insert("group".into(), json!(render_labels(&n.group_labels)));
    }
    if let Some(c) = a
        .labels
        .get("component")
        .or_else(|| a.labels.get("instance"))
    {
        payload.insert("component".into(), json!(c));
    }
    payload.insert(
        "custom_details".into(),
        json!({
            "alertname": alert_name(a),
            "rule_id": a.rule_id,
            "value": a.value,
            "labels": a.labels,
            "annotations": a.annotations,
            "started_at": a.started_at,
            "count": a.count,
        }),
    );
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": a.id,
        "client": "blazar",
        "payload": payload,
    })
}

#[cfg(test)]
mod tests {
    use blazar_config::{ChannelKind, Severity};

    use super::super::testkit::{alert, notification, resolved, Receiver};
    use super::super::Sender;
    use super::*;

    fn kind(url: String) -> ChannelKind {
        ChannelKind::PagerDuty {
            routing_key: "R0UTING".into(),
            url,
            timeout: Duration::from_secs(10),
        }
    }

    const ACCEPTED: &str =
        r#"{"status":"success","message":"Event processed","dedup_key":"a1b2c3d4e5f60718"}"#;

    #[tokio::test]
    async fn trigger_then_resolve_share_the_dedup_key() {
        let rx = Receiver::start().await;
        let sender = Sender::new().unwrap();
        let a = alert(
            "a1b2c3d4e5f60718",
            Severity::Critical,
            Some("api"),
            "CPU at 95.5%",
        );
        rx.reply(202, ACCEPTED);
        sender
            .deliver(
                "pd",
                &kind(rx.url("/v2/enqueue")),
                &notification(AlertState::Firing, vec![a.clone()]),
            )
            .await
            .unwrap();
        rx.reply(202, ACCEPTED);
        sender
            .deliver(
                "pd",
                &kind(rx.url("/v2/enqueue")),
                &notification(AlertState::Resolved, vec![resolved(a)]),
            )
            .await
            .unwrap();
        let reqs = rx.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].path, "/v2/enqueue");
        assert_eq!(
            reqs[0].json(),
            json!({
                "routing_key": "R0UTING",
                "event_action": "trigger",
                "dedup_key": "a1b2c3d4e5f60718",
                "client": "blazar",
                "payload": {
                    "summary": "CPU at 95.5%",
                    "source": "api",
                    "severity": "critical",
                    "timestamp": "2024-05-01T12:01:00Z",
                    "class": "resource",
                    "group": "alertname=HighCPU",
                    "custom_details": {
                        "alertname": "HighCPU",
                        "rule_id": "high_cpu",
                        "value": 95.5,
                        "labels": {"alertname": "HighCPU", "severity": "critical", "service": "api"},
                        "annotations": {"runbook": "https://runbooks/cpu"},
                        "started_at": "2024-05-01T12:00:00Z",
                        "count": 3,
                    },
                },
            })
        );
        assert_eq!(
            reqs[1].json(),
            json!({
                "routing_key": "R0UTING",
                "event_action": "resolve",
                "dedup_key": "a1b2c3d4e5f60718",
                "client": "blazar",
            })
        );
    }

    #[tokio::test]
    async fn one_event_per_alert_and_the_first_failure_is_returned() {
        let rx = Receiver::start().await;
        let sender = Sender::new().unwrap();
        let n = notification(
            AlertState::Firing,
            vec![
                alert("id1", Severity::Warning, None, &"x".repeat(3000)),
                resolved(alert("id2", Severity::Info, Some("db"), "ok")),
                alert("id3", Severity::Info, Some("db"), "third"),
            ],
        );
        rx.reply(202, "");
        rx.reply(429, r#"{"status":"throttle event"}"#);
        let err = sender
            .deliver("pd", &kind(rx.url("/")), &n)
            .await
            .unwrap_err();
        let DeliveryError::Retryable(m) = err else {
            panic!("{err:?}")
        };
        assert!(m.contains("429"), "{m}");
        assert!(m.ends_with("(event 2 of 3, alert id2)"), "{m}");
        assert!(!m.contains("R0UTING"), "{m}");
        let reqs = rx.requests();
        assert_eq!(reqs.len(), 2);
        let first = reqs[0].json();
        assert_eq!(first["payload"]["source"], "blazar");
        assert_eq!(first["payload"]["severity"], "warning");
        let summary = first["payload"]["summary"].as_str().unwrap();
        assert_eq!(summary.chars().count(), 1024);
        assert_eq!(reqs[1].json()["event_action"], "resolve");

        // Retrying the whole notification sends all three.
        sender.deliver("pd", &kind(rx.url("/")), &n).await.unwrap();
        assert_eq!(rx.requests().len(), 5);
    }

    #[tokio::test]
    async fn invalid_event_is_permanent() {
        let rx = Receiver::start().await;
        rx.reply(
            400,
            r#"{"status":"invalid event","errors":["'routing_key' is invalid"]}"#,
        );
        let sender = Sender::new().unwrap();
        let err = sender
            .deliver(
                "pd",
                &kind(rx.url("/")),
                &notification(AlertState::Firing, vec![]),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DeliveryError::Permanent(m) if m.contains("400 Bad Request") && m.contains("invalid event")),
            "{err:?}"
        );
    }
}
