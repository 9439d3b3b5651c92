//! `blazar status`: health plus a compact summary of the stats endpoint.

use std::io::{self, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::{HealthReport, HealthStatus, SignalCounts, Stats};
use serde_json::json;

use super::output::{self, bytes, uptime};
use super::table::Table;
use super::Ctx;

/// The order signals are listed in; any others follow alphabetically.
const SIGNAL_ORDER: [&str; 4] = ["metrics", "events", "spans", "logs"];
const HTTP_UNAVAILABLE: u16 = 503;

/// Prints health and stats; exits 1 when the server reports itself unhealthy.
///
/// # Errors
/// Either request failing.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let (health, stats) = tokio::join!(ctx.client.health(), ctx.client.get_json(paths::STATS, &[]));
    let (health, stats) = (health?, stats?);
    let report: HealthReport = output::decode(health.body.clone(), "health")?;
    let unhealthy = health.status == HTTP_UNAVAILABLE || report.status == HealthStatus::Unhealthy;
    if ctx.json {
        output::print_json(&json!({ "health": health.body, "stats": stats }))?;
    } else {
        let stats: Stats = output::decode(stats, "stats")?;
        let mut out = io::stdout().lock();
        write_summary(&mut out, ctx.client.base_url(), &report, &stats)?;
    }
    Ok(if unhealthy {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn write_summary(
    out: &mut impl Write,
    url: &str,
    health: &HealthReport,
    stats: &Stats,
) -> io::Result<()> {
    writeln!(
        out,
        "blazar at {url}: {} (up {})",
        health.status.as_str(),
        uptime(stats.uptime_seconds)
    )?;
    if !health.checks.is_empty() {
        writeln!(out)?;
        let mut t = Table::new(&["CHECK", "STATUS", "MESSAGE"]);
        for (name, check) in &health.checks {
            t.row(vec![
                name.clone(),
                check.status.as_str().to_string(),
                check.message.clone().unwrap_or_default(),
            ]);
        }
        t.write(out)?;
    }

    writeln!(out)?;
    let mut t = Table::new(&[
        "SIGNAL",
        "RECEIVED",
        "ACCEPTED",
        "SAMPLED OUT",
        "DROPPED",
        "REJECTED",
    ]);
    let known = SIGNAL_ORDER
        .iter()
        .filter_map(|name| stats.signals.get_key_value(*name));
    let others = stats
        .signals
        .iter()
        .filter(|(name, _)| !SIGNAL_ORDER.contains(&name.as_str()));
    for (name, counts) in known.chain(others) {
        t.row(counts_row(name, counts, true));
    }
    t.write(out)?;

    if !stats.event_types.is_empty() {
        writeln!(out)?;
        let mut t = Table::new(&[
            "EVENT TYPE",
            "RECEIVED",
            "ACCEPTED",
            "SAMPLED OUT",
            "DROPPED",
        ]);
        for (name, counts) in &stats.event_types {
            t.row(counts_row(name, counts, false));
        }
        t.write(out)?;
    }

    let s = &stats.store;
    writeln!(out)?;
    writeln!(
        out,
        "metrics  {} series, {} samples, {}",
        s.series,
        s.samples,
        bytes(s.metrics_bytes)
    )?;
    writeln!(
        out,
        "events   {} stored (buffer {}), {}",
        s.events,
        s.event_buffer_size,
        bytes(s.events_bytes)
    )?;
    writeln!(
        out,
        "traces   {} traces, {} spans ({} open), {}",
        s.traces,
        s.spans,
        s.open_spans,
        bytes(s.traces_bytes)
    )?;
    writeln!(out, "logs     {} records, {}", s.logs, bytes(s.logs_bytes))?;
    let wal_state = match (&s.wal_error, s.wal_healthy) {
        (Some(err), _) => format!("unhealthy: {err}"),
        (None, true) => "healthy".to_string(),
        (None, false) => "unhealthy".to_string(),
    };
    writeln!(
        out,
        "wal      {} segments, {} on disk, {wal_state}",
        s.wal_segments,
        bytes(s.wal_disk_bytes)
    )?;
    writeln!(out, "stream   {} subscribers", stats.stream.subscribers)?;
    Ok(())
}

fn counts_row(name: &str, c: &SignalCounts, with_rejected: bool) -> Vec<String> {
    let mut row = vec![
        name.to_string(),
        c.received.to_string(),
        c.accepted.to_string(),
        c.sampled_out.to_string(),
        c.dropped.to_string(),
    ];
    if with_rejected {
        row.push(c.rejected.to_string());
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_known_signals_first() {
        let health: HealthReport = serde_json::from_value(json!({
            "status": "degraded",
            "checks": {"wal": {"status": "degraded", "message": "slow fsync"}}
        }))
        .unwrap();
        let stats: Stats = serde_json::from_value(json!({
            "uptime_seconds": 3700.5,
            "signals": {"logs": {"received": 4}, "metrics": {"received": 10, "accepted": 9, "rejected": 1}},
            "event_types": {"deploy": {"received": 2, "accepted": 2}},
            "store": {"series": 3, "wal_healthy": true, "wal_disk_bytes": 2048},
            "stream": {"subscribers": 1}
        }))
        .unwrap();
        let mut out = Vec::new();
        write_summary(&mut out, "http://h:1", &health, &stats).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("blazar at http://h:1: degraded (up 1h 1m 40s)\n"),
            "{text}"
        );
        assert!(text.contains("wal    degraded  slow fsync"), "{text}");
        let metrics_at = text.find("\nmetrics  10").unwrap();
        let logs_at = text.find("\nlogs     4").unwrap();
        assert!(metrics_at < logs_at, "{text}");
        assert!(text.contains("deploy      2"), "{text}");
        assert!(
            text.contains("wal      0 segments, 2.0KiB on disk, healthy"),
            "{text}"
        );
    }
}
