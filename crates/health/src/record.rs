//! What the monitor writes into the metrics store, so alert rules and charts can use it:
//! `service.health.status{service,status,criticality}` (seed 001's gauge: 1 healthy, 0.5
//! degraded, 0 unhealthy, -1 unknown), a response-time histogram per service, and the watched
//! process's liveness, CPU and memory. When a service's status changes, its previous status
//! series gets a Prometheus stale marker, so a query of the latest values finds only the
//! current one.

use blazar_config::Criticality;
use blazar_model::{
    Labels, LabelsError, Limits, MetricFamily, MetricKind, Sample, SampleMode, SeriesBatch,
    SeriesWrite,
};

use crate::process::ProcessSample;
use crate::HealthStatus;

/// The status gauge.
pub const STATUS_METRIC: &str = "service.health.status";
/// The response-time histogram family (`_bucket{le}`, `_sum`, `_count`), in seconds.
pub const RESPONSE_FAMILY: &str = "service.health.response_time_seconds";
/// Response-time bucket bounds in seconds (`+Inf` implied).
pub const RESPONSE_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Watched process gauges.
pub const PROCESS_UP: &str = "service.process.up";
pub const PROCESS_CPU: &str = "service.process.cpu_percent";
pub const PROCESS_MEMORY: &str = "service.process.memory_bytes";

/// Prometheus's stale marker: a NaN with this exact bit pattern.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// Response times observed since the last write, per bucket (not cumulative).
#[derive(Debug, Clone, Default)]
pub struct ResponseAgg {
    buckets: [u64; RESPONSE_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl ResponseAgg {
    /// Counts one response time.
    pub fn observe(&mut self, secs: f64) {
        let i = RESPONSE_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(RESPONSE_BUCKETS.len());
        if let Some(c) = self.buckets.get_mut(i) {
            *c += 1;
        }
        self.sum += secs;
        self.count += 1;
    }

    /// Whether anything was observed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// One write's worth of health series.
#[derive(Debug, Default)]
pub struct Recorder {
    series: Vec<SeriesWrite>,
    /// Label sets the limits refused (a service name too long for a label value).
    pub skipped: usize,
}

impl Recorder {
    /// Records a service's current status.
    pub fn status(
        &mut self,
        service: &str,
        crit: Criticality,
        status: HealthStatus,
        t: i64,
        limits: &Limits,
    ) {
        self.push(
            status_labels(service, crit, status, limits),
            SampleMode::Absolute,
            t,
            status.gauge(),
        );
    }

    /// Marks a service's previous status series stale.
    pub fn stale(
        &mut self,
        service: &str,
        crit: Criticality,
        was: HealthStatus,
        t: i64,
        limits: &Limits,
    ) {
        self.push(
            status_labels(service, crit, was, limits),
            SampleMode::Absolute,
            t,
            f64::from_bits(STALE_NAN),
        );
    }

    /// Adds observed response times as deltas to the service's histogram.
    pub fn responses(&mut self, service: &str, agg: &ResponseAgg, t: i64, limits: &Limits) {
        if agg.is_empty() {
            return;
        }
        let tags = [("service", service)];
        let bucket = format!("{RESPONSE_FAMILY}_bucket");
        let mut cumulative = 0u64;
        for (le, c) in RESPONSE_BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(agg.buckets.iter())
        {
            cumulative += c;
            let le = blazar_store::format_le(le);
            let labels = Labels::for_metric(
                &bucket,
                tags.iter().copied().chain([("le", le.as_str())]),
                limits,
            );
            self.push(labels, SampleMode::Delta, t, cumulative as f64);
        }
        let sum = Labels::for_metric(&format!("{RESPONSE_FAMILY}_sum"), tags, limits);
        self.push(sum, SampleMode::Delta, t, agg.sum);
        let count = Labels::for_metric(&format!("{RESPONSE_FAMILY}_count"), tags, limits);
        self.push(count, SampleMode::Delta, t, agg.count as f64);
    }

    /// Records a watched process.
    pub fn process(&mut self, service: &str, p: &ProcessSample, t: i64, limits: &Limits) {
        let tags = [("service", service)];
        let up = if p.alive { 1.0 } else { 0.0 };
        self.push(
            Labels::for_metric(PROCESS_UP, tags, limits),
            SampleMode::Absolute,
            t,
            up,
        );
        if p.alive {
            self.push(
                Labels::for_metric(PROCESS_CPU, tags, limits),
                SampleMode::Absolute,
                t,
                p.cpu_percent,
            );
            self.push(
                Labels::for_metric(PROCESS_MEMORY, tags, limits),
                SampleMode::Absolute,
                t,
                p.memory_bytes as f64,
            );
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Returns the batch to write, with the families' metadata.
    pub fn into_batch(self) -> SeriesBatch {
        let family = |name: &str, kind, help: &str, unit: &str| MetricFamily {
            name: name.to_string(),
            kind,
            help: help.to_string(),
            unit: unit.to_string(),
            original: None,
        };
        SeriesBatch {
            series: self.series,
            families: vec![
                family(
                    STATUS_METRIC,
                    MetricKind::Gauge,
                    "Service health status (1=healthy, 0.5=degraded, 0=unhealthy, -1=unknown)",
                    "",
                ),
                family(
                    RESPONSE_FAMILY,
                    MetricKind::Histogram,
                    "Health check response time in seconds",
                    "s",
                ),
                family(
                    PROCESS_UP,
                    MetricKind::Gauge,
                    "Whether the watched process runs",
                    "",
                ),
                family(
                    PROCESS_CPU,
                    MetricKind::Gauge,
                    "Watched process CPU, percent of one core",
                    "%",
                ),
                family(
                    PROCESS_MEMORY,
                    MetricKind::Gauge,
                    "Watched process resident memory",
                    "By",
                ),
            ],
        }
    }

    fn push(&mut self, labels: Result<Labels, LabelsError>, mode: SampleMode, t: i64, v: f64) {
        match labels {
            Ok(labels) => self.series.push(SeriesWrite {
                labels,
                mode,
                samples: vec![Sample { t, v }],
            }),
            Err(_) => self.skipped += 1,
        }
    }
}

fn status_labels(
    service: &str,
    crit: Criticality,
    status: HealthStatus,
    limits: &Limits,
) -> Result<Labels, LabelsError> {
    Labels::for_metric(
        STATUS_METRIC,
        [
            ("service", service),
            ("status", status.as_str()),
            ("criticality", crit.as_str()),
        ],
        limits,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_buckets_are_cumulative_deltas() {
        let mut agg = ResponseAgg::default();
        agg.observe(0.0005);
        agg.observe(0.2);
        agg.observe(60.0);
        let mut r = Recorder::default();
        r.responses("api", &agg, 1000, &Limits::default());
        let b = r.into_batch();
        let value = |name: &str, le: Option<&str>| {
            b.series
                .iter()
                .find(|s| {
                    s.labels.name() == name && le.is_none_or(|l| s.labels.get("le") == Some(l))
                })
                .map(|s| s.samples[0].v)
        };
        let bucket = format!("{RESPONSE_FAMILY}_bucket");
        assert_eq!(value(&bucket, Some("0.001")), Some(1.0));
        assert_eq!(value(&bucket, Some("0.25")), Some(2.0));
        assert_eq!(value(&bucket, Some("+Inf")), Some(3.0));
        assert_eq!(value(&format!("{RESPONSE_FAMILY}_count"), None), Some(3.0));
        assert!(b.series.iter().all(|s| s.mode == SampleMode::Delta));
    }

    #[test]
    fn stale_marker_is_prometheus_s() {
        let mut r = Recorder::default();
        r.stale(
            "api",
            Criticality::Critical,
            HealthStatus::Healthy,
            5,
            &Limits::default(),
        );
        let b = r.into_batch();
        assert_eq!(b.series[0].samples[0].v.to_bits(), STALE_NAN);
        assert_eq!(b.series[0].labels.get("status"), Some("healthy"));
    }
}
