//! WAL write and replay throughput (criterion). Append cases run in a fresh tempfile
//! directory per sample; replay reads a prepared directory (page cache warm, so it measures
//! decoding and CRC, not the disk). Records per second = bytes per second / record size.

#![allow(
    clippy::unwrap_used,
    reason = "a failing bench should stop loudly, like a test"
)]

use std::convert::Infallible;
use std::path::Path;
use std::time::{Duration, Instant};

use blazar_wal::{FsyncPolicy, Wal, WalOptions};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SIZES: [(usize, &str); 2] = [(100, "100B"), (4096, "4KiB")];
/// Under `Interval`, the benchmark calls `sync()` after this many appends, standing in for
/// the caller's 200 ms timer.
const SYNC_EVERY: u64 = 1000;
const BATCH: usize = 100;

fn open(dir: &Path, fsync: FsyncPolicy) -> Wal {
    Wal::open(WalOptions::new(dir).with_fsync(fsync)).unwrap()
}

/// Times `iters` calls of `step` on a WAL in a fresh directory, deleted afterwards.
fn timed(fsync: FsyncPolicy, iters: u64, mut step: impl FnMut(&mut Wal, u64)) -> Duration {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = open(tmp.path(), fsync);
    let start = Instant::now();
    for i in 0..iters {
        step(&mut wal, i);
    }
    if fsync != FsyncPolicy::Never {
        wal.sync().unwrap();
    }
    start.elapsed()
}

fn wal_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("wal_append");
    for (size, name) in SIZES {
        let payload = vec![0xa5u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        let policies = [
            ("never", FsyncPolicy::Never),
            (
                "interval",
                FsyncPolicy::Interval(Duration::from_millis(200)),
            ),
        ];
        for (policy_name, policy) in policies {
            g.bench_function(BenchmarkId::new(policy_name, name), |b| {
                b.iter_custom(|iters| {
                    timed(policy, iters, |wal, i| {
                        wal.append(black_box(&payload)).unwrap();
                        if policy != FsyncPolicy::Never && i % SYNC_EVERY == SYNC_EVERY - 1 {
                            wal.sync().unwrap();
                        }
                    })
                })
            });
        }
    }
    g.finish();
}

fn wal_append_batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("wal_append_batch");
    for (size, name) in SIZES {
        let records: Vec<Vec<u8>> = (0..BATCH).map(|i| vec![i as u8; size]).collect();
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        g.throughput(Throughput::Bytes((size * BATCH) as u64));
        g.bench_function(BenchmarkId::new("never", format!("{BATCH}x{name}")), |b| {
            b.iter_custom(|iters| {
                timed(FsyncPolicy::Never, iters, |wal, _| {
                    wal.append_batch(black_box(&refs)).unwrap();
                })
            })
        });
    }
    g.finish();
}

fn wal_replay(c: &mut Criterion) {
    let mut g = c.benchmark_group("wal_replay");
    const TOTAL_BYTES: usize = 32 << 20;
    for (size, name) in SIZES {
        let tmp = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(
            WalOptions::new(tmp.path())
                .with_fsync(FsyncPolicy::Never)
                .with_segment_bytes(8 << 20),
        )
        .unwrap();
        let payload = vec![0x5au8; size];
        let records = TOTAL_BYTES / size;
        for _ in 0..records {
            wal.append(&payload).unwrap();
        }
        wal.close().unwrap();
        g.throughput(Throughput::Bytes((records * size) as u64));
        g.bench_function(BenchmarkId::new(format!("{records}_records"), name), |b| {
            b.iter(|| {
                let mut sum = 0usize;
                let stats = Wal::replay(tmp.path(), 0, |_, p| {
                    sum += p.len();
                    Ok::<(), Infallible>(())
                })
                .unwrap();
                assert_eq!(stats.records, records as u64);
                black_box(sum)
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = wal_append, wal_append_batch, wal_replay
}
criterion_main!(benches);
