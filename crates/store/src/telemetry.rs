//! blazar's own metrics (`/metrics`): typed methods over the names DESIGN fixes, so call sites
//! can't misspell a metric or a reason label.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The kinds of telemetry blazar takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    Metrics,
    Events,
    Spans,
    Logs,
}

impl Signal {
    /// Every signal.
    pub const ALL: [Signal; 4] = [Self::Metrics, Self::Events, Self::Spans, Self::Logs];

    /// Returns the signal an HTTP write path carries.
    pub fn for_path(path: &str) -> Self {
        if path.contains("/events") {
            Self::Events
        } else if path.contains("/spans") {
            Self::Spans
        } else if path.contains("/logs") {
            Self::Logs
        } else {
            Self::Metrics
        }
    }

    /// Returns the label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Events => "events",
            Self::Spans => "spans",
            Self::Logs => "logs",
        }
    }
}

/// Why accepted-looking input was not kept (`blazar_dropped_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Removed by the sampling rate.
    SampledOut,
    /// Not in the configured `event_types`.
    Filtered,
    /// The collector is disabled.
    Disabled,
    /// The store's count bound was hit; the oldest went.
    BufferFull,
    /// Older than the retention.
    Retention,
    /// A byte budget was hit; the oldest went.
    MemoryBudget,
    /// A sample older than its series' latest.
    OutOfOrder,
    /// A second value at the same timestamp.
    Duplicate,
    /// A new series past `limits.max_series`.
    SeriesLimit,
}

impl DropReason {
    /// Returns the label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SampledOut => "sampled_out",
            Self::Filtered => "filtered",
            Self::Disabled => "disabled",
            Self::BufferFull => "buffer_full",
            Self::Retention => "retention",
            Self::MemoryBudget => "memory_budget",
            Self::OutOfOrder => "out_of_order",
            Self::Duplicate => "duplicate",
            Self::SeriesLimit => "series_limit",
        }
    }
}

/// Why a request was refused (`blazar_rejected_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Malformed or invalid input (4xx).
    Invalid,
    /// Body over the size limit.
    TooLarge,
    /// Overload (429/503).
    Overloaded,
    /// Conflicting with stored state (e.g. span finished twice).
    Conflict,
    /// Names something unknown (e.g. an unknown span id).
    NotFound,
}

impl RejectReason {
    /// Returns the label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::TooLarge => "too_large",
            Self::Overloaded => "overloaded",
            Self::Conflict => "conflict",
            Self::NotFound => "not_found",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignalLabels {
    signal: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    signal: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    store: &'static str,
}

/// Every self-metric, registered once.
#[derive(Debug)]
pub struct SelfMetrics {
    registry: Registry,
    received: Family<SignalLabels, Counter>,
    ingested: Family<SignalLabels, Counter>,
    rejected: Family<ReasonLabels, Counter>,
    dropped: Family<ReasonLabels, Counter>,
    pub(crate) wal_bytes: Counter,
    pub(crate) wal_records: Counter,
    pub(crate) wal_fsyncs: Counter,
    pub(crate) checkpoints: Counter,
    pub(crate) wal_segments: Gauge,
    pub(crate) wal_disk_bytes: Gauge,
    pub(crate) active_series: Gauge,
    memory: Family<StoreLabels, Gauge>,
    pub(crate) stream_subscribers: Gauge,
    pub(crate) stream_lagged: Counter,
    pub(crate) stream_dropped_subscribers: Counter,
    pub(crate) bus_published: Counter,
    pub(crate) uptime_seconds: Gauge,
    pub(crate) traces_sampled_out: Counter,
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SelfMetrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut r = Registry::default();
        let received = Family::<SignalLabels, Counter>::default();
        let ingested = Family::<SignalLabels, Counter>::default();
        let rejected = Family::<ReasonLabels, Counter>::default();
        let dropped = Family::<ReasonLabels, Counter>::default();
        let memory = Family::<StoreLabels, Gauge>::default();
        let m = Self {
            registry: Registry::default(),
            received: received.clone(),
            ingested: ingested.clone(),
            rejected: rejected.clone(),
            dropped: dropped.clone(),
            wal_bytes: Counter::default(),
            wal_records: Counter::default(),
            wal_fsyncs: Counter::default(),
            checkpoints: Counter::default(),
            wal_segments: Gauge::default(),
            wal_disk_bytes: Gauge::default(),
            active_series: Gauge::default(),
            memory: memory.clone(),
            stream_subscribers: Gauge::default(),
            stream_lagged: Counter::default(),
            stream_dropped_subscribers: Counter::default(),
            bus_published: Counter::default(),
            uptime_seconds: Gauge::default(),
            traces_sampled_out: Counter::default(),
        };
        r.register(
            "blazar_received",
            "Items received, per signal, before validation and sampling",
            received,
        );
        r.register(
            "blazar_ingested",
            "Items accepted and stored, per signal",
            ingested,
        );
        r.register(
            "blazar_rejected",
            "Items or requests refused with an error, per signal and reason",
            rejected,
        );
        r.register(
            "blazar_dropped",
            "Items accepted but not kept, or evicted, per signal and reason",
            dropped,
        );
        r.register(
            "blazar_wal_written_bytes",
            "Bytes appended to the write-ahead log",
            m.wal_bytes.clone(),
        );
        r.register(
            "blazar_wal_records",
            "Records appended to the write-ahead log",
            m.wal_records.clone(),
        );
        r.register(
            "blazar_wal_fsyncs",
            "fsync calls on the write-ahead log",
            m.wal_fsyncs.clone(),
        );
        r.register(
            "blazar_checkpoints",
            "Checkpoints written",
            m.checkpoints.clone(),
        );
        r.register(
            "blazar_wal_segments",
            "WAL segment files on disk",
            m.wal_segments.clone(),
        );
        r.register(
            "blazar_wal_disk_bytes",
            "Bytes of WAL segments on disk",
            m.wal_disk_bytes.clone(),
        );
        r.register(
            "blazar_active_series",
            "Metric series held in memory",
            m.active_series.clone(),
        );
        r.register(
            "blazar_memory_bytes",
            "Approximate bytes held in memory, per store",
            memory,
        );
        r.register(
            "blazar_stream_subscribers",
            "Live stream subscribers connected",
            m.stream_subscribers.clone(),
        );
        r.register(
            "blazar_stream_lagged_messages",
            "Messages skipped for stream subscribers that lagged",
            m.stream_lagged.clone(),
        );
        r.register(
            "blazar_stream_dropped_subscribers",
            "Stream subscribers disconnected for lagging too far or blocking",
            m.stream_dropped_subscribers.clone(),
        );
        r.register(
            "blazar_bus_published_messages",
            "Messages published on the internal bus",
            m.bus_published.clone(),
        );
        r.register(
            "blazar_uptime_seconds",
            "Seconds since the server started",
            m.uptime_seconds.clone(),
        );
        r.register(
            "blazar_traces_sampled_out",
            "Completed traces dropped by tail sampling (their spans count as dropped{reason=\"sampled_out\"})",
            m.traces_sampled_out.clone(),
        );
        Self { registry: r, ..m }
    }

    /// Counts items received.
    pub fn received(&self, s: Signal, n: u64) {
        self.received
            .get_or_create(&SignalLabels { signal: s.as_str() })
            .inc_by(n);
    }

    /// Counts items stored.
    pub fn ingested(&self, s: Signal, n: u64) {
        self.ingested
            .get_or_create(&SignalLabels { signal: s.as_str() })
            .inc_by(n);
    }

    /// Counts refused items or requests.
    pub fn rejected(&self, s: Signal, reason: RejectReason, n: u64) {
        self.rejected
            .get_or_create(&ReasonLabels {
                signal: s.as_str(),
                reason: reason.as_str(),
            })
            .inc_by(n);
    }

    /// Counts items not kept.
    pub fn dropped(&self, s: Signal, reason: DropReason, n: u64) {
        if n > 0 {
            self.dropped
                .get_or_create(&ReasonLabels {
                    signal: s.as_str(),
                    reason: reason.as_str(),
                })
                .inc_by(n);
        }
    }

    /// Returns a counter's current value for the stats API.
    pub fn dropped_count(&self, s: Signal, reason: DropReason) -> u64 {
        self.dropped
            .get_or_create(&ReasonLabels {
                signal: s.as_str(),
                reason: reason.as_str(),
            })
            .get()
    }

    /// Returns received/ingested counts for the stats API.
    pub fn received_count(&self, s: Signal) -> u64 {
        self.received
            .get_or_create(&SignalLabels { signal: s.as_str() })
            .get()
    }

    /// Returns the stored count for the stats API.
    pub fn ingested_count(&self, s: Signal) -> u64 {
        self.ingested
            .get_or_create(&SignalLabels { signal: s.as_str() })
            .get()
    }

    /// Returns the rejected count for the stats API.
    pub fn rejected_count(&self, s: Signal, reason: RejectReason) -> u64 {
        self.rejected
            .get_or_create(&ReasonLabels {
                signal: s.as_str(),
                reason: reason.as_str(),
            })
            .get()
    }

    /// Sets a store's memory gauge.
    pub fn set_memory(&self, store: &'static str, bytes: usize) {
        self.memory
            .get_or_create(&StoreLabels { store })
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Returns completed traces dropped by tail sampling, for the stats API.
    pub fn traces_sampled_out_count(&self) -> u64 {
        self.traces_sampled_out.get()
    }

    /// Counts a subscriber that lagged by `n` messages.
    pub fn stream_lagged(&self, n: u64) {
        self.stream_lagged.inc_by(n);
    }

    /// Counts a subscriber dropped.
    pub fn stream_dropped(&self) {
        self.stream_dropped_subscribers.inc();
    }

    /// Sets the live-stream subscriber gauge.
    pub fn set_stream_subscribers(&self, n: usize) {
        self.stream_subscribers
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Sets the uptime gauge.
    pub fn set_uptime(&self, secs: u64) {
        self.uptime_seconds
            .set(i64::try_from(secs).unwrap_or(i64::MAX));
    }

    /// Renders everything in the Prometheus text format (0.0.4), which both Prometheus and
    /// `promtool check metrics` read.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        openmetrics_to_text(&out)
    }
}

/// Converts prometheus-client's OpenMetrics output to the classic text format: counter
/// families are named with their `_total` suffix in `# HELP`/`# TYPE` (as their samples are),
/// and the `# EOF` marker is dropped.
fn openmetrics_to_text(om: &str) -> String {
    let lines: Vec<&str> = om.lines().collect();
    let mut out = String::with_capacity(om.len() + 256);
    for (i, line) in lines.iter().enumerate() {
        if *line == "# EOF" {
            continue;
        }
        let counter_family = |l: &str| {
            l.strip_prefix("# TYPE ")
                .and_then(|r| r.strip_suffix(" counter"))
                .map(str::to_string)
        };
        let fixed = if let Some(name) = counter_family(line) {
            format!("# TYPE {name}_total counter")
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            let next_is_counter = lines
                .get(i + 1)
                .and_then(|l| counter_family(l))
                .is_some_and(|n| n == name);
            if next_is_counter {
                format!(
                    "# HELP {name}_total{}",
                    rest.get(name.len()..).unwrap_or("")
                )
            } else {
                (*line).to_string()
            }
        } else {
            (*line).to_string()
        };
        out.push_str(&fixed);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_with_total_in_help_and_type() {
        let m = SelfMetrics::new();
        m.received(Signal::Events, 2);
        let text = m.encode();
        assert!(
            text.contains("# HELP blazar_received_total Items received"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE blazar_received_total counter"),
            "{text}"
        );
        assert!(
            text.contains("blazar_received_total{signal=\"events\"} 2"),
            "{text}"
        );
        assert!(text.contains("# TYPE blazar_active_series gauge"), "{text}");
        assert!(!text.contains("# EOF"));
    }
}
