//! OTLP decode + ingest, end to end below the socket: protobuf bytes → decode → id check →
//! map → WAL append → stores → bus, per signal, on the captured fixtures scaled to about 1000
//! items per request. Every iteration gets fresh ids / newer timestamps, so it measures new
//! data, not replacements or out-of-order drops. `cargo bench -p blazar-api --bench otlp_ingest`

// A bench that cannot set up should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use blazar_bus::Bus;
use blazar_model::Limits;
use blazar_otlp::{decode_logs, decode_metrics, decode_traces, Encoding};
use blazar_store::{SelfMetrics, Settings, Store};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;

// The binary's allocator, so the figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NOW_NS: i64 = 1_800_000_000_000_000_000;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/otlp")
            .join(name),
    )
    .unwrap()
}

fn open() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = blazar_config::Config::default();
    cfg.storage.data_dir = dir.path().to_path_buf();
    cfg.storage.fsync = blazar_config::FsyncMode::Never;
    let (store, _) = Store::open(
        Settings::from_config(&cfg),
        Bus::new(1024),
        Arc::new(SelfMetrics::new()),
    )
    .unwrap();
    (store, dir)
}

static SEQ: AtomicU64 = AtomicU64::new(1);

/// The traces fixture repeated `times` times, each copy its own trace (fresh ids).
fn traces(times: usize) -> Vec<u8> {
    let base = ExportTraceServiceRequest::decode(&fixture("traces.pb")[..]).unwrap();
    let mut out = ExportTraceServiceRequest::default();
    for _ in 0..times {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let mut copy = base.clone();
        for rs in &mut copy.resource_spans {
            for ss in &mut rs.scope_spans {
                for sp in &mut ss.spans {
                    sp.trace_id[..8].copy_from_slice(&seq.to_be_bytes());
                    for l in &mut sp.links {
                        l.trace_id[..8].copy_from_slice(&seq.to_be_bytes());
                    }
                }
            }
        }
        out.resource_spans.extend(copy.resource_spans);
    }
    out.encode_to_vec()
}

/// The logs fixture repeated `times` times.
fn logs(times: usize) -> Vec<u8> {
    let base = ExportLogsServiceRequest::decode(&fixture("logs.pb")[..]).unwrap();
    let mut out = ExportLogsServiceRequest::default();
    for _ in 0..times {
        out.resource_logs.extend(base.resource_logs.clone());
    }
    out.encode_to_vec()
}

/// The cumulative metrics fixture with `series_copies` copies of each data point (distinct by
/// a `copy` attribute), every point `step` seconds after the fixture time.
fn metrics(series_copies: usize, step: u64) -> Vec<u8> {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    let base = ExportMetricsServiceRequest::decode(&fixture("metrics_cumulative.pb")[..]).unwrap();
    let mut out = base.clone();
    let shift = step * 1_000_000_000;
    let tag = |i: usize| KeyValue {
        key: "copy".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(i as i64)),
        }),
    };
    for rm in &mut out.resource_metrics {
        for sm in &mut rm.scope_metrics {
            for m in &mut sm.metrics {
                match m.data.as_mut().unwrap() {
                    Data::Sum(s) => {
                        let pts = s.data_points.clone();
                        s.data_points = (0..series_copies)
                            .flat_map(|i| {
                                pts.iter().cloned().map(move |mut p| {
                                    p.attributes.push(tag(i));
                                    p.time_unix_nano += shift;
                                    p
                                })
                            })
                            .collect();
                    }
                    Data::Gauge(g) => {
                        let pts = g.data_points.clone();
                        g.data_points = (0..series_copies)
                            .flat_map(|i| {
                                pts.iter().cloned().map(move |mut p| {
                                    p.attributes.push(tag(i));
                                    p.time_unix_nano += shift;
                                    p
                                })
                            })
                            .collect();
                    }
                    Data::Histogram(h) => {
                        let pts = h.data_points.clone();
                        h.data_points = (0..series_copies)
                            .flat_map(|i| {
                                pts.iter().cloned().map(move |mut p| {
                                    p.attributes.push(tag(i));
                                    p.time_unix_nano += shift;
                                    p
                                })
                            })
                            .collect();
                    }
                    _ => {}
                }
            }
        }
    }
    out.encode_to_vec()
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("otlp_ingest");
    // One store per signal, so one signal's data does not slow the next one's measurement.
    let (store, _dir) = open();

    let spans = 125 * 8;
    g.throughput(Throughput::Elements(spans));
    g.bench_function(format!("traces_protobuf_{spans}_spans"), |b| {
        b.iter_batched(
            || traces(125),
            |body| {
                let req = decode_traces(&body, Encoding::Protobuf).unwrap();
                blazar_api::otlp::ingest_traces(&store, req, NOW_NS).unwrap()
            },
            BatchSize::SmallInput,
        )
    });

    let (store, _dir2) = open();
    let records = 91 * 11;
    g.throughput(Throughput::Elements(records));
    g.bench_function(format!("logs_protobuf_{records}_records"), |b| {
        b.iter_batched(
            || logs(91),
            |body| {
                let req = decode_logs(&body, Encoding::Protobuf).unwrap();
                blazar_api::otlp::ingest_logs(&store, req, NOW_NS).unwrap()
            },
            BatchSize::SmallInput,
        )
    });

    let (store, _dir3) = open();
    // 15 points x 67 copies ≈ 1000 data points (histograms expand to 13 series each).
    let points = 15 * 67;
    let step = AtomicU64::new(1);
    g.throughput(Throughput::Elements(points));
    g.bench_function(format!("metrics_protobuf_{points}_points"), |b| {
        b.iter_batched(
            || metrics(67, step.fetch_add(1, Ordering::Relaxed)),
            |body| {
                let req = decode_metrics(&body, Encoding::Protobuf).unwrap();
                blazar_api::otlp::ingest_metrics(&store, req, NOW_NS, &limits).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
