//! The OTLP JSON mapping, walked by hand from a `serde_json::Value` so that every error names
//! its field path (`resourceSpans[0].scopeSpans[0].spans[3].spanId: ...`).
//!
//! Accepts lowerCamelCase and proto field names, hex ids, enums as integers or names, 64-bit
//! integers as numbers or strings, `bytesValue` as base64. Unknown fields are ignored (the OTLP
//! spec requires it); `null` means "absent". Depth is bounded by serde_json's recursion limit.

mod common;
mod logs;
mod metrics;
mod traces;

use serde_json::{Map, Value};

use crate::{
    DecodeError, ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};

type Obj = Map<String, Value>;
type R<T> = Result<T, DecodeError>;

pub(crate) fn traces(body: &[u8]) -> R<ExportTraceServiceRequest> {
    traces::request(&parse(body)?)
}

pub(crate) fn metrics(body: &[u8]) -> R<ExportMetricsServiceRequest> {
    metrics::request(&parse(body)?)
}

pub(crate) fn logs(body: &[u8]) -> R<ExportLogsServiceRequest> {
    logs::request(&parse(body)?)
}

fn parse(body: &[u8]) -> R<Value> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::new("body", format!("invalid JSON: {e}")))?;
    if !v.is_object() {
        return Err(DecodeError::new(
            "body",
            format!("expected an object, got {}", describe(&v)),
        ));
    }
    Ok(v)
}

/// Returns a short description of a JSON value for error messages.
fn describe(v: &Value) -> String {
    fn clip(s: &str) -> &str {
        let mut end = s.len().min(32);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.get(..end).unwrap_or("")
    }
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => clip(&n.to_string()).to_string(),
        Value::String(s) => format!("{:?}", clip(s)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn expected(what: &str, v: &Value) -> DecodeError {
    DecodeError::new("", format!("expected {what}, got {}", describe(v)))
}

/// Returns `v` as an object; the error has an empty field for the caller to fill in.
fn as_obj(v: &Value) -> R<Fields<'_>> {
    v.as_object()
        .map(|o| Fields { o })
        .ok_or_else(|| expected("an object", v))
}

/// One JSON object being read into a message; every getter names its field on error.
#[derive(Clone, Copy)]
struct Fields<'a> {
    o: &'a Obj,
}

impl<'a> Fields<'a> {
    /// Returns the field by its JSON (lowerCamelCase) or proto name, `None` when absent or null.
    fn get(&self, camel: &'static str, snake: &'static str) -> Option<&'a Value> {
        self.o
            .get(camel)
            .or_else(|| self.o.get(snake))
            .filter(|v| !v.is_null())
    }

    fn with<T>(
        &self,
        camel: &'static str,
        snake: &'static str,
        f: impl FnOnce(&'a Value) -> R<T>,
    ) -> R<Option<T>> {
        match self.get(camel, snake) {
            None => Ok(None),
            Some(v) => f(v).map(Some).map_err(|e| e.under(camel)),
        }
    }

    fn string(&self, camel: &'static str, snake: &'static str) -> R<String> {
        self.with(camel, snake, to_string)
            .map(Option::unwrap_or_default)
    }

    fn u64(&self, camel: &'static str, snake: &'static str) -> R<u64> {
        self.with(camel, snake, to_u64)
            .map(Option::unwrap_or_default)
    }

    fn u32(&self, camel: &'static str, snake: &'static str) -> R<u32> {
        self.with(camel, snake, |v| {
            let n = to_u64(v)?;
            u32::try_from(n).map_err(|_| expected("an unsigned 32-bit integer", v))
        })
        .map(Option::unwrap_or_default)
    }

    fn i32(&self, camel: &'static str, snake: &'static str) -> R<i32> {
        self.with(camel, snake, to_i32)
            .map(Option::unwrap_or_default)
    }

    fn f64_opt(&self, camel: &'static str, snake: &'static str) -> R<Option<f64>> {
        self.with(camel, snake, to_f64)
    }

    fn f64(&self, camel: &'static str, snake: &'static str) -> R<f64> {
        self.f64_opt(camel, snake).map(Option::unwrap_or_default)
    }

    fn bool(&self, camel: &'static str, snake: &'static str) -> R<bool> {
        self.with(camel, snake, |v| {
            v.as_bool().ok_or_else(|| expected("true or false", v))
        })
        .map(Option::unwrap_or_default)
    }

    /// Reads a hex id of `len` bytes; "" is an empty (absent) id.
    fn id(&self, camel: &'static str, snake: &'static str, len: usize) -> R<Vec<u8>> {
        self.with(camel, snake, |v| to_id(v, len))
            .map(Option::unwrap_or_default)
    }

    /// Reads an enum given as an integer or by its proto name.
    fn enumeration(
        &self,
        camel: &'static str,
        snake: &'static str,
        by_name: fn(&str) -> Option<i32>,
    ) -> R<i32> {
        self.with(camel, snake, |v| match v {
            Value::String(s) => by_name(s).ok_or_else(|| expected("a known enum name", v)),
            _ => to_i32(v),
        })
        .map(Option::unwrap_or_default)
    }

    fn list<T>(
        &self,
        camel: &'static str,
        snake: &'static str,
        item: impl Fn(&'a Value) -> R<T>,
    ) -> R<Vec<T>> {
        self.with(camel, snake, |v| {
            let arr = v.as_array().ok_or_else(|| expected("an array", v))?;
            arr.iter()
                .enumerate()
                .map(|(i, x)| item(x).map_err(|e| e.under(&format!("[{i}]"))))
                .collect()
        })
        .map(Option::unwrap_or_default)
    }

    fn message<T>(
        &self,
        camel: &'static str,
        snake: &'static str,
        msg: impl FnOnce(Fields<'a>) -> R<T>,
    ) -> R<Option<T>> {
        self.with(camel, snake, |v| msg(as_obj(v)?))
    }
}

fn to_string(v: &Value) -> R<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| expected("a string", v))
}

fn to_u64(v: &Value) -> R<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            // Integral floats such as `1e3` are valid proto3 JSON integers.
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 18_446_744_073_709_551_616.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    n.ok_or_else(|| expected("an unsigned 64-bit integer", v))
}

fn to_i64(v: &Value) -> R<i64> {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| {
                    f.fract() == 0.0
                        && *f >= -9_223_372_036_854_775_808.0
                        && *f < 9_223_372_036_854_775_808.0
                })
                .map(|f| f as i64)
        }),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => None,
    };
    n.ok_or_else(|| expected("a 64-bit integer", v))
}

fn to_i32(v: &Value) -> R<i32> {
    let n = to_i64(v).map_err(|_| expected("a 32-bit integer", v))?;
    i32::try_from(n).map_err(|_| expected("a 32-bit integer", v))
}

fn to_f64(v: &Value) -> R<f64> {
    let f = match v {
        Value::Number(n) => n.as_f64(),
        // proto3 JSON spells the non-finite values as strings, and allows numeric strings.
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            s if s
                .bytes()
                .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
            {
                s.parse::<f64>().ok()
            }
            _ => None,
        },
        _ => None,
    };
    f.ok_or_else(|| expected("a number", v))
}

fn to_id(v: &Value, len: usize) -> R<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| expected("a hex string", v))?;
    if s.is_empty() {
        return Ok(Vec::new());
    }
    if s.len() != len * 2 {
        return Err(DecodeError::new(
            "",
            format!("expected {} hex digits, got {}", len * 2, s.len()),
        ));
    }
    hex::decode(s).map_err(|_| expected("hex digits", v))
}
