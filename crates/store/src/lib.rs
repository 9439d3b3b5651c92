//! The store: every accepted write goes to the WAL first, then into memory (metrics head,
//! catalog, traces, events, logs), then onto the bus. Replay and checkpoints rebuild memory on
//! start. Receivers call the `write_*` methods; queries read through the accessors.

mod catalog;
mod checkpoint;
mod error;
mod memory;
mod open;
mod query;
mod record;
mod sampling;
mod settings;
mod span_metrics;
mod telemetry;
mod write;
mod write_series;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use blazar_bus::Bus;
use blazar_tsdb::Head;
use blazar_wal::Wal;
use parking_lot::{Mutex, RwLock};

pub use catalog::{format_le, Instrument, InstrumentState, DEFAULT_BUCKETS, SUMMARY_QUANTILES};
pub use checkpoint::CheckpointStats;
pub use error::StoreError;
pub use open::OpenReport;
pub use query::{event_json, summary_json, MetricListing, MetricValueView, StoreStats, TypeCounts};
pub use settings::Settings;
pub use span_metrics::{
    CALLS_FAMILY, CALLS_SERIES, DURATION_BUCKETS, DURATION_FAMILY, MAX_LABEL_SETS,
};
pub use telemetry::{DropReason, RejectReason, SelfMetrics, Signal};
pub use write::{EventsOutcome, RemoteOutcome};
pub use write_series::SeriesOutcome;

/// Cloneable handle to the store.
pub type StoreRef = Arc<Store>;

/// The store. All methods take `&self`; writers are serialised by the WAL lock so the WAL's
/// order is the order applied in memory (replay depends on it).
pub struct Store {
    settings: RwLock<Settings>,
    wal: Mutex<Wal>,
    wal_dir: PathBuf,
    mem: memory::Memory,
    bus: Bus,
    metrics: Arc<SelfMetrics>,
    wal_healthy: AtomicBool,
    last_wal_error: Mutex<Option<String>>,
    /// WAL records written when the last checkpoint was taken (skip identical checkpoints).
    last_checkpoint_records: Mutex<Option<u64>>,
    event_types: Mutex<std::collections::BTreeMap<String, query::TypeCounts>>,
    /// Span RED metrics: label sets seen and the current completion pass.
    span_metrics: Mutex<span_metrics::SpanMetrics>,
    /// Told of each stored sample whose metric it wants (the alert engine evaluates rules as
    /// data arrives).
    observer: RwLock<Option<Arc<dyn SampleObserver>>>,
}

/// Something told of samples as they are stored, after the WAL accepted them. Both calls
/// happen on the writer's thread and must be quick: `wants` is asked per series (a set lookup),
/// `observe` only for series it wants (hand the sample to a queue, don't evaluate here).
pub trait SampleObserver: Send + Sync {
    /// Whether samples of metric `name` are of interest.
    fn wants(&self, name: &str) -> bool;
    /// One stored sample (milliseconds, value) of a wanted series.
    fn observe(&self, labels: &blazar_model::Labels, sample: blazar_model::Sample);
}

impl Store {
    /// Installs (or with `None` removes) the sample observer.
    pub fn set_observer(&self, observer: Option<Arc<dyn SampleObserver>>) {
        *self.observer.write() = observer;
    }

    /// Returns the current observer, if any.
    pub(crate) fn observer(&self) -> Option<Arc<dyn SampleObserver>> {
        self.observer.read().clone()
    }

    /// Returns the bus the store publishes on.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Returns the self-metrics.
    pub fn self_metrics(&self) -> &Arc<SelfMetrics> {
        &self.metrics
    }

    /// Returns the metrics head, for the query engines.
    pub fn head(&self) -> &Head {
        &self.mem.head
    }

    /// Returns the current settings.
    pub fn settings(&self) -> Settings {
        self.settings.read().clone()
    }
}

#[cfg(test)]
mod tests;
