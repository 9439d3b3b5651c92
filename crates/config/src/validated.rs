//! The validated config every component reads: defaults filled, units typed, cross-field checks done.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use blazar_model::{Glob, Limits};

use crate::alerting::AlertingConfig;
use crate::compat::{pick, Merged};
use crate::health::HealthConfig;
use crate::raw::{RawConfig, RawRetention, RawTracePattern};
use crate::{ByteSize, ConfigError, HumanDuration};

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub otlp: OtlpConfig,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub events: EventsConfig,
    pub stream: StreamConfig,
    pub tracing: TracingConfig,
    pub host: HostConfig,
    pub health: HealthConfig,
    pub alerting: AlertingConfig,
}

/// The main HTTP listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Largest request body accepted, after decompression.
    pub max_body_bytes: usize,
    /// Most items (metrics, events) in one JSON request.
    pub max_batch_items: usize,
    /// Write requests handled at once; more are answered 429 (bounds memory held by bodies).
    pub max_inflight_writes: usize,
}

/// OTLP listeners.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// When false, neither OTLP listener is bound (the main port's `/v1/*` stays).
    pub enabled: bool,
    pub grpc_listen: SocketAddr,
    pub http_listen: SocketAddr,
}

/// When the WAL is flushed to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncMode {
    /// Before every acknowledgement.
    Always,
    /// Every `Duration`; a crash of the machine (not the process) can lose that window.
    Interval(Duration),
    /// Left to the OS.
    Never,
}

/// One store's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    pub max_age: Duration,
    pub max_bytes: ByteSize,
}

/// WAL and memory budgets.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    pub fsync: FsyncMode,
    pub segment_bytes: u64,
    pub checkpoint_interval: Duration,
    pub metrics: RetentionConfig,
    pub traces: RetentionConfig,
    pub logs: RetentionConfig,
    pub events: RetentionConfig,
}

/// Validation limits on series.
pub type LimitsConfig = Limits;

/// Seed 002's event collector.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    pub enabled: bool,
    /// Hard bound on stored events.
    pub buffer_size: usize,
    /// Default batch size of a read.
    pub batch_size: usize,
    /// Source given to events that name none.
    pub source_id: String,
    /// Accepted event types; empty accepts all.
    pub event_types: Vec<Glob>,
    pub event_type_patterns: Vec<String>,
    pub sampling_rate: f64,
}

/// The live stream.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub enabled: bool,
    /// Messages the bus keeps for slow subscribers.
    pub buffer_size: usize,
    /// Messages a subscriber may fall behind in total before it is dropped.
    pub max_lag_events: usize,
    /// Longest a single write to a subscriber may take before it is dropped.
    pub send_timeout: Duration,
}

/// Trace sampling and completion.
#[derive(Debug, Clone)]
pub struct TracingConfig {
    pub sample_rate: f64,
    pub max_trace_length: usize,
    pub enable_p2p_tracing: bool,
    /// A trace is complete when its root has ended and no span arrived for this long.
    pub completion_quiet: Duration,
    /// Tail sampling: a trace with an error span is kept whatever `sample_rate` says.
    pub keep_errors: bool,
    /// Tail sampling: a trace at least this long is kept whatever `sample_rate` says.
    pub keep_slower_than: Duration,
    /// Whether seed 001's built-in trace patterns run beside `patterns`.
    pub default_patterns: bool,
    /// Configured trace patterns, in file order; names are unique.
    pub patterns: Vec<TracePatternConfig>,
}

/// How serious a trace pattern's finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PatternSeverity {
    Info,
    Warning,
    Critical,
}

impl PatternSeverity {
    /// Returns the lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Self::Info),
            "warning" => Some(Self::Warning),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

/// One configured trace pattern (`tracing.patterns[i]`); every condition set must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracePatternConfig {
    pub name: String,
    pub description: String,
    pub severity: PatternSeverity,
    /// The trace is longer than this.
    pub min_duration: Option<Duration>,
    /// Some span's name matches this glob (and is longer than `span_min_duration`, if set).
    pub span_name: Option<String>,
    /// Some span (matching `span_name`, if set) is longer than this.
    pub span_min_duration: Option<Duration>,
    /// For each `(KEY, VALUE)`, some span has attribute or resource attribute KEY rendering as VALUE.
    pub attributes: Vec<(String, String)>,
    /// At least this many spans have status error.
    pub min_error_spans: Option<usize>,
    /// At least this many spans.
    pub min_spans: Option<usize>,
    /// Some span belongs to this service.
    pub service: Option<String>,
}

/// Host resource collection.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Whether the host is sampled at all (off: no `/resources`, no `system.*` gauges).
    pub enabled: bool,
    pub metrics_interval: Duration,
    pub health_check_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        // The embedded defaults are exactly an empty file; this cannot fail.
        Config::try_from(RawConfig::default()).unwrap_or_else(|_| unreachable_default())
    }
}

#[allow(clippy::panic)]
fn unreachable_default() -> Config {
    panic!("embedded default config is invalid")
}

fn addr(key: &str, v: Option<String>, default: &str) -> Result<SocketAddr, ConfigError> {
    let s = v.unwrap_or_else(|| default.to_string());
    s.parse().map_err(|_| {
        ConfigError::invalid(
            key,
            format!("expected HOST:PORT such as 127.0.0.1:9595, got {s:?}"),
        )
    })
}

fn rate(key: &str, v: f64) -> Result<f64, ConfigError> {
    if !(0.0..=1.0).contains(&v) || v.is_nan() {
        return Err(ConfigError::invalid(
            key,
            format!("expected a rate between 0.0 and 1.0, got {v}"),
        ));
    }
    Ok(v)
}

fn positive(key: &str, v: usize) -> Result<usize, ConfigError> {
    if v == 0 {
        return Err(ConfigError::invalid(
            key,
            "expected a positive number, got 0",
        ));
    }
    Ok(v)
}

fn retention(
    key: &str,
    raw: &RawRetention,
    age: Option<HumanDuration>,
    bytes: u64,
) -> Result<RetentionConfig, ConfigError> {
    let max_age = raw
        .retention
        .or(age)
        .map_or(Duration::from_secs(24 * 3600), |d| d.0);
    if max_age < Duration::from_secs(1) {
        return Err(ConfigError::invalid(
            &format!("{key}.retention"),
            "expected at least 1s",
        ));
    }
    let max_bytes = raw.max_bytes.unwrap_or(ByteSize(bytes));
    if max_bytes.0 < 1024 {
        return Err(ConfigError::invalid(
            &format!("{key}.max_bytes"),
            "expected at least 1KiB",
        ));
    }
    Ok(RetentionConfig { max_age, max_bytes })
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        let m = Merged::new(&raw)?;
        let server = ServerConfig {
            listen: addr("server.listen", raw.server.listen.clone(), "127.0.0.1:9595")?,
            max_body_bytes: raw
                .server
                .max_body_bytes
                .unwrap_or(ByteSize(4 << 20))
                .as_usize(),
            max_batch_items: positive(
                "server.max_batch_items",
                raw.server.max_batch_items.unwrap_or(10_000),
            )?,
            max_inflight_writes: positive(
                "server.max_inflight_writes",
                raw.server.max_inflight_writes.unwrap_or(256),
            )?,
        };
        if server.max_body_bytes < 1024 {
            return Err(ConfigError::invalid(
                "server.max_body_bytes",
                "expected at least 1KiB",
            ));
        }
        let otlp = OtlpConfig {
            enabled: raw.otlp.enabled.unwrap_or(true),
            grpc_listen: addr(
                "otlp.grpc_listen",
                raw.otlp.grpc_listen.clone(),
                "127.0.0.1:4317",
            )?,
            http_listen: addr(
                "otlp.http_listen",
                raw.otlp.http_listen.clone(),
                "127.0.0.1:4318",
            )?,
        };
        let fsync_interval = raw
            .storage
            .fsync_interval
            .map_or(Duration::from_millis(200), |d| d.0);
        let fsync = match raw.storage.fsync.as_deref().unwrap_or("interval") {
            "always" => FsyncMode::Always,
            "interval" => FsyncMode::Interval(fsync_interval.max(Duration::from_millis(1))),
            "never" => FsyncMode::Never,
            other => {
                return Err(ConfigError::invalid(
                    "storage.fsync",
                    format!("expected one of always, interval, never, got {other:?}"),
                ))
            }
        };
        let storage = StorageConfig {
            data_dir: PathBuf::from(
                raw.storage
                    .data_dir
                    .clone()
                    .unwrap_or_else(|| "./blazar-data".into()),
            ),
            fsync,
            segment_bytes: raw
                .storage
                .segment_bytes
                .unwrap_or(ByteSize(64 << 20))
                .0
                .max(4096),
            checkpoint_interval: raw
                .storage
                .checkpoint_interval
                .map_or(Duration::from_secs(300), |d| d.0),
            metrics: retention("storage.metrics", &raw.storage.metrics, None, 1 << 30)?,
            traces: retention(
                "storage.traces",
                &raw.storage.traces,
                m.trace_retention,
                256 << 20,
            )?,
            logs: retention("storage.logs", &raw.storage.logs, None, 256 << 20)?,
            events: retention("storage.events", &raw.storage.events, None, 128 << 20)?,
        };
        let d = Limits::default();
        let limits = Limits {
            max_name_len: positive(
                "limits.max_name_len",
                raw.limits.max_name_len.unwrap_or(d.max_name_len),
            )?,
            max_labels: positive(
                "limits.max_labels",
                raw.limits.max_labels.unwrap_or(d.max_labels),
            )?,
            max_label_name_len: positive(
                "limits.max_label_name_len",
                raw.limits
                    .max_label_name_len
                    .unwrap_or(d.max_label_name_len),
            )?,
            max_label_value_len: positive(
                "limits.max_label_value_len",
                raw.limits
                    .max_label_value_len
                    .unwrap_or(d.max_label_value_len),
            )?,
            max_series: positive(
                "limits.max_series",
                raw.limits.max_series.unwrap_or(d.max_series),
            )?,
        };
        let patterns = m.event_types.clone().unwrap_or_default();
        let events = EventsConfig {
            enabled: m.events_enabled.unwrap_or(true),
            buffer_size: positive(m.buffer_size_key, m.buffer_size.unwrap_or(100_000))?,
            batch_size: positive(m.batch_size_key, m.batch_size.unwrap_or(10))?,
            source_id: m.source_id.clone().unwrap_or_else(|| "blazar".into()),
            event_types: patterns.iter().map(|p| Glob::new(p)).collect(),
            event_type_patterns: patterns,
            sampling_rate: rate(m.sampling_rate_key, m.sampling_rate.unwrap_or(1.0))?,
        };
        let stream = StreamConfig {
            enabled: m.stream_enabled.unwrap_or(true),
            buffer_size: positive(m.stream_buffer_key, m.stream_buffer_size.unwrap_or(4096))?,
            max_lag_events: raw.stream.max_lag_events.unwrap_or(10_000),
            send_timeout: raw
                .stream
                .send_timeout
                .map_or(Duration::from_secs(10), |d| d.0),
        };
        let tracing = TracingConfig {
            sample_rate: rate(m.sample_rate_key, m.sample_rate.unwrap_or(1.0))?,
            max_trace_length: positive(
                m.max_trace_length_key,
                m.max_trace_length.unwrap_or(10_000),
            )?,
            enable_p2p_tracing: m.enable_p2p_tracing.unwrap_or(true),
            completion_quiet: raw
                .tracing
                .completion_quiet
                .map_or(Duration::from_secs(2), |d| d.0),
            keep_errors: raw.tracing.keep_errors.unwrap_or(true),
            keep_slower_than: raw
                .tracing
                .keep_slower_than
                .map_or(Duration::from_secs(5), |d| d.0),
            default_patterns: raw.tracing.default_patterns.unwrap_or(true),
            patterns: trace_patterns(raw.tracing.patterns.as_deref().unwrap_or_default())?,
        };
        let host = HostConfig {
            enabled: raw.host.enabled.unwrap_or(true),
            metrics_interval: pick(raw.host.metrics_interval, raw.metrics_interval)
                .map_or(Duration::from_secs(5), |d| d.0),
            health_check_interval: raw
                .health_check_interval
                .map_or(Duration::from_secs(10), |d| d.0),
        };
        if host.metrics_interval < Duration::from_millis(100) {
            return Err(ConfigError::invalid(
                "host.metrics_interval",
                "expected at least 100ms",
            ));
        }
        let alerting = crate::alerting::alerting(&raw)?;
        let health = crate::health::health(&raw)?;
        Ok(Config {
            server,
            otlp,
            storage,
            limits,
            events,
            stream,
            tracing,
            host,
            health,
            alerting,
        })
    }
}

/// Validates `tracing.patterns`; errors name the entry and field
/// (`tracing.patterns[1].severity: ...`).
fn trace_patterns(raw: &[RawTracePattern]) -> Result<Vec<TracePatternConfig>, ConfigError> {
    let mut out: Vec<TracePatternConfig> = Vec::with_capacity(raw.len());
    for (i, p) in raw.iter().enumerate() {
        let key = |field: &str| format!("tracing.patterns[{i}].{field}");
        let name = p.name.trim();
        if name.is_empty() {
            return Err(ConfigError::invalid(&key("name"), "must not be empty"));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(ConfigError::invalid(
                &key("name"),
                format!("pattern {name:?} is defined twice"),
            ));
        }
        let severity = match p.severity.as_deref() {
            None => PatternSeverity::Warning,
            Some(s) => PatternSeverity::parse(s).ok_or_else(|| {
                ConfigError::invalid(
                    &key("severity"),
                    format!("expected one of info, warning, critical, got {s:?}"),
                )
            })?,
        };
        if p.span_name.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::invalid(&key("span_name"), "must not be empty"));
        }
        let mut attributes = Vec::with_capacity(p.attributes.len());
        for (k, v) in &p.attributes {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(ConfigError::invalid(
                        &key(&format!("attributes.{k}")),
                        "expected a string, number or boolean",
                    ))
                }
            };
            attributes.push((k.clone(), text));
        }
        let pattern = TracePatternConfig {
            name: name.to_string(),
            description: p
                .description
                .clone()
                .unwrap_or_else(|| format!("trace matched pattern {name}")),
            severity,
            min_duration: p.min_duration.map(|d| d.0),
            span_name: p.span_name.clone(),
            span_min_duration: p.span_min_duration.map(|d| d.0),
            attributes,
            min_error_spans: p.min_error_spans,
            min_spans: p.min_spans,
            service: p.service.clone(),
        };
        let has_condition = pattern.min_duration.is_some()
            || pattern.span_name.is_some()
            || pattern.span_min_duration.is_some()
            || !pattern.attributes.is_empty()
            || pattern.min_error_spans.is_some()
            || pattern.min_spans.is_some()
            || pattern.service.is_some();
        if !has_condition {
            return Err(ConfigError::invalid(
                &key("name"),
                "expected at least one condition (min_duration, span_name, span_min_duration, \
                 attributes, min_error_spans, min_spans, service)",
            ));
        }
        out.push(pattern);
    }
    Ok(out)
}
