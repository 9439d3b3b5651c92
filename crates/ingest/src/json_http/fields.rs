//! Typed field access over `serde_json::Value` whose errors name the field and the type found.

use serde_json::{Map, Value};

use crate::InputError;

/// One item of a JSON body with its path prefix (`[3]`, or empty for a single object).
pub type Item<'a> = (String, &'a Map<String, Value>);

/// Returns each item of a body that is one object or an array of objects, with its path prefix.
///
/// # Errors
/// Not an object/array, an empty array, or more than `max_items`.
pub fn items(body: &Value, max_items: usize) -> Result<Vec<Item<'_>>, InputError> {
    match body {
        Value::Object(o) => Ok(vec![(String::new(), o)]),
        Value::Array(a) => {
            if a.is_empty() {
                return Err(InputError::new(
                    "body",
                    "expected at least one item, got an empty array",
                ));
            }
            if a.len() > max_items {
                return Err(InputError::new(
                    "body",
                    format!("{} items is more than the limit of {max_items}", a.len()),
                ));
            }
            a.iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Object(o) => Ok((format!("[{i}]"), o)),
                    other => Err(InputError::new(
                        format!("[{i}]"),
                        format!("expected an object, got {}", type_name(other)),
                    )),
                })
                .collect()
        }
        other => Err(InputError::new(
            "body",
            format!(
                "expected an object or an array of objects, got {}",
                type_name(other)
            ),
        )),
    }
}

/// Returns the JSON type name of a value, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Returns a required non-empty string field of at most `max` bytes.
pub(crate) fn req_str<'a>(
    o: &'a Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<&'a str, InputError> {
    match o.get(key) {
        None | Some(Value::Null) => Err(InputError::new(key, "required field is missing")),
        Some(v) => str_value(key, v, max),
    }
}

/// Returns an optional string field of at most `max` bytes (null counts as absent).
pub(crate) fn opt_str<'a>(
    o: &'a Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<&'a str>, InputError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => str_value(key, v, max).map(Some),
    }
}

fn str_value<'a>(key: &str, v: &'a Value, max: usize) -> Result<&'a str, InputError> {
    match v {
        Value::String(s) if s.is_empty() => Err(InputError::new(key, "must not be empty")),
        Value::String(s) if s.len() > max => Err(InputError::new(
            key,
            format!("{} bytes is longer than the limit of {max}", s.len()),
        )),
        Value::String(s) => Ok(s),
        other => Err(InputError::new(
            key,
            format!("expected a string, got {}", type_name(other)),
        )),
    }
}

/// Returns an optional object field.
pub(crate) fn opt_obj<'a>(
    o: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, InputError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(InputError::new(
            key,
            format!("expected an object, got {}", type_name(other)),
        )),
    }
}

/// Returns an optional time field (RFC 3339 string or unix seconds number) in nanoseconds.
pub(crate) fn opt_time_ns(o: &Map<String, Value>, key: &str) -> Result<Option<i64>, InputError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => crate::parse_time_ns(key, s).map(Some),
        Some(Value::Number(n)) => {
            let secs = n
                .as_f64()
                .ok_or_else(|| InputError::new(key, "expected unix seconds"))?;
            crate::time::secs_to_ns(key, secs).map(Some)
        }
        Some(other) => Err(InputError::new(
            key,
            format!(
                "expected an RFC 3339 string or unix seconds, got {}",
                type_name(other)
            ),
        )),
    }
}

/// Renders a scalar tag value as text (seed 004 sends `str(value)`; numbers and booleans are accepted too).
pub(crate) fn scalar_text(key: &str, v: &Value, max: usize) -> Result<String, InputError> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => {
            return Err(InputError::new(
                key,
                format!(
                    "expected a string, number or boolean, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    if s.len() > max {
        return Err(InputError::new(
            key,
            format!("{} bytes is longer than the limit of {max}", s.len()),
        ));
    }
    Ok(s)
}

/// Rejects keys not in `known`, so a typo (`"vaule"`) is an error, not a silent default.
pub(crate) fn no_unknown(o: &Map<String, Value>, known: &[&str]) -> Result<(), InputError> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(InputError::new(
            k.as_str(),
            format!("unknown field; expected one of {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}
