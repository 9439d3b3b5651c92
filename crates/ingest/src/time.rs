//! Time parsing for payloads and query parameters: RFC 3339 or unix seconds.

use crate::InputError;

/// The current time in unix nanoseconds, passed in so translation stays pure.
pub type NowNs = i64;

/// Parses RFC 3339 (`2026-12-04T13:00:00Z`) or unix seconds (`1764853200`, `1764853200.5`).
///
/// # Errors
/// Anything else, naming `field`.
pub fn parse_time_ns(field: &str, s: &str) -> Result<i64, InputError> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_ns(field, secs);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            InputError::new(
                field,
                format!("expected an RFC 3339 time or unix seconds, got {s:?}"),
            )
        })
}

/// Converts unix seconds to nanoseconds, rejecting NaN and times outside 1970..2262.
pub(crate) fn secs_to_ns(field: &str, secs: f64) -> Result<i64, InputError> {
    if !secs.is_finite() || !(0.0..9.2e9).contains(&secs) {
        return Err(InputError::new(
            field,
            format!("expected unix seconds between 1970 and 2262, got {secs}"),
        ));
    }
    Ok((secs * 1e9) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_and_unix_seconds() {
        assert_eq!(
            parse_time_ns("t", "1970-01-01T00:00:01Z").unwrap(),
            1_000_000_000
        );
        assert_eq!(parse_time_ns("t", "1.5").unwrap(), 1_500_000_000);
        let e = parse_time_ns("since", "yesterday").unwrap_err();
        assert!(e.to_string().starts_with("since: expected an RFC 3339"));
        assert!(parse_time_ns("t", "-5").is_err());
    }
}
