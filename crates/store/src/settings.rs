//! The reloadable part of the store's configuration, built from `Config`.

use std::path::PathBuf;

use blazar_config::{Config, FsyncMode};
use blazar_model::{Glob, Limits};
use blazar_signals::{EventStoreOptions, LogStoreOptions, TraceStoreOptions};
use blazar_wal::FsyncPolicy;

/// What the store reads from config; `Store::reload` swaps it without touching data.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub fsync: FsyncPolicy,
    pub segment_bytes: u64,
    pub limits: Limits,
    pub metrics_max_age_ms: i64,
    pub metrics_max_bytes: usize,
    pub events: EventStoreOptions,
    pub traces: TraceStoreOptions,
    pub logs: LogStoreOptions,
    pub events_enabled: bool,
    pub event_types: Vec<Glob>,
    pub sampling_rate: f64,
    pub source_id: String,
    pub completion_quiet_ns: i64,
    /// Tail sampling at trace completion (`tracing.sample_rate`): the fraction of completed
    /// traces kept, decided by trace id.
    pub trace_sample_rate: f64,
    /// Tail sampling: a trace with an error span is kept whatever the rate says.
    pub keep_errors: bool,
    /// Tail sampling: a trace at least this long is kept whatever the rate says.
    pub keep_slower_than_ns: i64,
}

fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Settings {
    /// Derives the store's settings from the validated config.
    pub fn from_config(c: &Config) -> Self {
        let s = &c.storage;
        Self {
            data_dir: s.data_dir.clone(),
            fsync: match s.fsync {
                FsyncMode::Always => FsyncPolicy::Always,
                FsyncMode::Interval(d) => FsyncPolicy::Interval(d),
                FsyncMode::Never => FsyncPolicy::Never,
            },
            segment_bytes: s.segment_bytes,
            limits: c.limits,
            metrics_max_age_ms: i64::try_from(s.metrics.max_age.as_millis()).unwrap_or(i64::MAX),
            metrics_max_bytes: s.metrics.max_bytes.as_usize(),
            events: EventStoreOptions {
                max_events: c.events.buffer_size,
                max_bytes: s.events.max_bytes.as_usize(),
                max_age_ns: nanos(s.events.max_age),
            },
            traces: TraceStoreOptions {
                max_age_ns: nanos(s.traces.max_age),
                max_bytes: s.traces.max_bytes.as_usize(),
                max_spans_per_trace: c.tracing.max_trace_length,
            },
            logs: LogStoreOptions {
                max_age_ns: nanos(s.logs.max_age),
                max_bytes: s.logs.max_bytes.as_usize(),
                max_records: usize::MAX,
            },
            events_enabled: c.events.enabled,
            event_types: c.events.event_types.clone(),
            sampling_rate: c.events.sampling_rate,
            source_id: c.events.source_id.clone(),
            completion_quiet_ns: nanos(c.tracing.completion_quiet),
            trace_sample_rate: c.tracing.sample_rate,
            keep_errors: c.tracing.keep_errors,
            keep_slower_than_ns: nanos(c.tracing.keep_slower_than),
        }
    }
}
