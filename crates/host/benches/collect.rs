//! What one host sample costs (it runs every `host.metrics_interval`, default 5 s).
//! `cargo bench -p blazar-host --bench collect`

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let mut collector = blazar_host::HostCollector::new();
    let mut now = 1_000_000_000i64;
    c.bench_function("host_collect", |b| {
        b.iter(|| {
            now += 5_000_000_000;
            collector.collect(now)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
