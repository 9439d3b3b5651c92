//! `POST /api/v1/telemetry/metrics`: `{"name","value","type","tags","timestamp"?}` or an array.
//! Values are numbers or booleans (seed 003); strings are rejected (documented in docs/API.md).

use blazar_model::{Labels, Limits, MetricKind, MetricPoint, NANOS_PER_MILLI};
use serde_json::{Map, Value};

use super::fields::{
    items, no_unknown, opt_obj, opt_str, opt_time_ns, req_str, scalar_text, type_name,
};
use crate::{InputError, NowNs};

const KNOWN: &[&str] = &[
    "name",
    "value",
    "type",
    "tags",
    "timestamp",
    "description",
    "help",
];

/// Parses a metrics body into points, all or nothing.
///
/// # Errors
/// The first invalid field, with its path (`[3].value`).
pub fn parse_metrics(
    body: &Value,
    limits: &Limits,
    max_items: usize,
    now: NowNs,
) -> Result<Vec<MetricPoint>, InputError> {
    items(body, max_items)?
        .into_iter()
        .map(|(prefix, o)| {
            parse_one(o, limits, now).map_err(|e| {
                if prefix.is_empty() {
                    e
                } else {
                    e.within(&prefix)
                }
            })
        })
        .collect()
}

fn parse_one(
    o: &Map<String, Value>,
    limits: &Limits,
    now: NowNs,
) -> Result<MetricPoint, InputError> {
    no_unknown(o, KNOWN)?;
    let name = req_str(o, "name", limits.max_name_len)?;
    let kind = match opt_str(o, "type", 32)? {
        None => MetricKind::Gauge,
        Some(t) => MetricKind::parse(t).ok_or_else(|| {
            InputError::new(
                "type",
                format!("expected one of counter, gauge, histogram, summary, got {t:?}"),
            )
        })?,
    };
    let value = match o.get("value") {
        None | Some(Value::Null) => return Err(InputError::new("value", "required field is missing")),
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| InputError::new("value", "number out of range"))?,
        Some(Value::String(s)) => {
            return Err(InputError::new(
                "value",
                format!("expected a number or boolean, got string {:?}; string values are not stored as metrics, send them as an event", truncate(s)),
            ))
        }
        Some(other) => {
            return Err(InputError::new("value", format!("expected a number or boolean, got {}", type_name(other))))
        }
    };
    if !value.is_finite() {
        return Err(InputError::new("value", "must be a finite number"));
    }
    if kind == MetricKind::Counter && value < 0.0 {
        return Err(InputError::new(
            "value",
            format!("a counter increment must not be negative, got {value}"),
        ));
    }
    let mut tags: Vec<(&str, String)> = Vec::new();
    if let Some(t) = opt_obj(o, "tags")? {
        for (k, v) in t {
            let text = scalar_text(&format!("tags.{k}"), v, limits.max_label_value_len)?;
            tags.push((k.as_str(), text));
        }
    }
    let labels = Labels::for_metric(name, tags.iter().map(|(k, v)| (*k, v.as_str())), limits)
        .map_err(|e| InputError::new("", e.to_string()))
        .map_err(split_field)?;
    let t_ns = opt_time_ns(o, "timestamp")?.unwrap_or(now);
    Ok(MetricPoint {
        labels,
        kind,
        value,
        t: t_ns / NANOS_PER_MILLI,
    })
}

/// `LabelsError` messages start with the field (`tags.host: ...`); lift it into the field slot.
fn split_field(e: InputError) -> InputError {
    match e.message.split_once(": ") {
        Some((field, msg)) => InputError::new(field, msg),
        None => e,
    }
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(40);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Vec<MetricPoint>, InputError> {
        parse_metrics(&v, &Limits::default(), 100, 5_000_000_000)
    }

    #[test]
    fn seed_004_metric_parses() {
        let p = parse(json!({"name": "plugin.my_plugin.requests", "value": 1, "type": "counter", "tags": {"status": "success"}})).unwrap();
        assert_eq!(p[0].kind, MetricKind::Counter);
        assert_eq!(p[0].labels.get("status"), Some("success"));
        assert_eq!(p[0].t, 5000);
    }

    #[test]
    fn booleans_are_one_and_zero() {
        let p =
            parse(json!([{"name": "up", "value": true}, {"name": "up", "value": false}])).unwrap();
        assert_eq!((p[0].value, p[1].value), (1.0, 0.0));
        assert_eq!(p[0].kind, MetricKind::Gauge);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!({"value": 1}), "name: required field is missing"),
            (
                json!({"name": "m", "value": "abc"}),
                "value: expected a number or boolean, got string",
            ),
            (
                json!({"name": "m", "value": 1, "type": "meter"}),
                "type: expected one of counter",
            ),
            (
                json!([{"name": "m", "value": 1}, {"name": "m", "value": [1]}]),
                "[1].value: expected a number or boolean, got array",
            ),
            (
                json!({"name": "m", "value": -1, "type": "counter"}),
                "value: a counter increment must not be negative",
            ),
            (
                json!({"name": "m", "value": 1, "tags": {"a": {"b": 1}}}),
                "tags.a: expected a string, number or boolean",
            ),
            (json!({"name": "m", "vaule": 1}), "vaule: unknown field"),
            (
                json!({"name": "m m", "value": 1}),
                "name: \"m m\" has a character",
            ),
            (
                json!({"name": "m", "value": 1, "timestamp": "soon"}),
                "timestamp: expected an RFC 3339",
            ),
            (json!("x"), "body: expected an object or an array"),
        ];
        for (body, want) in cases {
            let got = parse(body).unwrap_err().to_string();
            assert!(got.starts_with(want), "got {got:?}, want prefix {want:?}");
        }
    }

    #[test]
    fn too_many_items_is_rejected() {
        let body = Value::Array((0..101).map(|_| json!({"name": "m", "value": 1})).collect());
        assert!(parse(body)
            .unwrap_err()
            .to_string()
            .contains("limit of 100"));
    }
}
