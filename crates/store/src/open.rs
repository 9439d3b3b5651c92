//! Opening the store: newest valid checkpoint, then the WAL segments after it, then a fresh
//! segment for new writes. A torn WAL tail is truncated by the WAL itself; a record we cannot
//! decode is skipped and counted, never a failed start.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use blazar_bus::Bus;
use blazar_model::MetricPoint;
use blazar_signals::{EventStore, LogStore, TraceStore};
use blazar_tsdb::{Head, HeadOptions, SeriesSnapshot};
use blazar_wal::{list_checkpoints, read_checkpoint, ReplayStats, Wal, WalOptions};
use parking_lot::{Mutex, RwLock};

use crate::catalog::{Catalog, Instrument};
use crate::record::{self, Record};
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
    /// Opens (or creates) the store in `settings.data_dir` and replays it.
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
        let opts = WalOptions::new(&wal_dir)
            .with_segment_bytes(settings.segment_bytes)
            .with_fsync(settings.fsync);
        let store = Self {
            head: Head::new(HeadOptions::default()),
            catalog: RwLock::new(Catalog::default()),
            metadata: RwLock::new(HashMap::new()),
            events: RwLock::new(EventStore::new(settings.events)),
            traces: RwLock::new(TraceStore::new(settings.traces)),
            logs: RwLock::new(LogStore::new(settings.logs)),
            // Placeholder until replay is done: the real WAL is opened after, in a new segment.
            wal: Mutex::new(Wal::open(opts.clone()).map_err(open_err)?),
            wal_dir: wal_dir.clone(),
            settings: RwLock::new(settings),
            bus,
            metrics,
            wal_healthy: AtomicBool::new(true),
            last_wal_error: Mutex::new(None),
            event_types: Mutex::new(BTreeMap::new()),
        };
        let mut report = OpenReport::default();
        let checkpoints = list_checkpoints(&wal_dir).map_err(open_err)?;
        for (seg, path) in checkpoints.iter().rev() {
            let mut n = 0u64;
            let mut bad = 0u64;
            let res = read_checkpoint(
                path,
                |payload: &[u8]| -> Result<(), std::convert::Infallible> {
                    n += 1;
                    if !store.apply(payload) {
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
        let current = store.wal.lock().current_segment();
        let mut bad = 0u64;
        let stats = Wal::replay(
            &wal_dir,
            from,
            |seg, payload: &[u8]| -> Result<(), std::convert::Infallible> {
                // The segment just opened for writing is empty and must not be replayed.
                if seg < current && !store.apply(payload) {
                    bad += 1;
                }
                Ok(())
            },
        );
        match stats {
            Ok(s) => report.wal = s,
            Err(e) => tracing::error!(error = %e, "wal replay stopped early"),
        }
        report.bad_records += bad;
        if report.bad_records > 0 {
            tracing::warn!(
                records = report.bad_records,
                "skipped wal records that did not decode"
            );
        }
        report.elapsed_ms = started.elapsed().as_millis();
        Ok((store, report))
    }

    /// Applies one replayed record; returns false if it did not decode.
    fn apply(&self, payload: &[u8]) -> bool {
        let rec = match record::decode(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable record");
                return false;
            }
        };
        match rec {
            Record::Series { r, labels } => {
                if self.head.create_with_ref(r, &labels).is_err() {
                    return false;
                }
            }
            Record::Samples(s) => {
                self.head.append_batch(&s);
            }
            Record::Point {
                labels,
                kind,
                value,
                t,
            } => self.replay_point(MetricPoint {
                labels,
                kind,
                value,
                t,
            }),
            Record::Metadata { name, kind, help } => {
                self.metadata.write().insert(name, (kind, help));
            }
            Record::Chunks { r, labels, chunks } => {
                if let Err(e) = self.head.restore(SeriesSnapshot { r, labels, chunks }) {
                    tracing::warn!(error = %e, series = %r, "checkpointed chunk unreadable");
                    return false;
                }
            }
            Record::Instrument(json) => match serde_json::from_slice::<Instrument>(&json) {
                Ok(i) => self.catalog.write().restore(i),
                Err(_) => return false,
            },
            Record::Event(e) => {
                self.events.write().insert(*e);
            }
            Record::Span(s) => {
                let at = s.end_unix_nano.unwrap_or(s.start_unix_nano);
                if self.traces.write().upsert_span(*s, at).is_err() {
                    return false;
                }
            }
            Record::Log(l) => {
                self.logs.write().insert(*l);
            }
        }
        true
    }
}
