//! Hostile and malformed input: never a panic; a malformed body is a `DecodeError` naming the
//! field; a malformed item inside a good body is a partial success.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed test

use std::io::Write;
use std::path::PathBuf;

use blazar_model::Limits;
use blazar_otlp::{
    decode_logs, decode_metrics, decode_traces, gunzip, map_logs, map_metrics, map_traces, Encoding,
};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/otlp")
        .join(name);
    std::fs::read(p).unwrap()
}

/// Decodes and maps `body` as every signal in `enc`; only a panic fails.
fn feed(body: &[u8], enc: Encoding) {
    if let Ok(r) = decode_traces(body, enc) {
        let _ = map_traces(r, 0);
    }
    if let Ok(r) = decode_metrics(body, enc) {
        let _ = map_metrics(r, 0, &Limits::default());
    }
    if let Ok(r) = decode_logs(body, enc) {
        let _ = map_logs(r, 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        feed(&body, Encoding::Protobuf);
        feed(&body, Encoding::Json);
        let _ = gunzip(&body, 1 << 16);
    }

    #[test]
    fn mutated_fixtures_never_panic(idx in 0usize..8, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let names = ["traces.pb", "traces.json", "metrics_cumulative.pb", "metrics_cumulative.json",
            "metrics_delta.pb", "metrics_delta.json", "logs.pb", "logs.json"];
        let mut body = fixture(names[idx]);
        let i = pos.index(body.len());
        body[i] = byte;
        feed(&body, Encoding::Protobuf);
        feed(&body, Encoding::Json);
    }
}

#[test]
fn truncated_fixtures_never_panic() {
    for name in [
        "traces.pb",
        "metrics_cumulative.pb",
        "metrics_delta.pb",
        "logs.pb",
        "traces.json",
        "logs.json",
        "metrics_delta.json",
    ] {
        let body = fixture(name);
        for n in (0..body.len()).step_by(7) {
            feed(&body[..n], Encoding::Protobuf);
            feed(&body[..n], Encoding::Json);
        }
    }
    let gz = fixture("traces.pb.gz");
    for n in 0..gz.len() {
        let _ = gunzip(&gz[..n], 1 << 20);
    }
}

#[test]
fn gzip_bomb_is_an_error_not_an_allocation() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    let err = gunzip(&bomb, 4 << 20).unwrap_err();
    assert_eq!(err.field(), "body");
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(gunzip(&bomb, 64 << 20).unwrap().len(), 64 << 20);
}

fn json_err_traces(body: &str) -> String {
    decode_traces(body.as_bytes(), Encoding::Json)
        .unwrap_err()
        .to_string()
}

#[test]
fn wrong_types_in_json_name_the_field() {
    assert_eq!(
        json_err_traces(
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{},{"spanId":"0102030405"}]}]}]}"#
        ),
        "resourceSpans[0].scopeSpans[0].spans[3].spanId: expected 16 hex digits, got 10"
    );
    assert_eq!(
        json_err_traces(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz0102030405060708090a0b0c0d0e0f"}]}]}]}"#),
        "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected hex digits, got \"zz0102030405060708090a0b0c0d0e0f\""
    );
    assert_eq!(
        json_err_traces(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":true}]}]}]}"#),
        "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected an unsigned 64-bit integer, got true"
    );
    assert_eq!(
        json_err_traces(r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":{"intValue":"x1"}}]}}]}"#),
        "resourceSpans[0].resource.attributes[0].value.intValue: expected a 64-bit integer, got \"x1\""
    );
    assert_eq!(
        json_err_traces(r#"{"resourceSpans":{}}"#),
        "resourceSpans: expected an array, got an object"
    );
    assert_eq!(
        json_err_traces(r#"{"resourceSpans":[7]}"#),
        "resourceSpans[0]: expected an object, got 7"
    );
    assert_eq!(
        json_err_traces(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_NOPE"}]}]}]}"#),
        "resourceSpans[0].scopeSpans[0].spans[0].kind: expected a known enum name, got \"SPAN_KIND_NOPE\""
    );
    assert_eq!(
        json_err_traces("[]"),
        "body: expected an object, got an array"
    );
    assert!(json_err_traces("{").starts_with("body: invalid JSON"));
    let e = decode_metrics(
        br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"bucketCounts":["1",-2]}]}}]}]}]}"#,
        Encoding::Json,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts[1]: expected an unsigned 64-bit integer, got -2"
    );
    let e = decode_logs(
        br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"bytesValue":"!!"}}]}]}]}"#,
        Encoding::Json,
    )
    .unwrap_err();
    assert_eq!(
        e.field(),
        "resourceLogs[0].scopeLogs[0].logRecords[0].body.bytesValue"
    );
}

#[test]
fn json_accepts_proto_names_enum_names_and_numbers_for_int64() {
    let body = r#"{"resource_spans":[{"scope_spans":[{"spans":[{
        "trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708",
        "kind":"SPAN_KIND_SERVER","start_time_unix_nano":1000,"end_time_unix_nano":"2000",
        "status":{"code":"STATUS_CODE_ERROR"},
        "attributes":[{"key":"d","value":{"doubleValue":"NaN"}},{"key":"b","value":{"bytesValue":"AQI="}}]}]}]}]}"#;
    let out = map_traces(decode_traces(body.as_bytes(), Encoding::Json).unwrap(), 0);
    assert_eq!(out.rejected, 0, "{:?}", out.errors);
    let s = &out.items[0];
    assert_eq!(s.kind, blazar_model::SpanKind::Server);
    assert_eq!(s.status, blazar_model::SpanStatus::Error);
    assert_eq!(s.end_unix_nano, Some(2000));
    assert_eq!(s.service, "unknown_service");
    assert_eq!(s.attributes["d"], "NaN");
    assert_eq!(s.attributes["b"], "AQI=");
}

#[test]
fn deep_json_is_an_error_not_a_stack_overflow() {
    let mut v = String::from(r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":"#);
    for _ in 0..100_000 {
        v.push_str(r#"{"arrayValue":{"values":["#);
    }
    let err = decode_traces(v.as_bytes(), Encoding::Json).unwrap_err();
    assert!(err.to_string().starts_with("body: invalid JSON"), "{err}");
    // Deep but within serde_json's limit: decodes, and mapping rejects the over-deep value.
    let mut v = String::from(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","attributes":[{"key":"a","value":"#,
    );
    for _ in 0..30 {
        v.push_str(r#"{"arrayValue":{"values":["#);
    }
    for _ in 0..30 {
        v.push_str("]}}");
    }
    v.push_str("}]}]}]}]}");
    let out = map_traces(decode_traces(v.as_bytes(), Encoding::Json).unwrap(), 0);
    assert_eq!(out.rejected, 1);
    assert!(
        out.errors[0].contains("nested deeper than 16"),
        "{:?}",
        out.errors
    );
}

#[test]
fn deep_protobuf_is_an_error_not_a_stack_overflow() {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue};
    use prost::Message;
    // Encode nesting by hand: each level is AnyValue{array_value(5): ArrayValue{values(1): ...}}.
    let mut inner: Vec<u8> = AnyValue {
        value: Some(any_value::Value::IntValue(1)),
    }
    .encode_to_vec();
    for _ in 0..2000 {
        let arr = ArrayValue { values: vec![] };
        let mut a = arr.encode_to_vec();
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut a);
        prost::encoding::encode_varint(inner.len() as u64, &mut a);
        a.extend_from_slice(&inner);
        let mut v = Vec::new();
        prost::encoding::encode_key(5, prost::encoding::WireType::LengthDelimited, &mut v);
        prost::encoding::encode_varint(a.len() as u64, &mut v);
        v.extend_from_slice(&a);
        inner = v;
    }
    // Wrap as ExportLogsServiceRequest.resource_logs[0].scope_logs[0].log_records[0].body.
    let wrap = |field: u32, body: Vec<u8>| {
        let mut v = Vec::new();
        prost::encoding::encode_key(field, prost::encoding::WireType::LengthDelimited, &mut v);
        prost::encoding::encode_varint(body.len() as u64, &mut v);
        v.extend_from_slice(&body);
        v
    };
    let body = wrap(1, wrap(2, wrap(2, wrap(5, inner))));
    assert!(decode_logs(&body, Encoding::Protobuf).is_err());
}
