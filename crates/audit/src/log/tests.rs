use std::io::Write;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::verify_file;

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn append_n(log: &AuditLog, n: u64) -> Vec<AuditRecord> {
    (0..n)
        .map(|i| {
            log.append(
                AuditKind::Alert,
                "system",
                json!({"i": i, "state": "firing"}),
            )
            .unwrap()
        })
        .collect()
}

#[test]
fn records_chain_from_zero() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let recs = append_n(&log, 3);
    assert_eq!(recs[0].seq, 0);
    assert_eq!(recs[0].prev, ZERO_HASH);
    assert_eq!(recs[1].prev, recs[0].hash);
    assert_eq!(recs[2].seq, 2);
    let on_disk = lines(log.path());
    assert_eq!(on_disk.len(), 3);
    assert_eq!(on_disk[1], recs[1].to_line().unwrap());
    assert_eq!(log.read(None, 10).unwrap(), recs);
}

#[test]
fn reopen_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let first = append_n(&AuditLog::open(dir.path()).unwrap(), 3);
    let log = AuditLog::open(dir.path()).unwrap();
    let next = log
        .append(
            AuditKind::ConfigReload,
            "api",
            json!({"changed": ["alerting"]}),
        )
        .unwrap();
    assert_eq!(next.seq, 3);
    assert_eq!(next.prev, first[2].hash);
    assert!(next.time_ns().unwrap() > first[2].time_ns().unwrap());
    let report = verify_file(log.path()).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.lines, 4);
}

#[test]
fn open_truncates_torn_tail() {
    for torn in [&b"{\"seq\":3,\"time\":\"20"[..], &[0u8; 4096][..]] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let recs = append_n(&AuditLog::open(dir.path()).unwrap(), 3);
        let good_len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(torn)
            .unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            good_len,
            "torn tail cut"
        );
        let next = log.append(AuditKind::Ack, "ops", json!({})).unwrap();
        assert_eq!((next.seq, next.prev.as_str()), (3, recs[2].hash.as_str()));
        assert!(verify_file(&path).unwrap().ok);
    }
}

#[test]
fn a_torn_only_line_leaves_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(FILE_NAME), b"{\"seq\":0,\"ti").unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let first = log
        .append(AuditKind::Lifecycle, "system", json!({}))
        .unwrap();
    assert_eq!((first.seq, first.prev.as_str()), (0, ZERO_HASH));
}

#[test]
fn open_refuses_a_complete_last_line_that_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    append_n(&AuditLog::open(dir.path()).unwrap(), 3);
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replace("\"i\":2", "\"i\":7")).unwrap();
    let err = AuditLog::open(dir.path()).unwrap_err();
    assert!(matches!(err, AuditError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("seq 2"), "{err}");
}

#[test]
fn rotation_keeps_the_chain_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let opts = AuditOptions { max_bytes: 2000 };
    let log = AuditLog::open_with(dir.path(), opts).unwrap();
    let recs = append_n(&log, 40);
    let old = dir.path().join(OLD_FILE_NAME);
    assert!(old.exists());
    assert!(fs::metadata(log.path()).unwrap().len() <= 2000);
    // The two files together are one unbroken stretch of the chain, ending at the last record.
    let mut both = fs::read(&old).unwrap();
    both.extend(fs::read(log.path()).unwrap());
    let report = crate::verify_reader(&both[..]).unwrap();
    assert!(report.ok, "{report:?}");
    assert!(report.first_seq.unwrap() > 0, "older files were dropped");
    assert_eq!(report.last_seq, Some(39));
    // The current file alone starts mid-chain, and verifies from there.
    let current = verify_file(log.path()).unwrap();
    assert!(current.ok && current.first_seq.unwrap() > report.first_seq.unwrap());
    // read sees both files, oldest first.
    let read = log.read(None, 1000).unwrap();
    assert_eq!(read.len() as u64, report.lines);
    assert_eq!(read.last(), recs.last());
    assert!(read.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    // Reopened, the chain goes on from the current file.
    drop(log);
    let log = AuditLog::open_with(dir.path(), opts).unwrap();
    let next = log.append(AuditKind::Alert, "system", json!({})).unwrap();
    assert_eq!((next.seq, &next.prev), (40, &recs[39].hash));
}

#[test]
fn an_empty_current_file_continues_from_the_old_one() {
    // A crash between the rotation's rename and the first write to the new file.
    let dir = tempfile::tempdir().unwrap();
    let recs = append_n(&AuditLog::open(dir.path()).unwrap(), 2);
    fs::rename(dir.path().join(FILE_NAME), dir.path().join(OLD_FILE_NAME)).unwrap();
    fs::write(dir.path().join(FILE_NAME), b"").unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let next = log.append(AuditKind::Alert, "system", json!({})).unwrap();
    assert_eq!((next.seq, &next.prev), (2, &recs[1].hash));
    assert_eq!(log.read(None, 10).unwrap().len(), 3);
}

#[test]
fn a_dropped_handle_is_recovered_on_the_next_append() {
    // What a failed write that could not be undone leaves: a torn line and no open file.
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let recs = append_n(&log, 2);
    {
        let mut inner = log.inner.lock();
        if let Some(f) = inner.file.as_mut() {
            f.write_all(b"{\"seq\":2,").unwrap();
        }
        inner.file = None;
    }
    let next = log.append(AuditKind::Alert, "system", json!({})).unwrap();
    assert_eq!((next.seq, &next.prev), (2, &recs[1].hash));
    assert!(verify_file(log.path()).unwrap().ok);
}

#[test]
fn concurrent_appends_make_one_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log =
        Arc::new(AuditLog::open_with(dir.path(), AuditOptions { max_bytes: 1 << 30 }).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    log.append(AuditKind::Notification, &format!("t{t}"), json!({"i": i}))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = verify_file(log.path()).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.lines, 1600);
    assert_eq!(report.last_seq, Some(1599));
}

#[test]
fn times_strictly_increase_when_the_clock_steps_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let a = log
        .append_at(1_000, AuditKind::Alert, "system", json!({}))
        .unwrap();
    let b = log
        .append_at(500, AuditKind::Alert, "system", json!({}))
        .unwrap();
    assert_eq!((a.time_ns(), b.time_ns()), (Some(1_000), Some(1_001)));
}

#[test]
fn read_since_matches_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let t0 = 1_700_000_000_000_000_000i64;
    for i in 0..600 {
        log.append_at(
            t0 + i * 1000,
            AuditKind::Alert,
            "system",
            json!({"pad": "x".repeat(200)}),
        )
        .unwrap();
    }
    let all = log.read(None, usize::MAX).unwrap();
    assert_eq!(all.len(), 600);
    let len = fs::metadata(log.path()).unwrap().len();
    let mut file = File::open(log.path()).unwrap();
    for since in [
        i64::MIN,
        t0 - 1,
        t0,
        t0 + 1,
        t0 + 250_000,
        t0 + 250_001,
        t0 + 599_000,
        t0 + 599_001,
    ] {
        let want: Vec<u64> = all
            .iter()
            .filter(|r| r.time_ns().unwrap() >= since)
            .map(|r| r.seq)
            .collect();
        let got: Vec<u64> = log
            .read(Some(since), usize::MAX)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(got, want, "since {since}");
        // The bisection itself, down to single bytes: never past the first wanted line, and
        // at most one line before it.
        let off = first_at_or_after(&mut file, len, since, 0).unwrap();
        let before = fs::read(log.path()).unwrap()[..off as usize]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        let first_wanted = want.first().copied().unwrap_or(600);
        assert!(
            before <= first_wanted && before + 1 >= first_wanted,
            "since {since}: {before}"
        );
    }
    let page = log.read(Some(t0 + 10_000), 5).unwrap();
    assert_eq!(
        page.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [10, 11, 12, 13, 14]
    );
}

#[test]
fn read_skips_lines_that_are_not_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    append_n(&log, 3);
    let text = fs::read_to_string(log.path()).unwrap();
    let mut l: Vec<&str> = text.lines().collect();
    l[1] = "garbage";
    let mut damaged = l.join("\n");
    damaged.push('\n');
    // Same length is not needed: read works from the file, bounded by what was appended.
    fs::write(log.path(), &damaged).unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let seqs: Vec<u64> = log.read(None, 10).unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [0, 2]);
}

#[test]
fn other_kinds_must_be_snake_case() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let r = log
        .append(AuditKind::Other("escalation".into()), "system", json!({}))
        .unwrap();
    assert_eq!(r.kind.as_str(), "escalation");
    let err = log
        .append(AuditKind::Other("Bad Kind".into()), "system", json!({}))
        .unwrap_err();
    assert!(matches!(err, AuditError::InvalidKind { .. }));
    assert_eq!(
        log.read(None, 10).unwrap().len(),
        1,
        "nothing written for the bad one"
    );
}

#[test]
fn sync_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    append_n(&log, 1);
    log.sync().unwrap();
}

#[test]
fn capped_reader_consumes_overlong_lines() {
    let input = b"short\nthis line is too long\nok";
    let mut r = BufReader::with_capacity(4, &input[..]);
    let mut buf = Vec::new();
    assert_eq!(
        read_line_capped(&mut r, &mut buf, 8).unwrap(),
        LineRead::Line
    );
    assert_eq!(buf, b"short\n");
    assert_eq!(
        read_line_capped(&mut r, &mut buf, 8).unwrap(),
        LineRead::TooLong
    );
    assert_eq!(
        read_line_capped(&mut r, &mut buf, 8).unwrap(),
        LineRead::Line
    );
    assert_eq!(buf, b"ok");
    assert_eq!(
        read_line_capped(&mut r, &mut buf, 8).unwrap(),
        LineRead::Eof
    );
}
