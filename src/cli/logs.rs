//! `blazar logs`: stored log records, filtered by service, level, text, trace and time.

use std::io::{self, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::{LogEntry, LogList};
use chrono::{DateTime, Utc};
use clap::Args;

use super::output;
use super::table::Table;
use super::{query, Ctx};

/// Widest MESSAGE cell, in characters.
const MESSAGE_WIDTH: usize = 120;

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Only records from this service.
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,
    /// Minimum level: trace, debug, info, warn, error or fatal.
    #[arg(long, value_name = "LEVEL")]
    level: Option<String>,
    /// Only records newer than this: a duration (`10m`, `1h`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only records of this trace.
    #[arg(long, value_name = "TRACE_ID")]
    trace: Option<String>,
    /// Only records whose message contains this text (case-insensitive).
    #[arg(short = 'q', long = "query", value_name = "TEXT")]
    text: Option<String>,
    /// Most records to list (the newest).
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

/// Lists log records in time order as a table (or the server's JSON).
///
/// # Errors
/// The request failing.
pub(crate) async fn run(ctx: &Ctx, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let q = query(&[
        ("service", args.service),
        ("level", args.level),
        ("since", args.since),
        ("trace_id", args.trace),
        ("q", args.text),
        ("limit", args.limit.map(|n| n.to_string())),
    ]);
    let body = ctx.client.get_json(paths::LOGS, &q).await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let list: LogList = output::decode(body, "logs")?;
        write_table(&mut io::stdout().lock(), &list.logs)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Formats an RFC 3339 timestamp as `2024-01-02 15:04:05.123` UTC; other text as given.
fn time_ms(ts: &str) -> String {
    match DateTime::parse_from_rfc3339(ts) {
        Ok(t) => t
            .with_timezone(&Utc)
            .format("%Y-%m-%d %H:%M:%S%.3f")
            .to_string(),
        Err(_) => ts.to_string(),
    }
}

fn write_table(out: &mut impl Write, logs: &[LogEntry]) -> io::Result<()> {
    let mut t = Table::new(&["TIME", "LEVEL", "SERVICE", "TRACE ID", "MESSAGE"]);
    for l in logs {
        t.row(vec![
            time_ms(&l.timestamp),
            l.severity.to_uppercase(),
            l.service.clone(),
            l.trace_id.clone().unwrap_or_default(),
            output::truncate(&l.body.replace('\n', " "), MESSAGE_WIDTH),
        ]);
    }
    t.write(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_rows() {
        let list: LogList = serde_json::from_value(json!({"logs": [
            {"timestamp": "2024-05-01T10:00:00.25Z", "severity": "warn", "body": "disk\nfull",
             "service": "node", "trace_id": "4bf9"},
            {"timestamp": "2024-05-01T10:00:01Z", "severity": "info", "body": "ok", "service": "api"}
        ]}))
        .unwrap();
        let mut out = Vec::new();
        write_table(&mut out, &list.logs).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "TIME                     LEVEL  SERVICE  TRACE ID  MESSAGE\n\
             2024-05-01 10:00:00.250  WARN   node     4bf9      disk full\n\
             2024-05-01 10:00:01.000  INFO   api                ok\n"
        );
    }
}
