//! The native API paths the CLI uses, in one place.

/// blazar's own health: `GET` → `{"status","checks","timestamp"}`.
pub const HEALTH: &str = "/health";
/// Ingest and store statistics: `GET`.
pub const STATS: &str = "/api/v1/telemetry/stats";
/// Metrics: `GET ?name=GLOB&limit=N`.
pub const METRICS: &str = "/api/v1/telemetry/metrics";
/// Events: `GET ?event_type=&source=&since=&batch_size=`, `POST` one event.
pub const EVENTS: &str = "/api/v1/telemetry/events";
/// Trace summaries: `GET ?since=&start=&end=&service=&operation=&plugin_id=&tag.KEY=&status=error&min_duration=&limit=`.
pub const TRACES: &str = "/api/v1/telemetry/traces";
/// Performance issues found in traces: `GET ?since=&pattern=&limit=`.
pub const TRACES_ANALYZE: &str = "/api/v1/telemetry/traces/analyze";
/// The service dependency graph: `GET`.
pub const SERVICES: &str = "/api/v1/telemetry/services";
/// The host now (CPU, memory, disks, network, blazar's process): `GET`.
pub const RESOURCES: &str = "/api/v1/telemetry/resources";
/// Logs: `GET ?service=&level=&q=&trace_id=&since=&limit=`.
pub const LOGS: &str = "/api/v1/telemetry/logs";

/// Returns the path of one trace, `GET` → spans, critical path and bottleneck. `trace_id` must
/// already be checked to be hex (it is put in the path as is).
pub fn trace(trace_id: &str) -> String {
    format!("{TRACES}/{trace_id}")
}
/// The live stream (SSE with `Accept: text/event-stream`): `GET ?types=a,b&service=`.
pub const STREAM: &str = "/api/v1/telemetry/stream";
/// The health monitor's services and overall status: `GET`.
pub const SERVICE_HEALTH: &str = "/api/v1/telemetry/health";

/// Returns the path of one monitored service, `GET` → its status and transitions. The name is
/// percent-encoded, so any name stays one path segment.
pub fn service_health(name: &str) -> String {
    let mut path = format!("{SERVICE_HEALTH}/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    path
}

/// Alerts: `GET ?state=firing|pending|resolved&since=&service=&limit=` (default: active ones).
pub const ALERTS: &str = "/api/v1/telemetry/alerts";
/// Alert rules with their state, active alerts and evaluation health: `GET`.
pub const RULES: &str = "/api/v1/telemetry/rules";

/// Returns the path of one alert, `GET` → the alert, active or resolved. The id is
/// percent-encoded, so any text stays one path segment.
pub fn alert(id: &str) -> String {
    let mut path = format!("{ALERTS}/");
    push_segment(&mut path, id);
    path
}

/// Returns the path that acknowledges one alert: `POST {"by": NAME}` → the alert.
pub fn alert_ack(id: &str) -> String {
    format!("{}/ack", alert(id))
}

/// Appends `text` percent-encoded as one path segment (unreserved characters kept).
fn push_segment(path: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Silences: `GET` → every silence with its state; `POST {"matchers", "duration" | "ends_at",
/// "starts_at"?, "created_by", "comment"}` → the silence.
pub const SILENCES: &str = "/api/v1/telemetry/silences";

/// Returns the path of one silence: `DELETE` → the silence, expired now (404 for an unknown id).
/// The id is percent-encoded, so any text stays one path segment.
pub fn silence(id: &str) -> String {
    let mut path = format!("{SILENCES}/");
    push_segment(&mut path, id);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_health_path_encodes_the_name() {
        assert_eq!(service_health("web-1"), "/api/v1/telemetry/health/web-1");
        assert_eq!(
            service_health("a/b c?é"),
            "/api/v1/telemetry/health/a%2Fb%20c%3F%C3%A9"
        );
    }

    #[test]
    fn alert_paths_encode_the_id() {
        assert_eq!(
            alert("6c1d2a0f93e1b7a4"),
            "/api/v1/telemetry/alerts/6c1d2a0f93e1b7a4"
        );
        assert_eq!(alert_ack("a/b c"), "/api/v1/telemetry/alerts/a%2Fb%20c/ack");
    }
}
