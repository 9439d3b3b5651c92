//! `blazar alerts` (active or resolved alerts), `blazar ack ID` (acknowledge one) and
//! `blazar rules` (every alert rule with its state, condition and last evaluation).

use std::io::{self, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::{Alert, AlertList, AlertSeverity, AlertState, Rule, RuleList};
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::output;
use super::term::{self, Colour, Paint, Painted};
use super::{query, Ctx};

#[derive(Debug, Args)]
#[command(
    after_help = "States and severities are coloured on a terminal; set NO_COLOR to \
turn that off."
)]
pub(crate) struct AlertsArgs {
    /// Only alerts in this state [default: the active ones, firing and pending].
    #[arg(long, value_enum, value_name = "STATE")]
    state: Option<StateFilter>,
    /// Only alerts seen (or resolved) since: a duration (`30s`, `1h`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only alerts of this service (the `service` label, else `job`).
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// Most alerts to list (newest first) [server default: 1000].
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

/// The states `--state` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StateFilter {
    Firing,
    Pending,
    Resolved,
}

impl StateFilter {
    fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Pending => "pending",
            Self::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 1 when the alert is unknown (404), already resolved (409) \
or the request fails."
)]
pub(crate) struct AckArgs {
    /// The alert's id, as `blazar alerts` lists it.
    id: String,
    /// Who acknowledges [default: $USER, else `cli`].
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
}

/// Lists alerts (active ones unless `--state` says otherwise), newest first, or the server's
/// JSON.
///
/// # Errors
/// The request failing, e.g. a `--since` the server does not understand (400).
pub(crate) async fn list(ctx: &Ctx, args: AlertsArgs) -> anyhow::Result<ExitCode> {
    let q = query(&[
        ("state", args.state.map(|s| s.as_str().to_string())),
        ("since", args.since),
        ("service", args.service),
        ("limit", args.limit.map(|n| n.to_string())),
    ]);
    let body = ctx.client.get_json(paths::ALERTS, &q).await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let list: AlertList = output::decode(body, "alerts")?;
        let mut out = io::stdout().lock();
        write_alerts(
            &mut out,
            &list.alerts,
            Utc::now(),
            term::terminal_columns(),
            Paint::for_stdout(),
        )?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Acknowledges one alert and prints who did, or the server's JSON (the alert).
///
/// # Errors
/// The request failing: an unknown id (404), a resolved alert (409).
pub(crate) async fn ack(ctx: &Ctx, args: AckArgs) -> anyhow::Result<ExitCode> {
    let by = args.by.unwrap_or_else(term::default_user);
    let body = ctx
        .client
        .post_json(&paths::alert_ack(&args.id), &json!({ "by": by }))
        .await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let alert: Alert = output::decode(body, "acknowledge")?;
        let id = if alert.id.is_empty() {
            &args.id
        } else {
            &alert.id
        };
        let who = alert.acknowledged_by.as_deref().unwrap_or(&by);
        writeln!(io::stdout().lock(), "acknowledged {id} by {who}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists every alert rule (configured, then built-in) with its state, or the server's JSON.
///
/// # Errors
/// The request failing.
pub(crate) async fn rules(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let body = ctx.client.get_json(paths::RULES, &[]).await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let list: RuleList = output::decode(body, "rules")?;
        let mut out = io::stdout().lock();
        write_rules(&mut out, &list.rules, Utc::now(), Paint::for_stdout())?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

// === colour ===

/// Firing red, pending yellow, resolved green, inactive dim.
fn state_colour(state: AlertState) -> Option<Colour> {
    match state {
        AlertState::Firing => Some(Colour::Red),
        AlertState::Pending => Some(Colour::Yellow),
        AlertState::Resolved => Some(Colour::Green),
        AlertState::Inactive => Some(Colour::Dim),
        AlertState::Unknown => None,
    }
}

/// Critical red, warning yellow, info (and unknown) plain.
fn severity_colour(severity: AlertSeverity) -> Option<Colour> {
    match severity {
        AlertSeverity::Critical => Some(Colour::Red),
        AlertSeverity::Warning => Some(Colour::Yellow),
        AlertSeverity::Info | AlertSeverity::Unknown => None,
    }
}

// === alerts ===

const ALERT_COLUMNS: [&str; 9] = [
    "ID", "STATE", "SEVERITY", "RULE", "SERVICE", "VALUE", "STARTED", "ACK", "MESSAGE",
];
const ALERT_STATE_COLUMN: usize = 1;
const ALERT_SEVERITY_COLUMN: usize = 2;

fn write_alerts(
    out: &mut impl Write,
    alerts: &[Alert],
    now: DateTime<Utc>,
    columns: usize,
    paint: Paint,
) -> io::Result<()> {
    if alerts.is_empty() {
        return writeln!(out, "no alerts");
    }
    let rows: Vec<Vec<String>> = alerts.iter().map(|a| alert_row(a, now)).collect();
    let painted: Vec<Vec<Painted<'_>>> = alerts
        .iter()
        .map(|a| {
            vec![
                Painted {
                    column: ALERT_STATE_COLUMN,
                    word: a.state.as_str(),
                    colour: state_colour(a.state),
                },
                Painted {
                    column: ALERT_SEVERITY_COLUMN,
                    word: a.severity.as_str(),
                    colour: severity_colour(a.severity),
                },
            ]
        })
        .collect();
    term::write_table(out, &ALERT_COLUMNS, rows, Some(columns), &painted, paint)
}

fn alert_row(a: &Alert, now: DateTime<Utc>) -> Vec<String> {
    vec![
        a.id.clone(),
        a.state.as_str().to_string(),
        a.severity.as_str().to_string(),
        term::or_dash(&a.rule_id),
        term::or_dash(a.service.as_deref().unwrap_or("")),
        a.value.map_or_else(|| "-".to_string(), output::number),
        ago(&a.started_at, now),
        term::or_dash(a.acknowledged_by.as_deref().unwrap_or("")),
        a.message.clone(),
    ]
}

// === rules ===

const RULE_COLUMNS: [&str; 8] = [
    "RULE",
    "NAME",
    "STATE",
    "SEVERITY",
    "CONDITION",
    "ALERTS",
    "LAST EVAL",
    "CHANNELS",
];
const RULE_STATE_COLUMN: usize = 2;
const RULE_SEVERITY_COLUMN: usize = 3;
/// Appended to a built-in rule's id.
const BUILTIN_MARK: &str = " *";

fn write_rules(
    out: &mut impl Write,
    rules: &[Rule],
    now: DateTime<Utc>,
    paint: Paint,
) -> io::Result<()> {
    if rules.is_empty() {
        return writeln!(
            out,
            "no alert rules (see alerting.rules and alerting.health_alerts in the config)"
        );
    }
    let rows: Vec<Vec<String>> = rules.iter().map(|r| rule_row(r, now)).collect();
    let painted: Vec<Vec<Painted<'_>>> = rules
        .iter()
        .map(|r| {
            vec![
                Painted {
                    column: RULE_STATE_COLUMN,
                    word: r.state.as_str(),
                    colour: state_colour(r.state),
                },
                Painted {
                    column: RULE_SEVERITY_COLUMN,
                    word: r.severity.as_str(),
                    colour: severity_colour(r.severity),
                },
            ]
        })
        .collect();
    term::write_table(out, &RULE_COLUMNS, rows, None, &painted, paint)?;
    if rules.iter().any(|r| r.builtin) {
        writeln!(
            out,
            "\n* built-in rule (alerting.health_alerts, alerting.trace_alerts)"
        )?;
    }
    for r in rules {
        if let Some(err) = r.last_error.as_deref().filter(|e| !e.is_empty()) {
            writeln!(out, "{}: last evaluation failed: {err}", r.id)?;
        }
        if r.dropped_instances > 0 {
            writeln!(
                out,
                "{}: {} alerts not tracked (too many series match)",
                r.id, r.dropped_instances
            )?;
        }
    }
    Ok(())
}

fn rule_row(r: &Rule, now: DateTime<Utc>) -> Vec<String> {
    let id = if r.builtin {
        format!("{}{BUILTIN_MARK}", r.id)
    } else {
        r.id.clone()
    };
    vec![
        id,
        term::or_dash(&r.name),
        r.state.as_str().to_string(),
        r.severity.as_str().to_string(),
        condition(r),
        r.alerts.len().to_string(),
        r.last_evaluation
            .as_deref()
            .map_or_else(|| "never".to_string(), |t| ago(t, now)),
        term::or_dash(&r.channels.join(",")),
    ]
}

/// `cpu.usage{host="a"} gt 90 for 2m`, `up absent for 30s`, plus `keep_firing_for 5m`.
fn condition(r: &Rule) -> String {
    let mut text = if r.condition == "absent" {
        format!("{} absent", r.metric)
    } else {
        format!(
            "{} {} {}",
            r.metric,
            r.condition,
            output::number(r.threshold)
        )
    };
    if r.duration_seconds > 0.0 {
        text.push_str(&format!(" for {}", span(r.duration_seconds)));
    }
    if r.keep_firing_for_seconds > 0.0 {
        text.push_str(&format!(
            " keep_firing_for {}",
            span(r.keep_firing_for_seconds)
        ));
    }
    text
}

/// A duration as written in the config: `500ms`, `30s`, `2m`, `1m30s`, `1h`, `2h5m`.
fn span(seconds: f64) -> String {
    if !seconds.is_finite() || seconds <= 0.0 {
        return "0s".to_string();
    }
    if seconds < 1.0 {
        return format!("{}ms", output::number((seconds * 1000.0).round()));
    }
    if seconds.fract() != 0.0 && seconds < 60.0 {
        return format!("{}s", output::number((seconds * 1000.0).round() / 1000.0));
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let mut text = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            text.push_str(&format!("{n}{unit}"));
        }
    }
    text
}

/// [`term::ago`], with an empty time (one the server left out) as `-`.
fn ago(ts: &str, now: DateTime<Utc>) -> String {
    if ts.is_empty() {
        return "-".to_string();
    }
    term::ago(ts, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T13:05:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The example from docs/API.md, plus a pending and a resolved alert.
    fn alerts_json() -> Value {
        json!({"alerts": [
            {"id": "6c1d2a0f93e1b7a4", "rule_id": "hot_cpu", "type": "resource",
             "severity": "critical", "service": "api", "message": "a at 95%",
             "labels": {"alertname": "HighCPU", "host": "a", "service": "api",
                        "severity": "critical"},
             "annotations": {"summary": "a at 95%"}, "value": 96.0, "state": "firing",
             "started_at": "2026-12-04T13:00:00.100Z", "fired_at": "2026-12-04T13:00:01.100Z",
             "last_seen": "2026-12-04T13:00:09.000Z", "resolved_at": null, "count": 12,
             "acknowledged_by": null, "acknowledged_at": null},
            {"id": "00000000000000ff", "rule_id": "slow", "type": "performance",
             "severity": "warning", "service": null,
             "message": "p99 latency is far above its target for the checkout flow",
             "value": 1.25, "state": "pending", "started_at": "2026-12-04T13:04:48Z",
             "acknowledged_by": "ops", "acknowledged_at": "2026-12-04T13:04:50Z",
             "added_later": true},
            {"id": "0123456789abcdef", "rule_id": "service_degraded", "type": "service_health",
             "severity": "info", "service": "db", "message": "", "value": null,
             "state": "resolved", "started_at": "2026-12-04T10:00:00Z",
             "resolved_at": "2026-12-04T11:00:00Z"}
        ]})
    }

    fn render_alerts(columns: usize, paint: Paint) -> String {
        let list: AlertList = serde_json::from_value(alerts_json()).unwrap();
        let mut out = Vec::new();
        write_alerts(&mut out, &list.alerts, now(), columns, paint).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn alerts_table_has_a_row_per_alert() {
        let text = render_alerts(200, Paint::Plain);
        assert_eq!(
            text,
            "ID                STATE     SEVERITY  RULE              SERVICE  VALUE  STARTED  \
             ACK  MESSAGE\n\
             6c1d2a0f93e1b7a4  firing    critical  hot_cpu           api      96     4m ago   \
             -    a at 95%\n\
             00000000000000ff  pending   warning   slow              -        1.25   12s ago  \
             ops  p99 latency is far above its target for the checkout flow\n\
             0123456789abcdef  resolved  info      service_degraded  db       -      3h ago   -\n"
        );
    }

    #[test]
    fn alerts_messages_are_cut_to_the_line_width() {
        let text = render_alerts(110, Paint::Plain);
        let slow = text.lines().find(|l| l.contains(" slow ")).unwrap();
        assert_eq!(slow.chars().count(), 110, "{slow}");
        assert!(slow.ends_with("  p99 latency is far ab..."), "{slow}");
        // Never below a readable minimum, however narrow the terminal.
        let text = render_alerts(10, Paint::Plain);
        let slow = text.lines().find(|l| l.contains(" slow ")).unwrap();
        assert!(slow.ends_with("  p99 latency is fa..."), "{slow}");
    }

    #[test]
    fn alerts_colour_state_and_severity_without_moving_columns() {
        let plain = render_alerts(200, Paint::Plain);
        let coloured = render_alerts(200, Paint::Colour);
        assert!(
            coloured.contains(
                "\n6c1d2a0f93e1b7a4  \x1b[31mfiring\x1b[0m    \x1b[31mcritical\x1b[0m  hot_cpu"
            ),
            "{coloured:?}"
        );
        assert!(
            coloured.contains("  \x1b[33mpending\x1b[0m   \x1b[33mwarning\x1b[0m   slow"),
            "{coloured:?}"
        );
        // Info stays plain.
        assert!(
            coloured.contains("  \x1b[32mresolved\x1b[0m  info      service_degraded"),
            "{coloured:?}"
        );
        let stripped = ["\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[0m"]
            .iter()
            .fold(coloured.clone(), |s, code| s.replace(code, ""));
        assert_eq!(stripped, plain);
        assert!(coloured.starts_with("ID  "), "header stays plain");
    }

    #[test]
    fn no_alerts_says_so() {
        let mut out = Vec::new();
        write_alerts(&mut out, &[], now(), 80, Paint::Colour).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "no alerts\n");
    }

    fn rules_json() -> Value {
        json!({"rules": [
            {"id": "hot_cpu", "name": "HighCPU", "description": "CPU is hot",
             "metric": "cpu.usage{host=\"a\"}", "condition": "gt", "threshold": 90.0,
             "duration_seconds": 120.0, "keep_firing_for_seconds": 0.0, "severity": "critical",
             "labels": {}, "annotations": {}, "channels": ["hook", "log"], "builtin": false,
             "state": "firing",
             "alerts": [alerts_json()["alerts"][0].clone()],
             "last_evaluation": "2026-12-04T13:04:58Z", "evaluation_time_ms": 0.1,
             "evaluations": 40, "last_error": null, "dropped_instances": 0,
             "interval_seconds": 15.0},
            {"id": "gone", "name": "", "metric": "up{job=\"x\"}", "condition": "absent",
             "threshold": 0.0, "duration_seconds": 30.0, "keep_firing_for_seconds": 90.0,
             "severity": "warning", "channels": [], "builtin": false, "state": "pending",
             "alerts": [{}], "last_evaluation": null, "last_error": "store unavailable",
             "dropped_instances": 3},
            {"id": "service_degraded", "name": "ServiceDegraded",
             "metric": "service.health.status", "condition": "eq", "threshold": 0.5,
             "duration_seconds": 0.0, "keep_firing_for_seconds": 0.0, "severity": "info",
             "channels": ["log"], "builtin": true, "state": "inactive", "alerts": [],
             "last_evaluation": "2026-12-04T13:04:59Z", "future": 1}
        ]})
    }

    fn render_rules(paint: Paint) -> String {
        let list: RuleList = serde_json::from_value(rules_json()).unwrap();
        let mut out = Vec::new();
        write_rules(&mut out, &list.rules, now(), paint).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rules_table_shows_conditions_state_and_builtins() {
        assert_eq!(
            render_rules(Paint::Plain),
            "RULE                NAME             STATE     SEVERITY  \
             CONDITION                                         ALERTS  LAST EVAL  CHANNELS\n\
             hot_cpu             HighCPU          firing    critical  \
             cpu.usage{host=\"a\"} gt 90 for 2m                  1       2s ago     hook,log\n\
             gone                -                pending   warning   \
             up{job=\"x\"} absent for 30s keep_firing_for 1m30s  1       never      -\n\
             service_degraded *  ServiceDegraded  inactive  info      \
             service.health.status eq 0.5                      0       1s ago     log\n\
             \n\
             * built-in rule (alerting.health_alerts, alerting.trace_alerts)\n\
             gone: last evaluation failed: store unavailable\n\
             gone: 3 alerts not tracked (too many series match)\n"
        );
    }

    #[test]
    fn rules_colour_state_and_severity() {
        let plain = render_rules(Paint::Plain);
        let coloured = render_rules(Paint::Colour);
        assert!(
            coloured.contains("  \x1b[31mfiring\x1b[0m    \x1b[31mcritical\x1b[0m  cpu.usage"),
            "{coloured:?}"
        );
        assert!(
            coloured.contains("  \x1b[2minactive\x1b[0m  info      service.health"),
            "{coloured:?}"
        );
        let stripped = ["\x1b[31m", "\x1b[2m", "\x1b[33m", "\x1b[0m"]
            .iter()
            .fold(coloured.clone(), |s, code| s.replace(code, ""));
        assert_eq!(stripped, plain);
    }

    #[test]
    fn no_rules_says_so() {
        let mut out = Vec::new();
        write_rules(&mut out, &[], now(), Paint::Plain).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("no alert rules"));
    }

    #[test]
    fn spans_read_like_config_durations() {
        assert_eq!(span(0.5), "500ms");
        assert_eq!(span(1.5), "1.5s");
        assert_eq!(span(30.0), "30s");
        assert_eq!(span(120.0), "2m");
        assert_eq!(span(90.0), "1m30s");
        assert_eq!(span(3600.0), "1h");
        assert_eq!(span(7500.0), "2h5m");
        assert_eq!(span(0.0), "0s");
    }

    #[test]
    fn relative_times() {
        assert_eq!(ago("2026-12-04T13:05:05Z", now()), "just now");
        assert_eq!(ago("2026-12-04T13:04:48Z", now()), "12s ago");
        assert_eq!(ago("2026-12-04T10:00:00Z", now()), "3h ago");
        assert_eq!(ago("2026-12-01T13:05:00Z", now()), "3d ago");
        assert_eq!(ago("", now()), "-");
        assert_eq!(ago("a while", now()), "a while");
    }

    #[test]
    fn state_filter_uses_the_wire_names() {
        for s in StateFilter::value_variants() {
            let name = s.to_possible_value().unwrap();
            assert_eq!(name.get_name(), s.as_str());
        }
    }
}
