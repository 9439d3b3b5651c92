use std::fs;
use std::io;

use proptest::prelude::*;

use super::*;
use crate::format::{FRAME_HEADER_LEN, HEADER_LEN};
use crate::layout::segment_path;
use crate::test_support::{payloads, record, replay_vec, small};
use crate::Position;

/// Writes `per_segment` records into each of `segments` segments; returns what was written
/// with its position.
fn fill(dir: &Path, segments: usize, per_segment: usize) -> Vec<(Position, Vec<u8>)> {
    let mut wal = Wal::open(small(dir, 1 << 20)).unwrap();
    let mut written = Vec::new();
    for s in 0..segments {
        if s > 0 {
            wal.rotate().unwrap();
        }
        for i in 0..per_segment {
            let payload = record(s * 100 + i, 10 + i * 7);
            written.push((wal.append(&payload).unwrap(), payload));
        }
    }
    written
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

#[test]
fn missing_or_empty_dir_replays_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (records, stats) = replay_vec(&tmp.path().join("absent"), 0);
    assert!(records.is_empty());
    assert_eq!(stats, ReplayStats::default());
    let (records, stats) = replay_vec(tmp.path(), 0);
    assert!(records.is_empty());
    assert_eq!(stats.segments, 0);
}

#[test]
fn replay_starts_at_from_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let written = fill(tmp.path(), 3, 2);
    let (records, stats) = replay_vec(tmp.path(), 2);
    let expected: Vec<(u64, Vec<u8>)> = written
        .into_iter()
        .filter(|(pos, _)| pos.segment >= 2)
        .map(|(pos, p)| (pos.segment, p))
        .collect();
    assert_eq!(records, expected);
    assert_eq!(stats.segments, 2);
    assert_eq!(stats.last_segment, Some(3));
}

#[test]
fn wal_replay_truncates_torn_tail() {
    // Cut the last segment at every byte of its last frame.
    let probe = tempfile::tempdir().unwrap();
    let written = fill(probe.path(), 2, 3);
    let (last_pos, last_payload) = written.last().unwrap().clone();
    let frame_end = last_pos.offset + (FRAME_HEADER_LEN + last_payload.len()) as u64;
    for cut in last_pos.offset..frame_end {
        let tmp = tempfile::tempdir().unwrap();
        fill(tmp.path(), 2, 3);
        let last = segment_path(tmp.path(), 2);
        assert_eq!(file_len(&last), frame_end);
        fs::OpenOptions::new()
            .write(true)
            .open(&last)
            .unwrap()
            .set_len(cut)
            .unwrap();

        let (records, stats) = replay_vec(tmp.path(), 0);
        let expected: Vec<(u64, Vec<u8>)> = written[..written.len() - 1]
            .iter()
            .map(|(pos, p)| (pos.segment, p.clone()))
            .collect();
        assert_eq!(records, expected, "cut at {cut}");
        assert_eq!(stats.truncated_bytes, cut - last_pos.offset, "cut at {cut}");
        assert_eq!(
            file_len(&last),
            last_pos.offset,
            "truncated to the last good frame"
        );

        let mut wal = Wal::open(small(tmp.path(), 1 << 20)).unwrap();
        wal.append(b"after restart").unwrap();
        drop(wal);
        let (again, stats) = replay_vec(tmp.path(), 0);
        assert_eq!(again.len(), expected.len() + 1);
        assert_eq!(again.last().unwrap(), &(3, b"after restart".to_vec()));
        assert_eq!((stats.truncated_bytes, stats.skipped_bytes), (0, 0));
    }
}

#[test]
fn torn_header_of_last_segment_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    fill(tmp.path(), 1, 2);
    let torn = segment_path(tmp.path(), 2);
    fs::write(
        &torn,
        &crate::format::encode_header(crate::format::FileKind::Segment, 2)[..5],
    )
    .unwrap();
    let (records, stats) = replay_vec(tmp.path(), 0);
    assert_eq!(records.len(), 2);
    assert_eq!(stats.truncated_bytes, 5);
    assert_eq!(file_len(&torn), 0);
    let (_, stats) = replay_vec(tmp.path(), 0);
    assert_eq!(stats.truncated_bytes, 0, "an empty segment is fine");
}

#[test]
fn zero_filled_tail_is_truncated() {
    // Some file systems expose a zero-filled extent after a crash.
    let tmp = tempfile::tempdir().unwrap();
    fill(tmp.path(), 1, 3);
    let path = segment_path(tmp.path(), 1);
    let good = file_len(&path);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0; 4096]);
    fs::write(&path, bytes).unwrap();
    let (records, stats) = replay_vec(tmp.path(), 0);
    assert_eq!(records.len(), 3);
    assert_eq!(stats.truncated_bytes, 4096);
    assert_eq!(file_len(&path), good);
}

#[test]
fn wal_replay_skips_corrupt_tail_of_middle_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let written = fill(tmp.path(), 3, 5);
    let middle = segment_path(tmp.path(), 2);
    let (bad_pos, _) = written
        .iter()
        .filter(|(pos, _)| pos.segment == 2)
        .nth(2)
        .unwrap();
    let mut bytes = fs::read(&middle).unwrap();
    let flip = bad_pos.offset as usize + FRAME_HEADER_LEN + 1;
    bytes[flip] ^= 0xff;
    fs::write(&middle, &bytes).unwrap();

    let (records, stats) = replay_vec(tmp.path(), 0);
    let expected: Vec<(u64, Vec<u8>)> = written
        .iter()
        .enumerate()
        .filter(|(i, _)| !(7..10).contains(i))
        .map(|(_, (pos, p))| (pos.segment, p.clone()))
        .collect();
    assert_eq!(records, expected);
    assert_eq!(stats.skipped_bytes, bytes.len() as u64 - bad_pos.offset);
    assert_eq!(stats.corrupt_segments, 1);
    assert_eq!(stats.truncated_bytes, 0);
    assert_eq!(
        fs::read(&middle).unwrap(),
        bytes,
        "earlier segments are never modified"
    );
}

#[test]
fn absurd_length_in_middle_segment_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let written = fill(tmp.path(), 3, 2);
    let middle = segment_path(tmp.path(), 2);
    let mut bytes = fs::read(&middle).unwrap();
    bytes[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes()[..]);
    bytes[HEADER_LEN + 3] = 0x7f;
    fs::write(&middle, &bytes).unwrap();
    let (records, stats) = replay_vec(tmp.path(), 0);
    assert_eq!(records.len(), written.len() - 2);
    assert_eq!(stats.skipped_bytes, (bytes.len() - HEADER_LEN) as u64);
}

#[test]
fn segment_with_bad_header_is_skipped_whole_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    fill(tmp.path(), 3, 2);
    for (segment, damage) in [(1u64, 0usize), (3, 8)] {
        let path = segment_path(tmp.path(), segment);
        let mut bytes = fs::read(&path).unwrap();
        bytes[damage] ^= 0x55; // magic, then the header's number
        fs::write(&path, &bytes).unwrap();
    }
    let (records, stats) = replay_vec(tmp.path(), 0);
    assert_eq!(
        records.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![2, 2]
    );
    assert_eq!(stats.corrupt_segments, 2);
    assert_eq!(stats.truncated_bytes, 0);
    assert!(file_len(&segment_path(tmp.path(), 3)) > HEADER_LEN as u64);
}

#[test]
fn newer_format_version_is_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    fill(tmp.path(), 1, 2);
    let path = segment_path(tmp.path(), 1);
    let mut bytes = fs::read(&path).unwrap();
    bytes[4] = 2;
    fs::write(&path, &bytes).unwrap();
    let err = Wal::replay(tmp.path(), 0, |_, _| Ok::<(), io::Error>(())).unwrap_err();
    assert!(
        matches!(
            err,
            WalError::UnsupportedVersion {
                segment: 1,
                version: 2
            }
        ),
        "{err}"
    );
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn callback_error_stops_replay_and_names_the_record() {
    let tmp = tempfile::tempdir().unwrap();
    let written = fill(tmp.path(), 2, 3);
    let mut seen = 0;
    let err = Wal::replay(tmp.path(), 0, |_, _| {
        seen += 1;
        if seen == 5 {
            return Err(io::Error::other("bad record"));
        }
        Ok(())
    })
    .unwrap_err();
    let (pos, _) = &written[4];
    match err {
        WalError::Apply {
            segment,
            offset,
            source,
        } => {
            assert_eq!((segment, offset), (pos.segment, pos.offset));
            assert_eq!(source.to_string(), "bad record");
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(seen, 5);
}

#[test]
fn error_messages_are_lowercase_and_name_the_place() {
    let err: WalError = WalError::Read {
        segment: 3,
        offset: 42,
        source: io::Error::other("disk on fire"),
    };
    assert_eq!(err.to_string(), "reading wal segment 3 at offset 42");
}

/// One append: a batch of records.
fn batches() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    let record = prop::collection::vec(any::<u8>(), 0..200);
    prop::collection::vec(prop::collection::vec(record, 1..4), 1..30)
}

/// Appends `batches` and returns every record with its segment and frame end offset.
fn append_model(
    dir: &Path,
    segment_bytes: u64,
    batches: &[Vec<Vec<u8>>],
) -> Vec<(u64, u64, Vec<u8>)> {
    let mut wal = Wal::open(small(dir, segment_bytes)).unwrap();
    let mut model = Vec::new();
    for batch in batches {
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let pos = wal.append_batch(&refs).unwrap();
        let mut end = pos.offset;
        for payload in batch {
            end += (FRAME_HEADER_LEN + payload.len()) as u64;
            model.push((pos.segment, end, payload.clone()));
        }
    }
    // Dropped without a sync: like kill -9, only what the OS already has remains.
    drop(wal);
    model
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn append_kill_replay_matches_model(
        batches in batches(),
        segment_bytes in 64u64..2048,
        cut in any::<prop::sample::Index>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let model = append_model(tmp.path(), segment_bytes, &batches);
        let last_segment = model.last().unwrap().0;
        let last = segment_path(tmp.path(), last_segment);
        let cut = cut.index(file_len(&last) as usize + 1) as u64;
        fs::OpenOptions::new().write(true).open(&last).unwrap().set_len(cut).unwrap();

        let expected: Vec<(u64, Vec<u8>)> = model
            .iter()
            .filter(|(segment, end, _)| *segment < last_segment || *end <= cut)
            .map(|(segment, _, p)| (*segment, p.clone()))
            .collect();
        let (records, stats) = replay_vec(tmp.path(), 0);
        prop_assert_eq!(&records, &expected);
        prop_assert_eq!(stats.skipped_bytes, 0);

        let mut wal = Wal::open(small(tmp.path(), segment_bytes)).unwrap();
        wal.append(b"post").unwrap();
        drop(wal);
        let mut after = payloads(tmp.path());
        prop_assert_eq!(after.pop(), Some(b"post".to_vec()));
        prop_assert_eq!(after, expected.into_iter().map(|(_, p)| p).collect::<Vec<_>>());
    }

    #[test]
    fn damaged_bytes_replay_a_subsequence(
        batches in batches(),
        segment_bytes in 64u64..1024,
        segment_pick in any::<prop::sample::Index>(),
        byte_pick in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let model = append_model(tmp.path(), segment_bytes, &batches);
        let segments = crate::list_segments(tmp.path()).unwrap();
        let victim = &segments[segment_pick.index(segments.len())];
        let mut bytes = fs::read(&victim.path).unwrap();
        let at = byte_pick.index(bytes.len());
        bytes[at] ^= xor;
        fs::write(&victim.path, &bytes).unwrap();

        let mut records = Vec::new();
        let replayed = Wal::replay(tmp.path(), 0, |segment, payload| {
            records.push((segment, payload.to_vec()));
            Ok::<(), io::Error>(())
        });
        if let Err(err) = replayed {
            // Only the version byte may refuse a replay; everything else is recovered.
            prop_assert!(at == 4, "unexpected error {}", err);
            prop_assert!(matches!(err, WalError::UnsupportedVersion { .. }), "{}", err);
        }
        let mut expected = model.iter().map(|(s, _, p)| (*s, p.clone()));
        for record in &records {
            prop_assert!(expected.any(|m| &m == record), "{:?} is not in order in the model", record);
        }
    }
}
