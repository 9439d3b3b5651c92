//! Decode + map throughput per signal and encoding, on the captured fixtures scaled to about
//! 1000 items per request. `cargo bench -p blazar-otlp --bench decode`

// A bench that cannot set up should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use blazar_model::Limits;
use blazar_otlp::{
    data_point_count, decode_logs, decode_metrics, decode_traces, map_logs, map_metrics,
    map_traces, Encoding,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use prost::Message;
use serde_json::Value;

const NOW_NS: i64 = 1_800_000_000_000_000_000;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/otlp")
            .join(name),
    )
    .unwrap()
}

/// Repeats the innermost item list of the JSON fixture `times` times (ids repeat; the decoder
/// and mapper do not care, and the work per item is the same).
fn scale_json(name: &str, outer: &str, mid: &str, inner: &str, times: usize) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture(name)).unwrap();
    for r in v[outer].as_array_mut().unwrap() {
        for s in r[mid].as_array_mut().unwrap() {
            let items = s[inner].as_array().unwrap().clone();
            let arr = s[inner].as_array_mut().unwrap();
            for _ in 1..times {
                arr.extend(items.iter().cloned());
            }
        }
    }
    serde_json::to_vec(&v).unwrap()
}

fn bench_traces(c: &mut Criterion) {
    let json = scale_json("traces.json", "resourceSpans", "scopeSpans", "spans", 125);
    let req = decode_traces(&json, Encoding::Json).unwrap();
    let n: usize = req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    let pb = req.encode_to_vec();
    let mut g = c.benchmark_group("otlp_traces");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(format!("protobuf_{n}_spans"), |b| {
        b.iter(|| map_traces(decode_traces(&pb, Encoding::Protobuf).unwrap(), NOW_NS))
    });
    g.bench_function(format!("json_{n}_spans"), |b| {
        b.iter(|| map_traces(decode_traces(&json, Encoding::Json).unwrap(), NOW_NS))
    });
    g.finish();
}

fn bench_metrics(c: &mut Criterion) {
    let json = scale_json(
        "metrics_cumulative.json",
        "resourceMetrics",
        "scopeMetrics",
        "metrics",
        67,
    );
    let req = decode_metrics(&json, Encoding::Json).unwrap();
    let n = data_point_count(&req);
    let pb = req.encode_to_vec();
    let limits = Limits::default();
    let mut g = c.benchmark_group("otlp_metrics");
    g.throughput(Throughput::Elements(n));
    g.bench_function(format!("protobuf_{n}_points"), |b| {
        b.iter(|| {
            map_metrics(
                decode_metrics(&pb, Encoding::Protobuf).unwrap(),
                NOW_NS,
                &limits,
            )
        })
    });
    g.bench_function(format!("json_{n}_points"), |b| {
        b.iter(|| {
            map_metrics(
                decode_metrics(&json, Encoding::Json).unwrap(),
                NOW_NS,
                &limits,
            )
        })
    });
    g.finish();
}

fn bench_logs(c: &mut Criterion) {
    let json = scale_json("logs.json", "resourceLogs", "scopeLogs", "logRecords", 91);
    let req = decode_logs(&json, Encoding::Json).unwrap();
    let n: usize = req
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    let pb = req.encode_to_vec();
    let mut g = c.benchmark_group("otlp_logs");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(format!("protobuf_{n}_records"), |b| {
        b.iter(|| map_logs(decode_logs(&pb, Encoding::Protobuf).unwrap(), NOW_NS))
    });
    g.bench_function(format!("json_{n}_records"), |b| {
        b.iter(|| map_logs(decode_logs(&json, Encoding::Json).unwrap(), NOW_NS))
    });
    g.finish();
}

criterion_group!(benches, bench_traces, bench_metrics, bench_logs);
criterion_main!(benches);
