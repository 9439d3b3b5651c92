//! [`WalOptions`] and [`FsyncPolicy`]: where the WAL lives, how big segments get, and when
//! appended bytes are forced to disk. Parsing these from config is `blazar-config`'s job.

use std::path::PathBuf;
use std::time::Duration;

/// When appended records are fdatasync'd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every append syncs before it returns: an acknowledged record survives power loss.
    Always,
    /// The caller calls [`crate::Wal::sync`] every interval (see [`crate::Wal::needs_sync`]);
    /// an acknowledged record survives `kill -9` at once and power loss after the next sync.
    Interval(Duration),
    /// Only rotation, [`crate::Wal::sync`] and drop sync; records survive `kill -9`.
    Never,
}

impl FsyncPolicy {
    /// The interval used by `FsyncPolicy::default()`.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(200);

    /// Returns the sync interval, if the policy has one.
    pub fn interval(self) -> Option<Duration> {
        match self {
            Self::Interval(every) => Some(every),
            Self::Always | Self::Never => None,
        }
    }
}

impl Default for FsyncPolicy {
    /// Returns `Interval(200ms)`.
    fn default() -> Self {
        Self::Interval(Self::DEFAULT_INTERVAL)
    }
}

/// How to open a [`crate::Wal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// The directory holding segments and checkpoints; created if missing.
    pub dir: PathBuf,
    /// A segment is closed and a new one started before it would grow past this many bytes
    /// (a batch bigger than this still goes, alone, into one segment).
    pub segment_bytes: u64,
    /// When appends are made durable.
    pub fsync: FsyncPolicy,
}

impl WalOptions {
    /// The segment size used by [`WalOptions::new`]: 64 MiB.
    pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

    /// Returns options for `dir` with 64 MiB segments and `Interval(200ms)` syncing.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            segment_bytes: Self::DEFAULT_SEGMENT_BYTES,
            fsync: FsyncPolicy::default(),
        }
    }

    /// Returns these options with another segment size.
    #[must_use]
    pub fn with_segment_bytes(mut self, segment_bytes: u64) -> Self {
        self.segment_bytes = segment_bytes;
        self
    }

    /// Returns these options with another fsync policy.
    #[must_use]
    pub fn with_fsync(mut self, fsync: FsyncPolicy) -> Self {
        self.fsync = fsync;
        self
    }
}
