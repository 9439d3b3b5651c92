//! Mapping rules that the fixtures do not exercise: bad ids, severities, timestamps, label
//! limits, exponential histograms, summaries, skipped points.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed test

use blazar_model::{Limits, SampleMode, Severity};
use blazar_otlp::{
    data_point_count, map_logs, map_metrics, map_traces, ExportLogsServiceRequest,
    ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile, AggregationTemporality, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

const NOW_NS: i64 = 1_700_000_000_123_456_789;

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn traces(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn good_span() -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "op".into(),
        ..Default::default()
    }
}

#[test]
fn wrong_size_and_zero_ids_reject_only_that_span() {
    let mut short = good_span();
    short.span_id = vec![1; 5];
    let mut zero = good_span();
    zero.trace_id = vec![0; 16];
    let mut bad_parent = good_span();
    bad_parent.parent_span_id = vec![1; 3];
    let mut zero_parent = good_span();
    zero_parent.parent_span_id = vec![0; 8];
    let out = map_traces(
        traces(vec![good_span(), short, zero, bad_parent, zero_parent]),
        NOW_NS,
    );
    assert_eq!(out.items.len(), 2);
    assert_eq!(out.rejected, 3);
    assert_eq!(
        out.errors[0],
        "resourceSpans[0].scopeSpans[0].spans[1].spanId: expected 16 hex characters, got 10"
    );
    assert!(
        out.errors[1].contains("traceId: all-zero"),
        "{:?}",
        out.errors
    );
    assert!(out.errors[2].contains("parentSpanId"), "{:?}", out.errors);
    assert_eq!(out.items[1].parent_span_id, None);
}

#[test]
fn end_before_start_is_kept_with_zero_duration() {
    let mut sp = good_span();
    sp.start_time_unix_nano = 2000;
    sp.end_time_unix_nano = 1000;
    let out = map_traces(traces(vec![sp]), NOW_NS);
    assert_eq!(out.items[0].duration_nanos(), Some(0));
}

fn logs(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s("svc"))],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn log_severity_comes_from_number_then_text_then_info() {
    let rec = |n: i32, t: &str| LogRecord {
        severity_number: n,
        severity_text: t.into(),
        ..Default::default()
    };
    let out = map_logs(
        logs(vec![
            rec(1, ""),
            rec(8, ""),
            rec(12, "ERROR"),
            rec(16, ""),
            rec(20, ""),
            rec(24, ""),
            rec(0, "Warning"),
            rec(0, "bogus"),
            rec(99, ""),
        ]),
        NOW_NS,
    );
    let sev: Vec<_> = out.items.iter().map(|r| r.severity).collect();
    use Severity::*;
    assert_eq!(
        sev,
        [Trace, Debug, Info, Warn, Error, Fatal, Warn, Info, Info]
    );
    assert_eq!(out.items[2].severity_text.as_deref(), Some("ERROR"));
    assert_eq!(out.items[0].severity_number, Some(1));
    assert_eq!(out.items[6].severity_number, None);
    assert_eq!(out.items[8].severity_number, None);
}

#[test]
fn log_time_falls_back_to_observed_then_now() {
    let out = map_logs(
        logs(vec![
            LogRecord {
                time_unix_nano: 5,
                observed_time_unix_nano: 7,
                ..Default::default()
            },
            LogRecord {
                observed_time_unix_nano: 7,
                ..Default::default()
            },
            LogRecord::default(),
        ]),
        NOW_NS,
    );
    let t: Vec<_> = out.items.iter().map(|r| r.timestamp_ns).collect();
    assert_eq!(t, [5, 7, NOW_NS]);
    assert!(out.items.iter().all(|r| r.service == "svc"));
}

#[test]
fn log_ids_empty_or_zero_are_none_and_wrong_size_rejects() {
    let out = map_logs(
        logs(vec![
            LogRecord {
                trace_id: vec![0; 16],
                span_id: vec![0; 8],
                ..Default::default()
            },
            LogRecord {
                trace_id: vec![1; 15],
                ..Default::default()
            },
            LogRecord {
                span_id: vec![1; 8],
                trace_id: vec![2; 16],
                ..Default::default()
            },
        ]),
        NOW_NS,
    );
    assert_eq!(out.rejected, 1);
    assert!(
        out.errors[0].contains("logRecords[1].traceId"),
        "{:?}",
        out.errors
    );
    assert_eq!(out.items[0].trace_id, None);
    assert!(out.items[1].span_id.is_some());
}

#[test]
fn structured_log_bodies_keep_value_and_json_text() {
    let body = AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: vec![
                kv("a", any_value::Value::IntValue(1)),
                kv("b", any_value::Value::DoubleValue(f64::INFINITY)),
            ],
        })),
    };
    let int_body = AnyValue {
        value: Some(any_value::Value::IntValue(42)),
    };
    let out = map_logs(
        logs(vec![
            LogRecord {
                body: Some(body),
                ..Default::default()
            },
            LogRecord {
                body: Some(int_body),
                ..Default::default()
            },
        ]),
        NOW_NS,
    );
    assert_eq!(out.items[0].body, r#"{"a":1,"b":"+Inf"}"#);
    assert_eq!(
        out.items[0].body_value,
        Some(serde_json::json!({"a": 1, "b": "+Inf"}))
    );
    assert_eq!(out.items[1].body, "42");
}

fn metrics(ms: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("api")),
                    kv("service.instance.id", s("i-1")),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: ms,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn num(attrs: Vec<KeyValue>, t: u64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

#[test]
fn bad_points_are_rejected_alone_and_flagged_points_skipped() {
    let long = "x".repeat(5000);
    let req = metrics(vec![Metric {
        name: "queue.size".into(),
        unit: "1".into(),
        data: Some(Data::Gauge(Gauge {
            data_points: vec![
                num(vec![kv("q", s("a"))], 0, 1.0),
                num(vec![kv("q", s(&long))], 0, 2.0),
                NumberDataPoint {
                    flags: 1,
                    ..num(vec![], 0, 3.0)
                },
                num(
                    vec![kv("9.x", s("b")), kv("job", s("mine"))],
                    3_000_000,
                    f64::NAN,
                ),
                NumberDataPoint {
                    value: None,
                    ..num(vec![], 0, 0.0)
                },
            ],
        })),
        ..Default::default()
    }]);
    assert_eq!(data_point_count(&req), 5);
    let out = map_metrics(req, NOW_NS, &Limits::default());
    assert_eq!(out.rejected, 2, "{:?}", out.errors);
    assert!(
        out.errors[0].contains("dataPoints[1]: tags.q"),
        "{:?}",
        out.errors
    );
    assert!(
        out.errors[1].contains("dataPoints[4]: value"),
        "{:?}",
        out.errors
    );
    let series = &out.items.series;
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].labels.name(), "queue_size_ratio");
    assert_eq!(series[0].samples[0].t, NOW_NS / 1_000_000);
    assert_eq!(series[0].labels.get("job"), Some("api"));
    assert_eq!(series[0].labels.get("instance"), Some("i-1"));
    assert_eq!(series[0].labels.get("service"), Some("api"));
    // Resource labels win over an attribute of the same name; keys are sanitised.
    assert_eq!(series[1].labels.get("job"), Some("api"));
    assert_eq!(series[1].labels.get("key_9_x"), Some("b"));
    assert_eq!(series[1].samples[0].t, 3);
    assert!(series[1].samples[0].v.is_nan());
    let fam = &out.items.families[0];
    assert_eq!(
        (fam.name.as_str(), fam.original.as_deref()),
        ("queue_size_ratio", Some("queue.size"))
    );
}

#[test]
fn colliding_label_keys_join_values() {
    let req = metrics(vec![Metric {
        name: "m".into(),
        data: Some(Data::Gauge(Gauge {
            data_points: vec![num(vec![kv("a.b", s("1")), kv("a_b", s("2"))], 0, 1.0)],
        })),
        ..Default::default()
    }]);
    let out = map_metrics(req, NOW_NS, &Limits::default());
    assert_eq!(out.items.series[0].labels.get("a_b"), Some("1;2"));
    assert_eq!(out.items.families[0].original, None);
}

#[test]
fn delta_monotonic_sum_is_a_delta_counter() {
    let req = metrics(vec![Metric {
        name: "http.requests".into(),
        unit: "{request}".into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![num(vec![], 1_000_000, 4.0)],
            aggregation_temporality: AggregationTemporality::Delta as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }]);
    let out = map_metrics(req, NOW_NS, &Limits::default());
    let s = &out.items.series[0];
    assert_eq!(s.labels.name(), "http_requests_total");
    assert_eq!(s.mode, SampleMode::Delta);
    assert_eq!(
        out.items.families[0].kind,
        blazar_model::MetricKind::Counter
    );
}

#[test]
fn exponential_histogram_becomes_classic_buckets() {
    let req = metrics(vec![Metric {
        name: "lat".into(),
        unit: "s".into(),
        data: Some(Data::ExponentialHistogram(ExponentialHistogram {
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            data_points: vec![ExponentialHistogramDataPoint {
                count: 10,
                sum: Some(12.5),
                scale: 0,
                zero_count: 1,
                positive: Some(Buckets {
                    offset: 0,
                    bucket_counts: vec![2, 3, 4],
                }),
                negative: Some(Buckets {
                    offset: 0,
                    bucket_counts: vec![0],
                }),
                time_unix_nano: 1_000_000,
                ..Default::default()
            }],
        })),
        ..Default::default()
    }]);
    let out = map_metrics(req, NOW_NS, &Limits::default());
    assert_eq!(out.rejected, 0, "{:?}", out.errors);
    let got: Vec<(String, f64)> = out
        .items
        .series
        .iter()
        .map(|s| {
            (
                format!(
                    "{}{{le={}}}",
                    s.labels.name(),
                    s.labels.get("le").unwrap_or("")
                ),
                s.samples[0].v,
            )
        })
        .collect();
    // Every point is written on the fixed 2^k grid (40 bounds, 2^-10 to 2^29) plus +Inf.
    let buckets = got.iter().filter(|(n, _)| n.contains("_bucket")).count();
    assert_eq!(buckets, 41);
    let shown = [
        "lat_seconds_bucket{le=1}",
        "lat_seconds_bucket{le=2}",
        "lat_seconds_bucket{le=4}",
        "lat_seconds_bucket{le=8}",
        "lat_seconds_bucket{le=16}",
        "lat_seconds_bucket{le=+Inf}",
        "lat_seconds_sum{le=}",
        "lat_seconds_count{le=}",
    ];
    let got: Vec<(String, f64)> = got
        .into_iter()
        .filter(|(n, _)| shown.contains(&n.as_str()))
        .collect();
    let want: Vec<(String, f64)> = [
        ("lat_seconds_bucket{le=1}", 1.0),
        ("lat_seconds_bucket{le=2}", 3.0),
        ("lat_seconds_bucket{le=4}", 6.0),
        ("lat_seconds_bucket{le=8}", 10.0),
        ("lat_seconds_bucket{le=16}", 10.0),
        ("lat_seconds_bucket{le=+Inf}", 10.0),
        ("lat_seconds_sum{le=}", 12.5),
        ("lat_seconds_count{le=}", 10.0),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), *b))
    .collect();
    assert_eq!(got, want);
    assert_eq!(
        out.items.families[0].kind,
        blazar_model::MetricKind::Histogram
    );
}

#[test]
fn summary_becomes_quantile_series() {
    let req = metrics(vec![Metric {
        name: "rpc.latency".into(),
        unit: "ms".into(),
        data: Some(Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                count: 4,
                sum: 10.0,
                quantile_values: vec![
                    ValueAtQuantile {
                        quantile: 0.5,
                        value: 2.0,
                    },
                    ValueAtQuantile {
                        quantile: 0.99,
                        value: 4.0,
                    },
                ],
                time_unix_nano: 1_000_000,
                ..Default::default()
            }],
        })),
        ..Default::default()
    }]);
    let out = map_metrics(req, NOW_NS, &Limits::default());
    let names: Vec<String> = out
        .items
        .series
        .iter()
        .map(|s| s.labels.to_string())
        .collect();
    assert_eq!(names.len(), 4);
    assert!(
        names[0].starts_with("rpc_latency_milliseconds{") && names[0].contains("quantile=\"0.5\""),
        "{names:?}"
    );
    assert!(names[1].contains("quantile=\"0.99\""), "{names:?}");
    assert!(
        names[2].starts_with("rpc_latency_milliseconds_sum{"),
        "{names:?}"
    );
    assert!(out
        .items
        .series
        .iter()
        .all(|s| s.mode == SampleMode::Absolute));
}
