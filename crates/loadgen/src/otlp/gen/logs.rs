//! Log requests: records from several services with a realistic severity mix (mostly INFO,
//! some WARN/ERROR, few FATAL), templated bodies, attributes of several types, and trace
//! context on about 70 % of records.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use rand::rngs::StdRng;
use rand::Rng;

use super::{
    kv_bool, kv_f64, kv_int, kv_str, resource, scope, service_name, span_id, trace_id, Spec,
    HTTP_ROUTES, TIME_BIAS_NS,
};

/// Records in one request are this far apart.
const RECORD_STAGGER_NS: u64 = 100_000;
/// Records of one trace (they share a trace id).
const RECORDS_PER_TRACE: u64 = 8;

/// Severity by cumulative weight out of 100.
const SEVERITIES: [(u32, SeverityNumber, &str); 6] = [
    (2, SeverityNumber::Trace, "TRACE"),
    (17, SeverityNumber::Debug, "DEBUG"),
    (77, SeverityNumber::Info, "INFO"),
    (90, SeverityNumber::Warn, "WARN"),
    (99, SeverityNumber::Error, "ERROR"),
    (100, SeverityNumber::Fatal, "FATAL"),
];

/// Returns a request of exactly `spec.batch` log records.
pub(super) fn request(spec: &Spec, rng: &mut StdRng) -> ExportLogsServiceRequest {
    let services = spec.services.max(1);
    let mut by_service: Vec<Vec<LogRecord>> = vec![Vec::new(); services];
    for n in 0..spec.batch as u64 {
        let service = rng.gen_range(0..services);
        let roll = rng.gen_range(0..100u32);
        let (severity, text) = SEVERITIES
            .iter()
            .find(|(w, _, _)| roll < *w)
            .map_or((SeverityNumber::Info, "INFO"), |(_, s, t)| (*s, *t));
        let route = HTTP_ROUTES
            .get(rng.gen_range(0..HTTP_ROUTES.len()))
            .copied()
            .unwrap_or("/");
        let ms = rng.gen_range(1..900);
        let body = match severity {
            SeverityNumber::Warn => format!("slow request to {route}: {ms} ms over budget"),
            SeverityNumber::Error | SeverityNumber::Fatal => {
                format!("request to {route} failed: upstream returned 503 after {ms} ms")
            }
            SeverityNumber::Trace | SeverityNumber::Debug => {
                format!("cache lookup for {route} key={:08x}", rng.gen::<u32>())
            }
            _ => format!("handled GET {route} in {ms} ms"),
        };
        let traced = rng.gen_bool(0.7);
        let time = TIME_BIAS_NS + n * RECORD_STAGGER_NS;
        let record = LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: time + 1_000_000,
            severity_number: severity as i32,
            severity_text: text.into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body)),
            }),
            attributes: vec![
                kv_str("http.route", route),
                kv_int("duration_ms", ms),
                kv_f64("load", f64::from(rng.gen_range(0u16..400)) / 100.0),
                kv_bool("retried", rng.gen_bool(0.1)),
                kv_str("code.function", "handle_request"),
            ],
            dropped_attributes_count: 0,
            flags: u32::from(traced),
            trace_id: if traced {
                trace_id(n / RECORDS_PER_TRACE)
            } else {
                Vec::new()
            },
            span_id: if traced { span_id(n) } else { Vec::new() },
            event_name: String::new(),
        };
        if let Some(v) = by_service.get_mut(service) {
            v.push(record);
        }
    }
    let resource_logs = by_service
        .into_iter()
        .enumerate()
        .filter(|(_, records)| !records.is_empty())
        .map(|(i, log_records)| ResourceLogs {
            resource: Some(resource(&service_name(i), 0)),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}
