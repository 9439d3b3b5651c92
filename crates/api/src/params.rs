//! Query-parameter parsing shared by handlers: durations (`500ms` … `7d`) and times
//! (RFC 3339, unix seconds, or a duration meaning "that long ago").

use blazar_config::HumanDuration;

use crate::ApiError;

/// Parses `since`-style values: a duration ago (`1h`) or an absolute time.
pub(crate) fn time_or_ago(field: &str, s: &str, now_ns: i64) -> Result<i64, ApiError> {
    if let Ok(d) = HumanDuration::parse(s) {
        if s.chars().any(|c| c.is_ascii_alphabetic()) {
            let ago = i64::try_from(d.0.as_nanos()).unwrap_or(i64::MAX);
            return Ok(now_ns.saturating_sub(ago));
        }
    }
    blazar_ingest::parse_time_ns(field, s).map_err(ApiError::from)
}

/// Parses a duration parameter into nanoseconds.
pub(crate) fn duration_ns(field: &str, s: &str) -> Result<i64, ApiError> {
    HumanDuration::parse(s)
        .map(|d| i64::try_from(d.0.as_nanos()).unwrap_or(i64::MAX))
        .map_err(|e| ApiError::invalid(field, e))
}

/// Parses a positive count, capped at `max`.
pub(crate) fn count(field: &str, s: &str, max: usize) -> Result<usize, ApiError> {
    match s.parse::<usize>() {
        Ok(0) | Err(_) => Err(ApiError::invalid(
            field,
            format!("expected a positive integer, got {s:?}"),
        )),
        Ok(n) => Ok(n.min(max)),
    }
}

/// Returns the current time in unix nanoseconds (the one clock read per request).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Parses optional query parameter `key` as a count (see [`count`]).
pub(crate) fn opt_count(
    q: &std::collections::HashMap<String, String>,
    key: &str,
    max: usize,
) -> Result<Option<usize>, ApiError> {
    q.get(key).map(|v| count(key, v, max)).transpose()
}

/// Parses optional query parameter `key` as a time or a duration ago (see [`time_or_ago`]).
pub(crate) fn opt_time(
    q: &std::collections::HashMap<String, String>,
    key: &str,
    now_ns: i64,
) -> Result<Option<i64>, ApiError> {
    q.get(key).map(|v| time_or_ago(key, v, now_ns)).transpose()
}
