use std::io;

use super::*;
use crate::format::HEADER_LEN;
use crate::test_support::record;
use crate::{Wal, WalOptions};

fn write_checkpoint(dir: &Path, covers: u64, records: &[Vec<u8>]) -> CheckpointInfo {
    let mut writer = CheckpointWriter::create(dir, covers).unwrap();
    for r in records {
        writer.append(r).unwrap();
    }
    assert_eq!(writer.records(), records.len() as u64);
    writer.finish().unwrap()
}

fn read_all(path: &Path) -> Result<Vec<Vec<u8>>, WalError<io::Error>> {
    let mut out = Vec::new();
    read_checkpoint(path, |payload| {
        out.push(payload.to_vec());
        Ok(())
    })?;
    Ok(out)
}

fn sample() -> Vec<Vec<u8>> {
    (0..50).map(|i| record(i, i * 3)).collect()
}

#[test]
fn checkpoint_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let records = sample();
    let info = write_checkpoint(tmp.path(), 7, &records);
    assert_eq!(info.covers_segment, 7);
    assert_eq!(info.path, tmp.path().join("checkpoint.00000007"));
    assert_eq!(info.records, 50);
    assert_eq!(
        latest_checkpoint(tmp.path()).unwrap(),
        Some((7, info.path.clone()))
    );
    assert_eq!(read_all(&info.path).unwrap(), records);
    assert_eq!(verify_checkpoint(&info.path).unwrap(), info);
}

#[test]
fn empty_checkpoint_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let info = write_checkpoint(tmp.path(), 1, &[]);
    assert!(read_all(&info.path).unwrap().is_empty());
}

#[test]
fn finishing_a_checkpoint_deletes_older_ones() {
    let tmp = tempfile::tempdir().unwrap();
    write_checkpoint(tmp.path(), 3, &sample());
    write_checkpoint(tmp.path(), 5, &sample());
    let newest = write_checkpoint(tmp.path(), 9, &[b"new".to_vec()]);
    let all = list_checkpoints(tmp.path()).unwrap();
    assert_eq!(all, vec![(9, newest.path.clone())]);
    assert_eq!(read_all(&newest.path).unwrap(), vec![b"new".to_vec()]);
}

#[test]
fn unfinished_checkpoint_leaves_the_previous_one() {
    let tmp = tempfile::tempdir().unwrap();
    let old = write_checkpoint(tmp.path(), 3, &sample());
    let mut writer = CheckpointWriter::create(tmp.path(), 8).unwrap();
    writer.append(b"partial").unwrap();
    assert_eq!(
        latest_checkpoint(tmp.path()).unwrap(),
        Some((3, old.path.clone()))
    );
    drop(writer);
    assert!(
        !checkpoint_temp_path(tmp.path(), 8).exists(),
        "dropped writer cleans up"
    );
    assert_eq!(list_checkpoints(tmp.path()).unwrap(), vec![(3, old.path)]);
}

#[test]
fn crash_leftover_temporary_is_ignored_then_cleaned() {
    let tmp = tempfile::tempdir().unwrap();
    let old = write_checkpoint(tmp.path(), 3, &sample());
    let mut writer = CheckpointWriter::create(tmp.path(), 8).unwrap();
    writer.append(b"partial").unwrap();
    std::mem::forget(writer); // the process died mid-checkpoint
    assert_eq!(latest_checkpoint(tmp.path()).unwrap(), Some((3, old.path)));
    let wal = Wal::open(WalOptions::new(tmp.path())).unwrap();
    assert!(!checkpoint_temp_path(tmp.path(), 8).exists());
    assert_eq!(wal.current_segment(), 4);
}

#[test]
fn incomplete_checkpoint_is_rejected_at_every_length() {
    let tmp = tempfile::tempdir().unwrap();
    let records: Vec<Vec<u8>> = (0..4).map(|i| record(i, 9)).collect();
    let info = write_checkpoint(tmp.path(), 2, &records);
    let full = fs::read(&info.path).unwrap();
    for cut in 0..full.len() {
        fs::write(&info.path, &full[..cut]).unwrap();
        let mut called = false;
        let err = read_checkpoint(&info.path, |_| {
            called = true;
            Ok::<(), io::Error>(())
        })
        .unwrap_err();
        assert!(
            matches!(err, WalError::CheckpointCorrupt { .. }),
            "cut {cut}: {err}"
        );
        assert!(
            !called,
            "cut {cut}: records handed out before the footer was checked"
        );
    }
    // A complete-looking file whose footer miscounts is rejected too.
    let fewer = write_checkpoint(tmp.path(), 2, &records[..3]);
    let shorter = fs::read(&fewer.path).unwrap();
    let mut spliced = full[..full.len() - 24].to_vec();
    spliced.extend_from_slice(&shorter[shorter.len() - 24..]);
    fs::write(&info.path, &spliced).unwrap();
    let err = verify_checkpoint(&info.path).unwrap_err();
    assert!(
        matches!(
            err,
            WalError::CheckpointCorrupt {
                source: Corruption::CountMismatch {
                    expected: 3,
                    found: 4,
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn corrupt_or_trailing_bytes_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let info = write_checkpoint(tmp.path(), 2, &sample());
    let full = fs::read(&info.path).unwrap();

    let mut flipped = full.clone();
    flipped[HEADER_LEN + 20] ^= 1;
    fs::write(&info.path, &flipped).unwrap();
    let err = read_all(&info.path).unwrap_err();
    assert!(
        matches!(
            err,
            WalError::CheckpointCorrupt {
                source: Corruption::CrcMismatch,
                ..
            }
        ),
        "{err}"
    );

    let mut trailing = full.clone();
    trailing.push(0);
    fs::write(&info.path, &trailing).unwrap();
    let err = read_all(&info.path).unwrap_err();
    assert!(
        matches!(
            err,
            WalError::CheckpointCorrupt {
                source: Corruption::TrailingBytes,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn segment_file_is_not_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(WalOptions::new(tmp.path())).unwrap();
    wal.append(b"x").unwrap();
    let path = tmp.path().join("checkpoint.00000001");
    fs::copy(tmp.path().join("00000001.wal"), &path).unwrap();
    let err = verify_checkpoint(&path).unwrap_err();
    assert!(
        matches!(
            err,
            WalError::CheckpointCorrupt {
                source: Corruption::WrongKind(1),
                offset: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn callback_error_is_returned_with_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let info = write_checkpoint(tmp.path(), 2, &[b"a".to_vec(), b"b".to_vec()]);
    let err = read_checkpoint(&info.path, |p| {
        if p == b"b" {
            Err(io::Error::other("nope"))
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert!(
        matches!(err, WalError::ApplyCheckpoint { offset: 25, .. }),
        "{err}"
    );
}
