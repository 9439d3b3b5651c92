//! Output helpers shared by the client commands: JSON printing, decoding the wire types, and
//! formatting of times, numbers, durations and JSON for table cells.

use std::collections::BTreeMap;
use std::io::{self, Write};

use anyhow::Context;
use blazar_client::wire::DeserializeOwned;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Writes `value` as pretty JSON and a newline to stdout.
pub(crate) fn print_json(value: &Value) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).context("writing JSON to stdout")?;
    writeln!(out).context("writing to stdout")?;
    Ok(())
}

/// Decodes a server answer into its wire type; `what` names the endpoint in the error.
pub(crate) fn decode<T: DeserializeOwned>(value: Value, what: &str) -> anyhow::Result<T> {
    serde_json::from_value(value)
        .with_context(|| format!("unexpected {what} response from the server"))
}

/// Reports whether `err` is stdout's reader having gone away (`blazar tail | head`).
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Formats an RFC 3339 timestamp as `2024-01-02 15:04:05` UTC; other text is shown as given.
pub(crate) fn time(ts: &str) -> String {
    match DateTime::parse_from_rfc3339(ts) {
        Ok(t) => t
            .with_timezone(&Utc)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => ts.to_string(),
    }
}

/// Formats an RFC 3339 timestamp as `15:04:05.123` UTC, for the live stream.
pub(crate) fn clock(ts: &str) -> String {
    match DateTime::parse_from_rfc3339(ts) {
        Ok(t) => t.with_timezone(&Utc).format("%H:%M:%S%.3f").to_string(),
        Err(_) => ts.to_string(),
    }
}

/// Returns now as `15:04:05.123` UTC, for stream messages that carry no timestamp.
pub(crate) fn clock_now() -> String {
    clock(&Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Formats a float without a trailing `.0` for whole numbers, and with at most 6 significant
/// decimals otherwise.
pub(crate) fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.is_finite() {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        v.to_string()
    }
}

/// Formats a duration in milliseconds: `850µs`, `12.3ms`, `1.25s`, `2m05s`; `-` when unknown.
pub(crate) fn duration_ms(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_string(),
        Some(ms) if ms < 1.0 => format!("{:.0}µs", ms * 1000.0),
        Some(ms) if ms < 1000.0 => format!("{}ms", number((ms * 10.0).round() / 10.0)),
        Some(ms) if ms < 60_000.0 => format!("{:.2}s", ms / 1000.0),
        Some(ms) => {
            let secs = (ms / 1000.0).round() as u64;
            format!("{}m{:02}s", secs / 60, secs % 60)
        }
    }
}

/// Formats an uptime in seconds as `3d 4h 5m 6s`, leaving out leading zero units.
pub(crate) fn uptime(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    let (d, h, m, s) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let parts = [(d, "d"), (h, "h"), (m, "m")];
    let mut out: Vec<String> = parts
        .iter()
        .skip_while(|(n, _)| *n == 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    out.push(format!("{s}s"));
    out.join(" ")
}

/// Formats a byte count with a binary unit: `512B`, `1.5KiB`, `3.2MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = next;
    }
    format!("{v:.1}{unit}")
}

/// Formats tags as `k=v,k2=v2` (string values unquoted), sorted by key.
pub(crate) fn tags(tags: &BTreeMap<String, Value>) -> String {
    let parts: Vec<String> = tags
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    parts.join(",")
}

/// Compact JSON, cut to `max_chars` characters (with `...`).
pub(crate) fn compact_json(value: &Value, max_chars: usize) -> String {
    truncate(&value.to_string(), max_chars)
}

/// Cuts `text` to at most `max_chars` characters, ending in `...` when cut.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let keep = max_chars.saturating_sub(3);
    let mut out: String = text.chars().take(keep).collect();
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_render_in_utc() {
        assert_eq!(time("2024-03-01T12:30:45.123+02:00"), "2024-03-01 10:30:45");
        assert_eq!(clock("2024-03-01T12:30:45.123Z"), "12:30:45.123");
        assert_eq!(time("yesterday"), "yesterday");
    }

    #[test]
    fn numbers_drop_needless_decimals() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(1.0 / 3.0), "0.333333");
        assert_eq!(number(-2.5), "-2.5");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration_ms(None), "-");
        assert_eq!(duration_ms(Some(0.5)), "500µs");
        assert_eq!(duration_ms(Some(12.34)), "12.3ms");
        assert_eq!(duration_ms(Some(1250.0)), "1.25s");
        assert_eq!(duration_ms(Some(125_000.0)), "2m05s");
    }

    #[test]
    fn uptime_skips_leading_zero_units() {
        assert_eq!(uptime(5.9), "5s");
        assert_eq!(uptime(3661.0), "1h 1m 1s");
        assert_eq!(uptime(86_400.0 + 5.0), "1d 0h 0m 5s");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0MiB");
    }

    #[test]
    fn tags_and_json_cells() {
        let t: BTreeMap<String, Value> =
            [("b".to_string(), json!(2)), ("a".to_string(), json!("x"))].into();
        assert_eq!(tags(&t), "a=x,b=2");
        assert_eq!(
            compact_json(&json!({"k": "vvvvvvvvvv"}), 10),
            "{\"k\":\"v..."
        );
        assert_eq!(truncate("héllo", 5), "héllo");
    }
}
