//! `blazar health [SERVICE]`: the health monitor's view of the services it checks — a table of
//! all of them with the overall status, or one service in detail with its transitions.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::{HealthOverview, HealthStatus, ServiceHealth, WatchedProcess};
use chrono::{DateTime, Utc};
use clap::Args;

use super::output;
use super::table::Table;
use super::Ctx;

/// The MESSAGE column is cut to what is left of the terminal, but never below this.
const MIN_MESSAGE_WIDTH: usize = 20;
/// The line width assumed when `$COLUMNS` is not set.
const DEFAULT_COLUMNS: usize = 120;

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when the overall status (or SERVICE's) is healthy, \
degraded or unknown; 1 when it is unhealthy or the request fails (as `blazar status`).\n\
Statuses are coloured on a terminal; set NO_COLOR to turn that off."
)]
pub(crate) struct HealthArgs {
    /// Show this one service in detail, with its status transitions.
    service: Option<String>,
}

/// Prints every monitored service (or one, in detail), or the server's JSON; exits 1 when the
/// status shown is unhealthy.
///
/// # Errors
/// The request failing, e.g. a service the server does not monitor (404).
pub(crate) async fn run(ctx: &Ctx, args: HealthArgs) -> anyhow::Result<ExitCode> {
    let paint = Paint::for_stdout();
    let status = match &args.service {
        None => {
            let body = ctx.client.get_json(paths::SERVICE_HEALTH, &[]).await?;
            let overview: HealthOverview = output::decode(body.clone(), "health")?;
            if ctx.json {
                output::print_json(&body)?;
            } else {
                let now = server_now(&overview);
                let mut out = io::stdout().lock();
                write_overview(&mut out, &overview, now, terminal_columns(), paint)?;
                out.flush()?;
            }
            overview.status
        }
        Some(name) => {
            let body = ctx
                .client
                .get_json(&paths::service_health(name), &[])
                .await?;
            let service: ServiceHealth = output::decode(body.clone(), "service health")?;
            if ctx.json {
                output::print_json(&body)?;
            } else {
                let mut out = io::stdout().lock();
                write_detail(&mut out, &service, Utc::now(), paint)?;
                out.flush()?;
            }
            service.status
        }
    };
    Ok(exit_code(status))
}

fn exit_code(status: HealthStatus) -> ExitCode {
    match status {
        HealthStatus::Unhealthy => ExitCode::FAILURE,
        HealthStatus::Healthy | HealthStatus::Degraded | HealthStatus::Unknown => ExitCode::SUCCESS,
    }
}

/// "Now" for relative times: the server's clock when the answer carries it, so a skewed client
/// clock does not show changes in the future.
fn server_now(overview: &HealthOverview) -> DateTime<Utc> {
    overview
        .timestamp
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// The terminal width the table should fit in, from `$COLUMNS`.
fn terminal_columns() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_COLUMNS)
}

// === colour ===

/// Whether statuses are written with ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paint {
    Plain,
    Colour,
}

impl Paint {
    /// Colour only on a terminal, and not when `NO_COLOR` is set to anything non-empty
    /// (<https://no-color.org>).
    fn for_stdout() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if io::stdout().is_terminal() && !no_color {
            Self::Colour
        } else {
            Self::Plain
        }
    }

    /// Returns `text` in the colour of `status`: green, yellow, red, dim.
    fn status(self, status: HealthStatus, text: &str) -> String {
        if self == Self::Plain {
            return text.to_string();
        }
        let code = match status {
            HealthStatus::Healthy => "32",
            HealthStatus::Degraded => "33",
            HealthStatus::Unhealthy => "31",
            HealthStatus::Unknown => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

// === the overview ===

const COLUMNS: [&str; 9] = [
    "SERVICE",
    "STATUS",
    "CRIT",
    "CHECK",
    "RESPONSE",
    "ERRORS",
    "DEPENDENCIES",
    "LAST CHANGE",
    "MESSAGE",
];
/// Index of the STATUS column, coloured after layout (colour codes would upset the widths).
const STATUS_COLUMN: usize = 1;

fn write_overview(
    out: &mut impl Write,
    o: &HealthOverview,
    now: DateTime<Utc>,
    columns: usize,
    paint: Paint,
) -> io::Result<()> {
    let s = &o.summary;
    writeln!(
        out,
        "overall: {}  ({} healthy, {} degraded, {} unhealthy, {} unknown)",
        paint.status(o.status, o.status.as_str()),
        s.healthy,
        s.degraded,
        s.unhealthy,
        s.unknown
    )?;
    if o.services.is_empty() {
        return writeln!(
            out,
            "no services are monitored (see health.services in the config)"
        );
    }
    writeln!(out)?;
    let mut rows: Vec<Vec<String>> = o.services.iter().map(|svc| row(svc, now)).collect();
    // Widths of every column but MESSAGE, to cut messages to what is left of the line.
    let mut widths: Vec<usize> = COLUMNS.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let used: usize = widths.iter().take(COLUMNS.len() - 1).map(|w| w + 2).sum();
    let budget = columns.saturating_sub(used).max(MIN_MESSAGE_WIDTH);
    let mut t = Table::new(&COLUMNS);
    for r in &mut rows {
        if let Some(message) = r.last_mut() {
            *message = output::truncate(message, budget);
        }
        t.row(r.clone());
    }
    let mut text = Vec::new();
    t.write(&mut text)?;
    let text = String::from_utf8_lossy(&text);
    let status_at: usize = widths.iter().take(STATUS_COLUMN).map(|w| w + 2).sum();
    let mut lines = text.lines();
    if let Some(header) = lines.next() {
        writeln!(out, "{header}")?;
    }
    for (line, svc) in lines.zip(&o.services) {
        writeln!(out, "{}", paint_cell(line, status_at, svc.status, paint))?;
    }
    Ok(())
}

/// Colours the status word that starts `at` characters into `line`; leaves the line as is if
/// it is not there.
fn paint_cell(line: &str, at: usize, status: HealthStatus, paint: Paint) -> String {
    let word = status.as_str();
    let split = line.char_indices().nth(at).map(|(i, _)| i);
    match split.map(|i| line.split_at(i)) {
        Some((head, tail)) if tail.starts_with(word) => {
            let rest = tail.get(word.len()..).unwrap_or("");
            format!("{head}{}{rest}", paint.status(status, word))
        }
        _ => line.to_string(),
    }
}

fn row(svc: &ServiceHealth, now: DateTime<Utc>) -> Vec<String> {
    let mut message = svc.message.clone().unwrap_or_default();
    if !svc.affected_by.is_empty() {
        let note = format!("affected by {}", svc.affected_by.join(", "));
        message = if message.is_empty() {
            note
        } else {
            format!("{note}: {message}")
        };
    }
    vec![
        svc.name.clone(),
        svc.status.as_str().to_string(),
        or_dash(&svc.criticality),
        or_dash(&svc.check),
        output::duration_ms(svc.response_time_ms),
        svc.error_count.to_string(),
        dependencies(svc),
        svc.last_change
            .as_deref()
            .map_or_else(|| "-".to_string(), |t| ago(t, now)),
        message,
    ]
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}

/// `db=unhealthy,cache=healthy`, or `-` for none.
fn dependencies(svc: &ServiceHealth) -> String {
    if svc.dependencies.is_empty() {
        return "-".to_string();
    }
    let parts: Vec<String> = svc
        .dependencies
        .iter()
        .map(|(name, status)| format!("{name}={}", status.as_str()))
        .collect();
    parts.join(",")
}

/// Formats how long before `now` the RFC 3339 time `ts` was: `12s ago`, `5m ago`, `3h ago`,
/// `2d ago`; a time after `now` is `just now`; other text is shown as given.
fn ago(ts: &str, now: DateTime<Utc>) -> String {
    let Ok(t) = DateTime::parse_from_rfc3339(ts) else {
        return ts.to_string();
    };
    let secs = (now - t.with_timezone(&Utc)).num_seconds();
    match secs {
        ..=0 => "just now".to_string(),
        1..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

// === one service ===

fn write_detail(
    out: &mut impl Write,
    svc: &ServiceHealth,
    now: DateTime<Utc>,
    paint: Paint,
) -> io::Result<()> {
    writeln!(
        out,
        "{}: {}",
        svc.name,
        paint.status(svc.status, svc.status.as_str())
    )?;
    let when = |t: &Option<String>| {
        t.as_deref().map_or_else(
            || "never".to_string(),
            |t| format!("{} ({})", output::time(t), ago(t, now)),
        )
    };
    let check = match (svc.check.as_str(), svc.target.as_str()) {
        ("", "") => "-".to_string(),
        (kind, "") => kind.to_string(),
        ("", target) => target.to_string(),
        (kind, target) => format!("{kind} {target}"),
    };
    let mut fields: Vec<(&str, String)> = vec![
        ("criticality", or_dash(&svc.criticality)),
        ("check", check),
        ("message", or_dash(svc.message.as_deref().unwrap_or(""))),
        ("response", output::duration_ms(svc.response_time_ms)),
        ("last check", when(&svc.last_check)),
        ("last passed", when(&svc.last_seen)),
        ("last change", when(&svc.last_change)),
        (
            "errors",
            format!(
                "{} in a row; {} of {} checks failed",
                svc.error_count, svc.failures_total, svc.checks_total
            ),
        ),
        ("dependencies", dependencies(svc)),
    ];
    if !svc.affected_by.is_empty() {
        fields.push(("affected by", svc.affected_by.join(", ")));
    }
    if let Some(p) = &svc.process {
        fields.push(("process", process(p)));
    }
    let label_width = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in &fields {
        writeln!(out, "  {label:label_width$}  {value}")?;
    }
    writeln!(out)?;
    if svc.transitions.is_empty() {
        return writeln!(out, "no transitions recorded");
    }
    // The server sends them oldest first, so the newest is last, next to the prompt.
    let mut t = Table::new(&["TIME", "CHANGE", "MESSAGE"]);
    for tr in &svc.transitions {
        t.row(vec![
            output::time(&tr.at),
            format!("{} → {}", tr.from.as_str(), tr.to.as_str()),
            tr.message.clone().unwrap_or_default(),
        ]);
    }
    t.write(out)
}

/// `pid 123, alive, cpu 1.5%, memory 1.2MiB (message)`.
fn process(p: &WatchedProcess) -> String {
    let mut parts = vec![p
        .pid
        .map_or_else(|| "no pid".to_string(), |pid| format!("pid {pid}"))];
    parts.push(if p.alive { "alive" } else { "not running" }.to_string());
    if let Some(cpu) = p.cpu_percent {
        parts.push(format!("cpu {cpu:.1}%"));
    }
    if let Some(m) = p.memory_bytes {
        parts.push(format!("memory {}", output::bytes(m)));
    }
    let mut text = parts.join(", ");
    if let Some(m) = p.message.as_deref().filter(|m| !m.is_empty()) {
        text.push_str(&format!(" ({m})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T18:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The overview from the API description, with one service per status.
    fn overview_json() -> Value {
        json!({
            "status": "degraded",
            "timestamp": "2026-12-04T18:00:00.123Z",
            "summary": {"healthy": 3, "degraded": 1, "unhealthy": 0, "unknown": 0},
            "services": [
                {"name": "api", "status": "degraded", "criticality": "critical", "check": "http",
                 "target": "http://127.0.0.1:8081/health", "last_seen": "2026-12-04T17:59:00Z",
                 "last_check": "2026-12-04T18:00:00Z", "last_change": "2026-12-04T17:59:48Z",
                 "response_time_ms": 1.23, "error_count": 0, "checks_total": 10,
                 "failures_total": 2, "message": "HTTP 200",
                 "dependencies": {"db": "unhealthy"}, "affected_by": ["db"], "process": null,
                 "added_later": {"x": 1}},
                {"name": "db", "status": "healthy", "criticality": "important", "check": "tcp",
                 "target": "127.0.0.1:5432", "last_seen": null, "last_check": null,
                 "last_change": "2026-12-04T15:00:00Z", "response_time_ms": 0.4,
                 "error_count": 3, "checks_total": 4, "failures_total": 3,
                 "message": "connection refused by the server after a long wait in the queue",
                 "dependencies": {}, "affected_by": [], "process": null},
                {"name": "worker", "status": "healthy", "criticality": "optional",
                 "check": "process", "target": "worker", "last_change": null,
                 "response_time_ms": null, "message": "",
                 "process": {"pid": 123, "alive": true, "cpu_percent": 1.5,
                             "memory_bytes": 1234567, "message": ""}}
            ]
        })
    }

    fn render_overview(o: &HealthOverview, columns: usize, paint: Paint) -> String {
        let mut out = Vec::new();
        write_overview(&mut out, o, now(), columns, paint).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn overview_shows_summary_and_a_row_per_service() {
        let o: HealthOverview = serde_json::from_value(overview_json()).unwrap();
        let text = render_overview(&o, 200, Paint::Plain);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "overall: degraded  (3 healthy, 1 degraded, 0 unhealthy, 0 unknown)"
        );
        assert_eq!(lines[1], "");
        assert_eq!(
            lines[2],
            "SERVICE  STATUS    CRIT       CHECK    RESPONSE  ERRORS  DEPENDENCIES  \
             LAST CHANGE  MESSAGE"
        );
        assert_eq!(
            lines[3],
            "api      degraded  critical   http     1.2ms     0       db=unhealthy  \
             12s ago      affected by db: HTTP 200"
        );
        assert_eq!(
            lines[4],
            "db       healthy   important  tcp      400µs     3       -             \
             3h ago       connection refused by the server after a long wait in the queue"
        );
        assert_eq!(
            lines[5],
            "worker   healthy   optional   process  -         0       -             -"
        );
        assert_eq!(lines.len(), 6, "{text}");
    }

    #[test]
    fn overview_cuts_messages_to_the_line_width() {
        let o: HealthOverview = serde_json::from_value(overview_json()).unwrap();
        let text = render_overview(&o, 110, Paint::Plain);
        let db = text.lines().find(|l| l.starts_with("db ")).unwrap();
        assert_eq!(db.chars().count(), 110, "{db}");
        assert!(db.ends_with("connection refused by t..."), "{db}");
        // Never below a readable minimum, however narrow the terminal.
        let text = render_overview(&o, 10, Paint::Plain);
        let db = text.lines().find(|l| l.starts_with("db ")).unwrap();
        assert!(db.ends_with("  connection refuse..."), "{db}");
    }

    #[test]
    fn colours_statuses_without_moving_columns() {
        let o: HealthOverview = serde_json::from_value(overview_json()).unwrap();
        let plain = render_overview(&o, 200, Paint::Plain);
        let coloured = render_overview(&o, 200, Paint::Colour);
        assert!(
            coloured.starts_with("overall: \x1b[33mdegraded\x1b[0m  (3 healthy"),
            "{coloured}"
        );
        assert!(
            coloured.contains("\napi      \x1b[33mdegraded\x1b[0m  critical "),
            "{coloured}"
        );
        assert!(
            coloured.contains("\ndb       \x1b[32mhealthy\x1b[0m   important "),
            "{coloured}"
        );
        let stripped = coloured
            .replace("\x1b[33m", "")
            .replace("\x1b[32m", "")
            .replace("\x1b[0m", "");
        assert_eq!(stripped, plain);
        assert_eq!(
            Paint::Colour.status(HealthStatus::Unhealthy, "x"),
            "\x1b[31mx\x1b[0m"
        );
        assert_eq!(
            Paint::Colour.status(HealthStatus::Unknown, "x"),
            "\x1b[2mx\x1b[0m"
        );
    }

    #[test]
    fn no_services_says_so() {
        let o: HealthOverview = serde_json::from_value(json!({"status": "unknown"})).unwrap();
        let text = render_overview(&o, 80, Paint::Plain);
        assert_eq!(
            text,
            "overall: unknown  (0 healthy, 0 degraded, 0 unhealthy, 0 unknown)\n\
             no services are monitored (see health.services in the config)\n"
        );
    }

    #[test]
    fn detail_lists_fields_process_and_transitions_newest_last() {
        let mut svc = overview_json()["services"][0].clone();
        svc["process"] = json!({"pid": 123, "alive": false, "cpu_percent": null,
                                "memory_bytes": 1234567, "message": "exited"});
        svc["transitions"] = json!([
            {"from": "unknown", "to": "healthy", "at": "2026-12-04T17:50:00Z", "message": "HTTP 200"},
            {"from": "healthy", "to": "degraded", "at": "2026-12-04T17:59:48Z",
             "message": "dependency db unhealthy"}
        ]);
        let svc: ServiceHealth = serde_json::from_value(svc).unwrap();
        let mut out = Vec::new();
        write_detail(&mut out, &svc, now(), Paint::Plain).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "api: degraded\n\
             \x20 criticality   critical\n\
             \x20 check         http http://127.0.0.1:8081/health\n\
             \x20 message       HTTP 200\n\
             \x20 response      1.2ms\n\
             \x20 last check    2026-12-04 18:00:00 (just now)\n\
             \x20 last passed   2026-12-04 17:59:00 (1m ago)\n\
             \x20 last change   2026-12-04 17:59:48 (12s ago)\n\
             \x20 errors        0 in a row; 2 of 10 checks failed\n\
             \x20 dependencies  db=unhealthy\n\
             \x20 affected by   db\n\
             \x20 process       pid 123, not running, memory 1.2MiB (exited)\n\
             \n\
             TIME                 CHANGE              MESSAGE\n\
             2026-12-04 17:50:00  unknown → healthy   HTTP 200\n\
             2026-12-04 17:59:48  healthy → degraded  dependency db unhealthy\n"
        );
    }

    #[test]
    fn detail_of_a_fresh_service() {
        let svc: ServiceHealth =
            serde_json::from_value(json!({"name": "db", "status": "unknown"})).unwrap();
        let mut out = Vec::new();
        write_detail(&mut out, &svc, now(), Paint::Plain).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("db: unknown\n"), "{text}");
        assert!(text.contains("  last check    never\n"), "{text}");
        assert!(text.ends_with("\nno transitions recorded\n"), "{text}");
    }

    #[test]
    fn relative_times() {
        assert_eq!(ago("2026-12-04T18:00:05Z", now()), "just now");
        assert_eq!(ago("2026-12-04T17:59:48Z", now()), "12s ago");
        assert_eq!(ago("2026-12-04T17:55:00Z", now()), "5m ago");
        assert_eq!(ago("2026-12-04T15:00:00Z", now()), "3h ago");
        assert_eq!(ago("2026-12-01T18:00:00Z", now()), "3d ago");
        assert_eq!(ago("a while", now()), "a while");
    }

    #[test]
    fn unhealthy_alone_fails_the_exit_code() {
        assert_eq!(exit_code(HealthStatus::Unhealthy), ExitCode::FAILURE);
        for s in [
            HealthStatus::Healthy,
            HealthStatus::Degraded,
            HealthStatus::Unknown,
        ] {
            assert_eq!(exit_code(s), ExitCode::SUCCESS);
        }
    }

    #[test]
    fn server_clock_is_now() {
        let o: HealthOverview = serde_json::from_value(overview_json()).unwrap();
        assert_eq!(server_now(&o), now());
    }
}
