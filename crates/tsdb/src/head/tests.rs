//! Behaviour of the head: refs, append rules, selection, retention, snapshots.

use std::sync::Arc;

use blazar_model::{Labels, Sample};
use proptest::prelude::*;

use super::*;
use crate::matcher::Matcher;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::try_from_pairs(pairs.iter().copied()).unwrap()
}

fn s(t: i64, v: f64) -> Sample {
    Sample { t, v }
}

fn head(chunk_samples: usize) -> Head {
    Head::new(HeadOptions { chunk_samples })
}

fn names(h: &Head, ms: &[Matcher]) -> Vec<String> {
    h.select_series(ms)
        .into_iter()
        .map(|(_, l)| l.get("i").unwrap_or("-").to_string())
        .collect()
}

#[test]
fn lookup_pairs_finds_series_without_building_labels() {
    let h = Head::default();
    let a = labels(&[("__name__", "up"), ("instance", "x:1"), ("job", "a")]);
    let (ra, _) = h.get_or_create(&a);
    assert_eq!(
        h.lookup_pairs(&[("__name__", "up"), ("instance", "x:1"), ("job", "a")]),
        Some(ra)
    );
    assert_eq!(
        h.lookup_pairs(&[("__name__", "up"), ("instance", "x:1"), ("job", "b")]),
        None
    );
    assert_eq!(
        h.lookup_pairs(&[("__name__", "up"), ("instance", "x:1")]),
        None
    );
}

#[test]
fn get_or_create_returns_stable_refs() {
    let h = Head::default();
    let a = labels(&[("__name__", "up"), ("job", "a")]);
    let b = labels(&[("__name__", "up"), ("job", "b")]);
    let (ra, created) = h.get_or_create(&a);
    assert!(created);
    assert_eq!(h.get_or_create(&a), (ra, false));
    let (rb, _) = h.get_or_create(&b);
    assert_ne!(ra, rb);
    assert_eq!(h.lookup(&b), Some(rb));
    assert_eq!(h.labels_of(ra), Some(a));
    assert_eq!(h.lookup(&labels(&[("job", "c")])), None);
}

#[test]
fn create_with_ref_keeps_the_counter_above_replayed_refs() {
    let h = Head::default();
    let a = labels(&[("job", "a")]);
    assert_eq!(h.create_with_ref(SeriesRef(100), &a), Ok(true));
    assert_eq!(h.create_with_ref(SeriesRef(100), &a), Ok(false));
    assert!(matches!(
        h.create_with_ref(SeriesRef(100), &labels(&[("job", "x")])),
        Err(SeriesError::RefTaken { .. })
    ));
    assert!(matches!(
        h.create_with_ref(SeriesRef(7), &a),
        Err(SeriesError::LabelsTaken {
            existing: SeriesRef(100),
            ..
        })
    ));
    let (r, _) = h.get_or_create(&labels(&[("job", "b")]));
    assert!(r.0 > 100);
}

#[test]
fn append_enforces_order_and_accepts_exact_repeats() {
    let h = Head::default();
    let (r, _) = h.get_or_create(&labels(&[("job", "a")]));
    h.append(r, s(10, 1.0)).unwrap();
    h.append(r, s(20, 2.0)).unwrap();
    assert_eq!(h.append(r, s(20, 2.0)), Ok(()));
    assert_eq!(
        h.append(r, s(20, 3.0)),
        Err(AppendError::DuplicateTimestamp { t: 20 })
    );
    assert_eq!(
        h.append(r, s(15, 3.0)),
        Err(AppendError::OutOfOrder { last: 20, got: 15 })
    );
    assert_eq!(
        h.append(SeriesRef(999), s(30, 1.0)),
        Err(AppendError::UnknownSeries { r: SeriesRef(999) })
    );
    assert_eq!(
        h.samples(r, i64::MIN, i64::MAX),
        vec![s(10, 1.0), s(20, 2.0)]
    );
    assert_eq!(h.latest(r), Some(s(20, 2.0)));
}

#[test]
fn nan_repeat_with_same_bits_is_a_no_op() {
    let h = Head::default();
    let (r, _) = h.get_or_create(&labels(&[("job", "a")]));
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    h.append(r, s(10, stale)).unwrap();
    assert_eq!(h.append(r, s(10, stale)), Ok(()));
    assert_eq!(
        h.append(r, s(10, f64::NAN)),
        Err(AppendError::DuplicateTimestamp { t: 10 })
    );
}

#[test]
fn append_batch_counts_each_outcome() {
    let h = Head::default();
    let (a, _) = h.get_or_create(&labels(&[("job", "a")]));
    let batch = [
        (a, s(10, 1.0)),
        (a, s(5, 1.0)),
        (a, s(10, 2.0)),
        (SeriesRef(77), s(1, 1.0)),
        (a, s(11, 1.0)),
    ];
    let stats = h.append_batch(&batch);
    assert_eq!(
        stats,
        AppendStats {
            appended: 2,
            out_of_order: 1,
            duplicate: 1,
            unknown: 1
        }
    );
}

#[test]
fn samples_span_sealed_and_open_chunks_inclusively() {
    let h = head(4);
    let (r, _) = h.get_or_create(&labels(&[("job", "a")]));
    for t in 0..10 {
        h.append(r, s(t * 10, t as f64)).unwrap();
    }
    let got: Vec<i64> = h.samples(r, 20, 70).iter().map(|x| x.t).collect();
    assert_eq!(got, vec![20, 30, 40, 50, 60, 70]);
    assert_eq!(h.samples(r, 35, 36), vec![]);
    assert_eq!(h.samples(r, 90, 90), vec![s(90, 9.0)]);
    assert_eq!(h.samples(r, 50, 40), vec![]);
    assert_eq!(h.stats().samples, 10);
}

fn index_fixture() -> Head {
    let h = Head::default();
    for (i, job, mode) in [
        ("1", "node", "idle"),
        ("2", "node", "user"),
        ("3", "api", ""),
        ("4", "api", "idle"),
    ] {
        let mut pairs = vec![("__name__", "m"), ("i", i), ("job", job)];
        if !mode.is_empty() {
            pairs.push(("mode", mode));
        }
        h.get_or_create(&labels(&pairs));
    }
    h
}

#[test]
fn select_intersects_equality_postings() {
    let h = index_fixture();
    assert_eq!(names(&h, &[Matcher::equal("job", "node")]), ["1", "2"]);
    assert_eq!(
        names(
            &h,
            &[Matcher::equal("job", "api"), Matcher::equal("mode", "idle")]
        ),
        ["4"]
    );
    assert_eq!(
        names(&h, &[Matcher::equal("job", "nope")]),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&h, &[Matcher::equal("nolabel", "x")]),
        Vec::<String>::new()
    );
}

#[test]
fn empty_value_matchers_follow_prometheus() {
    let h = index_fixture();
    // label="" selects series without it; label!="" selects series with it.
    assert_eq!(
        names(
            &h,
            &[Matcher::equal("__name__", "m"), Matcher::equal("mode", "")]
        ),
        ["3"]
    );
    assert_eq!(
        names(&h, &[Matcher::not_equal("mode", "")]),
        ["1", "2", "4"]
    );
    // != a value keeps series without the label.
    assert_eq!(names(&h, &[Matcher::not_equal("mode", "idle")]), ["2", "3"]);
    // A regex matching "" also keeps series without the label.
    assert_eq!(
        names(&h, &[Matcher::regex("mode", "user|").unwrap()]),
        ["2", "3"]
    );
    assert_eq!(
        names(&h, &[Matcher::regex("mode", ".*").unwrap()]),
        ["1", "2", "3", "4"]
    );
    assert_eq!(
        names(&h, &[Matcher::regex("mode", ".+").unwrap()]),
        ["1", "2", "4"]
    );
    assert_eq!(
        names(&h, &[Matcher::not_regex("mode", "id.*").unwrap()]),
        ["2", "3"]
    );
    assert_eq!(
        names(&h, &[Matcher::not_regex("mode", "").unwrap()]),
        ["1", "2", "4"]
    );
    assert_eq!(names(&h, &[]), ["1", "2", "3", "4"]);
}

#[test]
fn regex_selection_is_anchored() {
    let h = index_fixture();
    assert_eq!(
        names(&h, &[Matcher::regex("job", "no").unwrap()]),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&h, &[Matcher::regex("job", "no.*|ap.").unwrap()]),
        ["1", "2", "3", "4"]
    );
}

#[test]
fn label_names_and_values_are_sorted() {
    let h = index_fixture();
    assert_eq!(h.label_names(), ["__name__", "i", "job", "mode"]);
    assert_eq!(h.label_values("job"), ["api", "node"]);
    assert!(h.label_values("nope").is_empty());
}

#[test]
fn truncate_drops_old_sealed_chunks_and_empty_series() {
    let h = head(2);
    let (a, _) = h.get_or_create(&labels(&[("job", "a")]));
    let (b, _) = h.get_or_create(&labels(&[("job", "b")]));
    for t in 0..5 {
        h.append(a, s(t, 1.0)).unwrap();
    }
    for t in 0..4 {
        h.append(b, s(t, 1.0)).unwrap();
    }
    // a: [0,1] [2,3] sealed, [4] open; b: [0,1] sealed, [2,3] open.
    let st = h.truncate_before(2);
    assert_eq!(
        st,
        TruncateStats {
            chunks_removed: 2,
            samples_removed: 4,
            series_removed: 0
        }
    );
    assert_eq!(h.samples(a, 0, 10).first().map(|x| x.t), Some(2));
    let (c, _) = h.get_or_create(&labels(&[("job", "c")]));
    let st = h.truncate_before(100);
    assert_eq!(
        st.series_removed, 3,
        "everything is past retention, open chunks included, and c was never written"
    );
    assert_eq!(h.labels_of(c), None);
    assert!(h.label_values("job").is_empty());
}

#[test]
fn truncate_keeps_an_open_chunk_with_samples_inside_retention() {
    let h = head(2);
    let (a, _) = h.get_or_create(&labels(&[("job", "a")]));
    for t in 0..3 {
        h.append(a, s(t * 10, 1.0)).unwrap();
    }
    // Sealed [0,10], open [20]: a cut at 15 drops the sealed chunk only.
    h.truncate_before(15);
    assert_eq!(h.samples(a, 0, 100), vec![s(20, 1.0)]);
    // A cut past the open chunk's newest sample removes the series.
    h.truncate_before(100);
    assert_eq!(h.latest(a), None);
    assert_eq!(h.stats().series, 0);
}

#[test]
fn evict_drops_oldest_chunks_until_under_budget() {
    let h = head(10);
    let refs: Vec<SeriesRef> = (0..20)
        .map(|i| h.get_or_create(&labels(&[("i", &i.to_string())])).0)
        .collect();
    for t in 0..100 {
        for (k, r) in refs.iter().enumerate() {
            h.append(*r, s(t * 1000 + k as i64, (t * k as i64) as f64 * 0.37))
                .unwrap();
        }
    }
    let before = h.stats();
    let target = before.total_bytes - before.chunk_bytes / 2;
    let st = h.evict_oldest_chunks(target);
    let after = h.stats();
    assert!(after.total_bytes <= target, "{after:?} > {target}");
    assert!(st.chunks_removed > 0 && st.samples_removed > 0);
    assert_eq!(after.samples, before.samples - st.samples_removed);
    // The oldest data went first: every series lost its start, none lost its end.
    for r in &refs {
        let got = h.samples(*r, 0, i64::MAX);
        assert_eq!(got.last().map(|x| x.t / 1000), Some(99));
    }
    assert_eq!(h.evict_oldest_chunks(usize::MAX), TruncateStats::default());
}

#[test]
fn snapshot_restores_into_a_new_head_and_appends_continue() {
    let h = head(5);
    let (a, _) = h.get_or_create(&labels(&[("__name__", "m"), ("job", "a")]));
    let (b, _) = h.get_or_create(&labels(&[("__name__", "m"), ("job", "b")]));
    for t in 0..12 {
        h.append(a, s(t * 15_000, t as f64 * 1.5)).unwrap();
        h.append(b, s(t * 15_000 + 3, f64::NAN)).unwrap();
    }
    let snaps = h.snapshot();
    assert_eq!(snaps.len(), 2);
    let h2 = head(5);
    for snap in snaps {
        let decoded = SeriesSnapshot::decode(&snap.encode()).unwrap();
        assert_eq!(decoded, snap);
        h2.restore(decoded).unwrap();
    }
    for r in [a, b] {
        let want: Vec<(i64, u64)> = h
            .samples(r, 0, i64::MAX)
            .iter()
            .map(|x| (x.t, x.v.to_bits()))
            .collect();
        let got: Vec<(i64, u64)> = h2
            .samples(r, 0, i64::MAX)
            .iter()
            .map(|x| (x.t, x.v.to_bits()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(h2.labels_of(r), h.labels_of(r));
    }
    assert_eq!(
        h2.append(a, s(11 * 15_000, 0.0)),
        Err(AppendError::DuplicateTimestamp { t: 165_000 })
    );
    h2.append(a, s(12 * 15_000, 18.0)).unwrap();
    h.append(a, s(12 * 15_000, 18.0)).unwrap();
    assert_eq!(h2.samples(a, 0, i64::MAX), h.samples(a, 0, i64::MAX));
    assert_eq!(h2.select_series(&[Matcher::equal("job", "b")]).len(), 1);
    let (c, _) = h2.get_or_create(&labels(&[("job", "c")]));
    assert!(c > b);
    assert_eq!(h2.stats().samples, h.stats().samples);
}

#[test]
fn restore_rejects_conflicts_and_bad_chunks() {
    let h = Head::default();
    let (a, _) = h.get_or_create(&labels(&[("job", "a")]));
    h.append(a, s(1, 1.0)).unwrap();
    let snap = h.snapshot().remove(0);
    assert_eq!(
        h.restore(snap.clone()),
        Err(SnapshotError::NotEmpty { r: a })
    );
    let mut bad = snap.clone();
    bad.r = SeriesRef(50);
    bad.chunks = vec![vec![1, 9, 0]];
    assert!(matches!(
        Head::default().restore(bad),
        Err(SnapshotError::Chunk { index: 0, .. })
    ));
    let mut twice = snap;
    twice.chunks.push(twice.chunks[0].clone());
    assert!(matches!(
        Head::default().restore(twice),
        Err(SnapshotError::ChunkOrder { index: 1, .. })
    ));
}

#[test]
fn snapshot_decode_rejects_damage() {
    let snap = SeriesSnapshot {
        r: SeriesRef(3),
        labels: labels(&[("job", "a")]),
        chunks: vec![vec![1, 0, 0]],
    };
    let bytes = snap.encode();
    assert!(matches!(
        SeriesSnapshot::decode(&bytes[..bytes.len() - 1]),
        Err(SnapshotError::Checksum { .. })
    ));
    let mut flipped = bytes.clone();
    flipped[2] ^= 0x40;
    assert!(matches!(
        SeriesSnapshot::decode(&flipped),
        Err(SnapshotError::Checksum { .. })
    ));
    assert!(matches!(
        SeriesSnapshot::decode(&[]),
        Err(SnapshotError::Truncated { .. })
    ));
}

#[test]
fn stats_account_for_labels_and_chunks() {
    let h = head(120);
    let (r, _) = h.get_or_create(&labels(&[("__name__", "m"), ("job", "a")]));
    let empty = h.stats();
    assert_eq!((empty.series, empty.samples), (1, 0));
    assert!(empty.index_bytes > std::mem::size_of::<series::Series>());
    for t in 0..240 {
        h.append(r, s(t * 15_000, 1.0)).unwrap();
    }
    let full = h.stats();
    assert_eq!(full.samples, 240);
    assert!(full.chunk_bytes > 0);
    assert_eq!(full.total_bytes, full.chunk_bytes + full.index_bytes);
}

#[test]
fn concurrent_appends_and_creates_keep_every_sample() {
    let h = Arc::new(head(16));
    let threads: Vec<_> = (0..4)
        .map(|k| {
            let h = Arc::clone(&h);
            std::thread::spawn(move || {
                for i in 0..50 {
                    let (r, _) =
                        h.get_or_create(&labels(&[("k", &k.to_string()), ("i", &i.to_string())]));
                    let batch: Vec<_> = (0..40).map(|t| (r, s(t, t as f64))).collect();
                    assert_eq!(h.append_batch(&batch).appended, 40);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let st = h.stats();
    assert_eq!((st.series, st.samples), (200, 8000));
}

proptest! {
    #[test]
    fn snapshot_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = SeriesSnapshot::decode(&bytes);
    }

    #[test]
    fn snapshot_decode_never_panics_past_the_checksum(body in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = body.clone();
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        if let Ok(snap) = SeriesSnapshot::decode(&bytes) {
            let _ = Head::default().restore(snap);
        }
    }
}

#[test]
fn idle_series_past_retention_are_removed_with_their_open_chunk() {
    let h = head(120);
    let (idle, _) = h.get_or_create(&labels(&[("__name__", "idle")]));
    let (busy, _) = h.get_or_create(&labels(&[("__name__", "busy")]));
    h.append(idle, s(1000, 1.0)).unwrap();
    h.append(busy, s(1000, 1.0)).unwrap();
    h.append(busy, s(9000, 2.0)).unwrap();
    let t = h.truncate_before(5000);
    assert_eq!(t.series_removed, 1);
    assert_eq!(h.latest(idle), None);
    assert_eq!(h.lookup(&labels(&[("__name__", "idle")])), None);
    // The busy series keeps its open chunk, which still has a sample inside retention.
    assert_eq!(h.latest(busy), Some(s(9000, 2.0)));
}

#[test]
fn remove_empty_only_removes_series_without_samples() {
    let h = head(120);
    let (a, _) = h.get_or_create(&labels(&[("__name__", "a")]));
    let (b, _) = h.get_or_create(&labels(&[("__name__", "b")]));
    h.append(b, s(1, 1.0)).unwrap();
    assert_eq!(h.remove_empty(&[a, b]), 1);
    assert_eq!(h.labels_of(a), None);
    assert!(h.labels_of(b).is_some());
}
