//! `ExportLogsServiceRequest` → blazar log records. A record with malformed ids or over-deep
//! values is rejected alone (partial success).

use blazar_model::{LogRecord, Severity, SpanId, TraceId};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::logs::v1 as pb;

use crate::attrs::{self, to_json, to_map};
use crate::traces::nanos;
use crate::{ExportLogsServiceRequest, Mapped};

/// Maps every record of `req`; a record without any time gets `now_ns`.
pub fn map_logs(req: ExportLogsServiceRequest, now_ns: i64) -> Mapped<Vec<LogRecord>> {
    let mut out: Mapped<Vec<LogRecord>> = Mapped::default();
    for (ri, rl) in req.resource_logs.iter().enumerate() {
        let res = match attrs::resource(rl.resource.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                for _ in rl.scope_logs.iter().flat_map(|sl| &sl.log_records) {
                    out.reject(format!("resourceLogs[{ri}]: {e}"));
                }
                continue;
            }
        };
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            let scope = attrs::scope(sl.scope.as_ref());
            for (li, lr) in sl.log_records.iter().enumerate() {
                match record(lr, now_ns) {
                    Ok(mut r) => {
                        r.service.clone_from(&res.service);
                        r.resource = res.attrs.clone();
                        r.scope.clone_from(&scope);
                        out.items.push(r);
                    }
                    Err(e) => out.reject(format!(
                        "resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}].{e}"
                    )),
                }
            }
        }
    }
    out
}

/// Returns an optional id: empty or all-zero (W3C "invalid", i.e. no context) is `None`.
fn opt_id<T>(
    b: &[u8],
    parse: fn(&[u8]) -> Result<T, blazar_model::IdError>,
    field: &str,
) -> Result<Option<T>, String> {
    if b.iter().all(|x| *x == 0) {
        return Ok(None);
    }
    parse(b).map(Some).map_err(|e| format!("{field}: {e}"))
}

fn record(lr: &pb::LogRecord, now_ns: i64) -> Result<LogRecord, String> {
    let timestamp_ns = if lr.time_unix_nano > 0 {
        nanos(lr.time_unix_nano)
    } else if lr.observed_time_unix_nano > 0 {
        nanos(lr.observed_time_unix_nano)
    } else {
        now_ns
    };
    let severity_number = u8::try_from(lr.severity_number)
        .ok()
        .filter(|n| (1..=24).contains(n));
    let severity = severity_number
        .map(severity_of)
        .or_else(|| Severity::parse(lr.severity_text.trim()))
        .unwrap_or(Severity::Info);
    let (body, body_value) = match &lr.body {
        None => (String::new(), None),
        Some(v) => match &v.value {
            None => (String::new(), None),
            Some(any_value::Value::StringValue(s)) => (s.clone(), None),
            Some(_) => {
                let j = to_json(v).map_err(|e| format!("body: {e}"))?;
                let text = match &j {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (text, Some(j))
            }
        },
    };
    Ok(LogRecord {
        timestamp_ns,
        severity,
        body,
        service: String::new(),
        attributes: to_map(&lr.attributes).map_err(|m| format!("attributes: {m}"))?,
        trace_id: opt_id(&lr.trace_id, TraceId::from_bytes, "traceId")?,
        span_id: opt_id(&lr.span_id, SpanId::from_bytes, "spanId")?,
        resource: Default::default(),
        scope: None,
        severity_number,
        severity_text: (!lr.severity_text.is_empty()).then(|| lr.severity_text.clone()),
        event_name: (!lr.event_name.is_empty()).then(|| lr.event_name.clone()),
        body_value,
    })
}

/// Maps an OTLP severity number (1..=24) onto the six levels, four numbers each.
fn severity_of(n: u8) -> Severity {
    match n {
        1..=4 => Severity::Trace,
        5..=8 => Severity::Debug,
        9..=12 => Severity::Info,
        13..=16 => Severity::Warn,
        17..=20 => Severity::Error,
        _ => Severity::Fatal,
    }
}
