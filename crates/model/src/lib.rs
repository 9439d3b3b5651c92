//! blazar's one internal data model: what every receiver produces and every store keeps.
//! Pure types and validation; no I/O, no clocks.

mod error;
mod event;
mod glob;
mod ids;
mod labels;
mod log;
mod metric;
mod series;
mod span;
mod time;

pub use error::ErrorKind;
pub use event::Event;
pub use glob::Glob;
pub use ids::{IdError, SpanId, TraceId};
pub use labels::{validate_pairs, Labels, LabelsError, Limits, METRIC_NAME_LABEL};
pub use log::{LogRecord, Severity};
pub use metric::{MetricKind, MetricPoint, Sample};
pub use series::{MetricFamily, SampleMode, SeriesBatch, SeriesWrite};
pub use span::{Resource, Scope, Span, SpanEvent, SpanKind, SpanLink, SpanStatus};
pub use time::{format_rfc3339_nanos, UnixMillis, UnixNanos, NANOS_PER_MILLI};
