//! Seed 002's telemetry event.

use serde::{Deserialize, Serialize};

use crate::UnixNanos;

/// One event: a typed, sourced JSON payload with a server-assigned id and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// UUID, assigned by the server unless the client gave one.
    pub event_id: String,
    /// UTC time, assigned by the server unless the client gave one.
    pub timestamp_ns: UnixNanos,
    pub event_type: String,
    pub source: String,
    #[serde(default)]
    pub data: serde_json::Value,
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// Returns the approximate heap bytes held, for byte budgets.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.event_id.len()
            + self.event_type.len()
            + self.source.len()
            + crate::span::json_bytes(&self.data)
            + self
                .metadata
                .iter()
                .map(|(k, v)| 24 + k.len() + crate::span::json_bytes(v))
                .sum::<usize>()
    }
}
