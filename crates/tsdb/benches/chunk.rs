//! Chunk append, encode+iterate (decode) and validation, on node-exporter-like series.

#[path = "common/nodegen.rs"]
mod nodegen;

use std::hint::black_box;

use blazar_tsdb::XorChunk;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const SAMPLES: usize = 120;

/// Returns one chunk's worth of samples for each series of one instance.
fn series() -> Vec<Vec<(i64, f64)>> {
    let mut rng = nodegen::Rng::new(7);
    let mut inst = nodegen::instances(1, &mut rng).remove(0);
    let times: Vec<i64> = (0..SAMPLES as i64)
        .map(|k| nodegen::scrape_time(1_700_000_000_000, &inst, k, &mut rng))
        .collect();
    inst.series
        .iter_mut()
        .map(|s| times.iter().map(|t| (*t, s.next(&mut rng))).collect())
        .collect()
}

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        let _ = c.append(t, v);
    }
    c
}

fn chunk_append(c: &mut Criterion) {
    let data = series();
    let total: usize = data.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("chunk_append");
    g.throughput(Throughput::Elements(total as u64));
    g.bench_function("node_exporter_100x120", |b| {
        b.iter(|| {
            for s in &data {
                black_box(encode(s));
            }
        })
    });
    g.finish();
}

fn chunk_decode(c: &mut Criterion) {
    let data = series();
    let chunks: Vec<XorChunk> = data.iter().map(|s| encode(s)).collect();
    let total: usize = chunks.iter().map(XorChunk::len).sum();
    let mut g = c.benchmark_group("chunk_decode");
    g.throughput(Throughput::Elements(total as u64));
    g.bench_function("iterate_100x120", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for c in &chunks {
                for s in c.iter() {
                    sum += s.v;
                }
            }
            black_box(sum)
        })
    });
    g.bench_function("from_bytes_100x120", |b| {
        b.iter_batched(
            || {
                chunks
                    .iter()
                    .map(|c| c.bytes().to_vec())
                    .collect::<Vec<_>>()
            },
            |bytes| {
                for b in bytes {
                    black_box(XorChunk::from_bytes(b).ok());
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("encode_and_iterate_100x120", |b| {
        b.iter(|| {
            let mut n = 0;
            for s in &data {
                n += encode(s).iter().count();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, chunk_append, chunk_decode);
criterion_main!(benches);
