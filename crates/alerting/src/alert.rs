//! Alerts as the engine keeps them and as notifications carry them.

use std::collections::BTreeMap;

use blazar_config::Severity;
use serde::{Deserialize, Serialize};

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition holds, not yet for the rule's `duration`.
    Pending,
    Firing,
    Resolved,
}

impl AlertState {
    /// Returns the wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// One alert instance: a rule over one series (or, for `absent`, over none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable fingerprint of the rule id and the labels (16 hex digits).
    pub id: String,
    pub rule_id: String,
    /// Seed 001's alert type: `service_health`, `resource`, `p2p_network`, `performance`
    /// (or the rule's `type` label).
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: Severity,
    /// The `service` label (or `job`), if any.
    pub service: Option<String>,
    pub message: String,
    /// The series' labels without the metric name, plus the rule's labels, `alertname` and
    /// `severity`.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The value that last met (or, when resolved, last failed) the condition.
    pub value: f64,
    pub state: AlertState,
    /// RFC 3339 times.
    pub started_at: String,
    pub fired_at: Option<String>,
    pub last_seen: String,
    pub resolved_at: Option<String>,
    /// How many evaluations found the condition holding while the alert was active.
    pub count: u64,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    #[serde(skip)]
    pub started_ns: i64,
    #[serde(skip)]
    pub fired_ns: Option<i64>,
    #[serde(skip)]
    pub last_seen_ns: i64,
    #[serde(skip)]
    pub resolved_ns: Option<i64>,
    /// Last time the condition held (for `keep_firing_for`).
    #[serde(skip)]
    pub last_true_ns: i64,
}

/// What one notification tells a channel: a group's firing alerts and those resolved since the
/// group's last notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable per delivery: the group key, the group's sequence number and the channel; a
    /// receiver can drop repeats by it.
    pub key: String,
    /// Identifies the group (its channels and `group_by` label values).
    pub group_key: String,
    /// `firing` when any alert in it fires, else `resolved`.
    pub status: AlertState,
    /// The `group_by` labels and their values.
    pub group_labels: BTreeMap<String, String>,
    pub alerts: Vec<Alert>,
    /// RFC 3339.
    pub timestamp: String,
}

impl Notification {
    /// Returns the firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.state == AlertState::Firing)
    }

    /// Returns the resolved alerts.
    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .iter()
            .filter(|a| a.state == AlertState::Resolved)
    }

    /// Returns the most severe alert's severity.
    pub fn severity(&self) -> Severity {
        self.alerts
            .iter()
            .map(|a| a.severity)
            .max()
            .unwrap_or(Severity::Info)
    }
}
