//! Seed 004's span API: create an open span, add tags, add logs, finish.

use std::collections::BTreeMap;

use blazar_model::{Severity, SpanId, SpanStatus, TraceId};
use serde_json::{Map, Value};

use super::fields::{no_unknown, opt_obj, opt_str, opt_time_ns, req_str, scalar_text, type_name};
use crate::{InputError, NowNs};

/// Most tags on one span.
const MAX_TAGS: usize = 128;
/// Longest tag value or log message.
const MAX_TEXT: usize = 16 * 1024;

/// `POST /api/v1/telemetry/traces/spans`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanStart {
    pub name: String,
    pub parent_trace_id: Option<TraceId>,
    pub parent_span_id: Option<SpanId>,
    pub service: Option<String>,
    pub tags: BTreeMap<String, Value>,
    pub start_ns: i64,
}

/// `POST .../spans/{id}/logs`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanLog {
    pub message: String,
    pub level: Severity,
    pub time_ns: i64,
}

/// `POST .../spans/{id}/finish`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanFinish {
    pub status: SpanStatus,
    pub end_ns: i64,
}

fn obj(body: &Value) -> Result<&Map<String, Value>, InputError> {
    match body {
        Value::Object(o) => Ok(o),
        other => Err(InputError::new(
            "body",
            format!("expected an object, got {}", type_name(other)),
        )),
    }
}

/// Parses a span creation body.
///
/// # Errors
/// The first invalid field.
pub fn parse_span_start(body: &Value, now: NowNs) -> Result<SpanStart, InputError> {
    let o = obj(body)?;
    no_unknown(
        o,
        &[
            "name",
            "parent_trace_id",
            "parent_span_id",
            "tags",
            "service",
            "start_time",
        ],
    )?;
    let name = req_str(o, "name", 1024)?.to_string();
    let parent_trace_id = opt_str(o, "parent_trace_id", 64)?
        .map(|s| {
            s.parse::<TraceId>()
                .map_err(|e| InputError::new("parent_trace_id", format!("{e}, got {s:?}")))
        })
        .transpose()?;
    let parent_span_id = opt_str(o, "parent_span_id", 64)?
        .map(|s| {
            s.parse::<SpanId>()
                .map_err(|e| InputError::new("parent_span_id", format!("{e}, got {s:?}")))
        })
        .transpose()?;
    if parent_span_id.is_some() && parent_trace_id.is_none() {
        return Err(InputError::new(
            "parent_trace_id",
            "required when parent_span_id is given",
        ));
    }
    let service = opt_str(o, "service", 256)?.map(str::to_string);
    let tags = match opt_obj(o, "tags")? {
        Some(t) => tag_map(t, "tags.")?,
        None => BTreeMap::new(),
    };
    let start_ns = opt_time_ns(o, "start_time")?.unwrap_or(now);
    Ok(SpanStart {
        name,
        parent_trace_id,
        parent_span_id,
        service,
        tags,
        start_ns,
    })
}

/// Parses a tags body: `{key: value}` with scalar values.
///
/// # Errors
/// A non-object body, a nested value, too many tags.
pub fn parse_span_tags(body: &Value) -> Result<BTreeMap<String, Value>, InputError> {
    let o = obj(body)?;
    if o.is_empty() {
        return Err(InputError::new("body", "expected at least one tag"));
    }
    tag_map(o, "")
}

fn tag_map(o: &Map<String, Value>, prefix: &str) -> Result<BTreeMap<String, Value>, InputError> {
    if o.len() > MAX_TAGS {
        return Err(InputError::new(
            prefix.trim_end_matches('.'),
            format!("{} tags is more than the limit of {MAX_TAGS}", o.len()),
        ));
    }
    o.iter()
        .map(|(k, v)| {
            let field = format!("{prefix}{k}");
            if k.is_empty() || k.len() > 256 {
                return Err(InputError::new(field, "tag name must be 1 to 256 bytes"));
            }
            scalar_text(&field, v, MAX_TEXT)?;
            Ok((k.clone(), v.clone()))
        })
        .collect()
}

/// Parses a span log body: `{"message","level"}`.
///
/// # Errors
/// Missing message, unknown level.
pub fn parse_span_log(body: &Value, now: NowNs) -> Result<SpanLog, InputError> {
    let o = obj(body)?;
    no_unknown(o, &["message", "level", "timestamp"])?;
    let message = req_str(o, "message", MAX_TEXT)?.to_string();
    let level = match opt_str(o, "level", 32)? {
        None => Severity::Info,
        Some(l) => Severity::parse(l).ok_or_else(|| {
            InputError::new(
                "level",
                format!("expected one of trace, debug, info, warn, error, fatal, got {l:?}"),
            )
        })?,
    };
    let time_ns = opt_time_ns(o, "timestamp")?.unwrap_or(now);
    Ok(SpanLog {
        message,
        level,
        time_ns,
    })
}

/// Parses a finish body: `{"status":"ok"|"error"}`; an empty body or `null` means ok.
///
/// # Errors
/// An unknown status.
pub fn parse_finish(body: &Value, now: NowNs) -> Result<SpanFinish, InputError> {
    let empty = Map::new();
    let o = match body {
        Value::Null => &empty,
        other => obj(other)?,
    };
    no_unknown(o, &["status", "end_time"])?;
    let status = match opt_str(o, "status", 32)? {
        None | Some("ok") => SpanStatus::Ok,
        Some("error") => SpanStatus::Error,
        Some(s) => {
            return Err(InputError::new(
                "status",
                format!("expected \"ok\" or \"error\", got {s:?}"),
            ))
        }
    };
    let end_ns = opt_time_ns(o, "end_time")?.unwrap_or(now);
    Ok(SpanFinish { status, end_ns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_004_start_with_null_parent() {
        let s = parse_span_start(
            &json!({"name": "plugin.process_request", "parent_trace_id": null, "tags": {}}),
            7,
        )
        .unwrap();
        assert_eq!(s.name, "plugin.process_request");
        assert_eq!(s.parent_trace_id, None);
        assert_eq!(s.start_ns, 7);
    }

    #[test]
    fn bad_ids_and_statuses_name_the_field() {
        let e = parse_span_start(&json!({"name": "x", "parent_trace_id": "abc"}), 0).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("parent_trace_id: expected 32 hex"),
            "{e}"
        );
        let e = parse_finish(&json!({"status": "maybe"}), 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "status: expected \"ok\" or \"error\", got \"maybe\""
        );
        let e = parse_span_tags(&json!({"k": [1]})).unwrap_err();
        assert!(e.to_string().starts_with("k: expected a string"), "{e}");
        let e = parse_span_log(&json!({"message": "m", "level": "loud"}), 0).unwrap_err();
        assert!(e.to_string().starts_with("level:"), "{e}");
    }

    #[test]
    fn finish_defaults_to_ok() {
        assert_eq!(
            parse_finish(&Value::Null, 9).unwrap(),
            SpanFinish {
                status: SpanStatus::Ok,
                end_ns: 9
            }
        );
    }
}
