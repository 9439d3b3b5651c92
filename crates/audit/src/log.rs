//! The log files: open (recovering the chain from the tail), append, rotate, read, sync. What a
//! record contains and how it is hashed is `record`'s; checking a whole file is `verify`'s.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde_json::Value;

use crate::record::{bounded_data, format_time, normalize_actor};
use crate::{AuditError, AuditKind, AuditRecord, ZERO_HASH};

/// The current file, in the log's directory.
pub const FILE_NAME: &str = "audit.jsonl";
/// The previous file, kept after a rotation (one only).
pub const OLD_FILE_NAME: &str = "audit.jsonl.1";
/// Size past which the current file is rotated, unless [`AuditOptions`] says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// How far back from the end `open` looks for the last complete line. A line is at most
/// `MAX_DATA_BYTES` of data plus the other fields (~70 KiB), so this always holds one.
const TAIL_WINDOW: u64 = 256 * 1024;
/// Range below which `read` stops bisecting on time and scans lines.
const SCAN_WINDOW: u64 = 64 * 1024;
/// Longest line a reader accepts; ours are far shorter, so a longer one is damage.
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;

/// How the log is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditOptions {
    /// Size past which `audit.jsonl` becomes `audit.jsonl.1` and a new file starts.
    pub max_bytes: u64,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// The append-only, hash-chained audit log in one directory. Cheap to share behind an `Arc`:
/// every method takes `&self`, and appends are serialized by an internal lock.
#[derive(Debug)]
pub struct AuditLog {
    dir: PathBuf,
    path: PathBuf,
    old_path: PathBuf,
    options: AuditOptions,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None` after a failure that left the file in doubt: the next append re-opens it,
    /// which cuts a torn tail and re-reads the chain's head from disk.
    file: Option<File>,
    /// Bytes of complete lines in the current file.
    size: u64,
    next_seq: u64,
    last_hash: String,
    last_time_ns: i64,
}

/// Where the chain stands after the last complete record on disk.
struct Tail {
    size: u64,
    next_seq: u64,
    last_hash: String,
    last_time_ns: i64,
}

impl Tail {
    fn genesis(size: u64) -> Self {
        Self {
            size,
            next_seq: 0,
            last_hash: ZERO_HASH.to_string(),
            last_time_ns: i64::MIN,
        }
    }
}

impl AuditLog {
    /// Opens (creating if needed) the log in `dir` with default options: see
    /// [`AuditLog::open_with`].
    ///
    /// # Errors
    /// As [`AuditLog::open_with`].
    pub fn open(dir: &Path) -> Result<Self, AuditError> {
        Self::open_with(dir, AuditOptions::default())
    }

    /// Opens (creating if needed) the log in `dir`. A torn last line left by a crash is cut
    /// off; the chain continues from the last complete record, in `audit.jsonl` or, if that is
    /// empty, in `audit.jsonl.1`.
    ///
    /// # Errors
    /// The directory or file cannot be created or read; [`AuditError::Corrupt`] when the last
    /// complete record does not verify.
    pub fn open_with(dir: &Path, options: AuditOptions) -> Result<Self, AuditError> {
        fs::create_dir_all(dir).map_err(|source| AuditError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let old_path = dir.join(OLD_FILE_NAME);
        let (file, tail) = recover(&path, &old_path)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            path,
            old_path,
            options,
            inner: Mutex::new(Inner {
                file: Some(file),
                size: tail.size,
                next_seq: tail.next_seq,
                last_hash: tail.last_hash,
                last_time_ns: tail.last_time_ns,
            }),
        })
    }

    /// Returns the current file's path (`<dir>/audit.jsonl`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and returns it. `actor` is who caused it (`system`, `api`, a user);
    /// `data` is anything JSON, replaced by a truncation marker when over 64 KiB serialized.
    /// The line reaches the OS before this returns (one `write`), not necessarily the disk: see
    /// [`AuditLog::sync`].
    ///
    /// # Errors
    /// [`AuditError::InvalidKind`] for an `Other` kind that is not snake_case; I/O failures
    /// writing or rotating (the record is then not in the log, and the chain is intact).
    pub fn append(
        &self,
        kind: AuditKind,
        actor: &str,
        data: Value,
    ) -> Result<AuditRecord, AuditError> {
        self.append_at(now_ns(), kind, actor, data)
    }

    /// [`AuditLog::append`] with the clock read by the caller.
    pub(crate) fn append_at(
        &self,
        now_ns: i64,
        kind: AuditKind,
        actor: &str,
        data: Value,
    ) -> Result<AuditRecord, AuditError> {
        let kind = kind.checked()?;
        let actor = normalize_actor(actor);
        // The costly part (serializing `data`) is done before taking the lock.
        let (data, data_json) = bounded_data(data)?;

        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        if inner.file.is_none() {
            let (file, tail) = recover(&self.path, &self.old_path)?;
            inner.reset(file, tail);
        }
        // Strictly increasing times keep the log sorted by time, which `read` relies on.
        let time_ns = now_ns.max(inner.last_time_ns.saturating_add(1));
        let (record, line) = AuditRecord::seal(
            inner.next_seq,
            format_time(time_ns),
            kind,
            actor,
            data,
            &data_json,
            inner.last_hash.clone(),
        )?;
        let mut line = line.into_bytes();
        line.push(b'\n');
        let len = u64::try_from(line.len()).unwrap_or(u64::MAX);
        if inner.size > 0 && inner.size.saturating_add(len) > self.options.max_bytes {
            self.rotate(inner)?;
        }
        let written = match inner.file.as_mut() {
            Some(file) => file.write_all(&line),
            None => Err(io::Error::other("audit log file is not open")),
        };
        if let Err(source) = written {
            // Cut back to the last complete line, so the next record never follows garbage;
            // if even that fails, the next append re-opens and cuts the torn tail then.
            let undone = inner
                .file
                .as_ref()
                .is_some_and(|f| f.set_len(inner.size).is_ok());
            if !undone {
                inner.file = None;
            }
            return Err(AuditError::Write {
                path: self.path.clone(),
                source,
            });
        }
        inner.size = inner.size.saturating_add(len);
        inner.next_seq = inner.next_seq.saturating_add(1);
        inner.last_hash.clone_from(&record.hash);
        inner.last_time_ns = time_ns;
        Ok(record)
    }

    /// Flushes appended records to disk (`fdatasync`).
    ///
    /// # Errors
    /// [`AuditError::Sync`] when the OS reports a failure.
    pub fn sync(&self) -> Result<(), AuditError> {
        let inner = self.inner.lock();
        match inner.file.as_ref() {
            Some(file) => file.sync_data().map_err(|source| AuditError::Sync {
                path: self.path.clone(),
                source,
            }),
            None => Ok(()),
        }
    }

    /// Returns up to `limit` records, oldest first, from both files: all of them, or those at
    /// or after `since_ns` (unix nanoseconds). A line that is not a record (damage; `verify`
    /// says where) is left out and logged, so the rest stays readable and exportable.
    ///
    /// # Errors
    /// A file cannot be opened or read.
    pub fn read(
        &self,
        since_ns: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, AuditError> {
        let mut sources = Vec::with_capacity(2);
        {
            // Both files are opened under the lock, so no rotation falls between the two opens,
            // and `size` covers only complete lines of the current one.
            let inner = self.inner.lock();
            if let Some(file) = open_if_exists(&self.old_path)? {
                let len = file_len(&file, &self.old_path)?;
                sources.push((self.old_path.clone(), file, len));
            }
            if let Some(file) = open_if_exists(&self.path)? {
                let len = match inner.file {
                    Some(_) => inner.size,
                    None => file_len(&file, &self.path)?,
                };
                sources.push((self.path.clone(), file, len));
            }
        }
        let mut out = Vec::new();
        for (path, file, len) in sources {
            if out.len() >= limit {
                break;
            }
            read_records(&path, file, len, since_ns, limit, &mut out)?;
        }
        Ok(out)
    }

    /// Moves the full current file aside and starts a new one; the chain state is unchanged.
    fn rotate(&self, inner: &mut Inner) -> Result<(), AuditError> {
        if let Some(file) = inner.file.as_ref() {
            // The old file is complete on disk before it stops being the one we append to.
            file.sync_data().map_err(|source| AuditError::Sync {
                path: self.path.clone(),
                source,
            })?;
        }
        fs::rename(&self.path, &self.old_path).map_err(|source| AuditError::Rotate {
            path: self.path.clone(),
            source,
        })?;
        // From here a failure leaves no file open; the next append re-opens, finds the new file
        // empty and continues the chain from `audit.jsonl.1`.
        inner.file = None;
        let file = open_append(&self.path)?;
        sync_dir(&self.dir);
        inner.file = Some(file);
        inner.size = 0;
        tracing::info!(path = %self.old_path.display(), "rotated audit log");
        Ok(())
    }
}

impl Inner {
    fn reset(&mut self, file: File, tail: Tail) {
        self.file = Some(file);
        self.size = tail.size;
        self.next_seq = tail.next_seq;
        self.last_hash = tail.last_hash;
        self.last_time_ns = tail.last_time_ns;
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn open_append(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|source| AuditError::Open {
            path: path.to_path_buf(),
            source,
        })
}

fn open_if_exists(path: &Path) -> Result<Option<File>, AuditError> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AuditError::Open {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn file_len(file: &File, path: &Path) -> Result<u64, AuditError> {
    file.metadata()
        .map(|m| m.len())
        .map_err(|source| read_error(path, source))
}

fn read_error(path: &Path, source: io::Error) -> AuditError {
    AuditError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes a rename and a new directory entry durable. Best effort: a failure costs at most the
/// rotation's directory change after a power loss, which `open` recovers from.
fn sync_dir(dir: &Path) {
    if let Err(error) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), %error, "syncing the audit directory failed");
    }
}

/// Opens `path` for appending, cuts a torn tail, and finds where the chain stands: after its
/// last record, or after `old_path`'s when `path` has none, or at the start.
fn recover(path: &Path, old_path: &Path) -> Result<(File, Tail), AuditError> {
    let mut file = open_append(path)?;
    let len = file_len(&file, path)?;
    let (last, cut) = last_line(&mut file, len, path)?;
    if cut < len {
        // A crash mid-write: the append never returned, so no one relies on that record.
        file.set_len(cut).map_err(|source| AuditError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        tracing::warn!(
            path = %path.display(),
            truncated_bytes = len - cut,
            "cut a torn last line off the audit log"
        );
    }
    let tail = match last {
        Some(line) => tail_from(&line, cut, path)?,
        None => match open_if_exists(old_path)? {
            Some(mut old) => {
                let old_len = file_len(&old, old_path)?;
                match last_line(&mut old, old_len, old_path)? {
                    (Some(line), _) => tail_from(&line, 0, old_path)?,
                    (None, _) => Tail::genesis(0),
                }
            }
            None => Tail::genesis(0),
        },
    };
    Ok((file, tail))
}

/// Returns the last complete line of a file of `len` bytes (without its `\n`), and the offset
/// just after it: where the complete lines end.
fn last_line(file: &mut File, len: u64, path: &Path) -> Result<(Option<Vec<u8>>, u64), AuditError> {
    let start = len.saturating_sub(TAIL_WINDOW);
    let mut buf = Vec::new();
    file.seek(SeekFrom::Start(start))
        .and_then(|_| (&mut *file).take(len - start).read_to_end(&mut buf))
        .map_err(|source| read_error(path, source))?;
    let corrupt = |reason: &str| AuditError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
        return if start == 0 {
            Ok((None, 0))
        } else {
            Err(corrupt("no line end in its last 256 KiB"))
        };
    };
    let cut = start + end as u64 + 1;
    let body = buf.get(..end).unwrap_or_default();
    let line_start = match body.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None if start == 0 => 0,
        None => return Err(corrupt("its last line is longer than 256 KiB")),
    };
    Ok((body.get(line_start..).map(<[u8]>::to_vec), cut))
}

/// Returns the chain's head after `line`, which must be a record that verifies.
fn tail_from(line: &[u8], size: u64, path: &Path) -> Result<Tail, AuditError> {
    let corrupt = |reason: String| AuditError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let record: AuditRecord = serde_json::from_slice(line)
        .map_err(|e| corrupt(format!("its last line is not a record: {e}")))?;
    if record.computed_hash()? != record.hash {
        return Err(corrupt(format!(
            "its last record (seq {}) does not match its hash",
            record.seq
        )));
    }
    let last_time_ns = record
        .time_ns()
        .ok_or_else(|| corrupt(format!("its last record has a bad time {:?}", record.time)))?;
    Ok(Tail {
        size,
        next_seq: record.seq.saturating_add(1),
        last_hash: record.hash,
        last_time_ns,
    })
}

/// What one line holds, as read by a reader that bounds line length.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineRead {
    /// End of input: nothing read.
    Eof,
    /// A line is in the buffer, with its `\n` unless it was the last and had none.
    Line,
    /// The line was longer than the cap; it was consumed, the buffer is empty.
    TooLong,
}

/// Reads one line into `buf` (cleared first), holding at most `cap` bytes of it in memory.
pub(crate) fn read_line_capped<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<LineRead> {
    buf.clear();
    let mut any = false;
    let mut too_long = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match (any, too_long) {
                (false, _) => LineRead::Eof,
                (true, true) => LineRead::TooLong,
                (true, false) => LineRead::Line,
            });
        }
        any = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = match newline {
            Some(i) => available.get(..=i).unwrap_or(available),
            None => available,
        };
        if !too_long {
            if buf.len() + chunk.len() > cap.saturating_add(1) {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = chunk.len();
        r.consume(used);
        if newline.is_some() {
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Line
            });
        }
    }
}

/// Appends to `out` the records of the first `len` bytes of `file` at or after `since_ns`,
/// until `out` holds `limit`.
fn read_records(
    path: &Path,
    mut file: File,
    len: u64,
    since_ns: Option<i64>,
    limit: usize,
    out: &mut Vec<AuditRecord>,
) -> Result<(), AuditError> {
    let start = match since_ns {
        Some(since) => first_at_or_after(&mut file, len, since, SCAN_WINDOW)
            .map_err(|source| read_error(path, source))?,
        None => 0,
    };
    file.seek(SeekFrom::Start(start))
        .map_err(|source| read_error(path, source))?;
    let mut reader = BufReader::new(file.take(len.saturating_sub(start)));
    let mut buf = Vec::new();
    let mut skipped = 0u64;
    while out.len() < limit {
        match read_line_capped(&mut reader, &mut buf, MAX_LINE_BYTES)
            .map_err(|source| read_error(path, source))?
        {
            LineRead::Eof => break,
            LineRead::TooLong => skipped += 1,
            LineRead::Line => {
                // Only complete lines: `len` ends at a line end, so this is damage if anything.
                let Some(line) = buf.strip_suffix(b"\n") else {
                    break;
                };
                match serde_json::from_slice::<AuditRecord>(line) {
                    Ok(r) if since_ns.is_none_or(|t| r.time_ns().is_some_and(|ns| ns >= t)) => {
                        out.push(r);
                    }
                    Ok(_) => {}
                    Err(_) => skipped += 1,
                }
            }
        }
    }
    if skipped > 0 {
        tracing::warn!(
            path = %path.display(),
            skipped,
            "audit log lines that are not records were left out of a read; `blazar audit verify` names them"
        );
    }
    Ok(())
}

/// What the first line starting at or after an offset says about time.
enum Probe {
    /// No line starts between the offset and the end.
    NoLine,
    /// A line starts at `start` with this time.
    Time { start: u64, time_ns: i64 },
    /// The line there could not be read as a record.
    Unreadable,
}

/// Returns an offset where a scan for the first record at or after `since` can start: every
/// line before it is older. Records are in time order (appends make times strictly increase),
/// so this bisects on byte offsets down to `window` bytes instead of reading the whole file.
fn first_at_or_after(file: &mut File, len: u64, since: i64, window: u64) -> io::Result<u64> {
    // Invariant: the first wanted line starts at or after `lo`, and at or before the first line
    // start at or after `hi`.
    let mut lo = 0u64;
    let mut hi = len;
    while hi - lo > window.max(1) {
        let mid = lo + (hi - lo) / 2;
        match probe(file, mid, len)? {
            // `min`: in a file whose times are out of order (damage) the probe can land past
            // `hi`; the bounds must still meet.
            Probe::Time { start, time_ns } if time_ns < since => lo = start.min(hi),
            Probe::Time { .. } | Probe::NoLine => hi = mid,
            Probe::Unreadable => break,
        }
    }
    Ok(lo)
}

/// Reads the first line that starts at or after `at` (> 0).
fn probe(file: &mut File, at: u64, len: u64) -> io::Result<Probe> {
    let from = at.saturating_sub(1);
    let mut buf = Vec::new();
    file.seek(SeekFrom::Start(from))?;
    (&mut *file)
        .take(TAIL_WINDOW.min(len - from))
        .read_to_end(&mut buf)?;
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        let reached_end = from + buf.len() as u64 >= len;
        return Ok(if reached_end {
            Probe::NoLine
        } else {
            Probe::Unreadable
        });
    };
    let start = from + nl as u64 + 1;
    if start >= len {
        return Ok(Probe::NoLine);
    }
    let rest = buf.get(nl + 1..).unwrap_or_default();
    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
        return Ok(Probe::Unreadable);
    };
    let line = rest.get(..end).unwrap_or_default();
    Ok(
        match serde_json::from_slice::<AuditRecord>(line)
            .ok()
            .and_then(|r| r.time_ns())
        {
            Some(time_ns) => Probe::Time { start, time_ns },
            None => Probe::Unreadable,
        },
    )
}

#[cfg(test)]
mod tests;
