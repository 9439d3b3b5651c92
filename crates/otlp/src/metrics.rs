//! `ExportMetricsServiceRequest` → Prometheus-shaped series (`_bucket{le}`, `_sum`, `_count`,
//! `{quantile}`) plus family metadata. A data point whose series break a limit is rejected alone.

mod exphist;
mod naming;

use std::collections::{BTreeMap, HashSet};

use blazar_model::{
    Labels, Limits, MetricFamily, MetricKind, Sample, SampleMode, SeriesBatch, SeriesWrite,
    METRIC_NAME_LABEL, NANOS_PER_MILLI,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, Metric};
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, DataPointFlags};
use serde_json::Value;

use crate::attrs::{self, to_label_value};
use crate::traces::nanos;
use crate::{ExportMetricsServiceRequest, Mapped};
use naming::Shape;

const LE: &str = "le";
const QUANTILE: &str = "quantile";

/// Returns the number of data points in `req`, the unit OTLP counts metrics rejections in.
pub fn data_point_count(req: &ExportMetricsServiceRequest) -> u64 {
    req.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| points_in(m) as u64)
        .sum()
}

fn points_in(m: &Metric) -> usize {
    match &m.data {
        None => 0,
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
    }
}

/// Maps every data point of `req` onto series; `rejected` counts data points.
/// Points without a time get `now_ns`; points flagged "no recorded value" are skipped.
pub fn map_metrics(
    req: ExportMetricsServiceRequest,
    now_ns: i64,
    limits: &Limits,
) -> Mapped<SeriesBatch> {
    let mut cx = Cx {
        out: Mapped::default(),
        limits,
        now_ms: now_ns.div_euclid(NANOS_PER_MILLI),
        families: HashSet::new(),
    };
    for (ri, rm) in req.resource_metrics.iter().enumerate() {
        let res_labels = match attrs::resource(rm.resource.as_ref()) {
            Ok(r) => resource_labels(&r.service, &r.attrs),
            Err(e) => {
                let n: usize = rm
                    .scope_metrics
                    .iter()
                    .flat_map(|s| &s.metrics)
                    .map(points_in)
                    .sum();
                for _ in 0..n {
                    cx.out.reject(format!("resourceMetrics[{ri}]: {e}"));
                }
                continue;
            }
        };
        for (si, sm) in rm.scope_metrics.iter().enumerate() {
            for (mi, m) in sm.metrics.iter().enumerate() {
                let at = format!("resourceMetrics[{ri}].scopeMetrics[{si}].metrics[{mi}]");
                cx.metric(m, &res_labels, &at);
            }
        }
    }
    cx.out
}

/// `job`, `instance` and `service` from the resource, as the compatibility spec derives them.
fn resource_labels(service: &str, res: &attrs::Attrs) -> Vec<(&'static str, String)> {
    let get = |k: &str| match res.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let job = match get("service.namespace") {
        Some(ns) => format!("{ns}/{service}"),
        None => service.to_string(),
    };
    let mut v = vec![("job", job), ("service", service.to_string())];
    if let Some(id) = get("service.instance.id") {
        v.push(("instance", id));
    }
    v
}

/// Returns a float the way Prometheus labels spell it: shortest round-trip text, `+Inf`,
/// `-Inf`, `NaN`.
pub(crate) fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

struct Cx<'a> {
    out: Mapped<SeriesBatch>,
    limits: &'a Limits,
    now_ms: i64,
    families: HashSet<String>,
}

/// The series one data point becomes, built before any is kept so a bad point adds none.
struct Point<'a> {
    base: Vec<(String, String)>,
    mode: SampleMode,
    t: i64,
    limits: &'a Limits,
    writes: Vec<SeriesWrite>,
}

impl Point<'_> {
    fn push(&mut self, name: &str, extra: Option<(&str, String)>, v: f64) -> Result<(), String> {
        let mut pairs = Vec::with_capacity(self.base.len() + 2);
        pairs.push((METRIC_NAME_LABEL.to_string(), name.to_string()));
        for (k, val) in &self.base {
            // `le`/`quantile` belong to the bucket, not to an attribute of the same name.
            if extra.as_ref().is_some_and(|(e, _)| e == k) {
                continue;
            }
            pairs.push((k.clone(), val.clone()));
        }
        if let Some((k, val)) = extra {
            pairs.push((k.to_string(), val));
        }
        let labels = Labels::try_from_pairs(pairs).map_err(|e| e.to_string())?;
        labels.validate(self.limits).map_err(|e| e.to_string())?;
        self.writes.push(SeriesWrite {
            labels,
            mode: self.mode,
            samples: vec![Sample { t: self.t, v }],
        });
        Ok(())
    }
}

impl Cx<'_> {
    fn metric(&mut self, m: &Metric, res: &[(&'static str, String)], at: &str) {
        let Some(data) = &m.data else { return };
        let (shape, kind, temporality) = match data {
            Data::Gauge(_) => (Shape::Gauge, MetricKind::Gauge, None),
            Data::Sum(s) if s.is_monotonic => (
                Shape::Counter,
                MetricKind::Counter,
                Some(s.aggregation_temporality),
            ),
            Data::Sum(s) => (
                Shape::Other,
                MetricKind::Gauge,
                Some(s.aggregation_temporality),
            ),
            Data::Histogram(h) => (
                Shape::Other,
                MetricKind::Histogram,
                Some(h.aggregation_temporality),
            ),
            Data::ExponentialHistogram(h) => (
                Shape::Other,
                MetricKind::Histogram,
                Some(h.aggregation_temporality),
            ),
            Data::Summary(_) => (Shape::Other, MetricKind::Summary, None),
        };
        let Some(name) = naming::metric_name(&m.name, &m.unit, shape) else {
            for _ in 0..points_in(m) {
                self.out
                    .reject(format!("{at}.name: {:?} has no usable characters", m.name));
            }
            return;
        };
        // Delta points are added to the stored value, so the stored series stays cumulative.
        let mode = if temporality == Some(AggregationTemporality::Delta as i32) {
            SampleMode::Delta
        } else {
            SampleMode::Absolute
        };
        if self.families.insert(name.clone()) {
            self.out.items.families.push(MetricFamily {
                name: name.clone(),
                kind,
                help: m.description.clone(),
                unit: m.unit.clone(),
                original: (m.name != name).then(|| m.name.clone()),
            });
        }
        let at = format!("{at}({})", m.name);
        match data {
            Data::Gauge(g) => self.numbers(&g.data_points, &name, mode, res, &at),
            Data::Sum(s) => self.numbers(&s.data_points, &name, mode, res, &at),
            Data::Histogram(h) => {
                for (i, p) in h.data_points.iter().enumerate() {
                    self.point(
                        &p.attributes,
                        p.flags,
                        p.time_unix_nano,
                        mode,
                        res,
                        &at,
                        i,
                        |pt| histogram(pt, &name, p),
                    );
                }
            }
            Data::ExponentialHistogram(h) => {
                for (i, p) in h.data_points.iter().enumerate() {
                    self.point(
                        &p.attributes,
                        p.flags,
                        p.time_unix_nano,
                        mode,
                        res,
                        &at,
                        i,
                        |pt| {
                            // The OTLP spec bounds the scale; outside it bounds degenerate (all 1 or inf).
                            if !(-10..=20).contains(&p.scale) {
                                return Err(format!("scale: {} is outside -10..=20", p.scale));
                            }
                            let mut last = 0u64;
                            // One fixed `le` set for every point of every series (see
                            // `to_fixed_grid`): deltas accumulate bucket by bucket, and the
                            // SDK rescaling a cumulative histogram leaves no stale buckets.
                            for (le, cum) in exphist::to_fixed_grid(p) {
                                pt.push(
                                    &format!("{name}_bucket"),
                                    Some((LE, format_float(le))),
                                    cum as f64,
                                )?;
                                last = cum;
                            }
                            pt.push(
                                &format!("{name}_bucket"),
                                Some((LE, "+Inf".into())),
                                p.count.max(last) as f64,
                            )?;
                            if let Some(s) = p.sum {
                                pt.push(&format!("{name}_sum"), None, s)?;
                            }
                            pt.push(&format!("{name}_count"), None, p.count as f64)
                        },
                    );
                }
            }
            Data::Summary(s) => {
                for (i, p) in s.data_points.iter().enumerate() {
                    self.point(
                        &p.attributes,
                        p.flags,
                        p.time_unix_nano,
                        mode,
                        res,
                        &at,
                        i,
                        |pt| {
                            if p.quantile_values.len() > MAX_BUCKETS {
                                return Err(format!(
                                    "quantileValues: {} quantiles, more than the {MAX_BUCKETS} one point may have",
                                    p.quantile_values.len()
                                ));
                            }
                            for q in &p.quantile_values {
                                pt.push(
                                    &name,
                                    Some((QUANTILE, format_float(q.quantile))),
                                    q.value,
                                )?;
                            }
                            pt.push(&format!("{name}_sum"), None, p.sum)?;
                            pt.push(&format!("{name}_count"), None, p.count as f64)
                        },
                    );
                }
            }
        }
    }

    fn numbers(
        &mut self,
        points: &[opentelemetry_proto::tonic::metrics::v1::NumberDataPoint],
        name: &str,
        mode: SampleMode,
        res: &[(&'static str, String)],
        at: &str,
    ) {
        for (i, p) in points.iter().enumerate() {
            self.point(
                &p.attributes,
                p.flags,
                p.time_unix_nano,
                mode,
                res,
                at,
                i,
                |pt| {
                    let v = match p.value {
                        Some(number_data_point::Value::AsDouble(d)) => d,
                        Some(number_data_point::Value::AsInt(n)) => n as f64,
                        None => return Err("value: missing (neither asDouble nor asInt)".into()),
                    };
                    pt.push(name, None, v)
                },
            );
        }
    }

    /// Builds one data point's series with `build`; keeps them all or rejects the point.
    #[allow(clippy::too_many_arguments)]
    fn point(
        &mut self,
        attributes: &[KeyValue],
        flags: u32,
        time_unix_nano: u64,
        mode: SampleMode,
        res: &[(&'static str, String)],
        at: &str,
        i: usize,
        build: impl FnOnce(&mut Point<'_>) -> Result<(), String>,
    ) {
        if flags & DataPointFlags::NoRecordedValueMask as u32 != 0 {
            return;
        }
        let t = if time_unix_nano == 0 {
            self.now_ms
        } else {
            nanos(time_unix_nano) / NANOS_PER_MILLI
        };
        let result = point_labels(attributes, res).and_then(|base| {
            let mut pt = Point {
                base,
                mode,
                t,
                limits: self.limits,
                writes: Vec::new(),
            };
            build(&mut pt).map(|()| pt.writes)
        });
        match result {
            Ok(writes) => self.out.items.series.extend(writes),
            Err(e) => self.out.reject(format!("{at}.dataPoints[{i}]: {e}")),
        }
    }
}

/// Returns a data point's labels: attribute keys sanitised (values of keys that collide after
/// sanitising are joined with `;` in original-key order), then the resource's labels, which win.
fn point_labels(
    attributes: &[KeyValue],
    res: &[(&'static str, String)],
) -> Result<Vec<(String, String)>, String> {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for kv in sorted {
        let v = to_label_value(kv.value.as_ref())
            .map_err(|e| format!("attribute {:?}: {e}", kv.key))?;
        let k = naming::sanitize_label(&kv.key);
        match m.get_mut(&k) {
            Some(prev) if prev != &v => {
                prev.push(';');
                prev.push_str(&v);
            }
            Some(_) => {}
            None => {
                m.insert(k, v);
            }
        }
    }
    for (k, v) in res {
        m.insert((*k).to_string(), v.clone());
    }
    Ok(m.into_iter().collect())
}

/// Most explicit bounds (or summary quantiles) one data point may carry.
pub(crate) const MAX_BUCKETS: usize = 1000;

fn histogram(
    pt: &mut Point<'_>,
    name: &str,
    p: &opentelemetry_proto::tonic::metrics::v1::HistogramDataPoint,
) -> Result<(), String> {
    let bucket = format!("{name}_bucket");
    if !p.bucket_counts.is_empty() {
        // Each bound becomes a series: bound what one point may create before any store limit.
        if p.explicit_bounds.len() > MAX_BUCKETS {
            return Err(format!(
                "explicitBounds: {} bounds, more than the {MAX_BUCKETS} one point may have",
                p.explicit_bounds.len()
            ));
        }
        if p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
            return Err(format!(
                "bucketCounts: expected {} counts for {} explicitBounds, got {}",
                p.explicit_bounds.len() + 1,
                p.explicit_bounds.len(),
                p.bucket_counts.len()
            ));
        }
        if p.explicit_bounds.iter().any(|b| b.is_nan())
            || p.explicit_bounds
                .windows(2)
                .any(|w| matches!(w, [a, b] if a >= b))
        {
            return Err("explicitBounds: must be increasing numbers".into());
        }
        let mut cum = 0u64;
        for (le, c) in p.explicit_bounds.iter().zip(&p.bucket_counts) {
            cum = cum.saturating_add(*c);
            // A +Inf bound written explicitly is the implicit last bucket; skip the duplicate.
            if le.is_infinite() && *le > 0.0 {
                continue;
            }
            pt.push(&bucket, Some((LE, format_float(*le))), cum as f64)?;
        }
        let total = p
            .bucket_counts
            .iter()
            .fold(0u64, |a, c| a.saturating_add(*c));
        pt.push(&bucket, Some((LE, "+Inf".into())), total as f64)?;
    } else {
        pt.push(&bucket, Some((LE, "+Inf".into())), p.count as f64)?;
    }
    if let Some(s) = p.sum {
        pt.push(&format!("{name}_sum"), None, s)?;
    }
    pt.push(&format!("{name}_count"), None, p.count as f64)
}
