//! blazar-wal: one write-ahead log for every signal. Records are opaque, CRC-framed byte
//! payloads in size-bounded, numbered segment files, plus atomic checkpoint files; the byte
//! format and recovery rules are in `docs/formats/wal.md`. Encoding records is the caller's job.
//!
//! The usual start-up sequence is: [`latest_checkpoint`] → [`read_checkpoint`] →
//! [`Wal::replay`] from the segment after the checkpoint → [`Wal::open`] (which always starts
//! a fresh segment). All I/O is synchronous `std::fs`; the caller serialises access to a [`Wal`].

// Every byte we decode may be hostile (torn writes, bit rot): no panicking index on input.
#![deny(clippy::indexing_slicing)]

mod checkpoint;
mod error;
mod format;
mod layout;
mod options;
mod reader;
mod replay;
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
pub use writer::{Position, Wal, WalStats};
