//! The native API paths the CLI uses, in one place.

/// blazar's own health: `GET` → `{"status","checks","timestamp"}`.
pub const HEALTH: &str = "/health";
/// Ingest and store statistics: `GET`.
pub const STATS: &str = "/api/v1/telemetry/stats";
/// Metrics: `GET ?name=GLOB&limit=N`.
pub const METRICS: &str = "/api/v1/telemetry/metrics";
/// Events: `GET ?event_type=&source=&since=&batch_size=`, `POST` one event.
pub const EVENTS: &str = "/api/v1/telemetry/events";
/// Trace summaries: `GET ?since=&plugin_id=&service=&limit=`.
pub const TRACES: &str = "/api/v1/telemetry/traces";
/// The live stream (SSE with `Accept: text/event-stream`): `GET ?types=a,b&service=`.
pub const STREAM: &str = "/api/v1/telemetry/stream";
