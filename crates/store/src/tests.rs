//! Store behaviour across restarts: what is acknowledged comes back exactly.

use std::sync::Arc;

use blazar_bus::Bus;
use blazar_ingest::remote_write::{borrowed, proto};
use blazar_model::Labels;
use prost::Message;

use crate::{SelfMetrics, Settings, Store};

fn open(dir: &std::path::Path) -> Store {
    let mut cfg = blazar_config::Config::default();
    cfg.storage.data_dir = dir.to_path_buf();
    Store::open(
        Settings::from_config(&cfg),
        Bus::new(16),
        Arc::new(SelfMetrics::new()),
    )
    .unwrap()
    .0
}

fn write(store: &Store, series: &[&str], t: i64, v: f64) {
    let req = proto::WriteRequest {
        timeseries: series
            .iter()
            .map(|name| proto::TimeSeries {
                labels: vec![proto::Label {
                    name: "__name__".into(),
                    value: (*name).into(),
                }],
                samples: vec![proto::Sample {
                    value: v,
                    timestamp: t,
                }],
            })
            .collect(),
        metadata: vec![],
    };
    let raw = req.encode_to_vec();
    store.write_remote(&borrowed::parse(&raw).unwrap()).unwrap();
}

fn latest(store: &Store, name: &str) -> Option<(i64, f64)> {
    let labels = Labels::try_from_pairs([("__name__", name)]).unwrap();
    let r = store.head().lookup(&labels)?;
    store.head().latest(r).map(|s| (s.t, s.v))
}

#[test]
fn a_series_removed_by_retention_and_written_again_replays_under_its_new_ref() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        write(&store, &["churn", "other"], 1_000, 1.0);
        // Retention far in the future removes both series (their only chunk is past it).
        store.enforce_retention(i64::MAX / 2);
        assert_eq!(latest(&store, "churn"), None);
        // The same labels come back: a new ref, declared again in the WAL.
        write(&store, &["churn"], 2_000, 2.0);
        write(&store, &["other", "fresh"], 3_000, 3.0);
        assert_eq!(latest(&store, "churn"), Some((2_000, 2.0)));
    }
    let store = open(dir.path());
    assert_eq!(latest(&store, "churn"), Some((2_000, 2.0)));
    assert_eq!(latest(&store, "other"), Some((3_000, 3.0)));
    assert_eq!(latest(&store, "fresh"), Some((3_000, 3.0)));
}

#[test]
fn many_new_series_in_one_request_all_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    {
        let store = open(dir.path());
        write(&store, &refs, 1_000, 7.0);
    }
    let store = open(dir.path());
    for n in &refs {
        assert_eq!(latest(&store, n), Some((1_000, 7.0)), "{n}");
    }
}

#[test]
fn remote_write_metadata_is_bounded_by_max_series() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = blazar_config::Config::default();
    cfg.storage.data_dir = dir.path().to_path_buf();
    cfg.limits.max_series = 2;
    let store = Store::open(
        Settings::from_config(&cfg),
        Bus::new(16),
        Arc::new(SelfMetrics::new()),
    )
    .unwrap()
    .0;
    let req = proto::WriteRequest {
        timeseries: vec![],
        metadata: (0..5)
            .map(|i| proto::MetricMetadata {
                r#type: proto::MetricType::Counter as i32,
                metric_family_name: format!("family_{i}"),
                help: "h".into(),
                unit: String::new(),
            })
            .collect(),
    };
    let raw = req.encode_to_vec();
    store.write_remote(&borrowed::parse(&raw).unwrap()).unwrap();
    assert_eq!(store.mem.metadata.read().len(), 2);
}

#[test]
fn limits_are_checked_for_new_remote_write_series() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let long = "v".repeat(5000);
    let req = proto::WriteRequest {
        timeseries: vec![
            proto::TimeSeries {
                labels: vec![proto::Label {
                    name: "__name__".into(),
                    value: "ok_series".into(),
                }],
                samples: vec![proto::Sample {
                    value: 1.0,
                    timestamp: 1,
                }],
            },
            proto::TimeSeries {
                labels: vec![
                    proto::Label {
                        name: "__name__".into(),
                        value: "bad".into(),
                    },
                    proto::Label {
                        name: "host".into(),
                        value: long,
                    },
                ],
                samples: vec![proto::Sample {
                    value: 1.0,
                    timestamp: 1,
                }],
            },
        ],
        metadata: vec![],
    };
    let raw = req.encode_to_vec();
    let err = store
        .write_remote(&borrowed::parse(&raw).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("timeseries[1].labels: tags.host:"), "{err}");
    // All or nothing: the valid series of the refused request was not kept either.
    assert_eq!(latest(&store, "ok_series"), None);
    assert_eq!(store.head().series_count(), 0);
}
