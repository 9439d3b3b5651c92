//! `blazar services`: the service dependency graph built from completed traces.

use std::io::{self, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::ServiceGraph;

use super::output;
use super::table::Table;
use super::Ctx;

/// Prints the graph's edges (who calls whom, how often, how well, how fast), then its
/// services, as tables (or the server's JSON).
///
/// # Errors
/// The request failing.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let body = ctx.client.get_json(paths::SERVICES, &[]).await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let graph: ServiceGraph = output::decode(body, "services")?;
        write_tables(&mut io::stdout().lock(), &graph)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

fn write_tables(out: &mut impl Write, graph: &ServiceGraph) -> io::Result<()> {
    let mut edges = Table::new(&[
        "CALLER",
        "CALLEE",
        "CALLS",
        "ERRORS",
        "ERROR%",
        "P50",
        "P95",
        "P99",
        "LAST SEEN",
    ]);
    for e in &graph.edges {
        edges.row(vec![
            e.caller.clone(),
            e.callee.clone(),
            e.calls.to_string(),
            e.errors.to_string(),
            percent(e.error_rate),
            output::duration_ms(Some(e.p50_ms)),
            output::duration_ms(Some(e.p95_ms)),
            output::duration_ms(Some(e.p99_ms)),
            output::time(&e.last_seen),
        ]);
    }
    edges.write(out)?;
    writeln!(out)?;
    let mut services = Table::new(&[
        "SERVICE",
        "SPANS",
        "ERRORS",
        "ERROR%",
        "CALLS IN",
        "CALLS OUT",
        "LAST SEEN",
    ]);
    for s in &graph.services {
        services.row(vec![
            s.name.clone(),
            s.spans.to_string(),
            s.errors.to_string(),
            percent(s.error_rate),
            s.calls_in.to_string(),
            s.calls_out.to_string(),
            output::time(&s.last_seen),
        ]);
    }
    services.write(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables() {
        let graph: ServiceGraph = serde_json::from_value(json!({
            "services": [{"name": "orders", "spans": 4, "errors": 1, "error_rate": 0.25,
                          "calls_in": 1, "calls_out": 1, "last_seen": "2024-05-01T10:00:00Z"}],
            "edges": [{"caller": "gateway", "callee": "orders", "calls": 3, "errors": 0,
                       "error_rate": 0.0, "p50_ms": 158.0, "p95_ms": 158.0, "p99_ms": 1200.0,
                       "last_seen": "2024-05-01T10:00:00Z"}]
        }))
        .unwrap();
        let mut out = Vec::new();
        write_tables(&mut out, &graph).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("CALLER   CALLEE  CALLS  ERRORS  ERROR%"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("gateway  orders  3      0       0.0%"),
            "{text}"
        );
        assert!(
            lines[1].contains("158ms") && lines[1].contains("1.20s"),
            "{text}"
        );
        assert!(
            lines[4].starts_with("orders   4      1       25.0%"),
            "{text}"
        );
    }
}
