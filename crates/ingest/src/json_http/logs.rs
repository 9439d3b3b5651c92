//! `POST /api/v1/telemetry/logs`: `{"message"|"body","level","service","attributes","trace_id","span_id","timestamp"}`.

use std::collections::BTreeMap;

use blazar_model::{LogRecord, Severity, SpanId, TraceId};
use serde_json::{Map, Value};

use super::fields::{items, no_unknown, opt_obj, opt_str, opt_time_ns, scalar_text};
use crate::{InputError, NowNs};

const KNOWN: &[&str] = &[
    "message",
    "body",
    "level",
    "service",
    "attributes",
    "trace_id",
    "span_id",
    "timestamp",
];

/// Parses a logs body.
///
/// # Errors
/// The first invalid field, with its path.
pub fn parse_logs(
    body: &Value,
    max_items: usize,
    now: NowNs,
) -> Result<Vec<LogRecord>, InputError> {
    items(body, max_items)?
        .into_iter()
        .map(|(prefix, o)| {
            parse_one(o, now).map_err(|e| {
                if prefix.is_empty() {
                    e
                } else {
                    e.within(&prefix)
                }
            })
        })
        .collect()
}

fn parse_one(o: &Map<String, Value>, now: NowNs) -> Result<LogRecord, InputError> {
    no_unknown(o, KNOWN)?;
    let body = match (
        opt_str(o, "message", 64 * 1024)?,
        opt_str(o, "body", 64 * 1024)?,
    ) {
        (Some(m), None) | (None, Some(m)) => m.to_string(),
        (Some(_), Some(_)) => {
            return Err(InputError::new("body", "give message or body, not both"))
        }
        (None, None) => return Err(InputError::new("message", "required field is missing")),
    };
    let severity = match opt_str(o, "level", 32)? {
        None => Severity::Info,
        Some(l) => Severity::parse(l).ok_or_else(|| {
            InputError::new(
                "level",
                format!("expected one of trace, debug, info, warn, error, fatal, got {l:?}"),
            )
        })?,
    };
    let service = opt_str(o, "service", 256)?.unwrap_or("unknown").to_string();
    let mut attributes = BTreeMap::new();
    if let Some(a) = opt_obj(o, "attributes")? {
        for (k, v) in a {
            scalar_text(&format!("attributes.{k}"), v, 16 * 1024)?;
            attributes.insert(k.clone(), v.clone());
        }
    }
    let trace_id = opt_str(o, "trace_id", 64)?
        .map(|s| {
            s.parse::<TraceId>()
                .map_err(|e| InputError::new("trace_id", e.to_string()))
        })
        .transpose()?;
    let span_id = opt_str(o, "span_id", 64)?
        .map(|s| {
            s.parse::<SpanId>()
                .map_err(|e| InputError::new("span_id", e.to_string()))
        })
        .transpose()?;
    let timestamp_ns = opt_time_ns(o, "timestamp")?.unwrap_or(now);
    Ok(LogRecord {
        timestamp_ns,
        severity,
        body,
        service,
        attributes,
        trace_id,
        span_id,
        ..LogRecord::default()
    })
}
