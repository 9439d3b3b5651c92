//! `blazar metrics`: list metrics matching a glob with their current values.

use std::io::{self, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::{Metric, MetricList};
use clap::Args;

use super::output::{self, number};
use super::table::Table;
use super::{query, Ctx};

#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// Metric name glob, e.g. `plugin.my_plugin.*` [default: all].
    #[arg(value_name = "GLOB")]
    glob: Option<String>,
    /// Most metrics to list.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

/// Lists metrics as a table (or the server's JSON).
///
/// # Errors
/// The request failing.
pub(crate) async fn run(ctx: &Ctx, args: MetricsArgs) -> anyhow::Result<ExitCode> {
    let q = query(&[
        ("name", args.glob),
        ("limit", args.limit.map(|n| n.to_string())),
    ]);
    let body = ctx.client.get_json(paths::METRICS, &q).await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let list: MetricList = output::decode(body, "metrics")?;
        write_table(&mut io::stdout().lock(), &list.metrics)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, metrics: &[Metric]) -> io::Result<()> {
    let mut t = Table::new(&["NAME", "TYPE", "TAGS", "VALUE", "LAST UPDATE"]);
    for m in metrics {
        t.row(vec![
            m.name.clone(),
            m.kind.clone(),
            output::tags(&m.tags),
            value_cell(m),
            m.last_update
                .as_deref()
                .map(output::time)
                .unwrap_or_default(),
        ]);
    }
    t.write(out)
}

/// A metric's current value: the number for counters and gauges, `count=.. sum=..` for
/// distributions (histograms, summaries), `-` when the server sent neither.
pub(super) fn value_cell(m: &Metric) -> String {
    match (m.count, m.sum, m.value) {
        (None, None, Some(v)) => number(v),
        (None, None, None) => "-".to_string(),
        (count, sum, _) => {
            let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), number);
            format!("count={} sum={}", opt(count), opt(sum))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_shows_values_and_distributions() {
        let list: MetricList = serde_json::from_value(json!({"metrics": [
            {"name": "plugin.a.requests", "type": "counter", "tags": {"route": "/x"}, "value": 42.0,
             "last_update": "2024-05-01T10:00:00Z"},
            {"name": "plugin.a.latency", "type": "histogram", "tags": {}, "count": 3, "sum": 0.75,
             "buckets": {"0.5": 2, "+Inf": 3}, "last_update": "2024-05-01T10:00:01Z"}
        ]}))
        .unwrap();
        let mut out = Vec::new();
        write_table(&mut out, &list.metrics).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME               TYPE       TAGS      VALUE             LAST UPDATE\n\
             plugin.a.requests  counter    route=/x  42                2024-05-01 10:00:00\n\
             plugin.a.latency   histogram            count=3 sum=0.75  2024-05-01 10:00:01\n"
        );
    }
}
