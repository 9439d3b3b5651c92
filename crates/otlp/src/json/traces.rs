//! JSON → `ExportTraceServiceRequest`.

use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use serde_json::Value;

use super::common::{attributes, resource, scope};
use super::{as_obj, Fields, R};
use crate::ExportTraceServiceRequest;

pub(super) fn request(v: &Value) -> R<ExportTraceServiceRequest> {
    let f = as_obj(v)?;
    Ok(ExportTraceServiceRequest {
        resource_spans: f.list("resourceSpans", "resource_spans", resource_spans)?,
    })
}

fn resource_spans(v: &Value) -> R<ResourceSpans> {
    let f = as_obj(v)?;
    Ok(ResourceSpans {
        resource: resource(&f)?,
        scope_spans: f.list("scopeSpans", "scope_spans", scope_spans)?,
        schema_url: f.string("schemaUrl", "schema_url")?,
    })
}

fn scope_spans(v: &Value) -> R<ScopeSpans> {
    let f = as_obj(v)?;
    Ok(ScopeSpans {
        scope: scope(&f)?,
        spans: f.list("spans", "spans", one_span)?,
        schema_url: f.string("schemaUrl", "schema_url")?,
    })
}

fn one_span(v: &Value) -> R<Span> {
    let f = as_obj(v)?;
    Ok(Span {
        trace_id: f.id("traceId", "trace_id", 16)?,
        span_id: f.id("spanId", "span_id", 8)?,
        trace_state: f.string("traceState", "trace_state")?,
        parent_span_id: f.id("parentSpanId", "parent_span_id", 8)?,
        flags: f.u32("flags", "flags")?,
        name: f.string("name", "name")?,
        kind: f.enumeration("kind", "kind", |s| {
            span::SpanKind::from_str_name(s).map(|k| k as i32)
        })?,
        start_time_unix_nano: f.u64("startTimeUnixNano", "start_time_unix_nano")?,
        end_time_unix_nano: f.u64("endTimeUnixNano", "end_time_unix_nano")?,
        attributes: attributes(&f)?,
        dropped_attributes_count: f.u32("droppedAttributesCount", "dropped_attributes_count")?,
        events: f.list("events", "events", event)?,
        dropped_events_count: f.u32("droppedEventsCount", "dropped_events_count")?,
        links: f.list("links", "links", link)?,
        dropped_links_count: f.u32("droppedLinksCount", "dropped_links_count")?,
        status: f.message("status", "status", status)?,
    })
}

fn event(v: &Value) -> R<span::Event> {
    let f = as_obj(v)?;
    Ok(span::Event {
        time_unix_nano: f.u64("timeUnixNano", "time_unix_nano")?,
        name: f.string("name", "name")?,
        attributes: attributes(&f)?,
        dropped_attributes_count: f.u32("droppedAttributesCount", "dropped_attributes_count")?,
    })
}

fn link(v: &Value) -> R<span::Link> {
    let f = as_obj(v)?;
    Ok(span::Link {
        trace_id: f.id("traceId", "trace_id", 16)?,
        span_id: f.id("spanId", "span_id", 8)?,
        trace_state: f.string("traceState", "trace_state")?,
        attributes: attributes(&f)?,
        dropped_attributes_count: f.u32("droppedAttributesCount", "dropped_attributes_count")?,
        flags: f.u32("flags", "flags")?,
    })
}

fn status(f: Fields<'_>) -> R<Status> {
    Ok(Status {
        message: f.string("message", "message")?,
        code: f.enumeration("code", "code", |s| {
            status::StatusCode::from_str_name(s).map(|c| c as i32)
        })?,
    })
}
