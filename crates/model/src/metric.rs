//! Metric samples and the kinds of metric seed 003 defines.

use serde::{Deserialize, Serialize};

use crate::{Labels, UnixMillis};

/// One value of a series at one time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the epoch.
    pub t: UnixMillis,
    /// The value; NaN and ±Inf are legal (Prometheus stale markers are NaNs).
    pub v: f64,
}

/// The kind of a metric (seed 003's `MetricType`), kept as metadata beside its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Only increases; a JSON-API value is an increment.
    Counter,
    /// Set to the value given.
    Gauge,
    /// A value is one observation into buckets, plus `_sum` and `_count`.
    Histogram,
    /// A value is one observation; quantiles over a sliding window, plus `_sum` and `_count`.
    Summary,
    /// Arrived without a kind (e.g. remote_write without metadata).
    Unknown,
}

impl MetricKind {
    /// Returns the lowercase name used on the wire and in Prometheus `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::Summary => "summary",
            Self::Unknown => "unknown",
        }
    }

    /// Parses a kind name as the JSON API accepts it.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "counter" => Some(Self::Counter),
            "gauge" => Some(Self::Gauge),
            "histogram" => Some(Self::Histogram),
            "summary" => Some(Self::Summary),
            _ => None,
        }
    }
}

/// One metric write from the native JSON API (or a translated SDK point), before it becomes samples.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// Series identity: name and tags, validated.
    pub labels: Labels,
    /// How `value` is applied.
    pub kind: MetricKind,
    /// Increment (counter), new value (gauge) or one observation (histogram, summary).
    pub value: f64,
    /// When it was measured.
    pub t: UnixMillis,
}
