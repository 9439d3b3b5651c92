//! `blazar health [SERVICE]`: the health monitor's view of the services it checks — a table of
//! all of them with the overall status, or one service in detail with its transitions.

use std::io::{self, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::{HealthOverview, HealthStatus, ServiceHealth, WatchedProcess};
use chrono::{DateTime, Utc};
use clap::Args;

use super::output;
use super::table::Table;
use super::term::{self, Colour, Paint, Painted};
use super::Ctx;

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
                write_overview(&mut out, &overview, now, term::terminal_columns(), paint)?;
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

// === colour ===

/// Healthy green, degraded yellow, unhealthy red, unknown dim.
fn status_colour(status: HealthStatus) -> Colour {
    match status {
        HealthStatus::Healthy => Colour::Green,
        HealthStatus::Degraded => Colour::Yellow,
        HealthStatus::Unhealthy => Colour::Red,
        HealthStatus::Unknown => Colour::Dim,
    }
}

impl Paint {
    /// Returns `text` in the colour of `status`.
    fn status(self, status: HealthStatus, text: &str) -> String {
        self.apply(Some(status_colour(status)), text)
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
    let rows: Vec<Vec<String>> = o.services.iter().map(|svc| row(svc, now)).collect();
    let painted: Vec<Vec<Painted<'_>>> = o
        .services
        .iter()
        .map(|svc| {
            vec![Painted {
                column: STATUS_COLUMN,
                word: svc.status.as_str(),
                colour: Some(status_colour(svc.status)),
            }]
        })
        .collect();
    term::write_table(out, &COLUMNS, rows, Some(columns), &painted, paint)
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
        term::or_dash(&svc.criticality),
        term::or_dash(&svc.check),
        output::duration_ms(svc.response_time_ms),
        svc.error_count.to_string(),
        dependencies(svc),
        svc.last_change
            .as_deref()
            .map_or_else(|| "-".to_string(), |t| term::ago(t, now)),
        message,
    ]
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
            |t| format!("{} ({})", output::time(t), term::ago(t, now)),
        )
    };
    let check = match (svc.check.as_str(), svc.target.as_str()) {
        ("", "") => "-".to_string(),
        (kind, "") => kind.to_string(),
        ("", target) => target.to_string(),
        (kind, target) => format!("{kind} {target}"),
    };
    let mut fields: Vec<(&str, String)> = vec![
        ("criticality", term::or_dash(&svc.criticality)),
        ("check", check),
        (
            "message",
            term::or_dash(svc.message.as_deref().unwrap_or("")),
        ),
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
