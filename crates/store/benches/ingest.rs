//! The whole write path (validate → WAL append → head/stores → bus) per signal.
//! `cargo bench -p blazar-store --bench ingest`

// A bench that cannot set up should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use blazar_bus::Bus;
use blazar_ingest::remote_write::{self, proto};
use blazar_model::{Event, Labels, Limits, MetricKind, MetricPoint};
use blazar_store::{SelfMetrics, Settings, Store};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

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

fn series(n: usize) -> Vec<Labels> {
    (0..n)
        .map(|i| {
            Labels::try_from_pairs([
                ("__name__", "node_cpu_seconds_total".to_string()),
                ("cpu", (i % 64).to_string()),
                (
                    "mode",
                    ["user", "system", "idle", "iowait"][i % 4].to_string(),
                ),
                ("instance", format!("host-{}:9100", i / 256)),
                ("job", "node".to_string()),
            ])
            .unwrap()
        })
        .collect()
}

/// One remote_write request as a Prometheus shard sends it (one sample per series), already
/// decompressed: the timed part is parse + validate + WAL + head.
fn request(labels: &[Labels], per_series: usize, t0: i64) -> Vec<u8> {
    let req = proto::WriteRequest {
        timeseries: labels
            .iter()
            .enumerate()
            .map(|(i, l)| proto::TimeSeries {
                labels: l
                    .iter()
                    .map(|(k, v)| proto::Label {
                        name: k.into(),
                        value: v.into(),
                    })
                    .collect(),
                samples: (0..per_series)
                    .map(|k| proto::Sample {
                        timestamp: t0 + k as i64 * 15_000,
                        value: (i * k) as f64,
                    })
                    .collect(),
            })
            .collect(),
        metadata: Vec::new(),
    };
    prost::Message::encode_to_vec(&req)
}

fn remote_write(c: &mut Criterion) {
    const SERIES: usize = 2000;
    let labels = series(SERIES);
    let mut g = c.benchmark_group("store_remote_write");
    for per in [1usize, 10] {
        g.throughput(Throughput::Elements((SERIES * per) as u64));
        let (store, _dir) = open();
        let mut t0 = 1_700_000_000_000i64;
        g.bench_function(format!("2k_series_x{per}"), |b| {
            b.iter_batched(
                || {
                    t0 += per as i64 * 15_000;
                    request(&labels, per, t0)
                },
                |raw| {
                    let req = remote_write::borrowed::parse(&raw).unwrap();
                    store.write_remote(&req).unwrap()
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn native_points(c: &mut Criterion) {
    let lim = Limits::default();
    let mut g = c.benchmark_group("store_native_points");
    g.throughput(Throughput::Elements(100));
    let (store, _dir) = open();
    let mut t = 1_700_000_000_000i64;
    for (kind, name) in [
        (MetricKind::Counter, "counter"),
        (MetricKind::Histogram, "histogram"),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    t += 1000;
                    (0..100)
                        .map(|i| MetricPoint {
                            labels: Labels::for_metric(
                                &format!("plugin.bench.{name}"),
                                [("k", (i % 10).to_string().as_str())],
                                &lim,
                            )
                            .unwrap(),
                            kind,
                            value: 0.01 * f64::from(i),
                            t,
                        })
                        .collect::<Vec<_>>()
                },
                |pts| store.write_points(pts).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn events(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_events");
    g.throughput(Throughput::Elements(100));
    let (store, _dir) = open();
    let mut n = 0u64;
    g.bench_function("100_events", |b| {
        b.iter_batched(
            || {
                (0..100)
                    .map(|i| {
                        n += 1;
                        Event {
                            event_id: format!("00000000-0000-4000-8000-{n:012}"),
                            timestamp_ns: 1_700_000_000_000_000_000 + i,
                            event_type: "user.action".into(),
                            source: "bench".into(),
                            data: serde_json::json!({"action": "login", "user_id": n}),
                            metadata: Default::default(),
                        }
                    })
                    .collect::<Vec<_>>()
            },
            |ev| store.write_events(ev).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, remote_write, native_points, events);
criterion_main!(benches);
