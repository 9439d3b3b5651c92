use std::sync::Arc;

use blazar_bus::{Bus, MessageKind};
use blazar_model::{
    Glob, Labels, MetricFamily, MetricKind, Sample, SampleMode, SeriesBatch, SeriesWrite,
};

use crate::{SelfMetrics, Settings, Store};

fn open_with(dir: &std::path::Path, max_series: usize) -> Store {
    let mut cfg = blazar_config::Config::default();
    cfg.storage.data_dir = dir.to_path_buf();
    cfg.limits.max_series = max_series;
    Store::open(
        Settings::from_config(&cfg),
        Bus::new(64),
        Arc::new(SelfMetrics::new()),
    )
    .unwrap()
    .0
}

fn open(dir: &std::path::Path) -> Store {
    open_with(dir, 1_000)
}

fn labels(name: &str) -> Labels {
    Labels::try_from_pairs([("__name__", name), ("service", "orders")]).unwrap()
}

fn one(name: &str, mode: SampleMode, t: i64, v: f64) -> SeriesBatch {
    SeriesBatch {
        series: vec![SeriesWrite {
            labels: labels(name),
            mode,
            samples: vec![Sample { t, v }],
        }],
        families: vec![],
    }
}

fn latest(store: &Store, name: &str) -> Option<(i64, f64)> {
    let r = store.head().lookup(&labels(name))?;
    store.head().latest(r).map(|s| (s.t, s.v))
}

fn orders_family() -> MetricFamily {
    MetricFamily {
        name: "orders_requests".into(),
        kind: MetricKind::Counter,
        help: "Orders received".into(),
        unit: "1".into(),
        original: Some("orders.requests".into()),
    }
}

#[test]
fn delta_writes_accumulate_and_continue_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let out = store
            .write_series(&one("d_total", SampleMode::Delta, 1_000, 1.0))
            .unwrap();
        assert_eq!(out.samples, 1);
        assert_eq!(latest(&store, "d_total"), Some((1_000, 1.0)));
        store
            .write_series(&one("d_total", SampleMode::Delta, 2_000, 2.0))
            .unwrap();
        assert_eq!(latest(&store, "d_total"), Some((2_000, 3.0)));
    }
    let store = open(dir.path());
    assert_eq!(latest(&store, "d_total"), Some((2_000, 3.0)));
    store
        .write_series(&one("d_total", SampleMode::Delta, 3_000, 4.0))
        .unwrap();
    assert_eq!(latest(&store, "d_total"), Some((3_000, 7.0)));
    // And from a checkpoint as well as from the WAL.
    store.checkpoint().unwrap();
    drop(store);
    let store = open(dir.path());
    store
        .write_series(&one("d_total", SampleMode::Delta, 4_000, 1.0))
        .unwrap();
    assert_eq!(latest(&store, "d_total"), Some((4_000, 8.0)));
}

#[test]
fn deltas_within_a_batch_run_on_and_stale_ones_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .write_series(&one("d_total", SampleMode::Delta, 5_000, 10.0))
        .unwrap();
    let batch = SeriesBatch {
        series: vec![SeriesWrite {
            labels: labels("d_total"),
            mode: SampleMode::Delta,
            samples: vec![
                Sample { t: 4_000, v: 1.0 }, // older than the latest: stale
                Sample { t: 5_000, v: 2.0 }, // at the latest: stamped 1 ms on
                Sample { t: 6_000, v: 3.0 },
                Sample { t: 6_000, v: 4.0 }, // same time in one batch: merged
            ],
        }],
        families: vec![],
    };
    let out = store.write_series(&batch).unwrap();
    assert_eq!(out.out_of_order, 1);
    assert_eq!(out.samples, 2);
    let r = store.head().lookup(&labels("d_total")).unwrap();
    let got: Vec<(i64, f64)> = store
        .head()
        .samples(r, 0, i64::MAX)
        .iter()
        .map(|s| (s.t, s.v))
        .collect();
    assert_eq!(got, [(5_000, 10.0), (5_001, 12.0), (6_000, 19.0)]);
}

#[test]
fn absolute_stale_samples_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .write_series(&one("g", SampleMode::Absolute, 2_000, 5.0))
        .unwrap();
    let out = store
        .write_series(&one("g", SampleMode::Absolute, 1_000, 6.0))
        .unwrap();
    assert_eq!((out.samples, out.out_of_order), (0, 1));
    assert_eq!(latest(&store, "g"), Some((2_000, 5.0)));
}

#[test]
fn new_series_past_max_series_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(dir.path(), 1);
    store
        .write_series(&one("a", SampleMode::Absolute, 1, 1.0))
        .unwrap();
    let mut batch = one("a", SampleMode::Absolute, 2, 2.0);
    batch.series.push(SeriesWrite {
        labels: labels("b"),
        mode: SampleMode::Absolute,
        samples: vec![Sample { t: 2, v: 1.0 }, Sample { t: 3, v: 1.0 }],
    });
    let out = store.write_series(&batch).unwrap();
    assert_eq!((out.samples, out.over_series_limit), (1, 2));
    assert_eq!(latest(&store, "a"), Some((2, 2.0)));
    assert_eq!(latest(&store, "b"), None);
    assert_eq!(
        store
            .self_metrics()
            .dropped_count(crate::Signal::Metrics, crate::DropReason::SeriesLimit),
        2
    );
}

#[test]
fn labels_over_the_limits_refuse_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut batch = one("ok", SampleMode::Absolute, 1, 1.0);
    batch.series.push(SeriesWrite {
        labels: Labels::try_from_pairs([("__name__", "bad"), ("host", &*"v".repeat(5000))])
            .unwrap(),
        mode: SampleMode::Absolute,
        samples: vec![Sample { t: 1, v: 1.0 }],
    });
    let err = store.write_series(&batch).unwrap_err().to_string();
    assert!(err.starts_with("series[1].labels:"), "{err}");
    assert_eq!(store.head().series_count(), 0);
}

#[test]
fn families_keep_unit_and_original_and_are_listed_by_either_name() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let mut batch = one("orders_requests_total", SampleMode::Absolute, 1_000, 4.0);
        batch.families.push(orders_family());
        batch.series.push(SeriesWrite {
            labels: labels("lat_bucket").with_name_and("lat_bucket", Some(("le", "+Inf"))),
            mode: SampleMode::Absolute,
            samples: vec![Sample { t: 1_000, v: 2.0 }],
        });
        batch.families.push(MetricFamily {
            name: "lat".into(),
            kind: MetricKind::Histogram,
            help: String::new(),
            unit: "s".into(),
            original: None,
        });
        store.write_series(&batch).unwrap();
        // Remote_write metadata for the same family keeps unit and original.
        let m = &store.mem.metadata;
        crate::write_series::merge_metadata(
            &mut m.write(),
            "orders_requests",
            MetricKind::Counter,
            "Orders received",
        );
    }
    for round in 0..2 {
        let store = open(dir.path());
        let found = store.list_metrics(Some(&Glob::new("orders.requests")), 10);
        assert_eq!(found.len(), 1, "round {round}");
        let f = &found[0];
        assert_eq!(f.name, "orders_requests_total");
        assert_eq!(f.kind, MetricKind::Counter);
        assert_eq!(f.unit.as_deref(), Some("1"));
        assert_eq!(f.original.as_deref(), Some("orders.requests"));
        let json = serde_json::to_value(f).unwrap();
        assert_eq!(json["original"], "orders.requests");
        let by_name = store.list_metrics(Some(&Glob::new("orders_*")), 10);
        assert_eq!(by_name.len(), 1);
        let lat = store.list_metrics(Some(&Glob::new("lat*")), 10);
        assert_eq!(lat.len(), 1);
        assert_eq!(lat[0].kind, MetricKind::Histogram);
        assert_eq!(lat[0].unit.as_deref(), Some("s"));
        assert!(serde_json::to_value(&lat[0])
            .unwrap()
            .get("original")
            .is_none());
        // The second round reads the checkpoint, not the WAL.
        store.checkpoint().unwrap();
    }
}

#[test]
fn newest_sample_of_each_series_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut rx = store.bus().subscribe();
    let mut batch = one("orders_requests_total", SampleMode::Delta, 1_000, 2.0);
    batch.series[0].samples.push(Sample { t: 2_000, v: 3.0 });
    batch.families.push(orders_family());
    store.write_series(&batch).unwrap();
    let msg = rx.try_recv().unwrap();
    assert_eq!(msg.kind, MessageKind::MetricUpdate);
    assert_eq!(msg.data["name"], "orders_requests_total");
    assert_eq!(msg.data["type"], "counter");
    assert_eq!(msg.data["value"], 5.0);
    assert_eq!(msg.data["tags"]["service"], "orders");
    assert_eq!(msg.service.as_deref(), Some("orders"));
    assert!(rx.try_recv().is_err(), "one message per series");
}
