//! Retention: dropping sealed chunks by age or to fit a byte budget, and removing series
//! left without samples. Pure over the `t` given: the caller owns the clock.

use std::sync::Arc;

use super::series::Series;
use super::{Head, SeriesRef};

/// What a retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TruncateStats {
    /// Sealed chunks dropped.
    pub chunks_removed: usize,
    /// Samples in them.
    pub samples_removed: usize,
    /// Series removed because no samples were left.
    pub series_removed: usize,
}

impl Head {
    /// Drops every chunk whose newest sample is older than `t_ms` (an open chunk entirely past
    /// it is sealed first, so idle series go too), then removes series left without samples
    /// (with their postings).
    ///
    /// A series created but not yet appended to has no samples and is removed too: a later
    /// append to its ref fails with `UnknownSeries`, and the caller creates it again.
    pub fn truncate_before(&self, t_ms: i64) -> TruncateStats {
        let _pass = self.maintenance.lock();
        let mut stats = TruncateStats::default();
        let mut empty = Vec::new();
        for (r, series) in self.all_series() {
            let mut data = series.data.lock();
            // A series that stopped receiving samples must not keep its open chunk forever:
            // once all of it is past retention, seal it so it goes with the rest.
            if data.open.max_time().is_some_and(|m| m < t_ms) {
                data.seal();
            }
            let k = data.sealed_before(t_ms);
            let (chunks, samples) = data.drop_sealed(k);
            stats.chunks_removed += chunks;
            stats.samples_removed += samples;
            if data.is_empty() {
                empty.push(r);
            }
        }
        stats.series_removed = self.remove_if_empty(&empty);
        stats
    }

    /// Drops the globally oldest sealed chunks until [`Head::stats`]' `total_bytes` is at most
    /// `target_bytes`, then removes series left without samples. Open chunks are kept, so the
    /// target may stay out of reach; memory freed by removing series is not counted ahead,
    /// so a pass may drop slightly more than needed.
    pub fn evict_oldest_chunks(&self, target_bytes: usize) -> TruncateStats {
        let _pass = self.maintenance.lock();
        let total = self.stats().total_bytes;
        let Some(mut need) = total.checked_sub(target_bytes).filter(|n| *n > 0) else {
            return TruncateStats::default();
        };
        let series = self.all_series();
        // (max_t, series index, chunk index, bytes): within a series, chunk order is time
        // order, so taking a global prefix takes a prefix of every series.
        let mut chunks: Vec<(i64, usize, usize, usize)> = Vec::new();
        for (i, (_, s)) in series.iter().enumerate() {
            let data = s.data.lock();
            let per_chunk = data
                .sealed
                .iter()
                .map(super::series::SealedChunk::mem_bytes);
            chunks.extend(
                data.sealed
                    .iter()
                    .zip(per_chunk)
                    .enumerate()
                    .map(|(j, (c, b))| (c.max_t, i, j, b)),
            );
        }
        chunks.sort_unstable();
        let mut drop_counts = vec![0usize; series.len()];
        for (_, i, _, bytes) in chunks {
            if let Some(n) = drop_counts.get_mut(i) {
                *n += 1;
            }
            need = need.saturating_sub(bytes);
            if need == 0 {
                break;
            }
        }
        let mut stats = TruncateStats::default();
        let mut empty = Vec::new();
        for ((r, s), k) in series.iter().zip(drop_counts) {
            if k == 0 {
                continue;
            }
            let mut data = s.data.lock();
            let (chunks, samples) = data.drop_sealed(k);
            stats.chunks_removed += chunks;
            stats.samples_removed += samples;
            if data.is_empty() {
                empty.push(*r);
            }
        }
        stats.series_removed = self.remove_if_empty(&empty);
        stats
    }

    pub(super) fn all_series(&self) -> Vec<(SeriesRef, Arc<Series>)> {
        self.reg
            .read()
            .series
            .iter()
            .map(|(r, s)| (*r, Arc::clone(s)))
            .collect()
    }

    /// Removes the series in `candidates` that are still empty (an append may have come in
    /// since they were looked at).
    /// Removes the series in `refs` that hold no samples (e.g. created for a write that then
    /// failed); returns how many were removed.
    pub fn remove_empty(&self, refs: &[SeriesRef]) -> usize {
        let _pass = self.maintenance.lock();
        self.remove_if_empty(refs)
    }

    fn remove_if_empty(&self, candidates: &[SeriesRef]) -> usize {
        if candidates.is_empty() {
            return 0;
        }
        let mut reg = self.reg.write();
        let still_empty: Vec<SeriesRef> = candidates
            .iter()
            .copied()
            .filter(|r| reg.series.get(r).is_some_and(|s| s.data.lock().is_empty()))
            .collect();
        reg.remove(&still_empty)
    }
}
