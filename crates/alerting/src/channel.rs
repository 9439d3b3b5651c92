//! Notification channels: each turns a [`Notification`] into its receiver's format and
//! delivers it once (retries are the caller's, driven by [`DeliveryError`]).
//!
//! | kind           | sends                                                                  |
//! |----------------|------------------------------------------------------------------------|
//! | `log`          | one `tracing` event (warn when firing, info when resolved)             |
//! | `webhook`      | seed 001's alert JSON plus the group's alerts, optionally HMAC-signed  |
//! | `slack`        | an incoming-webhook message: `text` plus a coloured attachment         |
//! | `pagerduty`    | one Events API v2 event per alert (trigger/resolve, dedup key = id)    |
//! | `alertmanager` | `POST {url}/api/v2/alerts` with every alert of the notification        |
//! | `exec`         | a remediation command per firing alert, with cooldown and max attempts |
//!
//! HTTP channels share one classification: 2xx delivered; 408, 429, 5xx, network errors and
//! timeouts are [`DeliveryError::Retryable`]; any other status (including 3xx: redirects are not
//! followed, so a signed body never goes to a host that was not configured) is
//! [`DeliveryError::Permanent`], its message naming the status and the first 200 bytes of the
//! answer. Error messages never contain the URL (Slack's carries its secret) or a routing key.

mod alertmanager;
mod exec;
mod log;
mod pagerduty;
mod slack;
mod transport;
mod webhook;

#[cfg(test)]
mod testkit;

use std::sync::Arc;

use blazar_config::ChannelKind;
use parking_lot::Mutex;

use crate::alert::Notification;

pub use exec::{RemediationOutcome, RemediationStatus};
pub use webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A network error, timeout, 5xx or 429: worth retrying.
    #[error("{0}")]
    Retryable(String),
    /// A 4xx other than 408/429, or a payload the receiver refuses: retrying cannot help.
    #[error("{0}")]
    Permanent(String),
}

/// Sends notifications; holds what channels share: the HTTP client and the remediation
/// (`exec`) records. Clones share both.
#[derive(Debug, Clone)]
pub struct Sender {
    http: reqwest::Client,
    remediations: Arc<Mutex<exec::Remediations>>,
}

impl Sender {
    /// Builds a sender.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new() -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder()
                .user_agent(concat!("blazar/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            remediations: Arc::default(),
        })
    }

    /// Delivers `n` through channel `name` of `kind` once. A notification without alerts is
    /// delivered trivially (nothing is sent).
    pub async fn deliver(
        &self,
        name: &str,
        kind: &ChannelKind,
        n: &Notification,
    ) -> Result<(), DeliveryError> {
        if n.alerts.is_empty() {
            return Ok(());
        }
        match kind {
            ChannelKind::Log { min_severity } => {
                log::deliver(name, *min_severity, n);
                Ok(())
            }
            ChannelKind::Webhook {
                url,
                secret,
                timeout,
                headers,
            } => {
                let target = webhook::Target {
                    url,
                    secret: secret.as_deref(),
                    timeout: *timeout,
                    headers,
                };
                webhook::deliver(&self.http, name, &target, n).await
            }
            ChannelKind::Slack { url, timeout } => {
                slack::deliver(&self.http, name, url, *timeout, n).await
            }
            ChannelKind::PagerDuty {
                routing_key,
                url,
                timeout,
            } => pagerduty::deliver(&self.http, name, routing_key, url, *timeout, n).await,
            ChannelKind::Alertmanager { url, timeout } => {
                alertmanager::deliver(&self.http, name, url, *timeout, n).await
            }
            ChannelKind::Exec {
                command,
                timeout,
                cooldown,
                max_attempts,
            } => {
                let limits = exec::Limits {
                    timeout: *timeout,
                    cooldown: *cooldown,
                    max_attempts: *max_attempts,
                };
                exec::deliver(&self.remediations, name, command, limits, n).await
            }
        }
    }

    /// Returns what every `exec` channel last did for every alert it ran for (at most 10 000
    /// records, the oldest run forgotten first), sorted by alert id then channel.
    pub fn remediation_outcomes(&self) -> Vec<RemediationOutcome> {
        self.remediations.lock().outcomes(None)
    }

    /// Returns the remediation records of one alert (one per `exec` channel that ran for it).
    pub fn remediation_outcomes_for(&self, alert_id: &str) -> Vec<RemediationOutcome> {
        self.remediations.lock().outcomes(Some(alert_id))
    }
}

/// Returns `a`'s name: its `alertname` label, else its rule id.
fn alert_name(a: &crate::alert::Alert) -> &str {
    a.labels
        .get("alertname")
        .map_or(a.rule_id.as_str(), String::as_str)
}

/// Renders labels as `a=1, b=2`.
fn render_labels(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Returns `s` cut to at most `max` characters, ending in `…` when cut.
fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Returns the current time as nanoseconds since the Unix epoch.
fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_chars_keeps_the_limit_in_characters() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        let long = "é".repeat(2000);
        let cut = truncate_chars(&long, 1024);
        assert_eq!(cut.chars().count(), 1024);
        assert!(cut.ends_with('…'));
    }

    #[tokio::test]
    async fn empty_notification_is_delivered_without_sending() {
        let sender = Sender::new().unwrap();
        let mut n = testkit::notification(crate::AlertState::Firing, vec![]);
        n.alerts.clear();
        // Nothing listens on port 9: a send would fail.
        let kind = ChannelKind::Slack {
            url: "http://127.0.0.1:9/x".into(),
            timeout: std::time::Duration::from_secs(1),
        };
        sender.deliver("s", &kind, &n).await.unwrap();
    }
}
