//! Stream fan-out: publishing to the bus with N live subscribers draining it.
//! `cargo bench -p blazar-bus --bench fanout`

// A bench that cannot set up should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use blazar_bus::{Bus, Message, MessageKind};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn fanout(c: &mut Criterion) {
    const MSGS: usize = 1000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("bus_fanout");
    g.throughput(Throughput::Elements(MSGS as u64));
    for subs in [0usize, 1, 10, 100] {
        g.bench_function(format!("{subs}_subscribers"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let bus = Bus::new(4096);
                    let handles: Vec<_> = (0..subs)
                        .map(|_| {
                            let mut rx = bus.subscribe();
                            tokio::spawn(async move {
                                let mut n = 0;
                                while rx.recv().await.is_ok() {
                                    n += 1;
                                }
                                n
                            })
                        })
                        .collect();
                    for i in 0..MSGS {
                        bus.publish(Message {
                            kind: MessageKind::MetricUpdate,
                            timestamp_ns: i as i64,
                            service: None,
                            data: serde_json::json!({"name": "m", "value": i}),
                        });
                    }
                    drop(bus);
                    for h in handles {
                        let _ = h.await;
                    }
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
