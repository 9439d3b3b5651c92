//! What the tool writes and reads: the blazar config with one rule per probe, the probe's
//! sample bodies, and the fields of a webhook notification it needs. Pure: text in, text out.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{anyhow, Context};
use serde_json::Value;

/// The metric every probe writes; rule `lat_<i>` selects `{probe="<i>"}`.
pub(crate) const PROBE_METRIC: &str = "latency.probe";
/// The notification channel's name in the written config.
pub(crate) const CHANNEL: &str = "hook";
/// The receiver's path.
pub(crate) const HOOK_PATH: &str = "/hook";
/// The receiver's path that only answers (the loopback baseline).
pub(crate) const PING_PATH: &str = "/ping";

/// Alerting settings written into the config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Alerting {
    pub(crate) probes: usize,
    pub(crate) group_interval: Duration,
    pub(crate) repeat_interval: Duration,
    pub(crate) evaluation_interval: Duration,
    /// The webhook channel's own timeout.
    pub(crate) webhook_timeout: Duration,
}

/// Writes a blazar config: rule `lat_<i>` fires when `latency.probe{probe="<i>"}` > 0.5, at
/// once (`duration: 0s`), notifying the webhook at `hook_url`; `group_wait: 0s` and
/// `group_by: [alertname, probe]`, so every probe's alert is its own group and its first
/// notification leaves in the pass that fired it. Built-in health rules are off.
pub(crate) fn config_yaml(a: Alerting, hook_url: &str) -> String {
    let mut out = String::with_capacity(a.probes * 160 + 512);
    let _ = writeln!(
        out,
        "# Written by blazar-alert-latency: {} rules lat_0..lat_{} over {PROBE_METRIC}{{probe=\"<i>\"}} > 0.5,\n\
         # duration 0s, each alert its own group (group_wait 0s), webhook {hook_url}.",
        a.probes,
        a.probes.saturating_sub(1)
    );
    let _ = writeln!(
        out,
        "alerting:\n  enabled: true\n  health_alerts: false\n  group_by: [alertname, probe]\n  \
         group_wait: 0s\n  group_interval: {}\n  repeat_interval: {}\n  evaluation_interval: {}\n  \
         channels:\n    - {{name: {CHANNEL}, type: webhook, config: {{url: \"{hook_url}\", timeout: {}}}}}\n  \
         rules:",
        human(a.group_interval),
        human(a.repeat_interval),
        human(a.evaluation_interval),
        human(a.webhook_timeout),
    );
    for i in 0..a.probes {
        let _ = writeln!(
            out,
            "    - {{id: lat_{i}, name: lat_{i}, metric: '{PROBE_METRIC}{{probe=\"{i}\"}}', condition: gt, \
             threshold: 0.5, duration: 0s, severity: warning, notification_channels: [{CHANNEL}]}}"
        );
    }
    out
}

/// The JSON body that sets probe `i` to `value` (1 crosses the threshold, 0 resolves) at
/// `t_ms`. The tool stamps its writes itself, 1 ms apart at least per probe: blazar stores no
/// sample for a write not newer than the series' last one, so a resolving write landing in the
/// crossing's millisecond would leave the alert firing.
pub(crate) fn probe_body(i: usize, value: u8, t_ms: i64) -> String {
    format!(
        "{{\"name\":\"{PROBE_METRIC}\",\"type\":\"gauge\",\"value\":{value},\"tags\":{{\"probe\":\"{i}\"}},\"timestamp\":\"{}\"}}",
        rfc3339_ms(t_ms)
    )
}

/// Formats Unix milliseconds as RFC 3339 UTC with milliseconds.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// One alert of a notification, as far as the tool cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoticeAlert {
    /// The `probe` label parsed as an index; `None` when missing or not a number.
    pub(crate) probe: Option<usize>,
    pub(crate) firing: bool,
    pub(crate) resolved: bool,
}

/// A webhook notification: when blazar made it (its `timestamp`) and its alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    pub(crate) timestamp_ns: Option<i64>,
    pub(crate) alerts: Vec<NoticeAlert>,
}

/// Reads a webhook body (`crates/alerting/src/channel/webhook.rs`): `timestamp` and each of
/// `alerts[]`'s `state` and `labels.probe`.
///
/// # Errors
/// Not JSON, or no `alerts` array.
pub(crate) fn parse_notice(body: &[u8]) -> anyhow::Result<Notice> {
    let v: Value = serde_json::from_slice(body).context("webhook body is not JSON")?;
    let timestamp_ns = v
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|s| blazar_ingest::parse_time_ns("timestamp", s).ok());
    let alerts = v
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("webhook body has no alerts array"))?
        .iter()
        .map(|a| {
            let state = a.get("state").and_then(Value::as_str).unwrap_or_default();
            NoticeAlert {
                probe: a
                    .get("labels")
                    .and_then(|l| l.get("probe"))
                    .and_then(Value::as_str)
                    .and_then(|p| p.parse().ok()),
                firing: state == "firing",
                resolved: state == "resolved",
            }
        })
        .collect();
    Ok(Notice {
        timestamp_ns,
        alerts,
    })
}

/// Parses `500ms`, `1s`, `1.5s`, `2m`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{s:?}: expected a unit (ms, s, m)"))?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number before the unit"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// Formats a duration the way blazar's config reads it, in whole milliseconds.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_a_rule_per_probe_and_no_group_wait() {
        let yaml = config_yaml(
            Alerting {
                probes: 3,
                group_interval: Duration::from_secs(1),
                repeat_interval: Duration::from_secs(3600),
                evaluation_interval: Duration::from_secs(1),
                webhook_timeout: Duration::from_secs(5),
            },
            "http://127.0.0.1:9/hook",
        );
        assert!(yaml.contains("  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 3600s\n"));
        assert!(yaml.contains("group_by: [alertname, probe]"));
        assert!(yaml.contains(
            "{name: hook, type: webhook, config: {url: \"http://127.0.0.1:9/hook\", timeout: 5s}}"
        ));
        assert!(yaml.contains(
            "- {id: lat_2, name: lat_2, metric: 'latency.probe{probe=\"2\"}', condition: gt, threshold: 0.5, duration: 0s"
        ));
        assert!(!yaml.contains("lat_3"));
    }

    #[test]
    fn probe_body_is_a_gauge_with_the_probe_tag() {
        let v: Value = serde_json::from_str(&probe_body(7, 1, 1_767_323_045_123)).unwrap();
        assert_eq!(v["name"], "latency.probe");
        assert_eq!(v["value"], 1);
        assert_eq!(v["tags"]["probe"], "7");
        assert_eq!(v["timestamp"], "2026-01-02T03:04:05.123Z");
    }

    #[test]
    fn timestamps_round_trip_through_blazars_parser() {
        for ms in [
            0,
            951_782_400_000,   // 2000-02-29
            1_767_323_045_123, // 2026-01-02
            4_107_542_399_999, // 2100-02-28T23:59:59.999
            1_709_251_199_001, // 2024-02-29T23:59:59.001
        ] {
            let s = rfc3339_ms(ms);
            assert_eq!(
                blazar_ingest::parse_time_ns("t", &s).unwrap(),
                ms * 1_000_000,
                "{s}"
            );
        }
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn notice_reads_timestamp_states_and_probes() {
        let body = br#"{"status":"firing","timestamp":"2026-01-02T03:04:05.000000123Z",
            "alerts":[{"state":"firing","labels":{"probe":"4","alertname":"lat_4"}},
                      {"state":"resolved","labels":{"probe":"x"}},
                      {"state":"firing","labels":{}}]}"#;
        let n = parse_notice(body).unwrap();
        assert_eq!(n.timestamp_ns, Some(1_767_323_045_000_000_123));
        assert_eq!(
            n.alerts,
            vec![
                NoticeAlert {
                    probe: Some(4),
                    firing: true,
                    resolved: false
                },
                NoticeAlert {
                    probe: None,
                    firing: false,
                    resolved: true
                },
                NoticeAlert {
                    probe: None,
                    firing: true,
                    resolved: false
                },
            ]
        );
        assert!(parse_notice(b"{}").is_err());
        assert!(parse_notice(b"nope").is_err());
    }

    #[test]
    fn durations_round_trip() {
        assert_eq!(parse_duration("50ms").unwrap(), Duration::from_millis(50));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5").is_err());
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_secs(2)), "2s");
    }
}
