//! The `slack` channel: an incoming-webhook message.
//!
//! ```json
//! {
//!   "text": "[FIRING:2] HighCPU\n- critical api: CPU at 99%\n- warning db: CPU at 85%",
//!   "attachments": [{
//!     "color": "#d00000",
//!     "fallback": "[FIRING:2] HighCPU",
//!     "fields": [{"title": "Group", "value": "alertname=HighCPU", "short": true},
//!                {"title": "Severity", "value": "critical", "short": true}],
//!     "footer": "blazar"
//!   }]
//! }
//! ```
//!
//! `text` carries everything (it is what notifications and clients without attachments show);
//! the attachment adds the colour bar (red critical, yellow warning, blue info, green when
//! resolved) and the group. Slack answers 200 `ok`; its refusals (`400 invalid_payload`,
//! `403 action_prohibited`, `404 channel_not_found`, `410 channel_is_archived`) are permanent.

use std::time::Duration;

use blazar_config::Severity;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use super::transport::{self, Channel};
use super::{alert_name, render_labels, DeliveryError};
use crate::alert::{Alert, AlertState, Notification};

/// At most this many alert lines per section; the rest are counted.
const MAX_LINES: usize = 50;
/// Each alert message is cut to this many characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// POSTs `n` to the Slack incoming webhook at `url`.
pub(super) async fn deliver(
    http: &reqwest::Client,
    name: &str,
    url: &str,
    timeout: Duration,
    n: &Notification,
) -> Result<(), DeliveryError> {
    let channel = Channel {
        kind: "slack",
        name,
    };
    let body = serde_json::to_vec(&body(n)).map_err(|e| transport::render_error(channel, &e))?;
    transport::post_json(http, channel, url, timeout, HeaderMap::new(), body).await
}

/// Renders the message described in the module docs.
pub(super) fn body(n: &Notification) -> Value {
    let firing: Vec<&Alert> = n.firing().collect();
    let resolved: Vec<&Alert> = n.resolved().collect();
    let title = title(n, firing.len(), resolved.len());
    let mut text = escape(&title);
    if firing.is_empty() {
        lines(&mut text, &resolved);
    } else {
        lines(&mut text, &firing);
        if !resolved.is_empty() {
            text.push_str("\nResolved:");
            lines(&mut text, &resolved);
        }
    }
    let color = if n.status == AlertState::Firing {
        match n.firing().map(|a| a.severity).max() {
            Some(Severity::Critical) => "#d00000",
            Some(Severity::Warning) => "#f2c744",
            Some(Severity::Info) | None => "#439fe0",
        }
    } else {
        "#2eb886"
    };
    let mut fields = Vec::new();
    if !n.group_labels.is_empty() {
        fields.push(json!({"title": "Group", "value": escape(&render_labels(&n.group_labels)), "short": true}));
    }
    fields.push(json!({"title": "Severity", "value": n.severity().as_str(), "short": true}));
    json!({
        "text": text,
        "attachments": [{
            "color": color,
            "fallback": title,
            "fields": fields,
            "footer": "blazar",
        }],
    })
}

/// `[FIRING:2] HighCPU` or `[RESOLVED:1] HighCPU`.
fn title(n: &Notification, firing: usize, resolved: usize) -> String {
    let name = if n.group_labels.is_empty() {
        n.alerts
            .first()
            .map_or_else(|| "alerts".to_string(), |a| alert_name(a).to_string())
    } else {
        n.group_labels
            .values()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    };
    if firing > 0 {
        format!("[FIRING:{firing}] {name}")
    } else {
        format!("[RESOLVED:{resolved}] {name}")
    }
}

/// Appends `\n- <severity> <service>: <message>` per alert.
fn lines(text: &mut String, alerts: &[&Alert]) {
    for a in alerts.iter().take(MAX_LINES) {
        text.push_str("\n- ");
        text.push_str(a.severity.as_str());
        if let Some(s) = &a.service {
            text.push(' ');
            text.push_str(&escape(s));
        }
        text.push_str(": ");
        text.push_str(&escape(&super::truncate_chars(
            &a.message,
            MAX_MESSAGE_CHARS,
        )));
    }
    if alerts.len() > MAX_LINES {
        text.push_str(&format!("\n… and {} more", alerts.len() - MAX_LINES));
    }
}

/// Escapes what Slack's mrkdwn treats as control characters.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use blazar_config::ChannelKind;

    use super::super::testkit::{alert, notification, resolved, Receiver};
    use super::super::Sender;
    use super::*;

    fn kind(url: String) -> ChannelKind {
        ChannelKind::Slack {
            url,
            timeout: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn firing_message_lists_alerts_with_colour() {
        let rx = Receiver::start().await;
        let sender = Sender::new().unwrap();
        let n = notification(
            AlertState::Firing,
            vec![
                alert("id1", Severity::Critical, Some("api"), "CPU at 99% <high>"),
                alert("id2", Severity::Warning, None, "CPU at 85%"),
                resolved(alert("id3", Severity::Warning, Some("db"), "CPU at 40%")),
            ],
        );
        sender
            .deliver("chat", &kind(rx.url("/services/T/B/X")), &n)
            .await
            .unwrap();
        let reqs = rx.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].path, "/services/T/B/X");
        assert_eq!(reqs[0].header("content-type"), Some("application/json"));
        assert_eq!(
            reqs[0].json(),
            json!({
                "text": "[FIRING:2] HighCPU\n- critical api: CPU at 99% &lt;high&gt;\n- warning: CPU at 85%\nResolved:\n- warning db: CPU at 40%",
                "attachments": [{
                    "color": "#d00000",
                    "fallback": "[FIRING:2] HighCPU",
                    "fields": [
                        {"title": "Group", "value": "alertname=HighCPU", "short": true},
                        {"title": "Severity", "value": "critical", "short": true},
                    ],
                    "footer": "blazar",
                }],
            })
        );
    }

    #[test]
    fn resolved_message_is_green() {
        let n = notification(
            AlertState::Resolved,
            vec![resolved(alert(
                "id1",
                Severity::Critical,
                Some("api"),
                "CPU at 20%",
            ))],
        );
        let b = body(&n);
        assert_eq!(
            b["text"],
            "[RESOLVED:1] HighCPU\n- critical api: CPU at 20%"
        );
        assert_eq!(b["attachments"][0]["color"], "#2eb886");
    }

    #[tokio::test]
    async fn slack_refusal_is_permanent() {
        let rx = Receiver::start().await;
        rx.reply(404, "channel_not_found");
        let sender = Sender::new().unwrap();
        let n = notification(AlertState::Firing, vec![]);
        let err = sender
            .deliver("chat", &kind(rx.url("/x")), &n)
            .await
            .unwrap_err();
        let DeliveryError::Permanent(m) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            m,
            "slack channel \"chat\": receiver answered 404 Not Found: channel_not_found"
        );
    }
}
