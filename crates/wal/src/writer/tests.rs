use super::*;
use crate::layout::{checkpoint_path, checkpoint_temp_path, list_segments};
use crate::test_support::{payloads, record, replay_vec, small};

#[test]
fn open_creates_dir_and_first_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b");
    let wal = Wal::open(WalOptions::new(&dir)).unwrap();
    assert_eq!(wal.current_segment(), 1);
    let segments = list_segments(&dir).unwrap();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].bytes, HEADER_LEN as u64);
}

#[test]
fn open_starts_a_new_segment_after_the_highest() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    wal.append(b"first").unwrap();
    drop(wal);
    let mut wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    assert_eq!(wal.current_segment(), 2);
    assert_eq!(wal.append(b"second").unwrap().segment, 2);
    let (records, _) = replay_vec(tmp.path(), 0);
    assert_eq!(
        records,
        vec![(1, b"first".to_vec()), (2, b"second".to_vec())]
    );
}

#[test]
fn open_numbers_segments_after_the_latest_checkpoint() {
    // Segments at or below a checkpoint are skipped by replay, so a new one must be higher.
    let tmp = tempfile::tempdir().unwrap();
    fs::write(checkpoint_path(tmp.path(), 41), b"").unwrap();
    let wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    assert_eq!(wal.current_segment(), 42);
}

#[test]
fn open_removes_stale_checkpoint_temporaries() {
    let tmp = tempfile::tempdir().unwrap();
    let temp = checkpoint_temp_path(tmp.path(), 3);
    fs::write(&temp, b"half a checkpoint").unwrap();
    Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    assert!(!temp.exists());
}

#[test]
fn wal_round_trips_records_across_rotations() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 4096)).unwrap();
    let mut expected = Vec::new();
    for i in 0..2000 {
        let payload = record(i, i % 300);
        let pos = wal.append(&payload).unwrap();
        expected.push((pos.segment, payload));
    }
    let stats = wal.stats();
    assert!(stats.segments > 50, "{stats:?}");
    assert_eq!(stats.records_total, 2000);
    for segment in wal.segments() {
        let on_disk = fs::metadata(&segment.path).unwrap().len();
        assert_eq!(on_disk, segment.bytes);
        assert!(segment.bytes <= 4096, "{segment:?}");
    }
    assert_eq!(stats.disk_bytes, stats.bytes_written_total);
    drop(wal);
    let (records, replay) = replay_vec(tmp.path(), 0);
    assert_eq!(records, expected);
    assert_eq!(replay.records, 2000);
    assert_eq!((replay.truncated_bytes, replay.skipped_bytes), (0, 0));
}

#[test]
fn batch_is_written_into_one_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 100)).unwrap();
    wal.append(&[1; 10]).unwrap();
    let batch: Vec<Vec<u8>> = (0..20).map(|i| record(i, 20)).collect();
    let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
    let pos = wal.append_batch(&refs).unwrap();
    assert_eq!(
        pos,
        Position {
            segment: 2,
            offset: HEADER_LEN as u64
        }
    );
    // The batch exceeds a segment, so it sits alone and the next append rotates.
    assert_eq!(wal.append(b"next").unwrap().segment, 3);
    let (records, _) = replay_vec(tmp.path(), 2);
    assert_eq!(records.len(), 21);
    assert!(records[..20].iter().all(|(segment, _)| *segment == 2));
}

#[test]
fn record_larger_than_a_segment_goes_in_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 64)).unwrap();
    let big = record(1, 1000);
    assert_eq!(wal.append(&big).unwrap().segment, 1);
    assert_eq!(wal.append(b"small").unwrap().segment, 2);
    assert_eq!(wal.append(&big).unwrap().segment, 3);
    drop(wal);
    assert_eq!(
        payloads(tmp.path()),
        vec![big.clone(), b"small".to_vec(), big]
    );
}

#[test]
fn empty_batch_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    let before = wal.stats();
    let pos = wal.append_batch(&[]).unwrap();
    assert_eq!(pos.offset, HEADER_LEN as u64);
    assert_eq!(wal.stats(), before);
}

#[test]
fn oversized_record_is_rejected_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    let huge = vec![0u8; MAX_RECORD_BYTES as usize + 1];
    let err = wal.append_batch(&[b"ok", &huge]).unwrap_err();
    assert!(
        matches!(err, WalError::RecordTooLarge { segment: 1, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), blazar_model::ErrorKind::InvalidInput);
    assert_eq!(wal.stats().records_total, 0);
    drop(wal);
    assert!(payloads(tmp.path()).is_empty());
}

#[test]
fn rotate_returns_the_closed_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    wal.append(b"a").unwrap();
    let fsyncs = wal.stats().fsyncs_total;
    assert_eq!(wal.rotate().unwrap(), 1);
    assert_eq!(wal.current_segment(), 2);
    assert!(
        wal.stats().fsyncs_total > fsyncs,
        "the closed segment was synced"
    );
    assert_eq!(wal.rotate().unwrap(), 2);
    let numbers: Vec<u64> = wal.segments().iter().map(|s| s.number).collect();
    assert_eq!(numbers, vec![1, 2, 3]);
}

#[test]
fn remove_segments_through_keeps_the_current_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    for _ in 0..3 {
        wal.append(b"x").unwrap();
        wal.rotate().unwrap();
    }
    assert_eq!(wal.current_segment(), 4);
    assert_eq!(wal.remove_segments_through(2).unwrap(), 2);
    assert_eq!(wal.remove_segments_through(100).unwrap(), 1);
    assert_eq!(wal.remove_segments_through(100).unwrap(), 0);
    let on_disk: Vec<u64> = list_segments(tmp.path())
        .unwrap()
        .iter()
        .map(|s| s.number)
        .collect();
    assert_eq!(on_disk, vec![4]);
    assert_eq!(wal.stats().segments, 1);
    wal.append(b"still works").unwrap();
}

#[test]
fn always_policy_syncs_every_append() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = WalOptions::new(tmp.path()).with_fsync(FsyncPolicy::Always);
    let mut wal = Wal::open(opts).unwrap();
    let after_open = wal.stats().fsyncs_total;
    wal.append(b"a").unwrap();
    wal.append_batch(&[b"b", b"c"]).unwrap();
    assert_eq!(wal.stats().fsyncs_total, after_open + 2);
    assert!(!wal.is_dirty());
    assert!(!wal.needs_sync());
}

#[test]
fn interval_policy_reports_pending_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(WalOptions::new(tmp.path())).unwrap();
    assert!(!wal.needs_sync(), "open syncs the new segment");
    wal.append(b"a").unwrap();
    assert!(wal.needs_sync());
    let before = wal.stats().fsyncs_total;
    wal.sync().unwrap();
    assert!(!wal.needs_sync());
    wal.sync().unwrap();
    assert_eq!(wal.stats().fsyncs_total, before + 1, "a clean sync is free");
}

#[test]
fn never_policy_never_asks_for_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    wal.append(b"a").unwrap();
    assert!(wal.is_dirty());
    assert!(!wal.needs_sync());
    wal.close().unwrap();
}

#[test]
fn abandoned_segment_is_cut_and_left_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    wal.append(b"acked").unwrap();
    // Simulate a failed write that left half a frame behind.
    wal.file.write_all(&[7, 0, 0]).unwrap();
    wal.broken = true;
    assert_eq!(wal.append(b"after").unwrap().segment, 2);
    drop(wal);
    let (records, stats) = replay_vec(tmp.path(), 0);
    assert_eq!(
        records,
        vec![(1, b"acked".to_vec()), (2, b"after".to_vec())]
    );
    assert_eq!(stats.skipped_bytes, 0, "the partial frame was cut");
}

#[test]
fn detached_sync_runs_outside_and_clears_dirty_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
    wal.append(b"x").unwrap();
    assert!(wal.is_dirty());
    let sync = wal.detach_sync().unwrap().expect("something to sync");
    assert!(!wal.is_dirty());
    // Writers may append while the sync runs.
    wal.append(b"y").unwrap();
    sync.run().unwrap();
    assert!(
        wal.is_dirty(),
        "the append after detaching still needs its own sync"
    );
    wal.detach_sync().unwrap().unwrap().run().unwrap();
    assert!(wal.detach_sync().unwrap().is_none());
    assert_eq!(replay_vec(tmp.path(), 0).0.len(), 2);
}
