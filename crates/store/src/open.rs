//! Opening the store: newest valid checkpoint, then the WAL segments after it, then a fresh
//! segment for new writes. A torn WAL tail is truncated by the WAL itself; a record we cannot
//! decode is skipped and counted, never a failed start.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use blazar_bus::Bus;
use blazar_wal::{list_checkpoints, read_checkpoint, ReplayStats, Wal, WalOptions};
use parking_lot::{Mutex, RwLock};

use crate::memory::Memory;
use crate::{SelfMetrics, Settings, Store, StoreError};

/// What opening found, for the start-up log line.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// The checkpoint loaded (the last segment it covers).
    pub checkpoint: Option<u64>,
    pub checkpoint_records: u64,
    pub wal: ReplayStats,
    /// Records that did not decode or apply.
    pub bad_records: u64,
    pub elapsed_ms: u128,
}

impl Store {
    /// Opens (or creates) the store in `settings.data_dir`: loads the newest valid checkpoint,
    /// replays the WAL after it (truncating a torn tail), then opens a fresh segment.
    ///
    /// # Errors
    /// The data directory cannot be created or the WAL cannot be opened for writing.
    #[allow(clippy::disallowed_methods)]
    pub fn open(
        settings: Settings,
        bus: Bus,
        metrics: Arc<SelfMetrics>,
    ) -> Result<(Self, OpenReport), StoreError> {
        let started = Instant::now();
        let wal_dir = settings.data_dir.join("wal");
        let open_err = |source| StoreError::Open {
            path: wal_dir.display().to_string(),
            source,
        };
        let mem = Memory::new(&settings);
        let mut report = OpenReport::default();
        let checkpoints = if wal_dir.exists() {
            list_checkpoints(&wal_dir).map_err(open_err)?
        } else {
            Vec::new()
        };
        for (seg, path) in checkpoints.iter().rev() {
            let mut n = 0u64;
            let mut bad = 0u64;
            let res = read_checkpoint(
                path,
                |payload: &[u8]| -> Result<(), std::convert::Infallible> {
                    n += 1;
                    if !mem.apply(payload) {
                        bad += 1;
                    }
                    Ok(())
                },
            );
            match res {
                Ok(_) => {
                    report.checkpoint = Some(*seg);
                    report.checkpoint_records = n;
                    report.bad_records += bad;
                    break;
                }
                // read_checkpoint verifies the whole file before handing out any record, so a
                // bad checkpoint left nothing half-applied.
                Err(e) => {
                    tracing::warn!(checkpoint = %path.display(), error = %e, "checkpoint unreadable; trying an older one")
                }
            }
        }
        let from = report.checkpoint.map_or(0, |s| s + 1);
        let mut bad = 0u64;
        if wal_dir.exists() {
            let stats = Wal::replay(
                &wal_dir,
                from,
                |_seg, payload: &[u8]| -> Result<(), std::convert::Infallible> {
                    if !mem.apply(payload) {
                        bad += 1;
                    }
                    Ok(())
                },
            );
            match stats {
                Ok(s) => report.wal = s,
                // Not a torn tail (that is truncated inside replay) but an unreadable segment
                // or an unknown format version: starting would let the next checkpoint delete
                // segments that were never replayed, so refuse and say why.
                Err(e) => return Err(open_err(e)),
            }
        }
        report.bad_records += bad;
        if report.bad_records > 0 {
            tracing::warn!(
                records = report.bad_records,
                "skipped wal records that did not decode"
            );
        }
        // Replayed traces come back completed exactly when a `TraceCompleted` record said so
        // (their spans counted in the span metrics then, which the WAL holds). The rest — a
        // trace in its quiet period at a crash — are pending and complete normally after the
        // restart: sampled, counted, announced, analysed.
        let opts = WalOptions::new(&wal_dir)
            .with_segment_bytes(settings.segment_bytes)
            .with_fsync(settings.fsync);
        let wal = Wal::open(opts).map_err(open_err)?;
        let store = Self {
            mem,
            wal: Mutex::new(wal),
            wal_dir: wal_dir.clone(),
            settings: RwLock::new(settings),
            bus,
            metrics,
            wal_healthy: AtomicBool::new(true),
            last_wal_error: Mutex::new(None),
            last_checkpoint_records: Mutex::new(None),
            event_types: Mutex::new(BTreeMap::new()),
            span_metrics: Mutex::new(Default::default()),
            observer: RwLock::new(None),
        };
        report.elapsed_ms = started.elapsed().as_millis();
        Ok((store, report))
    }
}
