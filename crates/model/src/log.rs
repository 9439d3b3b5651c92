//! Log records: OTLP's log model, also fed by seed 004 span logs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Scope, SpanId, TraceId, UnixNanos};

/// Log severity, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Trace,
    Debug,
    #[default]
    Info,
    Warn,
    Error,
    Fatal,
}

impl Severity {
    /// Parses a level name; accepts the common aliases (`warning`, `err`, `critical`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "trace" => Some(Self::Trace),
            "debug" => Some(Self::Debug),
            "info" | "information" => Some(Self::Info),
            "warn" | "warning" => Some(Self::Warn),
            "error" | "err" => Some(Self::Error),
            "fatal" | "critical" | "crit" => Some(Self::Fatal),
            _ => None,
        }
    }

    /// Returns the lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Fatal => "fatal",
        }
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LogRecord {
    pub timestamp_ns: UnixNanos,
    pub severity: Severity,
    pub body: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<SpanId>,
    /// Resource attributes of the producer (OTLP), beside `service`.
    #[serde(default, skip_serializing_if = "crate::span::is_empty_shared")]
    pub resource: crate::Resource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// OTLP `severity_number` (1..=24) when the producer gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_number: Option<u8>,
    /// OTLP `severity_text` as sent (e.g. `WARN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_text: Option<String>,
    /// OTLP `event_name`, for records that are events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// A structured body (map or list) kept as sent; `body` then holds its JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_value: Option<serde_json::Value>,
}

impl LogRecord {
    /// Returns the approximate heap bytes held, for byte budgets (calibrated like
    /// [`crate::Span::approx_bytes`]; the struct counts twice for ring slack and indexes).
    pub fn approx_bytes(&self) -> usize {
        2 * std::mem::size_of::<Self>()
            + self.body.len()
            + self.service.len()
            + self.severity_text.as_ref().map_or(0, String::len)
            + self.event_name.as_ref().map_or(0, String::len)
            + self
                .scope
                .as_ref()
                .map_or(0, |s| 48 + s.name.len() + s.version.len())
            + crate::span::map_bytes(&self.attributes)
            + crate::span::shared_map_bytes(&self.resource)
            + self.body_value.as_ref().map_or(0, crate::span::json_bytes)
    }
}
