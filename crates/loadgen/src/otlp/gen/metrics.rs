//! Metric requests over a bounded set of series: each simulated process (a `service.instance.id`)
//! reports gauges, monotonic cumulative sums (int and double) and explicit-bucket histograms,
//! [`POINTS_PER_PROCESS`] data points in all. The pool's data points are numbered globally and
//! request `i` holds points `i * batch ..`, so no series is in two pooled requests: the sender
//! that owns a request is the only one writing its series, and per-send time and growth
//! rewrites keep every series moving forward.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{kv_int, kv_str, resource, scope, service_name, Spec, HTTP_ROUTES, TIME_BIAS_NS};

const BOUNDS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
const METHODS: [&str; 2] = ["GET", "POST"];
const CPU_STATES: [&str; 3] = ["user", "system", "idle"];
const CPUS: i64 = 4;

/// What one data point of a process is.
#[derive(Debug, Clone, Copy)]
enum Shape {
    MemoryGauge,
    CpuGauge {
        cpu: i64,
        state: usize,
    },
    RequestSum {
        route: usize,
        method: usize,
        code: i64,
    },
    CpuTimeSum {
        state: usize,
    },
    Duration {
        route: usize,
        method: usize,
    },
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Self::MemoryGauge => "process.memory.usage",
            Self::CpuGauge { .. } => "system.cpu.utilization",
            Self::RequestSum { .. } => "http.server.requests",
            Self::CpuTimeSum { .. } => "process.cpu.time",
            Self::Duration { .. } => "http.server.request.duration",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Self::MemoryGauge => "By",
            Self::CpuGauge { .. } => "1",
            Self::RequestSum { .. } => "{request}",
            Self::CpuTimeSum { .. } | Self::Duration { .. } => "s",
        }
    }

    /// Returns the samples blazar derives from one point: a histogram is a `_bucket` per
    /// bound plus `+Inf`, `_sum` and `_count`.
    fn samples(self) -> u64 {
        match self {
            Self::Duration { .. } => BOUNDS.len() as u64 + 3,
            _ => 1,
        }
    }
}

/// The data points of one process, in the order they are numbered.
fn shapes() -> Vec<Shape> {
    let mut v = vec![Shape::MemoryGauge];
    for cpu in 0..CPUS {
        for state in 0..CPU_STATES.len() {
            v.push(Shape::CpuGauge { cpu, state });
        }
    }
    for route in 0..HTTP_ROUTES.len() {
        for method in 0..METHODS.len() {
            for code in [200, 500] {
                v.push(Shape::RequestSum {
                    route,
                    method,
                    code,
                });
            }
        }
    }
    for state in 0..2 {
        v.push(Shape::CpuTimeSum { state });
    }
    for route in 0..HTTP_ROUTES.len() {
        for method in 0..METHODS.len() {
            v.push(Shape::Duration { route, method });
        }
    }
    v
}

/// Data points each simulated process reports.
pub(crate) const POINTS_PER_PROCESS: usize = 1 + 12 + 20 + 2 + 10;

/// Returns pooled request `index` and the samples blazar derives from it.
pub(super) fn request(spec: &Spec, index: usize) -> (ExportMetricsServiceRequest, u64) {
    let shapes = shapes();
    debug_assert_eq!(shapes.len(), POINTS_PER_PROCESS);
    let services = spec.services.max(1);
    let first = index * spec.batch;
    let mut resource_metrics: Vec<ResourceMetrics> = Vec::new();
    let mut samples = 0u64;
    let mut current: Option<usize> = None;
    for g in first..first + spec.batch {
        let process = g / POINTS_PER_PROCESS;
        let Some(shape) = shapes.get(g % POINTS_PER_PROCESS).copied() else {
            continue;
        };
        if current != Some(process) {
            current = Some(process);
            let service = service_name(process % services);
            resource_metrics.push(ResourceMetrics {
                resource: Some(resource(&service, process / services)),
                scope_metrics: vec![ScopeMetrics {
                    scope: scope(),
                    metrics: Vec::new(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            });
        }
        samples += shape.samples();
        // A point's values depend on its number only, not on where requests are cut.
        let mut rng =
            StdRng::seed_from_u64(spec.seed ^ (g as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let metrics = resource_metrics
            .last_mut()
            .and_then(|r| r.scope_metrics.last_mut())
            .map(|s| &mut s.metrics);
        if let Some(metrics) = metrics {
            push_point(metrics, shape, spec.start_ns, &mut rng);
        }
    }
    (ExportMetricsServiceRequest { resource_metrics }, samples)
}

/// Appends `shape`'s point to the last metric when it has the same name, else to a new metric.
fn push_point(metrics: &mut Vec<Metric>, shape: Shape, start_ns: u64, rng: &mut StdRng) {
    let same = metrics.last().is_some_and(|m| m.name == shape.name());
    if !same {
        let cumulative = AggregationTemporality::Cumulative as i32;
        let data = match shape {
            Shape::MemoryGauge | Shape::CpuGauge { .. } => Data::Gauge(Gauge::default()),
            Shape::RequestSum { .. } | Shape::CpuTimeSum { .. } => Data::Sum(Sum {
                data_points: Vec::new(),
                aggregation_temporality: cumulative,
                is_monotonic: true,
            }),
            Shape::Duration { .. } => Data::Histogram(Histogram {
                data_points: Vec::new(),
                aggregation_temporality: cumulative,
            }),
        };
        metrics.push(Metric {
            name: shape.name().into(),
            unit: shape.unit().into(),
            data: Some(data),
            ..Default::default()
        });
    }
    let Some(data) = metrics.last_mut().and_then(|m| m.data.as_mut()) else {
        return;
    };
    let number = |attributes: Vec<KeyValue>, value| NumberDataPoint {
        attributes,
        start_time_unix_nano: start_ns,
        time_unix_nano: TIME_BIAS_NS,
        value: Some(value),
        ..Default::default()
    };
    let route = |r: usize| HTTP_ROUTES.get(r).copied().unwrap_or("/");
    let method = |m: usize| METHODS.get(m).copied().unwrap_or("GET");
    // Cumulative placeholders are each series' growth per send; all positive, so they grow.
    match (data, shape) {
        (Data::Gauge(g), Shape::MemoryGauge) => g.data_points.push(number(
            Vec::new(),
            number_data_point::Value::AsDouble(f64::from(rng.gen_range(40u32..900)) * 1_048_576.0),
        )),
        (Data::Gauge(g), Shape::CpuGauge { cpu, state }) => g.data_points.push(number(
            vec![
                kv_int("cpu", cpu),
                kv_str("state", CPU_STATES.get(state).copied().unwrap_or("idle")),
            ],
            number_data_point::Value::AsDouble(f64::from(rng.gen_range(0u16..1000)) / 1000.0),
        )),
        (
            Data::Sum(s),
            Shape::RequestSum {
                route: r,
                method: m,
                code,
            },
        ) => {
            s.data_points.push(number(
                vec![
                    kv_str("http.route", route(r)),
                    kv_str("http.request.method", method(m)),
                    kv_int("http.response.status_code", code),
                ],
                number_data_point::Value::AsInt(if code == 200 {
                    rng.gen_range(5..200)
                } else {
                    rng.gen_range(1..4)
                }),
            ));
        }
        (Data::Sum(s), Shape::CpuTimeSum { state }) => s.data_points.push(number(
            vec![kv_str(
                "state",
                CPU_STATES.get(state).copied().unwrap_or("user"),
            )],
            number_data_point::Value::AsDouble(f64::from(rng.gen_range(1u16..500)) / 100.0),
        )),
        (
            Data::Histogram(h),
            Shape::Duration {
                route: r,
                method: m,
            },
        ) => {
            let mut bucket_counts: Vec<u64> =
                (0..=BOUNDS.len()).map(|_| rng.gen_range(0..30)).collect();
            if let Some(first) = bucket_counts.first_mut() {
                *first += 1;
            }
            let count = bucket_counts.iter().sum();
            let sum = BOUNDS
                .iter()
                .zip(&bucket_counts)
                .map(|(b, c)| b * 0.7 * *c as f64)
                .sum::<f64>()
                + 0.001;
            h.data_points.push(HistogramDataPoint {
                attributes: vec![
                    kv_str("http.route", route(r)),
                    kv_str("http.request.method", method(m)),
                ],
                start_time_unix_nano: start_ns,
                time_unix_nano: TIME_BIAS_NS,
                count,
                sum: Some(sum),
                bucket_counts,
                explicit_bounds: BOUNDS.to_vec(),
                ..Default::default()
            });
        }
        _ => {}
    }
}
