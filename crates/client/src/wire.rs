//! A lenient view of the JSON the native API returns: missing fields default, unknown fields are
//! ignored, so the CLI keeps working as the server adds fields.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Every wire type implements this; re-exported so callers can decode generically without
/// depending on serde themselves.
pub use serde::de::DeserializeOwned;

/// `GET /health`: blazar's own health.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct HealthReport {
    pub status: HealthStatus,
    pub checks: BTreeMap<String, HealthCheck>,
    pub timestamp: Option<String>,
}

/// One named check inside [`HealthReport`].
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct HealthCheck {
    pub status: HealthStatus,
    pub message: Option<String>,
}

/// A health status as the server spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Everything works.
    Healthy,
    /// Working, with a problem worth a look.
    Degraded,
    /// Not working; `/health` answers 503.
    Unhealthy,
    /// A status this client does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl HealthStatus {
    /// Returns the wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "unknown",
        }
    }
}

/// `GET /api/v1/telemetry/stats`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Stats {
    pub uptime_seconds: f64,
    /// Keyed by signal: `metrics`, `events`, `spans`, `logs`.
    pub signals: BTreeMap<String, SignalCounts>,
    /// Keyed by event type.
    pub event_types: BTreeMap<String, SignalCounts>,
    pub store: StoreStats,
    pub stream: StreamStats,
}

/// Ingest counters for one signal or event type.
#[derive(Debug, Clone, Copy, Deserialize, Default)]
#[serde(default)]
pub struct SignalCounts {
    pub received: u64,
    pub accepted: u64,
    pub sampled_out: u64,
    pub dropped: u64,
    pub rejected: u64,
}

/// What the stores hold.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct StoreStats {
    pub series: u64,
    pub samples: u64,
    pub metrics_bytes: u64,
    pub events: u64,
    pub events_bytes: u64,
    pub event_buffer_size: u64,
    pub traces: u64,
    pub spans: u64,
    pub open_spans: u64,
    pub traces_bytes: u64,
    pub logs: u64,
    pub logs_bytes: u64,
    pub wal_segments: u64,
    pub wal_disk_bytes: u64,
    pub wal_healthy: bool,
    pub wal_error: Option<String>,
}

/// Live-stream figures.
#[derive(Debug, Clone, Copy, Deserialize, Default)]
#[serde(default)]
pub struct StreamStats {
    pub subscribers: u64,
}

/// `GET /api/v1/telemetry/metrics`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct MetricList {
    pub metrics: Vec<Metric>,
}

/// One metric series with its current value or distribution; also the `data` of a
/// `metric_update` stream message.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Metric {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Tag values are normally strings; other JSON values are kept as sent.
    pub tags: BTreeMap<String, Value>,
    pub value: Option<f64>,
    pub count: Option<f64>,
    pub sum: Option<f64>,
    /// Upper bound (`"0.005"`, ..., `"+Inf"`) → cumulative count.
    pub buckets: Option<BTreeMap<String, f64>>,
    /// Quantile (`"0.5"`) → value.
    pub quantiles: Option<BTreeMap<String, f64>>,
    pub last_update: Option<String>,
}

/// `GET /api/v1/telemetry/events`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct EventList {
    pub events: Vec<Event>,
    /// Pass as `after` to read the next page; `None` when there is none.
    pub next_after: Option<u64>,
}

/// One stored event; also the `data` of an `event` stream message.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Event {
    pub seq: Option<u64>,
    pub event_id: String,
    pub timestamp: String,
    pub event_type: String,
    pub source: String,
    pub data: Value,
    pub metadata: Value,
}

/// `POST /api/v1/telemetry/events`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct EmitResult {
    pub accepted: u64,
    pub event_ids: Vec<String>,
    pub sampled_out: u64,
    pub filtered: u64,
    pub disabled: u64,
}

/// `GET /api/v1/telemetry/traces`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct TraceList {
    pub traces: Vec<TraceSummary>,
}

/// One trace; also the `data` of a `trace_completed` stream message.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_service: Option<String>,
    pub root_name: Option<String>,
    pub start_time: Option<String>,
    /// `None` while the root span is still open.
    pub duration_ms: Option<f64>,
    pub span_count: u64,
    pub error_count: u64,
    pub services: Vec<String>,
    pub status: String,
    pub complete: bool,
}

/// `GET /api/v1/telemetry/traces/{trace_id}`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct TraceDetail {
    pub trace: TraceSummary,
    /// By start time.
    pub spans: Vec<SpanView>,
    /// In the order the path reaches them.
    pub critical_path: Vec<PathSpan>,
    pub bottleneck: Option<PathSpan>,
}

/// One span of a [`TraceDetail`].
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct SpanView {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub service: String,
    pub start_unix_nano: i64,
    /// `None` while the span is open.
    pub end_unix_nano: Option<i64>,
    pub duration_ms: Option<f64>,
    /// `unset`, `ok` or `error`.
    pub status: String,
    pub status_message: Option<String>,
}

/// A span on a trace's critical path (also the bottleneck).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct PathSpan {
    pub span_id: String,
    pub service: String,
    pub name: String,
    pub self_time_ms: f64,
    pub on_path_ms: f64,
}

/// `GET /api/v1/telemetry/traces/analyze`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct IssueList {
    pub issues: Vec<Issue>,
}

/// A trace that matched a performance pattern (seed 001's `PerformanceIssue`); also the `data`
/// of an `anomaly` stream message.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Issue {
    pub trace_id: String,
    pub pattern: String,
    pub description: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The trace's start.
    pub timestamp: String,
    pub duration_ms: f64,
    pub services: Vec<String>,
}

/// `GET /api/v1/telemetry/resources` (seed 001's system resource structures).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Resources {
    pub timestamp: String,
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub disks: Vec<DiskStats>,
    pub network: NetworkStats,
    pub process: ProcessStats,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct CpuStats {
    pub usage_percent: f64,
    pub load_average_1m: f64,
    pub load_average_5m: f64,
    pub load_average_15m: f64,
    pub cores: u64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct MemoryStats {
    pub usage_percent: f64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct DiskStats {
    pub mount: String,
    pub usage_percent: f64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct NetworkStats {
    pub bytes_sent_per_sec: f64,
    pub bytes_received_per_sec: f64,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub error_count: u64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ProcessStats {
    pub pid: u32,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
}

/// `GET /api/v1/telemetry/services`: the dependency graph from completed traces.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ServiceGraph {
    pub services: Vec<ServiceNode>,
    pub edges: Vec<ServiceEdge>,
}

/// One service of the graph.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ServiceNode {
    pub name: String,
    pub spans: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub calls_in: u64,
    pub calls_out: u64,
    pub last_seen: String,
}

/// Calls from one service to another (child spans of another service's spans).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ServiceEdge {
    pub caller: String,
    pub callee: String,
    pub calls: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub last_seen: String,
}

/// `GET /api/v1/telemetry/logs`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct LogList {
    pub logs: Vec<LogEntry>,
}

/// One stored log record; also the `data` of a `log` stream message.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct LogEntry {
    pub timestamp: String,
    /// `trace`, `debug`, `info`, `warn`, `error` or `fatal`.
    pub severity: String,
    pub body: String,
    pub service: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub attributes: BTreeMap<String, Value>,
}

/// One live message, the JSON `data` of each SSE message from `/api/v1/telemetry/stream`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct StreamMessage {
    /// See [`StreamKind`]; kept as sent so unknown kinds can still be shown.
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: Option<String>,
    pub data: Value,
}

impl StreamMessage {
    /// Returns the kind as an enum.
    pub fn kind(&self) -> StreamKind {
        StreamKind::parse(&self.kind)
    }
}

/// The kinds of live message the CLI treats specially.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A metric changed; `data` is a [`Metric`].
    MetricUpdate,
    /// An event was stored; `data` is an [`Event`].
    Event,
    /// A trace finished; `data` is a [`TraceSummary`].
    TraceCompleted,
    /// The server skipped messages for this subscriber; `data` is `{"skipped": n}`.
    Lagged,
    /// Any other kind (`health_update`, `alert`, `log`, `anomaly`, or a future one).
    Other,
}

impl StreamKind {
    /// Parses the wire spelling; unknown kinds are [`StreamKind::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "metric_update" => Self::MetricUpdate,
            "event" => Self::Event,
            "trace_completed" => Self::TraceCompleted,
            "lagged" => Self::Lagged,
            _ => Self::Other,
        }
    }
}

/// The `data` of a `lagged` stream message.
#[derive(Debug, Clone, Copy, Deserialize, Default)]
#[serde(default)]
pub struct Lagged {
    pub skipped: u64,
}

/// `GET /api/v1/telemetry/health`: the services the health monitor checks, and the whole.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct HealthOverview {
    /// The overall status, after criticality and dependencies.
    pub status: HealthStatus,
    pub timestamp: Option<String>,
    pub summary: HealthSummary,
    pub services: Vec<ServiceHealth>,
}

/// How many services are in each status.
#[derive(Debug, Clone, Copy, Deserialize, Default)]
#[serde(default)]
pub struct HealthSummary {
    pub healthy: u64,
    pub degraded: u64,
    pub unhealthy: u64,
    pub unknown: u64,
}

/// One monitored service; `GET /api/v1/telemetry/health/{service}` adds its `transitions`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ServiceHealth {
    pub name: String,
    pub status: HealthStatus,
    /// `critical`, `important` or `optional`.
    pub criticality: String,
    /// The check kind: `http`, `tcp`, `grpc`, `exec`, `metric` or `process`.
    pub check: String,
    /// What the check targets (URL, address, command, metric).
    pub target: String,
    /// The last passing check.
    pub last_seen: Option<String>,
    pub last_check: Option<String>,
    /// The last status transition.
    pub last_change: Option<String>,
    pub response_time_ms: Option<f64>,
    /// Consecutive failed checks.
    pub error_count: u64,
    pub checks_total: u64,
    pub failures_total: u64,
    pub message: Option<String>,
    /// Dependency name → its status.
    pub dependencies: BTreeMap<String, HealthStatus>,
    /// Unhealthy dependencies (direct or transitive) that are the root cause of this status.
    pub affected_by: Vec<String>,
    pub process: Option<WatchedProcess>,
    /// Status changes, oldest first; only in the one-service answer.
    pub transitions: Vec<HealthTransition>,
}

/// The process a service watches.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct WatchedProcess {
    /// `None` when no process was found.
    pub pid: Option<u32>,
    pub alive: bool,
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub message: Option<String>,
}

/// One status change of a service.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct HealthTransition {
    pub from: HealthStatus,
    pub to: HealthStatus,
    pub at: String,
    pub message: Option<String>,
}

/// `GET /api/v1/telemetry/alerts`: alerts, newest first.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct AlertList {
    pub alerts: Vec<Alert>,
}

/// One alert instance: a rule over one series. `GET /api/v1/telemetry/alerts/{id}` and
/// `POST .../{id}/ack` answer one.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Alert {
    /// Stable fingerprint of the rule id and the series labels (16 hex digits).
    pub id: String,
    pub rule_id: String,
    /// `service_health`, `resource`, `p2p_network`, `performance`, or the rule's `type` label.
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: AlertSeverity,
    pub service: Option<String>,
    pub message: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The value that last met (or, when resolved, last failed) the condition.
    pub value: Option<f64>,
    pub state: AlertState,
    /// RFC 3339 times.
    pub started_at: String,
    pub fired_at: Option<String>,
    pub last_seen: Option<String>,
    pub resolved_at: Option<String>,
    /// Evaluations that found the condition holding while the alert was active.
    pub count: u64,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
}

/// Where an alert (or a rule, through its alerts) is, as the server spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// A rule without active alerts, or a pending alert that stopped holding (stream only).
    Inactive,
    /// The condition holds, not yet for the rule's `duration`.
    Pending,
    Firing,
    Resolved,
    /// A state this client does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl AlertState {
    /// Returns the wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
            Self::Unknown => "unknown",
        }
    }
}

/// An alert rule's severity, as the server spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
    /// A severity this client does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl AlertSeverity {
    /// Returns the wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
            Self::Unknown => "unknown",
        }
    }
}

/// `GET /api/v1/telemetry/rules`: every alert rule, configured and built-in.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct RuleList {
    pub rules: Vec<Rule>,
}

/// One alert rule: its config, its state and active alerts, and how its evaluations go.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The metric as written, with its selector (`cpu.usage{host="a"}`).
    pub metric: String,
    /// `gt`, `lt`, `eq`, `ne` or `absent`.
    pub condition: String,
    pub threshold: f64,
    /// How long the condition must hold before an alert fires.
    pub duration_seconds: f64,
    pub keep_firing_for_seconds: f64,
    pub severity: AlertSeverity,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Notification channel names.
    pub channels: Vec<String>,
    /// One of the built-in health rules rather than configured.
    pub builtin: bool,
    /// `inactive`, `pending` or `firing`.
    pub state: AlertState,
    /// The rule's active (pending and firing) alerts.
    pub alerts: Vec<Alert>,
    /// RFC 3339; `None` before the first evaluation.
    pub last_evaluation: Option<String>,
    pub evaluation_time_ms: Option<f64>,
    pub evaluations: u64,
    pub last_error: Option<String>,
    /// Alerts not tracked past the per-rule limit.
    pub dropped_instances: u64,
    pub interval_seconds: Option<f64>,
}

/// `GET /api/v1/telemetry/silences`: every silence (expired ones for a day), newest first.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct SilenceList {
    pub silences: Vec<Silence>,
}

/// One silence: the alerts its matchers select are not notified while it is active. Also the
/// answer of `POST …/silences` and `DELETE …/silences/{id}`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<SilenceMatcher>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; when expired early, the time it was expired.
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
    pub state: SilenceState,
}

/// One label matcher of a silence: `name op "value"`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct SilenceMatcher {
    pub name: String,
    /// `=`, `!=`, `=~` or `!~` (regexes fully anchored).
    pub op: String,
    pub value: String,
}

/// Where a silence is in its life, as the server spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SilenceState {
    /// Starts later.
    Pending,
    /// Muting now.
    Active,
    /// Ended (or expired by hand).
    Expired,
    /// A state this client does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl SilenceState {
    /// Returns the wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn health_report_decodes_and_tolerates_unknown_status() {
        let r: HealthReport = serde_json::from_value(json!({
            "status": "degraded",
            "checks": {"wal": {"status": "healthy", "message": "ok"}, "x": {"status": "weird"}},
            "timestamp": "2024-01-01T00:00:00Z",
            "extra": 1
        }))
        .unwrap();
        assert_eq!(r.status, HealthStatus::Degraded);
        assert_eq!(r.checks["wal"].status, HealthStatus::Healthy);
        assert_eq!(r.checks["x"].status, HealthStatus::Unknown);
    }

    #[test]
    fn histogram_metric_decodes_buckets() {
        let m: Metric = serde_json::from_value(json!({
            "name": "req.duration", "type": "histogram", "tags": {"route": "/x", "code": 200},
            "count": 3, "sum": 1.5, "buckets": {"0.5": 1, "+Inf": 3}, "last_update": "2024-01-01T00:00:00Z"
        }))
        .unwrap();
        assert_eq!(m.kind, "histogram");
        assert_eq!(m.count, Some(3.0));
        assert_eq!(m.buckets.unwrap()["+Inf"], 3.0);
        assert_eq!(m.tags["code"], json!(200));
    }

    #[test]
    fn trace_detail_and_issues_decode() {
        let d: TraceDetail = serde_json::from_value(json!({
            "trace": {"trace_id": "ab", "span_count": 1},
            "spans": [{"span_id": "01", "name": "x", "service": "api", "start_unix_nano": 5,
                       "end_unix_nano": 9, "duration_ms": 0.000004, "status": "ok", "extra": 1}],
            "critical_path": [{"span_id": "01", "service": "api", "name": "x",
                               "self_time_ms": 1.5, "on_path_ms": 1.5}],
            "bottleneck": null
        }))
        .unwrap();
        assert_eq!(d.spans[0].end_unix_nano, Some(9));
        assert_eq!(d.critical_path[0].on_path_ms, 1.5);
        assert!(d.bottleneck.is_none());
        let i: IssueList = serde_json::from_value(json!({"issues": [{
            "trace_id": "ab", "pattern": "cascading_failures", "description": "d",
            "severity": "critical", "timestamp": "2024-01-01T00:00:00Z", "duration_ms": 2.0,
            "services": ["a", "b"]}]}))
        .unwrap();
        assert_eq!(i.issues[0].services, vec!["a", "b"]);
    }

    #[test]
    fn stream_message_kinds() {
        let m: StreamMessage =
            serde_json::from_value(json!({"type": "lagged", "data": {"skipped": 12}})).unwrap();
        assert_eq!(m.kind(), StreamKind::Lagged);
        let l: Lagged = serde_json::from_value(m.data).unwrap();
        assert_eq!(l.skipped, 12);
        assert_eq!(StreamKind::parse("anomaly"), StreamKind::Other);
    }

    #[test]
    fn service_health_decodes_with_nulls_and_unknown_fields() {
        let o: HealthOverview = serde_json::from_value(json!({
            "status": "degraded", "timestamp": "2026-12-04T18:00:00.123Z",
            "summary": {"healthy": 1, "degraded": 1, "unhealthy": 0, "unknown": 0, "new": 2},
            "services": [{"name": "api", "status": "degraded", "criticality": "critical",
                          "check": "http", "target": "http://h/health", "last_seen": null,
                          "response_time_ms": null, "error_count": 2,
                          "dependencies": {"db": "unhealthy", "q": "later"},
                          "affected_by": ["db"], "process": null, "future": true}]
        }))
        .unwrap();
        assert_eq!(o.status, HealthStatus::Degraded);
        assert_eq!(o.summary.degraded, 1);
        let s = &o.services[0];
        assert_eq!(s.dependencies["db"], HealthStatus::Unhealthy);
        assert_eq!(s.dependencies["q"], HealthStatus::Unknown);
        assert!(s.last_seen.is_none() && s.process.is_none() && s.transitions.is_empty());
        let d: ServiceHealth = serde_json::from_value(json!({
            "name": "api", "status": "healthy",
            "process": {"pid": 7, "alive": true, "cpu_percent": 1.5, "memory_bytes": 10},
            "transitions": [{"from": "unknown", "to": "healthy", "at": "2026-12-04T18:00:00Z",
                             "message": "HTTP 200"}]
        }))
        .unwrap();
        assert_eq!(d.process.unwrap().pid, Some(7));
        assert_eq!(d.transitions[0].from, HealthStatus::Unknown);
        assert_eq!(d.transitions[0].to, HealthStatus::Healthy);
    }

    #[test]
    fn alerts_and_rules_decode_with_nulls_and_unknown_fields() {
        let l: AlertList = serde_json::from_value(json!({"alerts": [{
            "id": "6c1d2a0f93e1b7a4", "rule_id": "hot_cpu", "type": "resource",
            "severity": "critical", "service": null, "message": "a at 95%",
            "labels": {"host": "a"}, "value": 96.0, "state": "firing",
            "started_at": "2026-12-04T13:00:00.100Z", "fired_at": null, "resolved_at": null,
            "acknowledged_by": null, "later": [1]}]}))
        .unwrap();
        let a = &l.alerts[0];
        assert_eq!(
            (a.state, a.severity),
            (AlertState::Firing, AlertSeverity::Critical)
        );
        assert_eq!(a.kind, "resource");
        assert_eq!(a.value, Some(96.0));
        assert!(a.service.is_none() && a.fired_at.is_none() && a.acknowledged_by.is_none());
        let r: RuleList = serde_json::from_value(json!({"rules": [{
            "id": "hot", "metric": "cpu.usage", "condition": "gt", "threshold": 90.0,
            "severity": "page", "state": "silenced", "builtin": true, "channels": ["log"],
            "last_evaluation": null, "evaluation_time_ms": 0.2, "evaluations": 3,
            "last_error": null, "alerts": [], "new": {}}]}))
        .unwrap();
        let rule = &r.rules[0];
        assert_eq!(
            (rule.state, rule.severity),
            (AlertState::Unknown, AlertSeverity::Unknown)
        );
        assert!(rule.builtin && rule.last_evaluation.is_none());
        assert_eq!(rule.evaluations, 3);
    }
}
