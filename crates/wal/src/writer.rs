//! [`Wal`], the append side: framing records, one `write_all` per append, fsync policy,
//! rotation and removal of segments. Reading back is `replay`; checkpoints are `checkpoint`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use tracing::{debug, error, info, warn};

use crate::error::WalError;
use crate::format::{
    encode_frame, encode_header, record_len, FileKind, HEADER_LEN, MAX_RECORD_BYTES,
};
use crate::layout::{
    parse_checkpoint_name, parse_checkpoint_temp_name, parse_segment_name, read_dir, segment_path,
    sync_dir, SegmentInfo,
};
use crate::options::{FsyncPolicy, WalOptions};

/// Appends beyond this keep their frame buffer; a bigger one is freed after the append.
const KEEP_BUFFER_BYTES: usize = 8 << 20;

/// Where an append landed: the segment and the byte offset of its (first) frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The segment number.
    pub segment: u64,
    /// The offset of the frame within the segment file.
    pub offset: u64,
}

/// Counters and sizes of an open [`Wal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalStats {
    /// Bytes handed to the OS since open (frames and segment headers).
    pub bytes_written_total: u64,
    /// Records appended since open.
    pub records_total: u64,
    /// fdatasync/fsync calls since open (segment files and the directory).
    pub fsyncs_total: u64,
    /// Segment files on disk, the current one included.
    pub segments: usize,
    /// Bytes of all segment files on disk.
    pub disk_bytes: u64,
    /// The number of the segment being appended to.
    pub current_segment: u64,
}

/// An fdatasync of the current segment (and the directory, when a segment was created) taken
/// out of the WAL by [`Wal::detach_sync`], to run without the WAL's lock.
#[derive(Debug)]
pub struct DetachedSync {
    file: Option<File>,
    dir: Option<std::path::PathBuf>,
    segment: u64,
}

impl DetachedSync {
    /// Runs the sync.
    ///
    /// # Errors
    /// The fdatasync of the segment or of the directory failed.
    pub fn run(self) -> Result<(), WalError> {
        if let Some(f) = &self.file {
            f.sync_data().map_err(|source| WalError::Sync {
                segment: self.segment,
                source,
            })?;
        }
        if let Some(dir) = &self.dir {
            sync_dir(dir).map_err(|source| WalError::SyncDir {
                dir: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// A write-ahead log open for appending. Not thread-safe by design: the caller holds it
/// behind a mutex.
#[derive(Debug)]
pub struct Wal {
    opts: WalOptions,
    file: File,
    current: u64,
    /// Bytes in the current segment, header included.
    len: u64,
    records_in_current: u64,
    /// Bytes written to the current segment since its last fdatasync.
    dirty: bool,
    /// A segment was created since the directory was last fsynced.
    dir_dirty: bool,
    /// A write or sync failed: the current segment may hold a partial frame, so the next
    /// append starts a new segment rather than writing after it.
    broken: bool,
    /// Closed segments on disk: number → bytes.
    closed: BTreeMap<u64, u64>,
    buf: Vec<u8>,
    stats: Counters,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    bytes_written: u64,
    records: u64,
    fsyncs: u64,
}

impl Wal {
    /// Opens the WAL in `opts.dir` (creating the directory if needed) and starts a new
    /// segment numbered after every existing segment and checkpoint; old segments are never
    /// appended to. Leftover checkpoint temporaries from a crash are deleted.
    ///
    /// Replay (with [`Wal::replay`]) before opening: the new segment becomes the last one.
    ///
    /// # Errors
    ///
    /// [`WalError::CreateDir`], [`WalError::ListDir`], [`WalError::CreateSegment`],
    /// [`WalError::Sync`] or [`WalError::SyncDir`] when the file system refuses.
    pub fn open(opts: WalOptions) -> Result<Self, WalError> {
        fs::create_dir_all(&opts.dir).map_err(|source| WalError::CreateDir {
            dir: opts.dir.clone(),
            source,
        })?;
        let mut closed = BTreeMap::new();
        let mut highest = 0u64;
        for entry in read_dir(&opts.dir)? {
            if let Some(n) = parse_segment_name(&entry.name) {
                closed.insert(n, entry.bytes);
                highest = highest.max(n);
            } else if let Some(n) = parse_checkpoint_name(&entry.name) {
                // A segment numbered at or below a checkpoint would be skipped by replay.
                highest = highest.max(n);
            } else if parse_checkpoint_temp_name(&entry.name).is_some() {
                match fs::remove_file(&entry.path) {
                    Ok(()) => {
                        debug!(path = %entry.path.display(), "removed stale wal checkpoint temporary")
                    }
                    Err(err) => {
                        warn!(path = %entry.path.display(), error = %err, "cannot remove stale wal checkpoint temporary")
                    }
                }
            }
        }
        let current = highest.saturating_add(1);
        let file = create_segment(&opts.dir, current)?;
        let mut wal = Self {
            opts,
            file,
            current,
            len: HEADER_LEN as u64,
            records_in_current: 0,
            dirty: true,
            dir_dirty: true,
            broken: false,
            closed,
            buf: Vec::new(),
            stats: Counters {
                bytes_written: HEADER_LEN as u64,
                ..Counters::default()
            },
        };
        // Once per start, whatever the policy: the new segment exists durably.
        wal.sync()?;
        info!(dir = %wal.opts.dir.display(), segment = current, "opened wal");
        Ok(wal)
    }

    /// Appends one record; see [`Wal::append_batch`].
    ///
    /// # Errors
    ///
    /// As [`Wal::append_batch`].
    pub fn append(&mut self, payload: &[u8]) -> Result<Position, WalError> {
        self.append_batch(&[payload])
    }

    /// Appends records as one write: all are framed into one buffer handed to the OS with a
    /// single `write_all`, so once this returns a `kill -9` loses none of them (and with
    /// [`FsyncPolicy::Always`] they have been fdatasync'd). A batch is never split across
    /// segments: if it would take the current segment past `segment_bytes`, the segment is
    /// rotated first. Returns the position of the first frame.
    ///
    /// # Errors
    ///
    /// [`WalError::RecordTooLarge`] (nothing written) if a payload exceeds
    /// [`MAX_RECORD_BYTES`]; [`WalError::Write`] or [`WalError::Sync`] if the disk fails, in
    /// which case the batch is not acknowledged and the next append starts a new segment;
    /// errors of [`Wal::rotate`].
    pub fn append_batch(&mut self, payloads: &[&[u8]]) -> Result<Position, WalError> {
        self.buf.clear();
        for payload in payloads {
            let len = record_len(payload).ok_or(WalError::RecordTooLarge {
                segment: self.current,
                len: payload.len(),
                max: MAX_RECORD_BYTES,
            })?;
            encode_frame(&mut self.buf, len, payload);
        }
        if payloads.is_empty() {
            return Ok(self.position());
        }
        let batch_bytes = self.buf.len() as u64;
        if self.broken {
            self.abandon_segment()?;
        } else if self.records_in_current > 0
            && self.len.saturating_add(batch_bytes) > self.opts.segment_bytes
        {
            self.rotate()?;
        }
        let position = self.position();
        if let Err(source) = self.file.write_all(&self.buf) {
            self.broken = true;
            return Err(WalError::Write {
                segment: self.current,
                offset: position.offset,
                source,
            });
        }
        self.len += batch_bytes;
        self.records_in_current += payloads.len() as u64;
        self.dirty = true;
        self.stats.bytes_written += batch_bytes;
        self.stats.records += payloads.len() as u64;
        if self.buf.capacity() > KEEP_BUFFER_BYTES {
            self.buf = Vec::new();
        }
        if self.opts.fsync == FsyncPolicy::Always {
            self.sync()?;
        }
        Ok(position)
    }

    /// Makes everything appended so far durable: fdatasyncs the current segment if anything
    /// was written since the last sync, and the directory if a segment was created since.
    ///
    /// # Errors
    ///
    /// [`WalError::Sync`] or [`WalError::SyncDir`]; after a failed segment sync the next
    /// append starts a new segment.
    pub fn sync(&mut self) -> Result<(), WalError> {
        if self.dirty {
            if let Err(source) = self.file.sync_data() {
                // The kernel may have dropped the dirty pages: never trust this file again.
                self.broken = true;
                return Err(WalError::Sync {
                    segment: self.current,
                    source,
                });
            }
            self.dirty = false;
            self.stats.fsyncs += 1;
        }
        if self.dir_dirty {
            sync_dir(&self.opts.dir).map_err(|source| WalError::SyncDir {
                dir: self.opts.dir.clone(),
                source,
            })?;
            self.dir_dirty = false;
            self.stats.fsyncs += 1;
        }
        Ok(())
    }

    /// Starts a sync that the caller runs without holding the WAL, so writers are not blocked
    /// for the length of an fdatasync: returns `None` if nothing is unsynced. The work is
    /// counted as synced now; if [`DetachedSync::run`] fails, call [`Wal::sync_failed`].
    ///
    /// # Errors
    /// The segment's file handle could not be duplicated.
    pub fn detach_sync(&mut self) -> Result<Option<DetachedSync>, WalError> {
        if !self.is_dirty() {
            return Ok(None);
        }
        let file = self.file.try_clone().map_err(|source| WalError::Sync {
            segment: self.current,
            source,
        })?;
        let sync = DetachedSync {
            file: self.dirty.then_some(file),
            dir: self.dir_dirty.then(|| self.opts.dir.clone()),
            segment: self.current,
        };
        self.stats.fsyncs += u64::from(self.dirty) + u64::from(self.dir_dirty);
        self.dirty = false;
        self.dir_dirty = false;
        Ok(Some(sync))
    }

    /// Records that a detached sync failed: the kernel may have dropped dirty pages, so the
    /// current segment is not trusted again (the next append starts a new one).
    pub fn sync_failed(&mut self) {
        self.broken = true;
    }

    /// Returns whether a sync is due under [`FsyncPolicy::Interval`]: something was written
    /// since the last sync. The caller's timer calls [`Wal::sync`] when this is true.
    pub fn needs_sync(&self) -> bool {
        matches!(self.opts.fsync, FsyncPolicy::Interval(_)) && self.is_dirty()
    }

    /// Returns whether anything was written since the last sync, whatever the policy.
    pub fn is_dirty(&self) -> bool {
        self.dirty || self.dir_dirty
    }

    /// Closes the current segment (syncing it and the directory) and starts the next one.
    /// Returns the number of the closed segment: a checkpoint taken now covers everything
    /// up to and including it.
    ///
    /// # Errors
    ///
    /// Errors of [`Wal::sync`], or [`WalError::CreateSegment`]; on error the current
    /// segment stays current.
    pub fn rotate(&mut self) -> Result<u64, WalError> {
        let closed = self.current;
        if self.broken {
            self.abandon_segment()?;
        } else {
            self.sync()?;
            self.start_next_segment()?;
        }
        debug!(closed, current = self.current, "rotated wal segment");
        Ok(closed)
    }

    /// Deletes closed segments numbered `n` or lower (never the current one), typically
    /// after a checkpoint covering `n` is finished. Returns how many files were deleted.
    ///
    /// # Errors
    ///
    /// [`WalError::Remove`] if a file cannot be deleted; those before it are gone.
    pub fn remove_segments_through(&mut self, n: u64) -> Result<usize, WalError> {
        let doomed: Vec<u64> = self.closed.range(..=n).map(|(&number, _)| number).collect();
        let mut removed = 0;
        for number in doomed {
            debug_assert_ne!(number, self.current);
            match fs::remove_file(segment_path(&self.opts.dir, number)) {
                Ok(()) => removed += 1,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(WalError::Remove {
                        segment: number,
                        source,
                    })
                }
            }
            self.closed.remove(&number);
        }
        if removed > 0 {
            debug!(through = n, removed, "removed wal segments");
        }
        Ok(removed)
    }

    /// Returns the segments on disk, oldest first, the current one last.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        self.closed
            .iter()
            .map(|(&number, &bytes)| (number, bytes))
            .chain(std::iter::once((self.current, self.len)))
            .map(|(number, bytes)| SegmentInfo {
                number,
                bytes,
                path: segment_path(&self.opts.dir, number),
            })
            .collect()
    }

    /// Returns counters since open and the current on-disk footprint.
    pub fn stats(&self) -> WalStats {
        WalStats {
            bytes_written_total: self.stats.bytes_written,
            records_total: self.stats.records,
            fsyncs_total: self.stats.fsyncs,
            segments: self.closed.len() + 1,
            disk_bytes: self.closed.values().sum::<u64>() + self.len,
            current_segment: self.current,
        }
    }

    /// Returns the number of the segment being appended to.
    pub fn current_segment(&self) -> u64 {
        self.current
    }

    /// Returns the options the WAL was opened with.
    pub fn options(&self) -> &WalOptions {
        &self.opts
    }

    /// Syncs and closes the WAL (the shutdown path).
    ///
    /// # Errors
    ///
    /// Errors of [`Wal::sync`].
    pub fn close(mut self) -> Result<(), WalError> {
        self.sync()
    }

    fn position(&self) -> Position {
        Position {
            segment: self.current,
            offset: self.len,
        }
    }

    /// After a failed write or sync: cut the partial frame if we can, then move on to a new
    /// segment even if that fails, so acknowledged records are never followed by garbage
    /// that later appends would sit behind.
    fn abandon_segment(&mut self) -> Result<(), WalError> {
        let cleanup = self
            .file
            .set_len(self.len)
            .and_then(|()| self.file.sync_data());
        if let Err(err) = cleanup {
            error!(segment = self.current, offset = self.len, error = %err, "cannot repair wal segment after a failed write; replay will cut it here");
        }
        self.start_next_segment()
    }

    fn start_next_segment(&mut self) -> Result<(), WalError> {
        let next = self.current.saturating_add(1);
        let file = create_segment(&self.opts.dir, next)?;
        self.closed.insert(self.current, self.len);
        self.file = file;
        self.current = next;
        self.len = HEADER_LEN as u64;
        self.records_in_current = 0;
        self.dirty = true;
        self.dir_dirty = true;
        self.broken = false;
        self.stats.bytes_written += HEADER_LEN as u64;
        Ok(())
    }
}

/// Creates segment `number` (failing if it exists) and writes its header.
fn create_segment(dir: &Path, number: u64) -> Result<File, WalError> {
    let path = segment_path(dir, number);
    let create_err = |source| WalError::CreateSegment {
        segment: number,
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(create_err)?;
    if let Err(err) = file.write_all(&encode_header(FileKind::Segment, number)) {
        // A header-less segment is harmless to replay, just untidy.
        if let Err(remove_err) = fs::remove_file(&path) {
            warn!(path = %path.display(), error = %remove_err, "cannot remove half-created wal segment");
        }
        return Err(create_err(err));
    }
    Ok(file)
}

#[cfg(test)]
mod tests;
