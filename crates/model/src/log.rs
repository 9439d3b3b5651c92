//! Log records: OTLP's log model, also fed by seed 004 span logs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{SpanId, TraceId, UnixNanos};

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

impl LogRecord {
    /// Returns the approximate heap bytes held, for byte budgets.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.body.len()
            + self.service.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| 24 + k.len() + crate::span::json_bytes(v))
                .sum::<usize>()
    }
}
