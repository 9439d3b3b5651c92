//! The `webhook` channel: seed 001's alert JSON describing the whole notification, plus its
//! alerts, POSTed to `url`.
//!
//! Body (keys at the top level; seed 001's first):
//!
//! ```json
//! {
//!   "alert_id": "a1b2c3d4e5f60718",   // the alert's id when there is one, else the group key
//!   "type": "resource",               // the alerts' type when they share one, else "mixed"
//!   "severity": "critical",           // the most severe alert's
//!   "service": "api",                 // when every alert has the same service, else null
//!   "message": "CPU at 95.5%",        // one alert: its message; several: "2 alerts firing: …"
//!   "timestamp": "2024-05-01T12:02:00Z",
//!   "metadata": {"group_labels": {..}, "alerts": 1, "firing": 1, "resolved": 0,
//!                "rule_id": "high_cpu", "value": 95.5, "labels": {..}},  // last 3: one alert only
//!   "status": "firing",               // or "resolved"
//!   "key": "k-1",                     // idempotency key, also in the Idempotency-Key header
//!   "group_key": "g-high-cpu",
//!   "alerts": [{ ...each Alert as serialized..., "alert_id": "<id>", "timestamp": "<fired_at>" }]
//! }
//! ```
//!
//! Headers: `Content-Type: application/json`, `Idempotency-Key: <key>`, the configured headers,
//! and, when a non-empty `secret` is configured, a signature (see [`sign`]).

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::transport::{self, Channel};
use super::{alert_name, DeliveryError};
use crate::alert::{Alert, Notification};

/// `X-Blazar-Signature: sha256=<hex>`; see [`sign`].
pub const SIGNATURE_HEADER: &str = "x-blazar-signature";
/// `X-Blazar-Timestamp: <unix seconds>`; part of the signed string.
pub const TIMESTAMP_HEADER: &str = "x-blazar-timestamp";
/// At most this many alert names are listed in a several-alert `message`.
const NAMES_IN_MESSAGE: usize = 10;

/// Where and how a webhook delivers (borrowed from `ChannelKind::Webhook`).
pub(super) struct Target<'a> {
    pub(super) url: &'a str,
    pub(super) secret: Option<&'a str>,
    pub(super) timeout: Duration,
    pub(super) headers: &'a [(String, String)],
}

/// POSTs `n` to the webhook.
pub(super) async fn deliver(
    http: &reqwest::Client,
    name: &str,
    target: &Target<'_>,
    n: &Notification,
) -> Result<(), DeliveryError> {
    let channel = Channel {
        kind: "webhook",
        name,
    };
    let body = body(n).map_err(|e| transport::render_error(channel, &e))?;
    let body = serde_json::to_vec(&body).map_err(|e| transport::render_error(channel, &e))?;
    let mut headers = HeaderMap::new();
    for (k, v) in target.headers {
        let (k, v) = transport::header(channel, k, v)?;
        headers.insert(k, v);
    }
    // Ours after the configured ones: configuration cannot override them.
    let (k, v) = transport::header(channel, "idempotency-key", &n.key)?;
    headers.insert(k, v);
    if let Some(secret) = target.secret.filter(|s| !s.is_empty()) {
        let timestamp = super::now_ns().div_euclid(1_000_000_000);
        let (k, v) = transport::header(channel, TIMESTAMP_HEADER, &timestamp.to_string())?;
        headers.insert(k, v);
        let signature = sign(secret, timestamp, &body)
            .ok_or_else(|| DeliveryError::Permanent(format!("{channel}: cannot sign")))?;
        let (k, v) = transport::header(channel, SIGNATURE_HEADER, &signature)?;
        headers.insert(k, v);
    }
    transport::post_json(http, channel, target.url, target.timeout, headers, body).await
}

/// Signs a webhook body, GitHub/Stripe style.
///
/// The signed string is the `X-Blazar-Timestamp` header's value (Unix seconds, decimal), a
/// `.`, then the raw body bytes exactly as received: `<timestamp>.<body>`. The
/// `X-Blazar-Signature` header is `sha256=` followed by the lowercase hex HMAC-SHA256 of that
/// string keyed with the channel's `secret` (its UTF-8 bytes). A receiver recomputes it over the
/// bytes it read (before any JSON parsing), compares in constant time, and rejects timestamps
/// too far from its clock (say 5 minutes) to stop replays; `Idempotency-Key` drops repeats.
///
/// Returns `None` only if the MAC cannot be keyed (HMAC accepts any key, so never).
pub(super) fn sign(secret: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// Renders the body described in the module docs.
pub(super) fn body(n: &Notification) -> Result<Value, serde_json::Error> {
    let single = match n.alerts.as_slice() {
        [a] => Some(a),
        _ => None,
    };
    let firing = n.firing().count();
    let resolved = n.resolved().count();
    let mut metadata = Map::new();
    metadata.insert("group_labels".into(), json!(n.group_labels));
    metadata.insert("alerts".into(), json!(n.alerts.len()));
    metadata.insert("firing".into(), json!(firing));
    metadata.insert("resolved".into(), json!(resolved));
    if let Some(a) = single {
        metadata.insert("rule_id".into(), json!(a.rule_id));
        metadata.insert("value".into(), json!(a.value));
        metadata.insert("labels".into(), json!(a.labels));
    }
    let alerts = n
        .alerts
        .iter()
        .map(alert_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "alert_id": single.map_or(n.group_key.as_str(), |a| a.id.as_str()),
        "type": common(n, |a| a.kind.as_str()).unwrap_or("mixed"),
        "severity": n.severity(),
        "service": common(n, |a| a.service.as_deref()).flatten(),
        "message": message(n),
        "timestamp": n.timestamp,
        "metadata": metadata,
        "status": n.status,
        "key": n.key,
        "group_key": n.group_key,
        "alerts": alerts,
    }))
}

/// One alert as `alert.rs` serializes it, plus seed 001's `alert_id` and `timestamp` (when it
/// fired, or started for one that never did).
fn alert_json(a: &Alert) -> Result<Value, serde_json::Error> {
    let mut v = serde_json::to_value(a)?;
    if let Value::Object(m) = &mut v {
        m.insert("alert_id".into(), json!(a.id));
        m.insert(
            "timestamp".into(),
            json!(a.fired_at.as_deref().unwrap_or(&a.started_at)),
        );
    }
    Ok(v)
}

/// The value `f` gives every alert, if they all agree.
fn common<'a, T: PartialEq>(n: &'a Notification, f: impl Fn(&'a Alert) -> T) -> Option<T> {
    let mut it = n.alerts.iter().map(f);
    let first = it.next()?;
    it.all(|v| v == first).then_some(first)
}

/// One alert's message, or `2 alerts firing: HighCPU on api, HighCPU on db; 1 resolved: …`.
pub(super) fn message(n: &Notification) -> String {
    if let [a] = n.alerts.as_slice() {
        return a.message.clone();
    }
    let firing: Vec<&Alert> = n.firing().collect();
    let resolved: Vec<&Alert> = n.resolved().collect();
    let mut parts = Vec::new();
    if !firing.is_empty() {
        parts.push(format!(
            "{} firing: {}",
            plural(firing.len()),
            names(&firing)
        ));
    }
    if !resolved.is_empty() {
        let count = if firing.is_empty() {
            plural(resolved.len())
        } else {
            resolved.len().to_string()
        };
        parts.push(format!("{count} resolved: {}", names(&resolved)));
    }
    if parts.is_empty() {
        // Only pending alerts (not expected in a notification).
        return format!("{} pending", plural(n.alerts.len()));
    }
    parts.join("; ")
}

fn plural(count: usize) -> String {
    if count == 1 {
        "1 alert".into()
    } else {
        format!("{count} alerts")
    }
}

fn names(alerts: &[&Alert]) -> String {
    let mut shown: Vec<String> = alerts
        .iter()
        .take(NAMES_IN_MESSAGE)
        .map(|a| match &a.service {
            Some(s) => format!("{} on {s}", alert_name(a)),
            None => alert_name(a).to_string(),
        })
        .collect();
    if alerts.len() > NAMES_IN_MESSAGE {
        shown.push(format!("… ({} more)", alerts.len() - NAMES_IN_MESSAGE));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use blazar_config::{ChannelKind, Severity};

    use super::super::testkit::{alert, notification, resolved, Receiver};
    use super::super::Sender;
    use super::*;
    use crate::alert::AlertState;

    fn kind(url: String, secret: Option<&str>) -> ChannelKind {
        ChannelKind::Webhook {
            url,
            secret: secret.map(str::to_string),
            timeout: Duration::from_secs(10),
            headers: vec![
                ("Authorization".into(), "Bearer t0k".into()),
                // Cannot override ours.
                ("Idempotency-Key".into(), "mine".into()),
            ],
        }
    }

    #[tokio::test]
    async fn single_alert_body_is_seed_shaped_and_signed() {
        let rx = Receiver::start().await;
        let sender = Sender::new().unwrap();
        let n = notification(AlertState::Firing, vec![]);
        sender
            .deliver("ops", &kind(rx.url("/hook"), Some("s3cret")), &n)
            .await
            .unwrap();
        let reqs = rx.requests();
        assert_eq!(reqs.len(), 1);
        let r = &reqs[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hook"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("idempotency-key"), Some("k-1"));
        assert_eq!(r.header("authorization"), Some("Bearer t0k"));

        // Verify the signature as a receiver would, with the hmac crate.
        let ts = r.header("x-blazar-timestamp").unwrap();
        assert!(ts.parse::<i64>().unwrap() > 1_700_000_000);
        let sig = r.header("x-blazar-signature").unwrap();
        let hex_sig = sig.strip_prefix("sha256=").unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(format!("{ts}.").as_bytes());
        mac.update(&r.body);
        mac.verify_slice(&hex::decode(hex_sig).unwrap()).unwrap();

        assert_eq!(
            r.json(),
            json!({
                "alert_id": "a1b2c3d4e5f60718",
                "type": "resource",
                "severity": "critical",
                "service": "api",
                "message": "CPU at 95.5%",
                "timestamp": "2024-05-01T12:02:00Z",
                "metadata": {
                    "group_labels": {"alertname": "HighCPU"},
                    "alerts": 1, "firing": 1, "resolved": 0,
                    "rule_id": "high_cpu",
                    "value": 95.5,
                    "labels": {"alertname": "HighCPU", "severity": "critical", "service": "api"},
                },
                "status": "firing",
                "key": "k-1",
                "group_key": "g-high-cpu",
                "alerts": [{
                    "alert_id": "a1b2c3d4e5f60718",
                    "id": "a1b2c3d4e5f60718",
                    "rule_id": "high_cpu",
                    "type": "resource",
                    "severity": "critical",
                    "service": "api",
                    "message": "CPU at 95.5%",
                    "labels": {"alertname": "HighCPU", "severity": "critical", "service": "api"},
                    "annotations": {"runbook": "https://runbooks/cpu"},
                    "value": 95.5,
                    "state": "firing",
                    "started_at": "2024-05-01T12:00:00Z",
                    "fired_at": "2024-05-01T12:01:00Z",
                    "last_seen": "2024-05-01T12:02:00Z",
                    "resolved_at": null,
                    "count": 3,
                    "acknowledged_by": null,
                    "acknowledged_at": null,
                    "timestamp": "2024-05-01T12:01:00Z",
                }],
            })
        );
    }

    #[tokio::test]
    async fn unsigned_without_secret() {
        let rx = Receiver::start().await;
        let sender = Sender::new().unwrap();
        let n = notification(AlertState::Firing, vec![]);
        for secret in [None, Some("")] {
            sender
                .deliver("ops", &kind(rx.url("/"), secret), &n)
                .await
                .unwrap();
        }
        for r in rx.requests() {
            assert_eq!(r.header("x-blazar-signature"), None);
            assert_eq!(r.header("x-blazar-timestamp"), None);
            assert_eq!(r.header("idempotency-key"), Some("k-1"));
        }
    }

    #[test]
    fn several_alerts_summarize_the_group() {
        let n = notification(
            AlertState::Firing,
            vec![
                alert("id1", Severity::Warning, Some("api"), "CPU at 85%"),
                alert("id2", Severity::Critical, Some("db"), "CPU at 99%"),
                resolved(alert("id3", Severity::Warning, Some("web"), "CPU at 70%")),
            ],
        );
        let b = body(&n).unwrap();
        assert_eq!(b["alert_id"], "g-high-cpu");
        assert_eq!(b["type"], "resource");
        assert_eq!(b["severity"], "critical");
        assert_eq!(b["service"], Value::Null);
        assert_eq!(
            b["message"],
            "2 alerts firing: HighCPU on api, HighCPU on db; 1 resolved: HighCPU on web"
        );
        assert_eq!(
            b["metadata"],
            json!({"group_labels": {"alertname": "HighCPU"}, "alerts": 3, "firing": 2, "resolved": 1})
        );
        assert_eq!(b["status"], "firing");
        let ids: Vec<&str> = b["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["alert_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["id1", "id2", "id3"]);

        let mut other = alert("id4", Severity::Info, Some("api"), "x");
        other.kind = "performance".into();
        let n = notification(
            AlertState::Resolved,
            vec![
                resolved(alert("id1", Severity::Info, Some("api"), "a")),
                resolved(other),
            ],
        );
        let b = body(&n).unwrap();
        assert_eq!(b["type"], "mixed");
        assert_eq!(b["service"], "api");
        assert_eq!(
            b["message"],
            "2 alerts resolved: HighCPU on api, HighCPU on api"
        );
    }

    #[test]
    fn long_groups_list_ten_names() {
        let alerts = (0..12)
            .map(|i| alert(&format!("id{i}"), Severity::Info, None, "m"))
            .collect();
        let m = message(&notification(AlertState::Firing, alerts));
        assert!(m.starts_with("12 alerts firing: HighCPU, HighCPU"), "{m}");
        assert!(m.ends_with(", … (2 more)"), "{m}");
    }
}
