//! `blazar events` (list stored events) and `blazar emit` (send one).

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use blazar_client::paths;
use blazar_client::wire::{EmitResult, Event, EventList};
use clap::Args;
use serde_json::{json, Value};

use super::output;
use super::table::Table;
use super::{query, Ctx};

/// Widest DATA cell in the events table, in characters.
const DATA_WIDTH: usize = 80;

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Event type glob, e.g. `deploy.*`.
    #[arg(long = "type", value_name = "GLOB")]
    event_type: Option<String>,
    /// Only events from this source.
    #[arg(long, value_name = "SOURCE")]
    source: Option<String>,
    /// Only events newer than this: a duration (`30s`, `1h`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Most events to list.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct EmitArgs {
    /// The event type, e.g. `deploy.finished`.
    #[arg(value_name = "TYPE")]
    event_type: String,
    /// Who is sending the event.
    #[arg(long, value_name = "SOURCE")]
    source: String,
    /// The event's data, a JSON value, e.g. `'{"version":"1.2"}'`.
    #[arg(long, value_name = "JSON")]
    data: String,
    /// Extra metadata, a JSON object [default: {}].
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
}

/// Lists events, oldest first.
///
/// # Errors
/// The request failing.
pub(crate) async fn list(ctx: &Ctx, args: EventsArgs) -> anyhow::Result<ExitCode> {
    let q = query(&[
        ("event_type", args.event_type),
        ("source", args.source),
        ("since", args.since),
        ("batch_size", args.limit.map(|n| n.to_string())),
    ]);
    let body = ctx.client.get_json(paths::EVENTS, &q).await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let list: EventList = output::decode(body, "events")?;
        write_table(&mut io::stdout().lock(), &list.events)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, events: &[Event]) -> io::Result<()> {
    let mut t = Table::new(&["TIME", "TYPE", "SOURCE", "DATA"]);
    for e in events {
        t.row(vec![
            output::time(&e.timestamp),
            e.event_type.clone(),
            e.source.clone(),
            output::compact_json(&e.data, DATA_WIDTH),
        ]);
    }
    t.write(out)
}

/// Sends one event and prints its id, or (on stderr) why it was not accepted. Not being
/// accepted (sampling, type filter, collection disabled) is the server's policy, not a
/// failure, so it exits 0.
///
/// # Errors
/// `--data`/`--metadata` not being JSON, or the request failing.
pub(crate) async fn emit(ctx: &Ctx, args: EmitArgs) -> anyhow::Result<ExitCode> {
    let data: Value = serde_json::from_str(&args.data).context("--data is not valid JSON")?;
    let metadata: Value = match &args.metadata {
        Some(text) => serde_json::from_str(text).context("--metadata is not valid JSON")?,
        None => json!({}),
    };
    if !metadata.is_object() {
        anyhow::bail!("--metadata must be a JSON object");
    }
    let body = json!({ "event_type": args.event_type, "source": args.source, "data": data, "metadata": metadata });
    let answer = ctx.client.post_json(paths::EVENTS, &body).await?;
    if ctx.json {
        output::print_json(&answer)?;
        return Ok(ExitCode::SUCCESS);
    }
    let result: EmitResult = output::decode(answer, "emit")?;
    match not_accepted_reason(&result) {
        None => {
            let mut out = io::stdout().lock();
            for id in &result.event_ids {
                writeln!(out, "{id}")?;
            }
        }
        Some(reason) => writeln!(io::stderr(), "not accepted: {reason}")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn not_accepted_reason(r: &EmitResult) -> Option<&'static str> {
    if r.accepted > 0 {
        None
    } else if r.sampled_out > 0 {
        Some("sampled out")
    } else if r.filtered > 0 {
        Some("filtered out by the event type filter")
    } else if r.disabled > 0 {
        Some("event collection is disabled on the server")
    } else {
        Some("the server accepted nothing and gave no reason")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_table_truncates_data() {
        let list: EventList = serde_json::from_value(json!({"events": [{
            "seq": 1, "event_id": "e1", "timestamp": "2024-05-01T10:00:00Z", "event_type": "deploy",
            "source": "ci", "data": {"text": "x".repeat(200)}, "metadata": {}
        }], "next_after": null}))
        .unwrap();
        let mut out = Vec::new();
        write_table(&mut out, &list.events).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert!(
            row.starts_with("2024-05-01 10:00:00  deploy  ci      {\"text\":\"xxx"),
            "{row}"
        );
        assert!(row.ends_with("..."), "{row}");
    }

    #[test]
    fn reasons_for_not_accepting() {
        let r = |v: Value| not_accepted_reason(&serde_json::from_value(v).unwrap());
        assert_eq!(r(json!({"accepted": 1, "event_ids": ["a"]})), None);
        assert_eq!(
            r(json!({"accepted": 0, "sampled_out": 1})),
            Some("sampled out")
        );
        assert_eq!(
            r(json!({"accepted": 0, "filtered": 1})),
            Some("filtered out by the event type filter")
        );
        assert_eq!(
            r(json!({"accepted": 0, "disabled": 1})),
            Some("event collection is disabled on the server")
        );
    }
}
