//! Helpers shared by the unit tests: replaying into a `Vec`, listing segment bytes.

use std::convert::Infallible;
use std::path::Path;

use crate::{ReplayStats, Wal, WalOptions};

/// Replays `dir` from `from` into (segment, payload) pairs.
pub(crate) fn replay_vec(dir: &Path, from: u64) -> (Vec<(u64, Vec<u8>)>, ReplayStats) {
    let mut out = Vec::new();
    let stats = Wal::replay(dir, from, |segment, payload| {
        out.push((segment, payload.to_vec()));
        Ok::<(), Infallible>(())
    })
    .unwrap();
    (out, stats)
}

/// Returns just the payloads of a replay from segment 0.
pub(crate) fn payloads(dir: &Path) -> Vec<Vec<u8>> {
    replay_vec(dir, 0).0.into_iter().map(|(_, p)| p).collect()
}

/// Returns options with tiny segments and no fsync, for fast tests.
pub(crate) fn small(dir: &Path, segment_bytes: u64) -> WalOptions {
    WalOptions::new(dir)
        .with_segment_bytes(segment_bytes)
        .with_fsync(crate::FsyncPolicy::Never)
}

/// Returns a deterministic payload of `len` bytes for record `i`.
pub(crate) fn record(i: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (i.wrapping_mul(31).wrapping_add(j)) as u8)
        .collect()
}
