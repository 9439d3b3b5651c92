//! The in-memory store: series with stable refs, their chunks, the inverted index,
//! retention and snapshots. Thread-safe through `&self`; holds no clock and does no I/O.
//!
//! Locking: one `RwLock` over the registry (series map, label hash map, index), read for
//! appends and queries, written only to create or remove series; then one `Mutex` per
//! series for its chunks. Always registry before series, never the other way round.

mod append;
mod index;
mod query;
mod retention;
mod series;
mod snapshot;
#[cfg(test)]
mod tests;

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
// Label-set hashing is on the ingest hot path (every remote_write series); aHash is several
// times faster than SipHash and still randomly keyed, so crafted labels cannot aim at a bucket.
use ahash::RandomState;
use std::sync::Arc;

use blazar_model::Labels;
use parking_lot::{Mutex, RwLock};

pub use append::{AppendError, AppendStats};
pub use retention::TruncateStats;
pub use snapshot::{SeriesSnapshot, SnapshotError, SNAPSHOT_VERSION};

use index::Index;
use series::Series;

/// Default samples per chunk: about 30 minutes at a 15 s interval, as in Prometheus.
pub const DEFAULT_CHUNK_SAMPLES: usize = 120;

/// A stable series id: handed out once, never reused while the series lives, and kept
/// across a snapshot and restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesRef(pub u64);

impl fmt::Display for SeriesRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How a [`Head`] cuts chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadOptions {
    /// Samples per chunk before it is sealed; clamped to `1..=`[`crate::MAX_SAMPLES`].
    pub chunk_samples: usize,
}

impl Default for HeadOptions {
    fn default() -> Self {
        Self {
            chunk_samples: DEFAULT_CHUNK_SAMPLES,
        }
    }
}

/// Why a series could not be created with a given ref.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    /// The ref already names a series with other labels.
    #[error("series ref {r} is already taken by other labels")]
    RefTaken {
        /// The ref asked for.
        r: SeriesRef,
    },
    /// The labels already have another ref.
    #[error("series {labels} already exists as ref {existing}")]
    LabelsTaken {
        /// The labels asked for.
        labels: Labels,
        /// The ref they have.
        existing: SeriesRef,
    },
}

impl SeriesError {
    /// Returns the category of this error.
    pub fn kind(&self) -> blazar_model::ErrorKind {
        blazar_model::ErrorKind::Conflict
    }
}

/// Sizes of a head, for budgets and self-telemetry. Memory figures are approximate heap
/// and struct bytes (allocator overhead not included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Live series.
    pub series: usize,
    /// Samples held.
    pub samples: usize,
    /// Bytes of chunks: encoded bytes, sealed-chunk structs and open-chunk buffer capacity.
    pub chunk_bytes: usize,
    /// Bytes of everything else: series structs, labels, the index and the maps.
    pub index_bytes: usize,
    /// `chunk_bytes + index_bytes`.
    pub total_bytes: usize,
}

/// The in-memory time-series store.
pub struct Head {
    chunk_samples: usize,
    reg: RwLock<Registry>,
    /// Serialises retention passes, so they can work outside the registry lock.
    maintenance: Mutex<()>,
}

impl fmt::Debug for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Head")
            .field("chunk_samples", &self.chunk_samples)
            .finish_non_exhaustive()
    }
}

impl Default for Head {
    fn default() -> Self {
        Self::new(HeadOptions::default())
    }
}

/// Hashes series refs (and label hashes, already uniform) with one multiply: the maps on
/// the append path should not pay for SipHash. Keys are ours, not an attacker's.
#[derive(Debug, Clone, Copy, Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, v: u64) {
        // Fibonacci hashing; hashbrown uses the top bits too, which the multiply fills.
        self.0 = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Series by ref and by label hash, and the index; all changed together under one lock.
#[derive(Debug, Default)]
struct Registry {
    series: IdMap<SeriesRef, Arc<Series>>,
    /// Label hash to the first series with that hash; the rest are in `collisions`.
    by_hash: IdMap<u64, SeriesRef>,
    collisions: IdMap<u64, Vec<SeriesRef>>,
    index: Index,
    hasher: RandomState,
    next_ref: u64,
}

impl Registry {
    /// Finds a series by borrowed, sorted label pairs; `h` must be `hash_one(pairs)`, which
    /// equals `hash_one(&labels)` for the same labels (a slice of `(&str, &str)` hashes as the
    /// `Vec<(String, String)>` inside `Labels` does).
    fn find_pairs(&self, h: u64, pairs: &[(&str, &str)]) -> Option<SeriesRef> {
        let first = self.by_hash.get(&h)?;
        let extra = self
            .collisions
            .get(&h)
            .map(Vec::as_slice)
            .unwrap_or_default();
        std::iter::once(first).chain(extra).copied().find(|r| {
            self.series
                .get(r)
                .is_some_and(|s| s.labels.iter().eq(pairs.iter().copied()))
        })
    }

    fn find(&self, h: u64, labels: &Labels) -> Option<SeriesRef> {
        let first = self.by_hash.get(&h)?;
        let extra = self
            .collisions
            .get(&h)
            .map(Vec::as_slice)
            .unwrap_or_default();
        std::iter::once(first)
            .chain(extra)
            .copied()
            .find(|r| self.series.get(r).is_some_and(|s| s.labels == *labels))
    }

    fn insert(&mut self, r: SeriesRef, h: u64, labels: Labels) {
        self.index.add(r, &labels);
        self.series.insert(r, Arc::new(Series::new(labels)));
        match self.by_hash.entry(h) {
            Entry::Occupied(_) => self.collisions.entry(h).or_default().push(r),
            Entry::Vacant(slot) => {
                slot.insert(r);
            }
        }
    }

    /// Removes the series in `refs`; returns how many were removed.
    fn remove(&mut self, refs: &[SeriesRef]) -> usize {
        let mut removed: Vec<(SeriesRef, Labels)> = Vec::with_capacity(refs.len());
        for r in refs {
            let Some(s) = self.series.remove(r) else {
                continue;
            };
            let h = self.hasher.hash_one(&s.labels);
            if self.by_hash.get(&h) == Some(r) {
                self.by_hash.remove(&h);
                if let Some(extra) = self.collisions.get_mut(&h) {
                    if let Some(next) = extra.pop() {
                        self.by_hash.insert(h, next);
                    }
                    if extra.is_empty() {
                        self.collisions.remove(&h);
                    }
                }
            } else if let Some(extra) = self.collisions.get_mut(&h) {
                extra.retain(|x| x != r);
                if extra.is_empty() {
                    self.collisions.remove(&h);
                }
            }
            removed.push((*r, s.labels.clone()));
        }
        removed.sort_unstable_by_key(|(r, _)| *r);
        self.index.remove(&removed);
        removed.len()
    }

    /// Returns the approximate bytes of everything but chunk data.
    fn mem_bytes(&self) -> usize {
        use std::mem::size_of;
        // A hash map slot holds the entry plus one control byte.
        let series_map = self.series.capacity() * (size_of::<(SeriesRef, Arc<Series>)>() + 1);
        let hash_map = self.by_hash.capacity() * (size_of::<(u64, SeriesRef)>() + 1);
        let collisions = self.collisions.capacity() * (size_of::<(u64, Vec<SeriesRef>)>() + 1)
            + self
                .collisions
                .values()
                .map(|v| v.capacity() * size_of::<SeriesRef>())
                .sum::<usize>();
        // Each series: the Arc allocation (two counters and the series) and its labels.
        let per_series: usize = self
            .series
            .values()
            .map(|s| 2 * size_of::<usize>() + size_of::<Series>() + s.labels.heap_bytes())
            .sum();
        series_map + hash_map + collisions + per_series + self.index.mem_bytes()
    }
}

// === impl Head ===

impl Head {
    /// Returns an empty head.
    pub fn new(opts: HeadOptions) -> Self {
        Self {
            chunk_samples: opts.chunk_samples.clamp(1, crate::MAX_SAMPLES),
            reg: RwLock::new(Registry {
                next_ref: 1,
                ..Registry::default()
            }),
            maintenance: Mutex::new(()),
        }
    }

    /// Returns the ref of the series with these sorted label pairs, without allocating: the
    /// ingest fast path for series that already exist.
    pub fn lookup_pairs(&self, pairs: &[(&str, &str)]) -> Option<SeriesRef> {
        let reg = self.reg.read();
        let h = reg.hasher.hash_one(pairs);
        reg.find_pairs(h, pairs)
    }

    /// Returns the series ref for `labels`, creating the series if needed; the flag tells
    /// whether it was created (and so must be logged before samples are).
    pub fn get_or_create(&self, labels: &Labels) -> (SeriesRef, bool) {
        {
            let reg = self.reg.read();
            let h = reg.hasher.hash_one(labels);
            if let Some(r) = reg.find(h, labels) {
                return (r, false);
            }
        }
        let mut reg = self.reg.write();
        let h = reg.hasher.hash_one(labels);
        if let Some(r) = reg.find(h, labels) {
            return (r, false);
        }
        let mut r = SeriesRef(reg.next_ref);
        // Only a replayed ref near u64::MAX can make the counter meet a live ref.
        while reg.series.contains_key(&r) {
            r = SeriesRef(r.0.wrapping_add(1));
        }
        reg.next_ref = r.0.wrapping_add(1);
        reg.insert(r, h, labels.clone());
        (r, true)
    }

    /// Creates series `r` with `labels`, as when replaying a WAL; later refs are handed out
    /// above `r`. Returns `false` if exactly this series already exists.
    ///
    /// # Errors
    /// [`SeriesError::RefTaken`] if `r` names other labels, [`SeriesError::LabelsTaken`] if
    /// the labels have another ref.
    pub fn create_with_ref(&self, r: SeriesRef, labels: &Labels) -> Result<bool, SeriesError> {
        let mut reg = self.reg.write();
        let h = reg.hasher.hash_one(labels);
        if let Some(existing) = reg.series.get(&r) {
            if existing.labels == *labels {
                return Ok(false);
            }
            return Err(SeriesError::RefTaken { r });
        }
        if let Some(existing) = reg.find(h, labels) {
            return Err(SeriesError::LabelsTaken {
                labels: labels.clone(),
                existing,
            });
        }
        reg.next_ref = reg.next_ref.max(r.0.saturating_add(1));
        reg.insert(r, h, labels.clone());
        Ok(true)
    }

    /// Returns the number of series held (cheap: no walk).
    pub fn series_count(&self) -> usize {
        self.reg.read().series.len()
    }

    /// Returns the sizes of the head; walks every series, so call it per scrape, not per sample.
    pub fn stats(&self) -> HeadStats {
        let reg = self.reg.read();
        let (mut samples, mut chunk_bytes) = (0, 0);
        for s in reg.series.values() {
            let d = s.data.lock();
            samples += d.num_samples();
            chunk_bytes += d.chunk_bytes();
        }
        let index_bytes = reg.mem_bytes();
        HeadStats {
            series: reg.series.len(),
            samples,
            chunk_bytes,
            index_bytes,
            total_bytes: chunk_bytes + index_bytes,
        }
    }

    fn series(&self, r: SeriesRef) -> Option<Arc<Series>> {
        self.reg.read().series.get(&r).cloned()
    }
}
