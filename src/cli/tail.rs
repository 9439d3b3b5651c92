//! `blazar tail`: follow the live stream (SSE) and print one line per message.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use blazar_client::paths;
use blazar_client::wire::DeserializeOwned;
use blazar_client::wire::{Event, Lagged, Metric, StreamKind, StreamMessage, TraceSummary};
use blazar_client::SseMessage;
use clap::Args;
use futures_util::StreamExt;
use serde_json::Value;

use super::output::{self, compact_json};
use super::{metrics, query, traces, Ctx};

/// Widest JSON shown for an event's data, in characters.
const DATA_WIDTH: usize = 200;

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// Message types to follow, comma-separated (`metric_update,event,trace_completed,
    /// health_update,alert,log,anomaly`) [default: all].
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    types: Vec<String>,
    /// Only messages about this service.
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,
}

/// Prints messages until Ctrl-C (exit 0) or the server closes the stream (exit 0, noted on
/// stderr).
///
/// # Errors
/// Connecting, or the connection dropping mid-stream.
pub(crate) async fn run(ctx: &Ctx, args: TailArgs) -> anyhow::Result<ExitCode> {
    let types = (!args.types.is_empty()).then(|| args.types.join(","));
    let q = query(&[("types", types), ("service", args.service)]);
    let stream = ctx.client.stream(paths::STREAM, &q).await?;
    futures_util::pin_mut!(stream);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            signal = &mut ctrl_c => {
                signal.context("listening for Ctrl-C")?;
                return Ok(ExitCode::SUCCESS);
            }
            item = stream.next() => match item {
                Some(msg) => print_message(&msg?, ctx.json)?,
                None => {
                    writeln!(io::stderr(), "stream closed by the server")?;
                    return Ok(ExitCode::SUCCESS);
                }
            },
        }
    }
}

fn print_message(msg: &SseMessage, json: bool) -> io::Result<()> {
    let parsed: Option<StreamMessage> = serde_json::from_str(&msg.data).ok();
    if let Some(m) = parsed.as_ref().filter(|m| m.kind() == StreamKind::Lagged) {
        let skipped = serde_json::from_value::<Lagged>(m.data.clone()).map_or(0, |l| l.skipped);
        return writeln!(
            io::stderr(),
            "warning: too slow to keep up; the server skipped {skipped} messages"
        );
    }
    let mut out = io::stdout().lock();
    match parsed {
        _ if json => writeln!(out, "{}", msg.data),
        Some(m) => writeln!(out, "{}", human_line(&m)),
        // Not the JSON envelope we know: show it rather than hide it.
        None => writeln!(
            out,
            "{} {:<15} {}",
            output::clock_now(),
            msg.event.as_deref().unwrap_or("?"),
            msg.data
        ),
    }
}

/// `TIME TYPE summary` for one message.
fn human_line(m: &StreamMessage) -> String {
    let time = m
        .timestamp
        .as_deref()
        .map_or_else(output::clock_now, output::clock);
    format!("{time} {:<15} {}", m.kind, summary(m))
}

fn summary(m: &StreamMessage) -> String {
    let typed = match m.kind() {
        StreamKind::MetricUpdate => decode::<Metric>(&m.data).map(|x| {
            let tags = output::tags(&x.tags);
            let tags = if tags.is_empty() {
                String::new()
            } else {
                format!(" {{{tags}}}")
            };
            format!("{}{tags} {}", x.name, metrics::value_cell(&x))
        }),
        StreamKind::Event => decode::<Event>(&m.data).map(|e| {
            format!(
                "{} {} {}",
                e.event_type,
                e.source,
                compact_json(&e.data, DATA_WIDTH)
            )
        }),
        StreamKind::TraceCompleted => decode::<TraceSummary>(&m.data).map(|t| {
            format!(
                "{} {} {} {}",
                t.trace_id,
                traces::root(&t),
                output::duration_ms(t.duration_ms),
                traces::status(&t)
            )
        }),
        StreamKind::Lagged | StreamKind::Other => None,
    };
    typed.unwrap_or_else(|| m.data.to_string())
}

fn decode<T: DeserializeOwned>(data: &Value) -> Option<T> {
    serde_json::from_value(data.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(v: Value) -> String {
        human_line(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn metric_update_line() {
        let l = line(
            json!({"type": "metric_update", "timestamp": "2024-05-01T10:00:00.250Z",
            "data": {"name": "cpu.usage", "type": "gauge", "tags": {"host": "a"}, "value": 0.5}}),
        );
        assert_eq!(l, "10:00:00.250 metric_update   cpu.usage {host=a} 0.5");
    }

    #[test]
    fn event_line() {
        let l = line(json!({"type": "event", "timestamp": "2024-05-01T10:00:00Z",
            "data": {"event_type": "deploy", "source": "ci", "data": {"v": 2}}}));
        assert_eq!(l, "10:00:00.000 event           deploy ci {\"v\":2}");
    }

    #[test]
    fn trace_completed_line() {
        let l = line(
            json!({"type": "trace_completed", "timestamp": "2024-05-01T10:00:00Z",
            "data": {"trace_id": "abc", "root_service": "api", "root_name": "GET /", "duration_ms": 1250.0,
                     "status": "ok", "complete": true}}),
        );
        assert_eq!(l, "10:00:00.000 trace_completed abc api: GET / 1.25s ok");
    }

    #[test]
    fn other_types_show_compact_data() {
        let l = line(
            json!({"type": "alert", "timestamp": "2024-05-01T10:00:00Z", "data": {"id": "x", "state": "firing"}}),
        );
        assert_eq!(
            l,
            "10:00:00.000 alert           {\"id\":\"x\",\"state\":\"firing\"}"
        );
    }

    #[test]
    fn undecodable_data_falls_back_to_json() {
        let l = line(
            json!({"type": "metric_update", "timestamp": "2024-05-01T10:00:00Z", "data": [1, 2]}),
        );
        assert_eq!(l, "10:00:00.000 metric_update   [1,2]");
    }
}
