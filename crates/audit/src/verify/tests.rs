use serde_json::json;

use super::*;
use crate::{AuditKind, AuditLog};

/// A log of `n` records, as its lines.
fn log_lines(n: u64) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    for i in 0..n {
        log.append(
            AuditKind::Alert,
            "system",
            json!({"i": i, "alert": "hot", "state": "firing"}),
        )
        .unwrap();
    }
    std::fs::read_to_string(log.path())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn verify(lines: &[String]) -> VerifyReport {
    let mut text = lines.join("\n");
    text.push('\n');
    verify_reader(text.as_bytes()).unwrap()
}

fn bad(lines: &[String]) -> String {
    let report = verify(lines);
    assert!(!report.ok, "{report:?}");
    report.first_bad.unwrap().to_string()
}

/// Line `i` (0-based) edited through `f` and re-hashed, as a forger who knows the format would.
fn forged(lines: &[String], i: usize, f: impl FnOnce(&mut AuditRecord)) -> Vec<String> {
    let mut out = lines.to_vec();
    let mut r: AuditRecord = serde_json::from_str(&out[i]).unwrap();
    f(&mut r);
    r.hash = r.computed_hash().unwrap();
    out[i] = r.to_line().unwrap();
    out
}

#[test]
fn an_intact_log_verifies() {
    let lines = log_lines(10);
    let report = verify(&lines);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.lines, 10);
    assert_eq!((report.first_seq, report.last_seq), (Some(0), Some(9)));
    let last: AuditRecord = serde_json::from_str(&lines[9]).unwrap();
    assert_eq!(report.last_hash, Some(last.hash));
    // Without a final newline too.
    assert!(verify_reader(lines.join("\n").as_bytes()).unwrap().ok);
    // And nothing at all.
    let empty = verify_reader(&b""[..]).unwrap();
    assert!(empty.ok && empty.lines == 0);
}

#[test]
fn a_changed_field_is_a_hash_mismatch_on_its_line() {
    let mut lines = log_lines(10);
    lines[6] = lines[6].replace("\"state\":\"firing\"", "\"state\":\"resolved\"");
    assert_eq!(bad(&lines), "line 7: hash mismatch (content changed)");
    let mut lines = log_lines(10);
    lines[6] = lines[6].replace("\"actor\":\"system\"", "\"actor\":\"mallory\"");
    assert_eq!(bad(&lines), "line 7: hash mismatch (content changed)");
    let report = verify(&lines);
    assert_eq!(report.lines, 6);
}

#[test]
fn a_removed_line_breaks_the_link_on_the_next() {
    let mut lines = log_lines(10);
    lines.remove(6);
    assert_eq!(
        bad(&lines),
        "line 7: prev does not match line 6's hash (line removed or reordered)"
    );
}

#[test]
fn reordered_lines_break_the_link() {
    let mut lines = log_lines(10);
    lines.swap(5, 6);
    assert_eq!(
        bad(&lines),
        "line 6: prev does not match line 5's hash (line removed or reordered)"
    );
}

#[test]
fn a_line_that_is_not_json_is_named() {
    let mut lines = log_lines(10);
    lines[6].truncate(20);
    assert!(
        bad(&lines).starts_with("line 7: not JSON"),
        "{}",
        bad(&lines)
    );
    let mut lines = log_lines(3);
    lines.insert(1, String::new());
    assert!(bad(&lines).starts_with("line 2: not JSON"));
}

#[test]
fn json_that_is_not_a_record_is_named() {
    let mut lines = log_lines(3);
    lines[1] = lines[1].replacen('{', "{\"extra\":1,", 1);
    assert!(
        bad(&lines).starts_with("line 2: not an audit record"),
        "{}",
        bad(&lines)
    );
}

#[test]
fn reformatting_or_a_duplicated_key_is_not_canonical() {
    // Same parsed content, so the hash still matches, but the bytes are not what was hashed.
    let mut lines = log_lines(3);
    lines[1] = lines[1].replace("\"state\":\"firing\"", "\"state\": \"firing\"");
    assert!(bad(&lines).starts_with("line 2: not in canonical form"));
    let mut lines = log_lines(3);
    lines[1] = lines[1].replace("\"alert\":\"hot\"", "\"alert\":\"cold\",\"alert\":\"hot\"");
    assert!(bad(&lines).starts_with("line 2: not in canonical form"));
}

#[test]
fn a_reforged_line_still_breaks_the_next_link() {
    let lines = forged(&log_lines(10), 6, |r| r.data["state"] = json!("resolved"));
    assert_eq!(
        bad(&lines),
        "line 8: prev does not match line 7's hash (line removed or reordered)"
    );
}

#[test]
fn a_seq_gap_is_named() {
    let lines = forged(&log_lines(10), 6, |r| r.seq = 9);
    assert_eq!(
        bad(&lines),
        "line 7: seq 9 does not follow line 6's seq 5 (line removed or reordered)"
    );
}

#[test]
fn the_first_record_must_start_the_chain() {
    let lines = forged(&log_lines(3), 0, |r| r.prev = "ab".repeat(32));
    assert_eq!(bad(&lines), "line 1: seq 0 must have prev of 64 zeros");
}

#[test]
fn an_export_may_start_mid_chain() {
    let lines = log_lines(10);
    let report = verify(&lines[3..]);
    assert!(report.ok, "{report:?}");
    assert_eq!((report.lines, report.first_seq), (7, Some(3)));
}

#[test]
fn report_serializes_reasons_as_text() {
    let mut lines = log_lines(3);
    lines.remove(1);
    let v = serde_json::to_value(verify(&lines)).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_bad"]["line"], 2);
    assert_eq!(
        v["first_bad"]["reason"],
        "prev does not match line 1's hash (line removed or reordered)"
    );
}

#[test]
fn verify_file_reports_a_missing_file_as_an_error() {
    let err = verify_file(Path::new("/nonexistent/audit.jsonl")).unwrap_err();
    assert!(matches!(err, AuditError::Open { .. }));
}
