//! Whole series written at once (OTLP metrics, generated span metrics): the receiver has
//! already turned each data point into Prometheus-shaped series (`_bucket{le}`, `_sum`, ...).

use crate::{Labels, MetricKind, Sample};

/// How a written sample combines with what its series already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleMode {
    /// The value is the series' new value (gauges, cumulative sums and histograms).
    #[default]
    Absolute,
    /// The value is added to the series' latest stored value, or to 0 for a new series
    /// (OTLP delta temporality, accumulated into a cumulative series).
    Delta,
}

/// Samples for one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesWrite {
    /// Name (Prometheus-facing, e.g. `http_server_duration_seconds_bucket`) and labels.
    pub labels: Labels,
    pub mode: SampleMode,
    /// In time order.
    pub samples: Vec<Sample>,
}

/// Metadata of one metric family, as Prometheus keeps `# TYPE`/`# HELP` beside series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricFamily {
    /// The family's Prometheus-facing name (no `_bucket`/`_sum`/`_count` suffix).
    pub name: String,
    pub kind: MetricKind,
    pub help: String,
    /// Unit as the producer sent it (UCUM, e.g. `ms`), empty when none.
    pub unit: String,
    /// The producer's own name (e.g. OTLP `http.server.duration`) when it differs from
    /// `name`; the native API finds the family by either.
    pub original: Option<String>,
}

/// One receiver request's worth of series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeriesBatch {
    pub series: Vec<SeriesWrite>,
    pub families: Vec<MetricFamily>,
}

impl SeriesBatch {
    /// Returns the number of samples over all series.
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}
