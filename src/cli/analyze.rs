//! `blazar analyze`: performance issues the server found in completed traces.

use std::io::{self, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::{Issue, IssueList};
use clap::Args;

use super::output;
use super::table::Table;
use super::{query, Ctx};

#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// Only issues of this pattern (e.g. `slow_service_call`, `cascading_failures`).
    #[arg(long, value_name = "NAME")]
    pattern: Option<String>,
    /// Only traces newer than this: a duration (`30s`, `1h`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Most issues to list.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

/// Lists issues, newest trace first, as a table (or the server's JSON).
///
/// # Errors
/// The request failing (an unknown pattern is the server's 400).
pub(crate) async fn run(ctx: &Ctx, args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let q = query(&[
        ("pattern", args.pattern),
        ("since", args.since),
        ("limit", args.limit.map(|n| n.to_string())),
    ]);
    let body = ctx.client.get_json(paths::TRACES_ANALYZE, &q).await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let list: IssueList = output::decode(body, "analyze")?;
        write_table(&mut io::stdout().lock(), &list.issues)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, issues: &[Issue]) -> io::Result<()> {
    let mut t = Table::new(&[
        "START",
        "SEVERITY",
        "PATTERN",
        "TRACE ID",
        "DURATION",
        "SERVICES",
        "DESCRIPTION",
    ]);
    for i in issues {
        t.row(vec![
            output::time(&i.timestamp),
            i.severity.clone(),
            i.pattern.clone(),
            i.trace_id.clone(),
            output::duration_ms(Some(i.duration_ms)),
            i.services.join(","),
            i.description.clone(),
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
        let list: IssueList = serde_json::from_value(json!({"issues": [
            {"trace_id": "4bf92f35", "pattern": "cascading_failures",
             "description": "Multiple services failing in sequence", "severity": "critical",
             "timestamp": "2024-05-01T10:00:00Z", "duration_ms": 1500.0, "services": ["api", "db"]}
        ]}))
        .unwrap();
        let mut out = Vec::new();
        write_table(&mut out, &list.issues).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "START                SEVERITY  PATTERN             TRACE ID  DURATION  SERVICES  DESCRIPTION\n\
             2024-05-01 10:00:00  critical  cascading_failures  4bf92f35  1.50s     api,db    Multiple services failing in sequence\n"
        );
    }
}
