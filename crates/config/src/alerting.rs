//! Alerting config: seed 001's `alert_rules` and `notification_channels` (flat, or under
//! `alerting:`), typed and checked: selectors parse, conditions and severities are known,
//! channels exist and carry what their kind needs.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::raw::{RawAlertRule, RawChannel, RawConfig};
use crate::selector::{self, Selector};
use crate::{ConfigError, HumanDuration, PatternSeverity};

/// How serious an alert is.
pub type Severity = PatternSeverity;

/// Alert rule evaluation and notification.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingConfig {
    pub enabled: bool,
    /// How often every rule is evaluated over the latest values (besides evaluation as samples
    /// arrive): covers `duration`, absence and resolution.
    pub evaluation_interval: Duration,
    /// Labels whose values form a notification group; empty groups by rule.
    pub group_by: Vec<String>,
    /// How long a new group waits for more alerts before its first notification.
    pub group_wait: Duration,
    /// How long a group waits before notifying about changes (new or resolved alerts).
    pub group_interval: Duration,
    /// How long before a still-firing, unchanged group is notified again.
    pub repeat_interval: Duration,
    /// Built-in rules over `service.health.status` (seed 001's health monitor alerts).
    pub health_alerts: bool,
    /// Built-in rules over `trace_issues_total` (trace analysis findings).
    pub trace_alerts: bool,
    pub rules: Vec<AlertRule>,
    pub channels: Vec<Channel>,
    /// Routing by labels for rules that name no channels; the first match wins.
    pub routes: Vec<Route>,
    /// A firing critical alert mutes warning and info alerts with equal values of these labels
    /// (empty: no such muting).
    pub inhibit_equal: Vec<String>,
    /// Fold alerts of services affected by a down dependency under the dependency's alert.
    pub inhibit_dependencies: bool,
}

/// One route.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Label equalities an alert must have.
    pub matches: Vec<(String, String)>,
    pub channels: Vec<String>,
    pub group_by: Option<Vec<String>>,
    pub group_wait: Option<Duration>,
    pub group_interval: Option<Duration>,
    pub repeat_interval: Option<Duration>,
    /// In order of `after`.
    pub escalation: Vec<EscalationStep>,
}

impl Route {
    /// Whether an alert with `labels` takes this route.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
    }
}

/// One escalation step.
#[derive(Debug, Clone, PartialEq)]
pub struct EscalationStep {
    pub after: Duration,
    pub channels: Vec<String>,
}

/// How a rule compares the latest value with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    Gt,
    Lt,
    Eq,
    Ne,
    /// No series matches, or none has a sample within `duration` (at least the evaluation
    /// interval).
    Absent,
    /// The value rose by more than `threshold` since the series' previous sample (a counter
    /// that counted something new).
    Increase,
}

impl Condition {
    /// Returns the wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gt => "gt",
            Self::Lt => "lt",
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Absent => "absent",
            Self::Increase => "increase",
        }
    }

    /// Whether `value` meets the condition against `threshold` (never for `Absent` and
    /// `Increase`, which need more than one value).
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Gt => value > threshold,
            Self::Lt => value < threshold,
            Self::Eq => value == threshold,
            Self::Ne => value != threshold,
            Self::Absent | Self::Increase => false,
        }
    }
}

/// One alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The metric as written (`service.health.status{criticality="critical"}`).
    pub metric: String,
    pub selector: Selector,
    pub condition: Condition,
    pub threshold: f64,
    /// How long the condition must hold before the alert fires (pending until then).
    pub duration: Duration,
    /// How long a firing alert keeps firing after the condition stops holding.
    pub keep_firing_for: Duration,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    /// Templates over `{{ $labels.NAME }}` and `{{ $value }}`.
    pub annotations: BTreeMap<String, String>,
    /// Channel names; empty means `log`.
    pub channels: Vec<String>,
}

/// A notification channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
}

/// Where and how a channel delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// A structured log line per notification, at or above `min_severity`.
    Log { min_severity: Severity },
    /// Seed 001's webhook JSON, signed with HMAC-SHA256 when `secret` is set.
    Webhook {
        url: String,
        secret: Option<String>,
        timeout: Duration,
        headers: Vec<(String, String)>,
    },
    /// A Slack incoming webhook message.
    Slack { url: String, timeout: Duration },
    /// PagerDuty Events API v2 (trigger and resolve, dedup key per alert).
    PagerDuty {
        routing_key: String,
        url: String,
        timeout: Duration,
    },
    /// An Alertmanager's API v2 (`POST {url}/api/v2/alerts`).
    Alertmanager { url: String, timeout: Duration },
    /// A remediation command (seed 000's self-healing).
    Exec {
        command: Vec<String>,
        timeout: Duration,
        cooldown: Duration,
        max_attempts: u32,
    },
}

impl ChannelKind {
    /// Returns the kind's name as configured.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Log { .. } => "log",
            Self::Webhook { .. } => "webhook",
            Self::Slack { .. } => "slack",
            Self::PagerDuty { .. } => "pagerduty",
            Self::Alertmanager { .. } => "alertmanager",
            Self::Exec { .. } => "exec",
        }
    }
}

pub(crate) fn alerting(raw: &RawConfig) -> Result<AlertingConfig, ConfigError> {
    let a = &raw.alerting;
    if a.enabled.is_some() && raw.alerting_enabled.is_some() {
        return Err(ConfigError::invalid(
            "alerting_enabled",
            "set both as alerting_enabled and as alerting.enabled; keep one",
        ));
    }
    if a.rules.is_some() && raw.alert_rules.is_some() {
        return Err(ConfigError::invalid(
            "alert_rules",
            "set both as alert_rules and as alerting.rules; keep one",
        ));
    }
    if a.channels.is_some() && raw.notification_channels.is_some() {
        return Err(ConfigError::invalid(
            "notification_channels",
            "set both as notification_channels and as alerting.channels; keep one",
        ));
    }
    let (channel_key, raw_channels) = match &a.channels {
        Some(c) => ("alerting.channels", c.as_slice()),
        None => (
            "notification_channels",
            raw.notification_channels.as_deref().unwrap_or_default(),
        ),
    };
    let mut channels = Vec::new();
    for (i, c) in raw_channels.iter().enumerate() {
        let ch = channel(c, &format!("{channel_key}[{i}]"))?;
        if channels.iter().any(|o: &Channel| o.name == ch.name) {
            return Err(ConfigError::invalid(
                &format!("{channel_key}[{i}].name"),
                format!("channel {:?} is defined twice", ch.name),
            ));
        }
        channels.push(ch);
    }
    // Seed 001's `alert_webhook_url` is a webhook channel named `webhook`; `log` always exists.
    if let Some(url) = &raw.alert_webhook_url {
        if !channels.iter().any(|c| c.name == "webhook") {
            check_url("alert_webhook_url", url)?;
            channels.push(Channel {
                name: "webhook".into(),
                kind: ChannelKind::Webhook {
                    url: url.clone(),
                    secret: None,
                    timeout: Duration::from_secs(10),
                    headers: Vec::new(),
                },
            });
        }
    }
    if !channels.iter().any(|c| c.name == "log") {
        channels.push(Channel {
            name: "log".into(),
            kind: ChannelKind::Log {
                min_severity: Severity::Info,
            },
        });
    }
    let (rule_key, raw_rules) = match &a.rules {
        Some(r) => ("alerting.rules", r.as_slice()),
        None => (
            "alert_rules",
            raw.alert_rules.as_deref().unwrap_or_default(),
        ),
    };
    let mut rules: Vec<AlertRule> = Vec::new();
    for (i, r) in raw_rules.iter().enumerate() {
        let key = format!("{rule_key}[{i}]");
        let rule = rule(r, &key, &channels)?;
        if rules.iter().any(|o| o.id == rule.id) {
            return Err(ConfigError::invalid(
                &format!("{key}.id"),
                format!("rule {:?} is defined twice", rule.id),
            ));
        }
        rules.push(rule);
    }
    let known = |key: &str, names: &[String]| -> Result<(), ConfigError> {
        for c in names {
            if !channels.iter().any(|ch| &ch.name == c) {
                let defined: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
                return Err(ConfigError::invalid(
                    key,
                    format!("unknown channel {c:?} (defined: {})", defined.join(", ")),
                ));
            }
        }
        Ok(())
    };
    let mut routes = Vec::new();
    for (i, r) in a.routes.as_deref().unwrap_or_default().iter().enumerate() {
        let key = format!("alerting.routes[{i}]");
        if r.channels.is_empty() {
            return Err(ConfigError::invalid(
                &format!("{key}.channels"),
                "a route needs at least one channel",
            ));
        }
        known(&format!("{key}.channels"), &r.channels)?;
        let mut escalation = Vec::new();
        for (j, e) in r.escalation.iter().enumerate() {
            let ek = format!("{key}.escalation[{j}]");
            let after = e.after.ok_or_else(|| {
                ConfigError::invalid(
                    &format!("{ek}.after"),
                    "an escalation step needs `after`, e.g. 5m",
                )
            })?;
            if e.channels.is_empty() {
                return Err(ConfigError::invalid(
                    &format!("{ek}.channels"),
                    "an escalation step needs at least one channel",
                ));
            }
            known(&format!("{ek}.channels"), &e.channels)?;
            escalation.push(EscalationStep {
                after: after.0,
                channels: e.channels.clone(),
            });
        }
        escalation.sort_by_key(|s| s.after);
        routes.push(Route {
            matches: r
                .matches
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            channels: r.channels.clone(),
            group_by: r.group_by.clone(),
            group_wait: r.group_wait.map(|d| d.0),
            group_interval: r.group_interval.map(|d| d.0),
            repeat_interval: r.repeat_interval.map(|d| d.0),
            escalation,
        });
    }
    let inhibit = a.inhibit.clone().unwrap_or_default();
    let group_by = a
        .group_by
        .clone()
        .unwrap_or_else(|| vec!["alertname".into()]);
    let dur = |v: Option<HumanDuration>, d: Duration| v.map_or(d, |x| x.0);
    let config = AlertingConfig {
        enabled: a.enabled.or(raw.alerting_enabled).unwrap_or(true),
        evaluation_interval: dur(a.evaluation_interval, Duration::from_secs(1)),
        group_by,
        // A real-time default: a second to gather an outage's alerts into one message.
        group_wait: dur(a.group_wait, Duration::from_secs(1)),
        group_interval: dur(a.group_interval, Duration::from_secs(30)),
        repeat_interval: dur(a.repeat_interval, Duration::from_secs(4 * 3600)),
        health_alerts: a.health_alerts.unwrap_or(true),
        trace_alerts: a.trace_alerts.unwrap_or(true),
        rules,
        channels,
        routes,
        inhibit_equal: inhibit.equal.unwrap_or_else(|| vec!["service".into()]),
        inhibit_dependencies: inhibit.dependencies.unwrap_or(true),
    };
    if config.evaluation_interval < Duration::from_millis(100) {
        return Err(ConfigError::invalid(
            "alerting.evaluation_interval",
            "expected at least 100ms",
        ));
    }
    if config.repeat_interval < Duration::from_secs(1) {
        return Err(ConfigError::invalid(
            "alerting.repeat_interval",
            "expected at least 1s",
        ));
    }
    Ok(config)
}

fn rule(r: &RawAlertRule, key: &str, channels: &[Channel]) -> Result<AlertRule, ConfigError> {
    let k = |f: &str| format!("{key}.{f}");
    if r.id.trim().is_empty() {
        return Err(ConfigError::invalid(&k("id"), "must not be empty"));
    }
    let selector = selector::parse(&r.metric).map_err(|e| ConfigError::invalid(&k("metric"), e))?;
    let condition = match r.condition.as_str() {
        "gt" => Condition::Gt,
        "lt" => Condition::Lt,
        "eq" => Condition::Eq,
        "ne" => Condition::Ne,
        "absent" => Condition::Absent,
        "increase" => Condition::Increase,
        other => {
            return Err(ConfigError::invalid(
                &k("condition"),
                format!("expected one of gt, lt, eq, ne, absent, increase, got {other:?}"),
            ))
        }
    };
    if !r.threshold.is_finite() {
        return Err(ConfigError::invalid(
            &k("threshold"),
            "expected a finite number",
        ));
    }
    let severity = Severity::parse(&r.severity).ok_or_else(|| {
        ConfigError::invalid(
            &k("severity"),
            format!(
                "expected one of info, warning, critical, got {:?}",
                r.severity
            ),
        )
    })?;
    for c in &r.notification_channels {
        if !channels.iter().any(|ch| &ch.name == c) {
            let known: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
            return Err(ConfigError::invalid(
                &k("notification_channels"),
                format!("unknown channel {c:?} (defined: {})", known.join(", ")),
            ));
        }
    }
    for (name, _) in r.labels.iter().chain(&r.annotations) {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ConfigError::invalid(
                &k("labels"),
                format!("label and annotation names are letters, digits and '_', got {name:?}"),
            ));
        }
    }
    Ok(AlertRule {
        id: r.id.trim().to_string(),
        name: if r.name.is_empty() {
            r.id.clone()
        } else {
            r.name.clone()
        },
        description: r.description.clone(),
        metric: r.metric.clone(),
        selector,
        condition,
        threshold: r.threshold,
        duration: r.duration.map_or(Duration::ZERO, |d| d.0),
        keep_firing_for: r.keep_firing_for.map_or(Duration::ZERO, |d| d.0),
        severity,
        labels: r.labels.clone(),
        annotations: r.annotations.clone(),
        channels: r.notification_channels.clone(),
    })
}

fn check_url(key: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            format!("expected an http:// or https:// URL, got {url:?}"),
        ))
    }
}

fn channel(c: &RawChannel, key: &str) -> Result<Channel, ConfigError> {
    if c.name.trim().is_empty() {
        return Err(ConfigError::invalid(
            &format!("{key}.name"),
            "must not be empty",
        ));
    }
    let field = |f: &str| format!("{key}.config.{f}");
    let text = |f: &str| -> Result<Option<String>, ConfigError> {
        match c.config.get(f) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(ConfigError::invalid(
                &field(f),
                format!("expected a string, got {other}"),
            )),
        }
    };
    let required = |f: &str| -> Result<String, ConfigError> {
        text(f)?.filter(|s| !s.is_empty()).ok_or_else(|| {
            ConfigError::invalid(&field(f), format!("a {} channel needs {f}", c.kind))
        })
    };
    let duration = |f: &str, default: Duration| -> Result<Duration, ConfigError> {
        match c.config.get(f) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(serde_json::Value::String(s)) => HumanDuration::parse(s)
                .map(|d| d.0)
                .map_err(|e| ConfigError::invalid(&field(f), e)),
            Some(serde_json::Value::Number(n)) => n
                .as_f64()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| ConfigError::invalid(&field(f), "expected a duration")),
            Some(other) => Err(ConfigError::invalid(
                &field(f),
                format!("expected a duration such as 10s, got {other}"),
            )),
        }
    };
    let url = |f: &str| -> Result<String, ConfigError> {
        let u = required(f)?;
        check_url(&field(f), &u)?;
        Ok(u)
    };
    let known = |allowed: &[&str]| -> Result<(), ConfigError> {
        match c.config.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ConfigError::invalid(
                &field(k),
                format!(
                    "unknown key for a {} channel (expected {})",
                    c.kind,
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    };
    let timeout = || duration("timeout", Duration::from_secs(10));
    let kind = match c.kind.as_str() {
        "log" => {
            known(&["min_severity"])?;
            let min_severity = match text("min_severity")? {
                None => Severity::Info,
                Some(s) => Severity::parse(&s).ok_or_else(|| {
                    ConfigError::invalid(
                        &field("min_severity"),
                        format!("expected one of info, warning, critical, got {s:?}"),
                    )
                })?,
            };
            ChannelKind::Log { min_severity }
        }
        "webhook" => {
            known(&["url", "secret", "timeout", "headers"])?;
            let headers = match c.config.get("headers") {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(serde_json::Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
                        _ => Err(ConfigError::invalid(
                            &field(&format!("headers.{k}")),
                            "expected a string",
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(ConfigError::invalid(
                        &field("headers"),
                        "expected a map of header names to values",
                    ))
                }
            };
            ChannelKind::Webhook {
                url: url("url")?,
                secret: text("secret")?,
                timeout: timeout()?,
                headers,
            }
        }
        "slack" => {
            known(&["url", "webhook_url", "timeout"])?;
            let u = match text("webhook_url")? {
                Some(u) => {
                    check_url(&field("webhook_url"), &u)?;
                    u
                }
                None => url("url")?,
            };
            ChannelKind::Slack {
                url: u,
                timeout: timeout()?,
            }
        }
        "pagerduty" => {
            known(&["routing_key", "url", "timeout"])?;
            let u = match text("url")? {
                Some(u) => {
                    check_url(&field("url"), &u)?;
                    u
                }
                None => "https://events.pagerduty.com/v2/enqueue".to_string(),
            };
            ChannelKind::PagerDuty {
                routing_key: required("routing_key")?,
                url: u,
                timeout: timeout()?,
            }
        }
        "alertmanager" => {
            known(&["url", "timeout"])?;
            ChannelKind::Alertmanager {
                url: url("url")?.trim_end_matches('/').to_string(),
                timeout: timeout()?,
            }
        }
        "exec" => {
            known(&["command", "timeout", "cooldown", "max_attempts"])?;
            let command: Vec<String> = match c.config.get("command") {
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            if command.first().is_none_or(String::is_empty) {
                return Err(ConfigError::invalid(
                    &field("command"),
                    "an exec channel needs a command list, e.g. [\"systemctl\", \"restart\", \"api\"]",
                ));
            }
            let max_attempts = match c.config.get("max_attempts") {
                None => 3,
                Some(v) => v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        ConfigError::invalid(&field("max_attempts"), "expected a positive integer")
                    })?,
            };
            ChannelKind::Exec {
                command,
                timeout: duration("timeout", Duration::from_secs(30))?,
                cooldown: duration("cooldown", Duration::from_secs(300))?,
                max_attempts,
            }
        }
        other => {
            return Err(ConfigError::invalid(
                &format!("{key}.type"),
                format!(
                "expected one of log, webhook, slack, pagerduty, alertmanager, exec, got {other:?}"
            ),
            ))
        }
    };
    Ok(Channel {
        name: c.name.trim().to_string(),
        kind,
    })
}
