//! The serde form of the config file: sections, plus the seeds' flat keys accepted as written.
//! Every struct rejects unknown keys so a typo is an error with its line, not a silent default.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{ByteSize, HumanDuration};

/// The whole file as written. Every field is optional; `Config::try_from` fills defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub server: RawServer,
    pub otlp: RawOtlp,
    pub storage: RawStorage,
    pub limits: RawLimits,
    pub events: RawEvents,
    pub stream: RawStream,
    pub tracing: RawTracing,
    pub host: RawHost,
    pub health: RawHealth,
    pub alerting: RawAlerting,

    // Seed 001 `TelemetryConfig`, flat.
    pub health_check_interval: Option<HumanDuration>,
    pub metrics_interval: Option<HumanDuration>,
    pub trace_sample_rate: Option<f64>,
    pub enable_realtime_stream: Option<bool>,
    pub stream_buffer_size: Option<usize>,
    pub alerting_enabled: Option<bool>,
    pub alert_webhook_url: Option<String>,
    // Seed 001 `HealthConfig`, flat.
    pub check_interval: Option<HumanDuration>,
    pub healthy_threshold: Option<HumanDuration>,
    pub unhealthy_timeout: Option<HumanDuration>,
    pub services: Option<BTreeMap<String, RawService>>,
    // Seed 001 alerting.
    pub alert_rules: Option<Vec<RawAlertRule>>,
    pub notification_channels: Option<Vec<RawChannel>>,
    // Seed 002 event collector, flat.
    pub enabled: Option<bool>,
    pub buffer_size: Option<usize>,
    pub batch_size: Option<usize>,
    pub source_id: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub sampling_rate: Option<f64>,
    // Seed 001 `TracingConfig`, flat.
    pub sample_rate: Option<f64>,
    pub max_trace_length: Option<usize>,
    pub trace_retention: Option<HumanDuration>,
    pub enable_p2p_tracing: Option<bool>,
}

/// `server:` — the main HTTP listener and request limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: Option<String>,
    pub max_body_bytes: Option<ByteSize>,
    pub max_batch_items: Option<usize>,
    pub max_inflight_writes: Option<usize>,
}

/// `otlp:` — OTLP listeners.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOtlp {
    pub enabled: Option<bool>,
    pub grpc_listen: Option<String>,
    pub http_listen: Option<String>,
}

/// `storage:` — WAL and in-memory budgets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStorage {
    pub data_dir: Option<String>,
    pub fsync: Option<String>,
    pub fsync_interval: Option<HumanDuration>,
    pub segment_bytes: Option<ByteSize>,
    pub checkpoint_interval: Option<HumanDuration>,
    pub metrics: RawRetention,
    pub traces: RawRetention,
    pub logs: RawRetention,
    pub events: RawRetention,
}

/// A store's retention: age and byte budget.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetention {
    pub retention: Option<HumanDuration>,
    pub max_bytes: Option<ByteSize>,
}

/// `limits:` — per-series validation limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    pub max_name_len: Option<usize>,
    pub max_labels: Option<usize>,
    pub max_label_name_len: Option<usize>,
    pub max_label_value_len: Option<usize>,
    pub max_series: Option<usize>,
}

/// `events:` — seed 002's collector settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEvents {
    pub enabled: Option<bool>,
    pub buffer_size: Option<usize>,
    pub batch_size: Option<usize>,
    pub source_id: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub sampling_rate: Option<f64>,
}

/// `stream:` — the live stream's bus and per-subscriber bounds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStream {
    pub enabled: Option<bool>,
    pub buffer_size: Option<usize>,
    pub max_lag_events: Option<usize>,
    pub send_timeout: Option<HumanDuration>,
}

/// `tracing:` — trace sampling and completion.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTracing {
    pub sample_rate: Option<f64>,
    pub max_trace_length: Option<usize>,
    pub enable_p2p_tracing: Option<bool>,
    pub completion_quiet: Option<HumanDuration>,
    pub keep_errors: Option<bool>,
    pub keep_slower_than: Option<HumanDuration>,
    /// Whether seed 001's three built-in trace patterns run (default true).
    pub default_patterns: Option<bool>,
    /// More trace patterns for analysis.
    pub patterns: Option<Vec<RawTracePattern>>,
}

/// `tracing.patterns[i]`: a performance pattern a completed trace is checked against; every
/// condition given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTracePattern {
    pub name: String,
    pub description: Option<String>,
    pub severity: Option<String>,
    pub min_duration: Option<HumanDuration>,
    pub span_name: Option<String>,
    pub span_min_duration: Option<HumanDuration>,
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub min_error_spans: Option<usize>,
    pub min_spans: Option<usize>,
    pub service: Option<String>,
}

/// `host:` — host resource collection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHost {
    pub enabled: Option<bool>,
    pub metrics_interval: Option<HumanDuration>,
}

/// `health:` — the service health monitor. Seed 001's flat `check_interval`,
/// `healthy_threshold`, `unhealthy_timeout` and `services` mean the same as these.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHealth {
    pub enabled: Option<bool>,
    pub check_interval: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
    pub healthy_threshold: Option<HumanDuration>,
    pub unhealthy_timeout: Option<HumanDuration>,
    pub success_threshold: Option<u32>,
    pub failure_threshold: Option<u32>,
    pub max_concurrent_checks: Option<usize>,
    pub history: Option<usize>,
    pub services: Option<BTreeMap<String, RawService>>,
}

/// Seed 001's `ServiceConfig`, plus what operators expect of a health check.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawService {
    #[serde(alias = "endpoint")]
    pub health_endpoint: Option<String>,
    pub check: Option<String>,
    pub dependencies: Vec<String>,
    pub criticality_level: Option<String>,
    pub timeout: Option<HumanDuration>,
    pub interval: Option<HumanDuration>,
    pub method: Option<String>,
    pub expected_status: Option<Vec<u16>>,
    pub headers: BTreeMap<String, String>,
    pub tls_verify: Option<bool>,
    pub command: Option<Vec<String>>,
    pub grpc_service: Option<String>,
    pub success_threshold: Option<u32>,
    pub failure_threshold: Option<u32>,
    pub process: Option<String>,
    pub pid_file: Option<String>,
    pub metrics: Vec<RawMetricCheck>,
    pub p2p: Option<RawP2p>,
}

/// A health check backed by a metric's latest value.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMetricCheck {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub degraded_below: Option<f64>,
    pub unhealthy_below: Option<f64>,
    pub degraded_above: Option<f64>,
    pub unhealthy_above: Option<f64>,
    pub max_age: Option<HumanDuration>,
}

/// Seed 001's `P2PHealthConfig`: peer checks over the metrics a P2P service pushes.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawP2p {
    pub min_connections: Option<f64>,
    pub max_latency_threshold: Option<HumanDuration>,
    pub connectivity_test_interval: Option<HumanDuration>,
    pub connections_metric: Option<String>,
    pub latency_metric: Option<String>,
}

/// `alerting:` — rule evaluation and notification defaults (Alertmanager's words).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAlerting {
    pub enabled: Option<bool>,
    pub evaluation_interval: Option<HumanDuration>,
    pub group_by: Option<Vec<String>>,
    pub group_wait: Option<HumanDuration>,
    pub group_interval: Option<HumanDuration>,
    pub repeat_interval: Option<HumanDuration>,
    pub health_alerts: Option<bool>,
    pub trace_alerts: Option<bool>,
    pub rules: Option<Vec<RawAlertRule>>,
    pub channels: Option<Vec<RawChannel>>,
    pub routes: Option<Vec<RawRoute>>,
    pub inhibit: Option<RawInhibit>,
}

/// `alerting.routes[i]`: alerts whose labels match go to these channels, grouped and escalated
/// as given (the first matching route wins).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRoute {
    #[serde(rename = "match")]
    pub matches: BTreeMap<String, String>,
    pub channels: Vec<String>,
    pub group_by: Option<Vec<String>>,
    pub group_wait: Option<HumanDuration>,
    pub group_interval: Option<HumanDuration>,
    pub repeat_interval: Option<HumanDuration>,
    pub escalation: Vec<RawEscalation>,
}

/// One escalation step: if a firing alert is not acknowledged `after` it fired, notify
/// `channels`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEscalation {
    pub after: Option<HumanDuration>,
    pub channels: Vec<String>,
}

/// `alerting.inhibit`: which alerts mute which.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawInhibit {
    /// A firing critical alert mutes warning and info alerts with equal values of these labels.
    pub equal: Option<Vec<String>>,
    /// An alert of a service whose dependency is the root of its trouble is folded under the
    /// dependency's alert.
    pub dependencies: Option<bool>,
}

/// Seed 001's `AlertRule`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAlertRule {
    pub id: String,
    pub name: String,
    pub description: String,
    pub metric: String,
    pub condition: String,
    pub threshold: f64,
    pub duration: Option<HumanDuration>,
    pub keep_firing_for: Option<HumanDuration>,
    pub severity: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub notification_channels: Vec<String>,
}

/// Seed 001's notification channel.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawChannel {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub config: BTreeMap<String, serde_json::Value>,
}
