//! Appending samples to series by ref, one at a time or in batches.

use blazar_model::Sample;

use super::{Head, SeriesRef};

/// Samples between yields of the registry lock in a batch, so series creation is not starved.
const BATCH_YIELD: usize = 256;

/// Why a sample was not appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// No series has this ref (never created, or removed by retention once empty).
    #[error("series ref {r} is unknown")]
    UnknownSeries {
        /// The ref given.
        r: SeriesRef,
    },
    /// The sample is older than the series' newest sample.
    #[error("sample at {got} ms is older than the series' newest sample at {last} ms")]
    OutOfOrder {
        /// The newest timestamp of the series.
        last: i64,
        /// The timestamp given.
        got: i64,
    },
    /// The series has a different value at this timestamp.
    #[error("series already has a different value at {t} ms")]
    DuplicateTimestamp {
        /// The timestamp given.
        t: i64,
    },
}

impl AppendError {
    /// Returns the category of this error.
    pub fn kind(&self) -> blazar_model::ErrorKind {
        match self {
            Self::UnknownSeries { .. } => blazar_model::ErrorKind::NotFound,
            Self::OutOfOrder { .. } => blazar_model::ErrorKind::InvalidInput,
            Self::DuplicateTimestamp { .. } => blazar_model::ErrorKind::Conflict,
        }
    }
}

/// Outcome of [`Head::append_batch`]: each sample is counted once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples stored, or repeats of the newest sample (accepted as no-ops).
    pub appended: usize,
    /// Samples older than their series' newest.
    pub out_of_order: usize,
    /// Samples with an existing timestamp and another value.
    pub duplicate: usize,
    /// Samples for refs that name no series.
    pub unknown: usize,
}

impl AppendStats {
    fn count(&mut self, res: Result<(), AppendError>) {
        match res {
            Ok(()) => self.appended += 1,
            Err(AppendError::OutOfOrder { .. }) => self.out_of_order += 1,
            Err(AppendError::DuplicateTimestamp { .. }) => self.duplicate += 1,
            Err(AppendError::UnknownSeries { .. }) => self.unknown += 1,
        }
    }
}

impl Head {
    /// Appends sample `s` to series `r`. Timestamps must increase per series; repeating the
    /// newest sample exactly (same time, same value bits) is accepted and changes nothing,
    /// so replaying a WAL over a checkpoint is idempotent.
    ///
    /// # Errors
    /// [`AppendError::UnknownSeries`], [`AppendError::OutOfOrder`],
    /// [`AppendError::DuplicateTimestamp`]; the series is unchanged on error.
    pub fn append(&self, r: SeriesRef, s: Sample) -> Result<(), AppendError> {
        let reg = self.reg.read();
        let series = reg.series.get(&r).ok_or(AppendError::UnknownSeries { r })?;
        let mut data = series.data.lock();
        data.append(s, self.chunk_samples)
    }

    /// Appends a batch, counting the outcome of each sample instead of stopping at the first
    /// error. Samples of one series must be in time order within the batch.
    pub fn append_batch(&self, batch: &[(SeriesRef, Sample)]) -> AppendStats {
        let mut stats = AppendStats::default();
        for part in batch.chunks(BATCH_YIELD) {
            let reg = self.reg.read();
            for &(r, s) in part {
                let res = match reg.series.get(&r) {
                    Some(series) => series.data.lock().append(s, self.chunk_samples),
                    None => Err(AppendError::UnknownSeries { r }),
                };
                stats.count(res);
            }
        }
        stats
    }
}
