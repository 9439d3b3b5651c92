//! OTLP attribute values and resources → blazar's JSON attribute maps, service and scope.

use std::collections::BTreeMap;

use base64::Engine;
use blazar_model::Scope;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::Value;

/// Deepest array/kvlist nesting kept; deeper values reject their item (a bound on work and on
/// every later recursive walk of the stored value).
pub(crate) const MAX_DEPTH: usize = 16;

/// `service.name` when the resource has none (the OTel SDK default, without a process name).
pub(crate) const UNKNOWN_SERVICE: &str = "unknown_service";

pub(crate) type Attrs = BTreeMap<String, Value>;

/// Returns an attribute value as JSON.
///
/// # Errors
/// Nesting deeper than [`MAX_DEPTH`].
pub(crate) fn to_json(v: &AnyValue) -> Result<Value, String> {
    to_json_at(v, 0)
}

fn to_json_at(v: &AnyValue, depth: usize) -> Result<Value, String> {
    use any_value::Value as V;
    if depth > MAX_DEPTH {
        return Err(format!("value nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(match &v.value {
        None => Value::Null,
        Some(V::StringValue(s)) => Value::String(s.clone()),
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::IntValue(i)) => Value::from(*i),
        Some(V::DoubleValue(d)) => double(*d),
        Some(V::BytesValue(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(V::ArrayValue(a)) => Value::Array(
            a.values
                .iter()
                .map(|x| to_json_at(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Some(V::KvlistValue(kv)) => {
            let mut m = serde_json::Map::new();
            for e in &kv.values {
                let val = match &e.value {
                    Some(x) => to_json_at(x, depth + 1)?,
                    None => Value::Null,
                };
                m.insert(e.key.clone(), val);
            }
            Value::Object(m)
        }
    })
}

/// Returns a double as JSON; JSON has no NaN or infinities, so those become strings.
fn double(d: f64) -> Value {
    match serde_json::Number::from_f64(d) {
        Some(n) => Value::Number(n),
        None if d.is_nan() => Value::String("NaN".into()),
        None if d > 0.0 => Value::String("+Inf".into()),
        None => Value::String("-Inf".into()),
    }
}

/// Returns key-value attributes as a map; a repeated key keeps its last value.
///
/// # Errors
/// A value nested too deep, naming its key.
pub(crate) fn to_map(kvs: &[KeyValue]) -> Result<Attrs, String> {
    let mut m = Attrs::new();
    for kv in kvs {
        let v = match &kv.value {
            Some(v) => to_json(v).map_err(|e| format!("attribute {:?}: {e}", kv.key))?,
            None => Value::Null,
        };
        m.insert(kv.key.clone(), v);
    }
    Ok(m)
}

/// What every item of one resource shares.
pub(crate) struct ResourceInfo {
    pub(crate) service: String,
    /// Shared by every span / record of the resource: one map per resource, not per item.
    pub(crate) attrs: blazar_model::Resource,
}

/// Returns the resource's service and attributes.
///
/// # Errors
/// A resource attribute nested too deep; every item of the resource is then rejected.
pub(crate) fn resource(r: Option<&Resource>) -> Result<ResourceInfo, String> {
    let attrs = match r {
        Some(r) => to_map(&r.attributes).map_err(|e| format!("resource {e}"))?,
        None => Attrs::new(),
    };
    let service = match attrs.get("service.name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => UNKNOWN_SERVICE.to_string(),
    };
    Ok(ResourceInfo {
        service,
        attrs: std::sync::Arc::new(attrs),
    })
}

/// Returns the scope, or `None` when the producer named none.
pub(crate) fn scope(s: Option<&InstrumentationScope>) -> Option<Scope> {
    s.filter(|s| !s.name.is_empty() || !s.version.is_empty())
        .map(|s| Scope {
            name: s.name.clone(),
            version: s.version.clone(),
        })
}

/// Returns an attribute value as label text: strings as-is, scalars as written, arrays and maps
/// as JSON text.
pub(crate) fn to_label_value(v: Option<&AnyValue>) -> Result<String, String> {
    use any_value::Value as V;
    Ok(match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => crate::metrics::format_float(*d),
        Some(V::BytesValue(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        Some(V::ArrayValue(_) | V::KvlistValue(_)) => match v {
            Some(v) => to_json(v)?.to_string(),
            None => String::new(),
        },
    })
}
