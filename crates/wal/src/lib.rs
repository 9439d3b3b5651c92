//! blazar-wal: one write-ahead log for every signal. Records are opaque, CRC-framed byte
//! payloads in size-bounded, numbered segment files, plus atomic checkpoint files; the byte
//! format and recovery rules are in `docs/formats/wal.md`. Encoding records is the caller's job.
//!
//! The usual start-up sequence is: [`latest_checkpoint`] → [`read_checkpoint`] →
//! [`Wal::replay`] from the segment after the checkpoint → [`Wal::open`] (which always starts
//! a fresh segment). All I/O is synchronous `std::fs`; the caller serialises access to a [`Wal`].
//!
//! ```
//! use std::convert::Infallible;
//! use blazar_wal::{latest_checkpoint, read_checkpoint, CheckpointWriter, Wal, WalOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let mut state: Vec<Vec<u8>> = Vec::new();
//! let mut from = 0;
//! if let Some((covers, path)) = latest_checkpoint(dir)? {
//!     read_checkpoint(&path, |r| Ok::<_, Infallible>(state.push(r.to_vec())))?;
//!     from = covers + 1;
//! }
//! Wal::replay(dir, from, |_segment, r| Ok::<_, Infallible>(state.push(r.to_vec())))?;
//! let mut wal = Wal::open(WalOptions::new(dir))?;
//! wal.append(b"sample")?;
//! // Later: checkpoint everything up to the segment just closed, then drop those segments.
//! let closed = wal.rotate()?;
//! let mut checkpoint = CheckpointWriter::create(dir, closed)?;
//! checkpoint.append(b"sample")?;
//! checkpoint.finish()?;
//! wal.remove_segments_through(closed)?;
//! # Ok(())
//! # }
//! ```

// Every byte we decode may be hostile (torn writes, bit rot): no panicking index on input.
#![deny(clippy::indexing_slicing)]

mod checkpoint;
mod error;
mod format;
mod layout;
mod options;
mod reader;
mod replay;
#[cfg(test)]
mod test_support;
mod writer;

pub use checkpoint::{
    latest_checkpoint, list_checkpoints, read_checkpoint, verify_checkpoint, CheckpointInfo,
    CheckpointWriter,
};
pub use error::{Corruption, WalError};
pub use format::{FORMAT_VERSION, MAX_RECORD_BYTES};
pub use layout::{list_segments, SegmentInfo};
pub use options::{FsyncPolicy, WalOptions};
pub use replay::ReplayStats;
pub use writer::{DetachedSync, Position, Wal, WalStats};
