//! Time units used across the model: samples in milliseconds, spans/events/logs in nanoseconds.

/// Milliseconds since the Unix epoch (metric samples, as Prometheus stores them).
pub type UnixMillis = i64;
/// Nanoseconds since the Unix epoch (spans, events, logs, as OTLP carries them).
pub type UnixNanos = i64;

/// Nanoseconds in one millisecond.
pub const NANOS_PER_MILLI: i64 = 1_000_000;

/// Returns `ns` as an RFC 3339 UTC timestamp with nanosecond precision where needed.
pub fn format_rfc3339_nanos(ns: UnixNanos) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => String::from("1970-01-01T00:00:00Z"),
    }
}
