//! Spans as blazar stores them: OTLP's span model, also filled by the seed 004 span API.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{SpanId, TraceId, UnixNanos};

/// A span's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SpanStatus {
    #[default]
    Unset,
    Ok,
    Error,
}

impl SpanStatus {
    /// Returns the lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unset => "unset",
            Self::Ok => "ok",
            Self::Error => "error",
        }
    }
}

/// OTLP span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    #[default]
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

/// A timestamped annotation on a span (OTLP span event; seed 004 span log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    pub time_unix_nano: UnixNanos,
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// A reference from a span to another span, possibly of another trace (OTLP span link).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanLink {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_state: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// The instrumentation scope (library) that produced a span or log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Scope {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

/// One unit of work in a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<SpanId>,
    pub name: String,
    /// `service.name` of the resource that produced it.
    pub service: String,
    #[serde(default)]
    pub kind: SpanKind,
    pub start_unix_nano: UnixNanos,
    /// `None` while the span is open (seed 004 spans between create and finish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_unix_nano: Option<UnixNanos>,
    #[serde(default)]
    pub status: SpanStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<SpanEvent>,
    /// Resource attributes of the producer, shared by every span of one resource in a request.
    #[serde(default, skip_serializing_if = "is_empty_shared")]
    pub resource: Resource,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<SpanLink>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// W3C `tracestate` as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_state: Option<String>,
}

impl Span {
    /// Returns the duration in nanoseconds once ended.
    pub fn duration_nanos(&self) -> Option<i64> {
        self.end_unix_nano
            .map(|e| e.saturating_sub(self.start_unix_nano).max(0))
    }

    /// Returns the approximate heap bytes held, for byte budgets. Calibrated against the
    /// resident memory of a store of OTLP-like spans under mimalloc (about 1:1, see
    /// `docs/ARCHITECTURE.md`): map entries cost their B-tree slot and node share besides the
    /// strings, and the struct is counted twice for the store's vector slack and indexes.
    pub fn approx_bytes(&self) -> usize {
        2 * std::mem::size_of::<Self>()
            + SPAN_INDEX_BYTES
            + self.name.len()
            + self.service.len()
            + self.status_message.as_ref().map_or(0, String::len)
            + map_bytes(&self.attributes)
            + shared_map_bytes(&self.resource)
            + self
                .events
                .iter()
                .map(|e| 64 + e.name.len() + map_bytes(&e.attributes))
                .sum::<usize>()
            + self
                .links
                .iter()
                .map(|l| 64 + map_bytes(&l.attributes))
                .sum::<usize>()
            + self
                .scope
                .as_ref()
                .map_or(0, |s| 48 + s.name.len() + s.version.len())
    }
}

/// Resource attributes: one map shared (not copied) by every item of one resource.
pub type Resource = Arc<BTreeMap<String, serde_json::Value>>;

pub(crate) fn is_empty_shared(r: &Resource) -> bool {
    r.is_empty()
}

/// A shared map's bytes split over its current holders, so items sharing one resource count
/// it about once between them.
pub(crate) fn shared_map_bytes(r: &Resource) -> usize {
    map_bytes(r) / Arc::strong_count(r).max(1)
}

/// What a store's per-span index entries (span id → trace, time and name indexes) cost.
const SPAN_INDEX_BYTES: usize = 64;

/// Bytes one map entry costs beyond its key and value text: the (String, Value) slot in a
/// B-tree node, the node's unused slots and header, and allocator rounding of two strings.
const MAP_ENTRY_BYTES: usize = 96;

/// Returns the approximate heap bytes of an attribute map.
pub(crate) fn map_bytes(m: &BTreeMap<String, serde_json::Value>) -> usize {
    m.iter()
        .map(|(k, v)| MAP_ENTRY_BYTES + k.len() + json_bytes(v))
        .sum()
}

/// Returns a rough size of a JSON value's heap part (its 32-byte slot is counted by the owner).
pub(crate) fn json_bytes(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => 16 + s.len(),
        serde_json::Value::Array(a) => 16 + a.iter().map(|x| 32 + json_bytes(x)).sum::<usize>(),
        serde_json::Value::Object(o) => {
            48 + o
                .iter()
                .map(|(k, v)| MAP_ENTRY_BYTES + k.len() + json_bytes(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}
