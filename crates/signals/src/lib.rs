//! blazar-signals: the in-memory stores for traces, logs and events. Each is time-ordered,
//! indexed and bounded by one retention policy (age, bytes, count), evicting oldest first and
//! reporting every eviction. Single-threaded and clock-free: callers lock, pass `now_ns`,
//! and own the WAL, replay and checkpoints.

mod events;
mod logs;
mod retention;
mod traces;

pub use events::{EventQuery, EventStore, EventStoreOptions, Inserted};
pub use logs::{LogQuery, LogStore, LogStoreOptions};
pub use retention::Retention;
pub use traces::{
    CheckpointTrace, Evicted, TraceQuery, TraceStore, TraceStoreError, TraceStoreOptions,
    TraceStoreStats, TraceSummary, TraceView, Upserted,
};
