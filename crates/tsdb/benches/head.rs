//! Head append batches: one sample for every series of a 1k- or 10k-series head, as one
//! scrape round delivers them; and series lookup by labels.

#[path = "common/nodegen.rs"]
mod nodegen;

use blazar_model::{Labels, Sample};
use blazar_tsdb::{Head, HeadOptions, SeriesRef};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const WARM_SCRAPES: i64 = 10;

struct Fixture {
    head: Head,
    batch: Vec<(SeriesRef, Sample)>,
}

/// Builds a head with `series` series and a few samples each, and the next scrape's batch.
fn fixture(series: usize) -> Fixture {
    let mut rng = nodegen::Rng::new(3);
    let mut instances = nodegen::instances(series / nodegen::SERIES_PER_INSTANCE, &mut rng);
    let head = Head::new(HeadOptions::default());
    let refs: Vec<Vec<SeriesRef>> = instances
        .iter()
        .map(|i| {
            i.series
                .iter()
                .map(|s| {
                    // Generated labels never repeat a name.
                    head.get_or_create(
                        &Labels::try_from_pairs(s.labels.clone()).unwrap_or_default(),
                    )
                    .0
                })
                .collect()
        })
        .collect();
    let mut batch = Vec::new();
    for k in 0..=WARM_SCRAPES {
        batch.clear();
        for (inst, refs) in instances.iter_mut().zip(&refs) {
            let t = nodegen::scrape_time(1_700_000_000_000, inst, k, &mut rng);
            batch.extend(inst.series.iter_mut().zip(refs).map(|(s, r)| {
                (
                    *r,
                    Sample {
                        t,
                        v: s.next(&mut rng),
                    },
                )
            }));
        }
        if k < WARM_SCRAPES {
            head.append_batch(&batch);
        }
    }
    Fixture { head, batch }
}

fn head_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("head_append");
    for series in [1_000, 10_000] {
        let Fixture { head, mut batch } = fixture(series);
        g.throughput(Throughput::Elements(series as u64));
        // Steady state: every iteration is the next scrape round of the same head.
        g.bench_function(format!("{}k_series", series / 1000), |b| {
            b.iter(|| {
                let st = head.append_batch(&batch);
                for (_, s) in &mut batch {
                    s.t += nodegen::INTERVAL_MS;
                }
                st.appended
            })
        });
    }
    g.finish();
}

fn head_get_or_create(c: &mut Criterion) {
    let mut rng = nodegen::Rng::new(5);
    let labels: Vec<Labels> = nodegen::instances(10, &mut rng)
        .into_iter()
        .flat_map(|i| {
            i.series
                .into_iter()
                .filter_map(|s| Labels::try_from_pairs(s.labels).ok())
        })
        .collect();
    let head = Head::new(HeadOptions::default());
    for l in &labels {
        head.get_or_create(l);
    }
    let mut g = c.benchmark_group("head_lookup");
    g.throughput(Throughput::Elements(labels.len() as u64));
    g.bench_function("get_or_create_existing_1k", |b| {
        b.iter(|| {
            labels
                .iter()
                .map(|l| head.get_or_create(l).0 .0)
                .sum::<u64>()
        })
    });
    g.finish();
}

criterion_group!(benches, head_append, head_get_or_create);
criterion_main!(benches);
