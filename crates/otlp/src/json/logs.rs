//! JSON → `ExportLogsServiceRequest`.

use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use serde_json::Value;

use super::common::{any_value, attributes, resource, scope};
use super::{as_obj, R};
use crate::ExportLogsServiceRequest;

pub(super) fn request(v: &Value) -> R<ExportLogsServiceRequest> {
    let f = as_obj(v)?;
    Ok(ExportLogsServiceRequest {
        resource_logs: f.list("resourceLogs", "resource_logs", resource_logs)?,
    })
}

fn resource_logs(v: &Value) -> R<ResourceLogs> {
    let f = as_obj(v)?;
    Ok(ResourceLogs {
        resource: resource(&f)?,
        scope_logs: f.list("scopeLogs", "scope_logs", scope_logs)?,
        schema_url: f.string("schemaUrl", "schema_url")?,
    })
}

fn scope_logs(v: &Value) -> R<ScopeLogs> {
    let f = as_obj(v)?;
    Ok(ScopeLogs {
        scope: scope(&f)?,
        log_records: f.list("logRecords", "log_records", record)?,
        schema_url: f.string("schemaUrl", "schema_url")?,
    })
}

fn record(v: &Value) -> R<LogRecord> {
    let f = as_obj(v)?;
    Ok(LogRecord {
        time_unix_nano: f.u64("timeUnixNano", "time_unix_nano")?,
        observed_time_unix_nano: f.u64("observedTimeUnixNano", "observed_time_unix_nano")?,
        severity_number: f.enumeration("severityNumber", "severity_number", |s| {
            SeverityNumber::from_str_name(s).map(|n| n as i32)
        })?,
        severity_text: f.string("severityText", "severity_text")?,
        body: f.with("body", "body", any_value)?,
        attributes: attributes(&f)?,
        dropped_attributes_count: f.u32("droppedAttributesCount", "dropped_attributes_count")?,
        flags: f.u32("flags", "flags")?,
        trace_id: f.id("traceId", "trace_id", 16)?,
        span_id: f.id("spanId", "span_id", 8)?,
        event_name: f.string("eventName", "event_name")?,
    })
}
