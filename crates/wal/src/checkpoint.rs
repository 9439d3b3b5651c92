//! Checkpoints: a caller's snapshot of state covering segments up to `N`, written as
//! CRC-framed records with a counting footer to `checkpoint.{N:08}` via an atomic rename.
//! What goes into a checkpoint, and when to take one, is the caller's decision.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use tracing::{debug, warn};

use crate::error::{Corruption, WalError};
use crate::format::{
    encode_footer, encode_frame, encode_header, record_len, FileKind, MAX_RECORD_BYTES,
};
use crate::layout::{
    checkpoint_number_of, checkpoint_path, checkpoint_temp_path, parse_checkpoint_name, read_dir,
    sync_dir,
};
use crate::reader::{FrameReader, Item};

const BUFFER_BYTES: usize = 256 << 10;

/// A complete checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The last segment the checkpoint covers; replay resumes at the next one.
    pub covers_segment: u64,
    /// The checkpoint file.
    pub path: PathBuf,
    /// Records in the checkpoint.
    pub records: u64,
    /// Payload bytes in the checkpoint.
    pub payload_bytes: u64,
}

/// Writes a checkpoint to a temporary file; only [`CheckpointWriter::finish`] makes it
/// visible. Dropping an unfinished writer deletes the temporary file.
#[derive(Debug)]
pub struct CheckpointWriter {
    dir: PathBuf,
    covers: u64,
    temp_path: PathBuf,
    /// `None` once finished.
    file: Option<BufWriter<File>>,
    buf: Vec<u8>,
    records: u64,
    payload_bytes: u64,
}

impl CheckpointWriter {
    /// Starts a checkpoint in `dir` covering every segment up to and including
    /// `covers_segment` (the number [`crate::Wal::rotate`] returned).
    ///
    /// # Errors
    ///
    /// [`WalError::CheckpointWrite`] if the temporary file cannot be created.
    pub fn create(dir: impl AsRef<Path>, covers_segment: u64) -> Result<Self, WalError> {
        let dir = dir.as_ref().to_path_buf();
        let temp_path = checkpoint_temp_path(&dir, covers_segment);
        let write_err = |source| WalError::CheckpointWrite {
            path: temp_path.clone(),
            source,
        };
        let file = File::create(&temp_path).map_err(write_err)?;
        let mut file = BufWriter::with_capacity(BUFFER_BYTES, file);
        file.write_all(&encode_header(FileKind::Checkpoint, covers_segment))
            .map_err(write_err)?;
        Ok(Self {
            dir,
            covers: covers_segment,
            temp_path,
            file: Some(file),
            buf: Vec::new(),
            records: 0,
            payload_bytes: 0,
        })
    }

    /// Adds one record.
    ///
    /// # Errors
    ///
    /// [`WalError::RecordTooLarge`] (naming the covered segment) if the payload exceeds
    /// [`MAX_RECORD_BYTES`]; [`WalError::CheckpointWrite`] if writing fails.
    pub fn append(&mut self, payload: &[u8]) -> Result<(), WalError> {
        let len = record_len(payload).ok_or(WalError::RecordTooLarge {
            segment: self.covers,
            len: payload.len(),
            max: MAX_RECORD_BYTES,
        })?;
        self.buf.clear();
        encode_frame(&mut self.buf, len, payload);
        self.write_buf()?;
        self.records += 1;
        self.payload_bytes += u64::from(len);
        Ok(())
    }

    /// Returns how many records were appended so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Completes the checkpoint: writes the footer, fsyncs, renames the file to
    /// `checkpoint.{N:08}`, fsyncs the directory, and only then deletes older checkpoints.
    ///
    /// # Errors
    ///
    /// [`WalError::CheckpointWrite`] or [`WalError::SyncDir`]; the previous checkpoint is
    /// then still in place. Failing to delete an older checkpoint is only logged.
    pub fn finish(mut self) -> Result<CheckpointInfo, WalError> {
        self.buf.clear();
        encode_footer(&mut self.buf, self.records, self.payload_bytes);
        self.write_buf()?;
        let write_err = |source| WalError::CheckpointWrite {
            path: self.temp_path.clone(),
            source,
        };
        let Some(writer) = self.file.take() else {
            return Err(write_err(std::io::Error::other(
                "checkpoint writer already finished",
            )));
        };
        let file = writer
            .into_inner()
            .map_err(|err| write_err(err.into_error()))?;
        file.sync_all().map_err(write_err)?;
        drop(file);
        let path = checkpoint_path(&self.dir, self.covers);
        fs::rename(&self.temp_path, &path).map_err(write_err)?;
        sync_dir(&self.dir).map_err(|source| WalError::SyncDir {
            dir: self.dir.clone(),
            source,
        })?;
        debug!(
            covers_segment = self.covers,
            records = self.records,
            "wrote wal checkpoint"
        );
        remove_checkpoints_before(&self.dir, self.covers);
        Ok(CheckpointInfo {
            covers_segment: self.covers,
            path,
            records: self.records,
            payload_bytes: self.payload_bytes,
        })
    }

    fn write_buf(&mut self) -> Result<(), WalError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(&self.buf)
            .map_err(|source| WalError::CheckpointWrite {
                path: self.temp_path.clone(),
                source,
            })
    }
}

impl Drop for CheckpointWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            if let Err(err) = fs::remove_file(&self.temp_path) {
                warn!(path = %self.temp_path.display(), error = %err, "cannot remove unfinished wal checkpoint");
            }
        }
    }
}

/// Deletes complete checkpoints older than `covers`; failures are logged, not returned,
/// because the new checkpoint is already durable.
fn remove_checkpoints_before(dir: &Path, covers: u64) {
    let old = match list_checkpoints(dir) {
        Ok(list) => list,
        Err(err) => {
            warn!(error = %err, "cannot list old wal checkpoints");
            return;
        }
    };
    for (number, path) in old.into_iter().filter(|(n, _)| *n < covers) {
        match fs::remove_file(&path) {
            Ok(()) => debug!(covers_segment = number, "removed old wal checkpoint"),
            Err(err) => {
                warn!(path = %path.display(), error = %err, "cannot remove old wal checkpoint")
            }
        }
    }
}

/// Returns the complete-looking checkpoints in `dir` (by name; temporaries excluded),
/// oldest first, as (covered segment, path). A missing directory has none.
///
/// # Errors
///
/// [`WalError::ListDir`] if the directory cannot be read.
pub fn list_checkpoints(dir: impl AsRef<Path>) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let mut list: Vec<(u64, PathBuf)> = read_dir(dir.as_ref())?
        .into_iter()
        .filter_map(|e| Some((parse_checkpoint_name(&e.name)?, e.path)))
        .collect();
    list.sort_by_key(|(n, _)| *n);
    Ok(list)
}

/// Returns the newest checkpoint in `dir` as (covered segment, path), if any. Its contents
/// are only checked by [`read_checkpoint`] or [`verify_checkpoint`].
///
/// # Errors
///
/// [`WalError::ListDir`] if the directory cannot be read.
pub fn latest_checkpoint(dir: impl AsRef<Path>) -> Result<Option<(u64, PathBuf)>, WalError> {
    Ok(list_checkpoints(dir)?.pop())
}

/// Checks a checkpoint completely (header, every record's CRC, the footer's counts, nothing
/// after it) without handing records out.
///
/// # Errors
///
/// [`WalError::CheckpointCorrupt`] if it is incomplete or damaged;
/// [`WalError::CheckpointRead`] if it cannot be read.
pub fn verify_checkpoint(path: impl AsRef<Path>) -> Result<CheckpointInfo, WalError> {
    scan(path.as_ref(), |_, _| Ok(()))
}

/// Reads a checkpoint, calling `f` for each record in order. The whole file is verified
/// first ([`verify_checkpoint`]), so `f` is only called for a complete, intact checkpoint;
/// on [`WalError::CheckpointCorrupt`] the caller falls back to an older checkpoint or to a
/// full replay.
///
/// # Errors
///
/// As [`verify_checkpoint`], plus [`WalError::ApplyCheckpoint`] as soon as `f` fails.
pub fn read_checkpoint<E, F>(
    path: impl AsRef<Path>,
    mut f: F,
) -> Result<CheckpointInfo, WalError<E>>
where
    F: FnMut(&[u8]) -> Result<(), E>,
{
    let path = path.as_ref();
    verify_checkpoint(path).map_err(WalError::widen)?;
    scan(path, |offset, payload| {
        f(payload).map_err(|source| WalError::ApplyCheckpoint {
            path: path.to_path_buf(),
            offset,
            source,
        })
    })
}

fn scan<E>(
    path: &Path,
    mut on_record: impl FnMut(u64, &[u8]) -> Result<(), WalError<E>>,
) -> Result<CheckpointInfo, WalError<E>> {
    let read_err = |offset, source| WalError::CheckpointRead {
        path: path.to_path_buf(),
        offset,
        source,
    };
    let corrupt = |offset, source| WalError::CheckpointCorrupt {
        path: path.to_path_buf(),
        offset,
        source,
    };
    let file = File::open(path).map_err(|source| read_err(0, source))?;
    let file_len = file.metadata().map_err(|source| read_err(0, source))?.len();
    let mut reader = FrameReader::new(BufReader::with_capacity(BUFFER_BYTES, file), file_len);
    let covers = reader
        .read_header(FileKind::Checkpoint, checkpoint_number_of(path))
        .map_err(|source| read_err(0, source))?
        .map_err(|reason| corrupt(0, reason))?;
    let (mut records, mut payload_bytes) = (0u64, 0u64);
    loop {
        let at = reader.offset();
        match reader.next_item().map_err(|source| read_err(at, source))? {
            Item::Record { offset, payload } => {
                on_record(offset, payload)?;
                records += 1;
                payload_bytes += payload.len() as u64;
            }
            Item::Footer {
                offset,
                records: expected,
                payload_bytes: expected_bytes,
            } => {
                if (expected, expected_bytes) != (records, payload_bytes) {
                    return Err(corrupt(
                        offset,
                        Corruption::CountMismatch {
                            expected,
                            expected_bytes,
                            found: records,
                            found_bytes: payload_bytes,
                        },
                    ));
                }
                if reader.offset() != file_len {
                    return Err(corrupt(reader.offset(), Corruption::TrailingBytes));
                }
                return Ok(CheckpointInfo {
                    covers_segment: covers,
                    path: path.to_path_buf(),
                    records,
                    payload_bytes,
                });
            }
            Item::End => return Err(corrupt(file_len, Corruption::MissingFooter)),
            Item::Corrupt { offset, reason } => return Err(corrupt(offset, reason)),
        }
    }
}

#[cfg(test)]
mod tests;
