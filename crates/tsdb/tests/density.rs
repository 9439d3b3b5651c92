//! Memory density on node-exporter-like data: 10,000 series with ~10 labels, 15 s scrapes
//! with a few ms of jitter, 2 hours. Prints bytes per sample and per series and asserts
//! loose bounds only (no timing asserts; the printed rate is for information).

#[path = "../benches/common/nodegen.rs"]
mod nodegen;

use std::time::Instant;

use blazar_model::{Labels, Sample};
use blazar_tsdb::{Head, HeadOptions, SeriesRef};

const INSTANCES: usize = 100;
const SCRAPES: i64 = 2 * 3600 * 1000 / nodegen::INTERVAL_MS;
const START_MS: i64 = 1_700_000_000_000;

#[test]
fn node_exporter_data_fits_the_density_budget() {
    let mut rng = nodegen::Rng::new(42);
    let mut instances = nodegen::instances(INSTANCES, &mut rng);
    let head = Head::new(HeadOptions::default());
    let refs: Vec<Vec<SeriesRef>> = instances
        .iter()
        .map(|inst| {
            inst.series
                .iter()
                .map(|s| {
                    head.get_or_create(&Labels::try_from_pairs(s.labels.clone()).unwrap())
                        .0
                })
                .collect()
        })
        .collect();
    // Generate first, so the timed part is appends only.
    let mut batches = Vec::with_capacity(SCRAPES as usize * INSTANCES);
    for k in 0..SCRAPES {
        for (inst, refs) in instances.iter_mut().zip(&refs) {
            let t = nodegen::scrape_time(START_MS, inst, k, &mut rng);
            let batch: Vec<(SeriesRef, Sample)> = inst
                .series
                .iter_mut()
                .zip(refs)
                .map(|(s, r)| {
                    (
                        *r,
                        Sample {
                            t,
                            v: s.next(&mut rng),
                        },
                    )
                })
                .collect();
            batches.push(batch);
        }
    }
    let started = Instant::now();
    let mut appended = 0;
    for b in &batches {
        appended += head.append_batch(b).appended;
    }
    let secs = started.elapsed().as_secs_f64();
    let stats = head.stats();
    let encoded: usize = head
        .snapshot()
        .iter()
        .flat_map(|s| &s.chunks)
        .map(Vec::len)
        .sum();
    let per_sample = stats.chunk_bytes as f64 / stats.samples as f64;
    let encoded_per_sample = encoded as f64 / stats.samples as f64;
    let per_series = stats.index_bytes as f64 / stats.series as f64;
    println!(
        "density: series={} samples={} encoded={:.3} B/sample chunk_mem={:.3} B/sample \
         overhead={:.0} B/series total={:.1} MiB append={:.2} M samples/s ({} build)",
        stats.series,
        stats.samples,
        encoded_per_sample,
        per_sample,
        per_series,
        stats.total_bytes as f64 / (1 << 20) as f64,
        appended as f64 / secs / 1e6,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
    assert_eq!(
        appended,
        INSTANCES * nodegen::SERIES_PER_INSTANCE * SCRAPES as usize
    );
    assert_eq!(stats.samples, appended);
    assert!(encoded_per_sample < 3.0, "{encoded_per_sample} B/sample");
    assert!(per_sample < 3.0, "{per_sample} B/sample in memory");
    assert!(per_series < 4096.0, "{per_series} B/series");
}
