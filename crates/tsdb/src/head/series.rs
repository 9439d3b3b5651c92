//! One series in memory: its labels, sealed chunks and the open chunk appends go to.
//! Owns per-series ordering rules; locking and the index belong to `Head`.

use blazar_model::{Labels, Sample};
use parking_lot::Mutex;

use super::AppendError;
use crate::chunk::{self, ChunkError, ChunkIter, XorChunk};

/// A series: identity plus data behind its own lock, so appends to different series
/// do not contend.
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) labels: Labels,
    pub(crate) data: Mutex<SeriesData>,
}

impl Series {
    pub(crate) fn new(labels: Labels) -> Self {
        Self {
            labels,
            data: Mutex::new(SeriesData::default()),
        }
    }
}

/// A full chunk, frozen: exact-size bytes and its time range for skipping.
#[derive(Debug, Clone)]
pub(crate) struct SealedChunk {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) bytes: Box<[u8]>,
}

impl SealedChunk {
    pub(crate) fn len(&self) -> usize {
        chunk::count_of(&self.bytes)
    }

    /// Returns the memory held: the struct and its bytes.
    pub(crate) fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.bytes.len()
    }
}

/// The samples of a series: sealed chunks in time order, then the open chunk.
#[derive(Debug, Default)]
pub(crate) struct SeriesData {
    pub(crate) sealed: Vec<SealedChunk>,
    pub(crate) open: XorChunk,
    /// The newest sample, wherever it is (the open chunk is empty right after sealing).
    pub(crate) last: Option<Sample>,
}

impl SeriesData {
    /// Appends `s`; a repeat of the last sample (same time, same value bits) is a no-op.
    pub(crate) fn append(&mut self, s: Sample, chunk_samples: usize) -> Result<(), AppendError> {
        if let Some(last) = self.last {
            if s.t < last.t {
                return Err(AppendError::OutOfOrder {
                    last: last.t,
                    got: s.t,
                });
            }
            if s.t == last.t {
                if s.v.to_bits() == last.v.to_bits() {
                    return Ok(());
                }
                return Err(AppendError::DuplicateTimestamp { t: s.t });
            }
        }
        if self.open.len() >= chunk_samples {
            self.seal();
        }
        match self.open.append(s.t, s.v) {
            Ok(()) => {}
            Err(ChunkError::Full) => {
                self.seal();
                self.open
                    .append(s.t, s.v)
                    .map_err(|_| AppendError::OutOfOrder {
                        last: s.t,
                        got: s.t,
                    })?;
            }
            Err(_) => {
                let last = self.open.max_time().unwrap_or(s.t);
                return Err(AppendError::OutOfOrder { last, got: s.t });
            }
        }
        self.last = Some(s);
        Ok(())
    }

    /// Freezes the open chunk (if it has samples) and starts a new one.
    pub(crate) fn seal(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let open = std::mem::take(&mut self.open);
        if let (Some(min_t), Some(max_t)) = (open.min_time(), open.max_time()) {
            self.sealed.push(SealedChunk {
                min_t,
                max_t,
                bytes: open.into_bytes().into_boxed_slice(),
            });
        }
    }

    /// Appends the samples in `start..=end` to `out`.
    pub(crate) fn samples_in(&self, start: i64, end: i64, out: &mut Vec<Sample>) {
        for c in &self.sealed {
            if c.max_t < start || c.min_t > end {
                continue;
            }
            extend_in_range(ChunkIter::new(&c.bytes), start, end, out);
        }
        match (self.open.min_time(), self.open.max_time()) {
            (Some(lo), Some(hi)) if hi >= start && lo <= end => {
                extend_in_range(self.open.iter(), start, end, out)
            }
            _ => {}
        }
    }

    pub(crate) fn num_samples(&self) -> usize {
        self.sealed.iter().map(SealedChunk::len).sum::<usize>() + self.open.len()
    }

    /// Returns the memory held by chunks: sealed chunks, their vector and the open buffer.
    pub(crate) fn chunk_bytes(&self) -> usize {
        self.sealed.iter().map(|c| c.bytes.len()).sum::<usize>()
            + self.sealed.capacity() * std::mem::size_of::<SealedChunk>()
            + self.open.capacity_bytes()
    }

    /// Returns whether no samples are left.
    pub(crate) fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.open.is_empty()
    }

    /// Drops the first `k` sealed chunks, returning (chunks, samples) removed.
    pub(crate) fn drop_sealed(&mut self, k: usize) -> (usize, usize) {
        let k = k.min(self.sealed.len());
        let samples = self.sealed.drain(..k).map(|c| c.len()).sum();
        if self.sealed.capacity() > 2 * self.sealed.len() + 2 {
            self.sealed.shrink_to_fit();
        }
        (k, samples)
    }

    /// Returns how many leading sealed chunks end before `t`.
    pub(crate) fn sealed_before(&self, t: i64) -> usize {
        self.sealed.iter().take_while(|c| c.max_t < t).count()
    }
}

fn extend_in_range(it: ChunkIter<'_>, start: i64, end: i64, out: &mut Vec<Sample>) {
    out.extend(it.skip_while(|s| s.t < start).take_while(|s| s.t <= end));
}
