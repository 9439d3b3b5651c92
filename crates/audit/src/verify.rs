//! Offline verification of an audit log or export: every line's hash is recomputed, each
//! `prev` must be the line before's `hash`, and `seq` must grow by one. Needs no server.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde::{Serialize, Serializer};

use crate::log::{read_line_capped, LineRead, MAX_LINE_BYTES};
use crate::{AuditError, AuditRecord, ZERO_HASH};

/// The outcome of verifying a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Lines that verified: all of them when `ok`, those before the first bad one otherwise.
    pub lines: u64,
    /// Whether every line verified.
    pub ok: bool,
    /// The first line that did not, and why.
    pub first_bad: Option<BadLine>,
    /// `seq` of the first line. Above 0, the file starts mid-chain (an export with `since`, or
    /// a log whose oldest file was rotated away): its first `prev` cannot be checked here.
    pub first_seq: Option<u64>,
    /// `seq` of the last line that verified.
    pub last_seq: Option<u64>,
    /// `hash` of the last line that verified: keep it elsewhere to detect a rewritten chain.
    pub last_hash: Option<String>,
}

/// A line that failed verification (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub line: u64,
    pub reason: BadReason,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Why a line failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadReason {
    /// Not JSON at all (the parser's message).
    NotJson(String),
    /// JSON, but not an audit record: a field missing, extra or of the wrong type.
    NotRecord(String),
    /// Longer than any record can be.
    TooLong,
    /// The fields do not hash to `hash`: the content was changed.
    HashMismatch,
    /// The hash matches but the bytes are not the canonical form: reformatted, or a key
    /// repeated or moved, so what is shown is not exactly what was hashed.
    NotCanonical,
    /// `seq` 0 whose `prev` is not 64 zeros.
    BadGenesis,
    /// `prev` is not the previous line's `hash`.
    PrevMismatch { prev_line: u64 },
    /// `seq` is not the previous line's plus one.
    SeqGap {
        seq: u64,
        prev_line: u64,
        prev_seq: u64,
    },
}

impl fmt::Display for BadReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson(e) => write!(f, "not JSON ({e})"),
            Self::NotRecord(e) => write!(f, "not an audit record ({e})"),
            Self::TooLong => write!(f, "longer than {MAX_LINE_BYTES} bytes"),
            Self::HashMismatch => f.write_str("hash mismatch (content changed)"),
            Self::NotCanonical => f.write_str(
                "not in canonical form (reformatted, or a key repeated or re-ordered)",
            ),
            Self::BadGenesis => f.write_str("seq 0 must have prev of 64 zeros"),
            Self::PrevMismatch { prev_line } => write!(
                f,
                "prev does not match line {prev_line}'s hash (line removed or reordered)"
            ),
            Self::SeqGap {
                seq,
                prev_line,
                prev_seq,
            } => write!(
                f,
                "seq {seq} does not follow line {prev_line}'s seq {prev_seq} (line removed or reordered)"
            ),
        }
    }
}

impl Serialize for BadReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Verifies the audit log or export at `path`; stops at the first bad line.
///
/// # Errors
/// [`AuditError::Open`] or [`AuditError::Read`] when the file cannot be read (a file that
/// reads but does not verify is an `Ok` report with `ok: false`).
pub fn verify_file(path: &Path) -> Result<VerifyReport, AuditError> {
    let file = File::open(path).map_err(|source| AuditError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    verify_reader(BufReader::new(file)).map_err(|source| AuditError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Verifies JSON lines read from `r`, as [`verify_file`].
///
/// # Errors
/// Reading fails.
pub fn verify_reader(mut r: impl BufRead) -> io::Result<VerifyReport> {
    let mut report = VerifyReport {
        lines: 0,
        ok: true,
        first_bad: None,
        first_seq: None,
        last_seq: None,
        last_hash: None,
    };
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        let read = read_line_capped(&mut r, &mut buf, MAX_LINE_BYTES)?;
        if read == LineRead::Eof {
            return Ok(report);
        }
        line_no += 1;
        let checked = match read {
            LineRead::TooLong => Err(BadReason::TooLong),
            _ => check_line(buf.strip_suffix(b"\n").unwrap_or(&buf), &report, line_no),
        };
        match checked {
            Ok(record) => {
                report.lines += 1;
                report.first_seq.get_or_insert(record.seq);
                report.last_seq = Some(record.seq);
                report.last_hash = Some(record.hash);
            }
            Err(reason) => {
                report.ok = false;
                report.first_bad = Some(BadLine {
                    line: line_no,
                    reason,
                });
                return Ok(report);
            }
        }
    }
}

/// Checks line `line_no` against itself and the line before it (summed up in `report`).
fn check_line(line: &[u8], report: &VerifyReport, line_no: u64) -> Result<AuditRecord, BadReason> {
    let record: AuditRecord = serde_json::from_slice(line).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => BadReason::NotRecord(e.to_string()),
        _ => BadReason::NotJson(e.to_string()),
    })?;
    let computed = record
        .computed_hash()
        .map_err(|e| BadReason::NotRecord(e.to_string()))?;
    if computed != record.hash {
        return Err(BadReason::HashMismatch);
    }
    if record.to_line().ok().as_deref().map(str::as_bytes) != Some(line) {
        return Err(BadReason::NotCanonical);
    }
    match (&report.last_hash, report.last_seq) {
        (Some(prev_hash), Some(prev_seq)) => {
            let prev_line = line_no - 1;
            if &record.prev != prev_hash {
                return Err(BadReason::PrevMismatch { prev_line });
            }
            if prev_seq.checked_add(1) != Some(record.seq) {
                return Err(BadReason::SeqGap {
                    seq: record.seq,
                    prev_line,
                    prev_seq,
                });
            }
        }
        _ if record.seq == 0 && record.prev != ZERO_HASH => return Err(BadReason::BadGenesis),
        _ => {}
    }
    Ok(record)
}

#[cfg(test)]
mod tests;
