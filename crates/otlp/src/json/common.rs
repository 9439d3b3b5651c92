//! JSON → common OTLP messages: `AnyValue`, `KeyValue`, `Resource`, `InstrumentationScope`.

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::Value;

use super::{as_obj, expected, to_f64, to_i64, to_string, Fields, R};

pub(super) fn any_value(v: &Value) -> R<AnyValue> {
    let f = as_obj(v)?;
    let value = if let Some(s) = f.with("stringValue", "string_value", to_string)? {
        Some(any_value::Value::StringValue(s))
    } else if let Some(b) = f.with("boolValue", "bool_value", |v| {
        v.as_bool().ok_or_else(|| expected("true or false", v))
    })? {
        Some(any_value::Value::BoolValue(b))
    } else if let Some(i) = f.with("intValue", "int_value", to_i64)? {
        Some(any_value::Value::IntValue(i))
    } else if let Some(d) = f.with("doubleValue", "double_value", to_f64)? {
        Some(any_value::Value::DoubleValue(d))
    } else if let Some(a) = f.message("arrayValue", "array_value", |a| {
        Ok(ArrayValue {
            values: a.list("values", "values", any_value)?,
        })
    })? {
        Some(any_value::Value::ArrayValue(a))
    } else if let Some(kv) = f.message("kvlistValue", "kvlist_value", |a| {
        Ok(KeyValueList {
            values: a.list("values", "values", key_value)?,
        })
    })? {
        Some(any_value::Value::KvlistValue(kv))
    } else {
        f.with("bytesValue", "bytes_value", base64_bytes)?
            .map(any_value::Value::BytesValue)
    };
    Ok(AnyValue { value })
}

/// Decodes base64 as proto3 JSON allows: standard or URL-safe alphabet, padded or not.
fn base64_bytes(v: &Value) -> R<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = v.as_str().ok_or_else(|| expected("a base64 string", v))?;
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
        .ok_or_else(|| expected("a base64 string", v))
}

pub(super) fn key_value(v: &Value) -> R<KeyValue> {
    let f = as_obj(v)?;
    Ok(KeyValue {
        key: f.string("key", "key")?,
        value: f.with("value", "value", any_value)?,
    })
}

pub(super) fn attributes(f: &Fields<'_>) -> R<Vec<KeyValue>> {
    f.list("attributes", "attributes", key_value)
}

pub(super) fn resource(f: &Fields<'_>) -> R<Option<Resource>> {
    f.message("resource", "resource", |r| {
        Ok(Resource {
            attributes: attributes(&r)?,
            dropped_attributes_count: r
                .u32("droppedAttributesCount", "dropped_attributes_count")?,
            entity_refs: Vec::new(),
        })
    })
}

pub(super) fn scope(f: &Fields<'_>) -> R<Option<InstrumentationScope>> {
    f.message("scope", "scope", |s| {
        Ok(InstrumentationScope {
            name: s.string("name", "name")?,
            version: s.string("version", "version")?,
            attributes: attributes(&s)?,
            dropped_attributes_count: s
                .u32("droppedAttributesCount", "dropped_attributes_count")?,
        })
    })
}
