//! JSON → `ExportMetricsServiceRequest`.

use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point, summary_data_point,
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint,
};
use serde_json::Value;

use super::common::{attributes, key_value, resource, scope};
use super::{as_obj, to_f64, to_i64, to_u64, Fields, R};
use crate::ExportMetricsServiceRequest;

pub(super) fn request(v: &Value) -> R<ExportMetricsServiceRequest> {
    let f = as_obj(v)?;
    Ok(ExportMetricsServiceRequest {
        resource_metrics: f.list("resourceMetrics", "resource_metrics", resource_metrics)?,
    })
}

fn resource_metrics(v: &Value) -> R<ResourceMetrics> {
    let f = as_obj(v)?;
    Ok(ResourceMetrics {
        resource: resource(&f)?,
        scope_metrics: f.list("scopeMetrics", "scope_metrics", scope_metrics)?,
        schema_url: f.string("schemaUrl", "schema_url")?,
    })
}

fn scope_metrics(v: &Value) -> R<ScopeMetrics> {
    let f = as_obj(v)?;
    Ok(ScopeMetrics {
        scope: scope(&f)?,
        metrics: f.list("metrics", "metrics", one_metric)?,
        schema_url: f.string("schemaUrl", "schema_url")?,
    })
}

fn temporality(f: &Fields<'_>) -> R<i32> {
    f.enumeration("aggregationTemporality", "aggregation_temporality", |s| {
        AggregationTemporality::from_str_name(s).map(|t| t as i32)
    })
}

fn one_metric(v: &Value) -> R<Metric> {
    let f = as_obj(v)?;
    let data = if let Some(g) = f.message("gauge", "gauge", |g| {
        Ok(Gauge {
            data_points: g.list("dataPoints", "data_points", number_point)?,
        })
    })? {
        Some(metric::Data::Gauge(g))
    } else if let Some(s) = f.message("sum", "sum", |s| {
        Ok(Sum {
            data_points: s.list("dataPoints", "data_points", number_point)?,
            aggregation_temporality: temporality(&s)?,
            is_monotonic: s.bool("isMonotonic", "is_monotonic")?,
        })
    })? {
        Some(metric::Data::Sum(s))
    } else if let Some(h) = f.message("histogram", "histogram", |h| {
        Ok(Histogram {
            data_points: h.list("dataPoints", "data_points", histogram_point)?,
            aggregation_temporality: temporality(&h)?,
        })
    })? {
        Some(metric::Data::Histogram(h))
    } else if let Some(h) = f.message("exponentialHistogram", "exponential_histogram", |h| {
        Ok(ExponentialHistogram {
            data_points: h.list("dataPoints", "data_points", exp_point)?,
            aggregation_temporality: temporality(&h)?,
        })
    })? {
        Some(metric::Data::ExponentialHistogram(h))
    } else {
        f.message("summary", "summary", |s| {
            Ok(Summary {
                data_points: s.list("dataPoints", "data_points", summary_point)?,
            })
        })?
        .map(metric::Data::Summary)
    };
    Ok(Metric {
        name: f.string("name", "name")?,
        description: f.string("description", "description")?,
        unit: f.string("unit", "unit")?,
        metadata: f.list("metadata", "metadata", key_value)?,
        data,
    })
}

fn number_point(v: &Value) -> R<NumberDataPoint> {
    let f = as_obj(v)?;
    let value = if let Some(d) = f.with("asDouble", "as_double", to_f64)? {
        Some(number_data_point::Value::AsDouble(d))
    } else {
        f.with("asInt", "as_int", to_i64)?
            .map(number_data_point::Value::AsInt)
    };
    Ok(NumberDataPoint {
        attributes: attributes(&f)?,
        start_time_unix_nano: f.u64("startTimeUnixNano", "start_time_unix_nano")?,
        time_unix_nano: f.u64("timeUnixNano", "time_unix_nano")?,
        exemplars: exemplars(&f)?,
        flags: f.u32("flags", "flags")?,
        value,
    })
}

fn exemplars(f: &Fields<'_>) -> R<Vec<Exemplar>> {
    f.list("exemplars", "exemplars", |v| {
        let e = as_obj(v)?;
        let value = if let Some(d) = e.with("asDouble", "as_double", to_f64)? {
            Some(exemplar::Value::AsDouble(d))
        } else {
            e.with("asInt", "as_int", to_i64)?
                .map(exemplar::Value::AsInt)
        };
        Ok(Exemplar {
            filtered_attributes: e.list("filteredAttributes", "filtered_attributes", key_value)?,
            time_unix_nano: e.u64("timeUnixNano", "time_unix_nano")?,
            span_id: e.id("spanId", "span_id", 8)?,
            trace_id: e.id("traceId", "trace_id", 16)?,
            value,
        })
    })
}

fn histogram_point(v: &Value) -> R<HistogramDataPoint> {
    let f = as_obj(v)?;
    Ok(HistogramDataPoint {
        attributes: attributes(&f)?,
        start_time_unix_nano: f.u64("startTimeUnixNano", "start_time_unix_nano")?,
        time_unix_nano: f.u64("timeUnixNano", "time_unix_nano")?,
        count: f.u64("count", "count")?,
        sum: f.f64_opt("sum", "sum")?,
        bucket_counts: f.list("bucketCounts", "bucket_counts", to_u64)?,
        explicit_bounds: f.list("explicitBounds", "explicit_bounds", to_f64)?,
        exemplars: exemplars(&f)?,
        flags: f.u32("flags", "flags")?,
        min: f.f64_opt("min", "min")?,
        max: f.f64_opt("max", "max")?,
    })
}

fn buckets(b: Fields<'_>) -> R<exponential_histogram_data_point::Buckets> {
    Ok(exponential_histogram_data_point::Buckets {
        offset: b.i32("offset", "offset")?,
        bucket_counts: b.list("bucketCounts", "bucket_counts", to_u64)?,
    })
}

fn exp_point(v: &Value) -> R<ExponentialHistogramDataPoint> {
    let f = as_obj(v)?;
    Ok(ExponentialHistogramDataPoint {
        attributes: attributes(&f)?,
        start_time_unix_nano: f.u64("startTimeUnixNano", "start_time_unix_nano")?,
        time_unix_nano: f.u64("timeUnixNano", "time_unix_nano")?,
        count: f.u64("count", "count")?,
        sum: f.f64_opt("sum", "sum")?,
        scale: f.i32("scale", "scale")?,
        zero_count: f.u64("zeroCount", "zero_count")?,
        positive: f.message("positive", "positive", buckets)?,
        negative: f.message("negative", "negative", buckets)?,
        flags: f.u32("flags", "flags")?,
        exemplars: exemplars(&f)?,
        min: f.f64_opt("min", "min")?,
        max: f.f64_opt("max", "max")?,
        zero_threshold: f.f64("zeroThreshold", "zero_threshold")?,
    })
}

fn summary_point(v: &Value) -> R<SummaryDataPoint> {
    let f = as_obj(v)?;
    Ok(SummaryDataPoint {
        attributes: attributes(&f)?,
        start_time_unix_nano: f.u64("startTimeUnixNano", "start_time_unix_nano")?,
        time_unix_nano: f.u64("timeUnixNano", "time_unix_nano")?,
        count: f.u64("count", "count")?,
        sum: f.f64("sum", "sum")?,
        quantile_values: f.list("quantileValues", "quantile_values", |v| {
            let q = as_obj(v)?;
            Ok(summary_data_point::ValueAtQuantile {
                quantile: q.f64("quantile", "quantile")?,
                value: q.f64("value", "value")?,
            })
        })?,
        flags: f.u32("flags", "flags")?,
    })
}
