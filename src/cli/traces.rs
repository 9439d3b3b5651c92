//! `blazar traces`: list recent trace summaries.

use std::io::{self, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::{TraceList, TraceSummary};
use clap::Args;

use super::output;
use super::table::Table;
use super::{query, Ctx};

#[derive(Debug, Args)]
pub(crate) struct TracesArgs {
    /// Only traces newer than this: a duration (`30s`, `1h`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only traces from this plugin.
    #[arg(long, value_name = "ID")]
    plugin_id: Option<String>,
    /// Only traces touching this service.
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,
    /// Most traces to list.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

/// Lists traces as a table (or the server's JSON).
///
/// # Errors
/// The request failing.
pub(crate) async fn run(ctx: &Ctx, args: TracesArgs) -> anyhow::Result<ExitCode> {
    let q = query(&[
        ("since", args.since),
        ("plugin_id", args.plugin_id),
        ("service", args.service),
        ("limit", args.limit.map(|n| n.to_string())),
    ]);
    let body = ctx.client.get_json(paths::TRACES, &q).await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let list: TraceList = output::decode(body, "traces")?;
        write_table(&mut io::stdout().lock(), &list.traces)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, traces: &[TraceSummary]) -> io::Result<()> {
    let mut t = Table::new(&[
        "TRACE ID", "ROOT", "START", "DURATION", "SPANS", "ERRORS", "STATUS",
    ]);
    for tr in traces {
        t.row(vec![
            tr.trace_id.clone(),
            root(tr),
            tr.start_time
                .as_deref()
                .map(output::time)
                .unwrap_or_default(),
            output::duration_ms(tr.duration_ms),
            tr.span_count.to_string(),
            tr.error_count.to_string(),
            status(tr),
        ]);
    }
    t.write(out)
}

/// `service: name` of the root span; `?` for a part the server does not know (yet).
pub(super) fn root(tr: &TraceSummary) -> String {
    let service = tr.root_service.as_deref().unwrap_or("?");
    let name = tr.root_name.as_deref().unwrap_or("?");
    format!("{service}: {name}")
}

/// The trace status, marked when spans are still missing or open.
pub(super) fn status(tr: &TraceSummary) -> String {
    let status = if tr.status.is_empty() {
        "unset"
    } else {
        tr.status.as_str()
    };
    if tr.complete {
        status.to_string()
    } else {
        format!("{status} (incomplete)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_rows() {
        let list: TraceList = serde_json::from_value(json!({"traces": [
            {"trace_id": "4bf92f35", "root_service": "api", "root_name": "GET /x",
             "start_time": "2024-05-01T10:00:00Z", "duration_ms": 12.34, "span_count": 5, "error_count": 1,
             "services": ["api", "db"], "status": "error", "complete": true},
            {"trace_id": "00f067aa", "root_service": null, "root_name": null, "start_time": null,
             "duration_ms": null, "span_count": 1, "error_count": 0, "services": [], "status": "unset",
             "complete": false}
        ]}))
        .unwrap();
        let mut out = Vec::new();
        write_table(&mut out, &list.traces).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "TRACE ID  ROOT         START                DURATION  SPANS  ERRORS  STATUS\n\
             4bf92f35  api: GET /x  2024-05-01 10:00:00  12.3ms    5      1       error\n\
             00f067aa  ?: ?                              -         1      0       unset (incomplete)\n"
        );
    }
}
