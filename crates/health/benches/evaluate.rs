//! What one second of the health monitor costs besides the probes themselves, at 2000 services
//! checked every second: each result through its tracker, then one write of every service's
//! status gauge and response-time histogram (deltas) into a real store, and the root causes
//! over the dependency graph. `cargo bench -p blazar-health --bench evaluate`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use blazar_bus::Bus;
use blazar_config::Criticality;
use blazar_health::overall::root_causes;
use blazar_health::probe::{Observation, Verdict};
use blazar_health::record::{Recorder, ResponseAgg};
use blazar_health::tracker::{Rules, Tracker};
use blazar_health::HealthStatus;
use blazar_store::{SelfMetrics, Settings, Store};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const SERVICES: usize = 2000;

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

fn rules() -> Rules {
    Rules {
        success_threshold: 2,
        failure_threshold: 1,
        healthy_threshold: Duration::ZERO,
        unhealthy_timeout: Duration::from_secs(30),
        history: 100,
    }
}

fn bench(c: &mut Criterion) {
    let names: Vec<String> = (0..SERVICES).map(|i| format!("svc-{i:04}")).collect();
    // A chain of ten services per group, so root causes walk real depth.
    let deps: Vec<Vec<usize>> = (0..SERVICES)
        .map(|i| if i % 10 == 9 { vec![] } else { vec![i + 1] })
        .collect();
    let obs = Observation::new(Verdict::Healthy, Duration::from_micros(800), "HTTP 200");
    let mut g = c.benchmark_group("health");
    g.throughput(Throughput::Elements(SERVICES as u64));

    g.bench_function("track_2000_results", |b| {
        let mut trackers = vec![Tracker::default(); SERVICES];
        let mut t = 0i64;
        b.iter(|| {
            t += 1_000_000_000;
            for tr in &mut trackers {
                std::hint::black_box(tr.observe(&obs, t, &rules()));
            }
        });
    });

    g.bench_function("record_2000_services", |b| {
        let (store, _dir) = open();
        let limits = store.settings().limits;
        let mut t = 1_700_000_000_000i64;
        b.iter_batched(
            || {
                t += 1000;
                t
            },
            |t| {
                let mut rec = Recorder::default();
                for name in &names {
                    let mut agg = ResponseAgg::default();
                    agg.observe(0.0008);
                    rec.status(
                        name,
                        Criticality::Important,
                        HealthStatus::Healthy,
                        t,
                        &limits,
                    );
                    rec.responses(name, &agg, t, &limits);
                }
                store.write_series(&rec.into_batch()).unwrap();
            },
            BatchSize::SmallInput,
        );
    });

    g.bench_function("root_causes_2000", |b| {
        let statuses: Vec<HealthStatus> = (0..SERVICES)
            .map(|i| {
                if i % 7 == 0 {
                    HealthStatus::Unhealthy
                } else {
                    HealthStatus::Healthy
                }
            })
            .collect();
        b.iter(|| std::hint::black_box(root_causes(&deps, &statuses)));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
