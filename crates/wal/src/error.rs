//! The crate's one error type, [`WalError`], and [`Corruption`], the reason a file's bytes
//! were rejected. Recovery decisions (truncate, skip) live in `replay` and `checkpoint`.

use std::convert::Infallible;
use std::io;
use std::path::PathBuf;

use blazar_model::ErrorKind;

/// An error from the write-ahead log or its checkpoints.
///
/// `E` is the error type of a caller's replay callback (see [`crate::Wal::replay`] and
/// [`crate::read_checkpoint`]); it is [`Infallible`] for every other operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalError<E = Infallible> {
    /// The WAL directory could not be created.
    #[error("creating wal directory {}", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The WAL directory could not be listed.
    #[error("listing wal directory {}", dir.display())]
    ListDir {
        /// The directory.
        dir: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The WAL directory could not be fsynced (after creating, renaming or removing files).
    #[error("syncing wal directory {}", dir.display())]
    SyncDir {
        /// The directory.
        dir: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// A new segment file could not be created or its header written.
    #[error("creating wal segment {segment}")]
    CreateSegment {
        /// The segment number.
        segment: u64,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// An existing segment file could not be opened for replay.
    #[error("opening wal segment {segment}")]
    OpenSegment {
        /// The segment number.
        segment: u64,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Appending to a segment failed; nothing of this append is acknowledged.
    #[error("writing wal segment {segment} at offset {offset}")]
    Write {
        /// The segment number.
        segment: u64,
        /// The byte offset the write started at.
        offset: u64,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// fdatasync of a segment failed; data since the previous sync may not be durable.
    #[error("syncing wal segment {segment}")]
    Sync {
        /// The segment number.
        segment: u64,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Reading a segment during replay failed.
    #[error("reading wal segment {segment} at offset {offset}")]
    Read {
        /// The segment number.
        segment: u64,
        /// The byte offset being read.
        offset: u64,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Cutting a torn tail off the last segment failed.
    #[error("truncating wal segment {segment} to offset {offset}")]
    Truncate {
        /// The segment number.
        segment: u64,
        /// The length the segment was being cut to.
        offset: u64,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Deleting a segment file failed.
    #[error("removing wal segment {segment}")]
    Remove {
        /// The segment number.
        segment: u64,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// A segment was written by a format version this build cannot read; it is left untouched.
    #[error("wal segment {segment} has unsupported format version {version}")]
    UnsupportedVersion {
        /// The segment number.
        segment: u64,
        /// The version byte found in the header.
        version: u8,
    },
    /// A record is larger than [`crate::MAX_RECORD_BYTES`]; nothing of the append was written.
    #[error("record of {len} bytes for wal segment {segment} exceeds the {max}-byte limit")]
    RecordTooLarge {
        /// The segment the record was meant for.
        segment: u64,
        /// The payload length.
        len: usize,
        /// The limit.
        max: u32,
    },
    /// A checkpoint is incomplete or damaged; the caller should fall back to an older one or
    /// to a full replay.
    #[error("wal checkpoint {} is corrupt at offset {offset}", path.display())]
    CheckpointCorrupt {
        /// The checkpoint file.
        path: PathBuf,
        /// Where the bad bytes start.
        offset: u64,
        /// What is wrong with them.
        #[source]
        source: Corruption,
    },
    /// Reading a checkpoint failed.
    #[error("reading wal checkpoint {} at offset {offset}", path.display())]
    CheckpointRead {
        /// The checkpoint file.
        path: PathBuf,
        /// The byte offset being read.
        offset: u64,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Writing, syncing, renaming or removing a checkpoint file failed.
    #[error("writing wal checkpoint {}", path.display())]
    CheckpointWrite {
        /// The checkpoint (or temporary) file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The caller's callback rejected a replayed segment record.
    #[error("applying record at offset {offset} of wal segment {segment}")]
    Apply {
        /// The segment number.
        segment: u64,
        /// The offset of the record's frame.
        offset: u64,
        /// The callback's error.
        #[source]
        source: E,
    },
    /// The caller's callback rejected a checkpoint record.
    #[error("applying record at offset {offset} of wal checkpoint {}", path.display())]
    ApplyCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// The offset of the record's frame.
        offset: u64,
        /// The callback's error.
        #[source]
        source: E,
    },
}

impl<E> WalError<E> {
    /// Returns the error's category, which decides status codes and retries.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::RecordTooLarge { .. } => ErrorKind::InvalidInput,
            Self::UnsupportedVersion { .. }
            | Self::CheckpointCorrupt { .. }
            | Self::Apply { .. }
            | Self::ApplyCheckpoint { .. } => ErrorKind::Internal,
            Self::CreateDir { .. }
            | Self::ListDir { .. }
            | Self::SyncDir { .. }
            | Self::CreateSegment { .. }
            | Self::OpenSegment { .. }
            | Self::Write { .. }
            | Self::Sync { .. }
            | Self::Read { .. }
            | Self::Truncate { .. }
            | Self::Remove { .. }
            | Self::CheckpointRead { .. }
            | Self::CheckpointWrite { .. } => ErrorKind::Unavailable,
        }
    }
}

impl WalError<Infallible> {
    /// Converts an error that cannot carry a callback error into one that could.
    pub(crate) fn widen<F>(self) -> WalError<F> {
        match self {
            Self::CreateDir { dir, source } => WalError::CreateDir { dir, source },
            Self::ListDir { dir, source } => WalError::ListDir { dir, source },
            Self::SyncDir { dir, source } => WalError::SyncDir { dir, source },
            Self::CreateSegment { segment, source } => WalError::CreateSegment { segment, source },
            Self::OpenSegment { segment, source } => WalError::OpenSegment { segment, source },
            Self::Write {
                segment,
                offset,
                source,
            } => WalError::Write {
                segment,
                offset,
                source,
            },
            Self::Sync { segment, source } => WalError::Sync { segment, source },
            Self::Read {
                segment,
                offset,
                source,
            } => WalError::Read {
                segment,
                offset,
                source,
            },
            Self::Truncate {
                segment,
                offset,
                source,
            } => WalError::Truncate {
                segment,
                offset,
                source,
            },
            Self::Remove { segment, source } => WalError::Remove { segment, source },
            Self::UnsupportedVersion { segment, version } => {
                WalError::UnsupportedVersion { segment, version }
            }
            Self::RecordTooLarge { segment, len, max } => {
                WalError::RecordTooLarge { segment, len, max }
            }
            Self::CheckpointCorrupt {
                path,
                offset,
                source,
            } => WalError::CheckpointCorrupt {
                path,
                offset,
                source,
            },
            Self::CheckpointRead {
                path,
                offset,
                source,
            } => WalError::CheckpointRead {
                path,
                offset,
                source,
            },
            Self::CheckpointWrite { path, source } => WalError::CheckpointWrite { path, source },
            Self::Apply { source, .. } | Self::ApplyCheckpoint { source, .. } => match source {},
        }
    }
}

/// Why the bytes of a segment or checkpoint were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The file is shorter than its header.
    #[error("incomplete file header")]
    TornHeader,
    /// The header does not start with the expected magic bytes.
    #[error("bad magic bytes")]
    BadMagic,
    /// The header's format version is not one this build reads.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// The header's file-kind byte is not the expected one (segment vs checkpoint).
    #[error("unexpected file kind {0}")]
    WrongKind(u8),
    /// The header's sequence number differs from the one in the file name.
    #[error("header number {found} does not match file name number {expected}")]
    NumberMismatch {
        /// The number in the file name.
        expected: u64,
        /// The number in the header.
        found: u64,
    },
    /// The file ends inside a frame.
    #[error("incomplete frame")]
    TornFrame,
    /// A frame's length field exceeds [`crate::MAX_RECORD_BYTES`].
    #[error("record length {0} exceeds the limit")]
    TooLong(u32),
    /// A frame's CRC does not match its bytes.
    #[error("crc mismatch")]
    CrcMismatch,
    /// A checkpoint footer appeared in a segment.
    #[error("footer in a wal segment")]
    UnexpectedFooter,
    /// A checkpoint ends without its footer.
    #[error("missing footer")]
    MissingFooter,
    /// A checkpoint's footer disagrees with the records before it.
    #[error("footer counts {expected} records and {expected_bytes} bytes, found {found} and {found_bytes}")]
    CountMismatch {
        /// Records according to the footer.
        expected: u64,
        /// Payload bytes according to the footer.
        expected_bytes: u64,
        /// Records actually present.
        found: u64,
        /// Payload bytes actually present.
        found_bytes: u64,
    },
    /// A checkpoint has bytes after its footer.
    #[error("bytes after footer")]
    TrailingBytes,
}
