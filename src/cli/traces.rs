//! `blazar traces` (list recent trace summaries) and `blazar trace ID` (one trace as a
//! waterfall, with its critical path and bottleneck).

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::{PathSpan, SpanView, TraceDetail, TraceList, TraceSummary};
use clap::Args;

use super::output;
use super::table::Table;
use super::{query, Ctx};

/// Timeline width (characters) when the terminal's is unknown.
const DEFAULT_BAR_WIDTH: usize = 60;
/// Widest `service: name` label in the waterfall, in characters.
const LABEL_WIDTH: usize = 48;

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
    /// Only traces with a span of this name.
    #[arg(long, value_name = "NAME")]
    operation: Option<String>,
    /// Only traces at least this long (`500ms`, `2s`).
    #[arg(long, value_name = "DURATION")]
    min_duration: Option<String>,
    /// Only traces with an error span.
    #[arg(long)]
    errors: bool,
    /// Only traces with a span carrying this tag (attribute); repeat for several.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_tag)]
    tag: Vec<(String, String)>,
    /// Most traces to list.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// The trace id (32 hex characters).
    #[arg(value_name = "TRACE_ID", value_parser = parse_trace_id)]
    id: String,
    /// Width of the timeline bars [default: from $COLUMNS, else 60].
    #[arg(long, value_name = "COLS")]
    width: Option<usize>,
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

fn parse_trace_id(s: &str) -> Result<String, String> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!("expected a hex trace id, got {s:?}"))
    }
}

/// Lists traces as a table (or the server's JSON).
///
/// # Errors
/// The request failing.
pub(crate) async fn run(ctx: &Ctx, args: TracesArgs) -> anyhow::Result<ExitCode> {
    let mut q = query(&[
        ("since", args.since),
        ("plugin_id", args.plugin_id),
        ("service", args.service),
        ("operation", args.operation),
        ("min_duration", args.min_duration),
        ("status", args.errors.then(|| "error".to_string())),
        ("limit", args.limit.map(|n| n.to_string())),
    ]);
    let tags: Vec<(String, String)> = args
        .tag
        .into_iter()
        .map(|(k, v)| (format!("tag.{k}"), v))
        .collect();
    q.extend(tags.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let body = ctx.client.get_json(paths::TRACES, &q).await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let list: TraceList = output::decode(body, "traces")?;
        write_table(&mut io::stdout().lock(), &list.traces)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows one trace as a waterfall (or the server's JSON).
///
/// # Errors
/// The request failing (an unknown trace is the server's 404).
pub(crate) async fn show(ctx: &Ctx, args: TraceArgs) -> anyhow::Result<ExitCode> {
    let body = ctx.client.get_json(&paths::trace(&args.id), &[]).await?;
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let detail: TraceDetail = output::decode(body, "trace")?;
        let width = args.width.unwrap_or_else(bar_width_from_env).clamp(10, 400);
        write_waterfall(&mut io::stdout().lock(), &detail, width)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Returns the bar width that fits `$COLUMNS` next to the label and duration columns.
fn bar_width_from_env() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .map_or(DEFAULT_BAR_WIDTH, |cols| {
            cols.saturating_sub(LABEL_WIDTH + 20)
        })
}

fn write_table(out: &mut impl Write, traces: &[TraceSummary]) -> io::Result<()> {
    let mut t = Table::new(&[
        "START", "TRACE ID", "ROOT", "DURATION", "SPANS", "ERRORS", "STATUS",
    ]);
    for tr in traces {
        t.row(vec![
            tr.start_time
                .as_deref()
                .map(output::time)
                .unwrap_or_default(),
            tr.trace_id.clone(),
            root(tr),
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

// === waterfall ===

/// Returns the spans in tree order (each parent before its children, siblings by start) with
/// their depth. Spans whose parent is not in the trace start a tree of their own.
fn tree_order(spans: &[SpanView]) -> Vec<(usize, &SpanView)> {
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&SpanView>> = HashMap::new();
    let mut roots: Vec<&SpanView> = Vec::new();
    for s in spans {
        match s.parent_span_id.as_deref() {
            Some(p) if ids.contains(p) && p != s.span_id => {
                children.entry(p).or_default().push(s);
            }
            _ => roots.push(s),
        }
    }
    let by_start = |a: &&SpanView, b: &&SpanView| {
        (a.start_unix_nano, &a.span_id).cmp(&(b.start_unix_nano, &b.span_id))
    };
    roots.sort_by(by_start);
    for list in children.values_mut() {
        list.sort_by(by_start);
    }
    let mut out = Vec::with_capacity(spans.len());
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack: Vec<(usize, &SpanView)> = roots.into_iter().rev().map(|s| (0, s)).collect();
    while let Some((depth, s)) = stack.pop() {
        if !seen.insert(s.span_id.as_str()) {
            continue;
        }
        out.push((depth, s));
        if let Some(kids) = children.get(s.span_id.as_str()) {
            stack.extend(kids.iter().rev().map(|k| (depth + 1, *k)));
        }
    }
    // Spans only reachable through a parent-link cycle: list them flat at the end.
    for s in spans {
        if !seen.contains(s.span_id.as_str()) {
            out.push((0, s));
        }
    }
    out
}

/// Returns the bar for `[start, end)` on a timeline `[t0, t0 + total)` drawn `width` wide: at
/// least one cell, never past the right edge.
fn bar(start: i64, end: i64, t0: i64, total: i64, width: usize) -> String {
    let scale = |t: i64| -> usize {
        if total <= 0 {
            return 0;
        }
        let frac = (t.saturating_sub(t0)) as f64 / total as f64;
        (frac.clamp(0.0, 1.0) * width as f64).round() as usize
    };
    let from = scale(start).min(width.saturating_sub(1));
    let to = scale(end).clamp(from + 1, width.max(from + 1));
    let mut s = " ".repeat(from);
    s.push_str(&"█".repeat(to - from));
    s.push_str(&" ".repeat(width.saturating_sub(to)));
    s
}

fn write_waterfall(out: &mut impl Write, d: &TraceDetail, width: usize) -> io::Result<()> {
    let tr = &d.trace;
    let errors = if tr.error_count == 1 {
        "error"
    } else {
        "errors"
    };
    writeln!(
        out,
        "trace {}  {}  {}  {} spans  {} {errors}",
        tr.trace_id,
        root(tr),
        output::duration_ms(tr.duration_ms),
        tr.span_count,
        tr.error_count,
    )?;
    let t0 = d.spans.iter().map(|s| s.start_unix_nano).min().unwrap_or(0);
    let t_end = d
        .spans
        .iter()
        .map(|s| s.end_unix_nano.unwrap_or(s.start_unix_nano))
        .max()
        .unwrap_or(t0);
    let total = t_end.saturating_sub(t0);
    let rows: Vec<(String, &SpanView)> = tree_order(&d.spans)
        .into_iter()
        .map(|(depth, s)| {
            let label = format!("{}{}: {}", "  ".repeat(depth), s.service, s.name);
            (output::truncate(&label, LABEL_WIDTH), s)
        })
        .collect();
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    for (label, s) in &rows {
        let end = s.end_unix_nano.unwrap_or(t_end);
        let duration = match s.end_unix_nano {
            Some(_) => output::duration_ms(s.duration_ms),
            None => "open".to_string(),
        };
        let pad = label_width.saturating_sub(label.chars().count());
        let marker = if s.status == "error" { "  ERROR" } else { "" };
        let line = format!(
            "{label}{}  |{}|  {duration}{marker}",
            " ".repeat(pad),
            bar(s.start_unix_nano, end, t0, total, width),
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    if d.critical_path.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "critical path:")?;
    let mut t = Table::new(&["  SERVICE", "SPAN", "ON PATH", "SELF TIME"]);
    for p in &d.critical_path {
        t.row(vec![
            format!("  {}", p.service),
            p.name.clone(),
            output::duration_ms(Some(p.on_path_ms)),
            output::duration_ms(Some(p.self_time_ms)),
        ]);
    }
    t.write(out)?;
    if let Some(b) = &d.bottleneck {
        writeln!(out, "bottleneck: {}", describe(b))?;
    }
    Ok(())
}

fn describe(b: &PathSpan) -> String {
    format!(
        "{}: {} ({} on the critical path, {} self time)",
        b.service,
        b.name,
        output::duration_ms(Some(b.on_path_ms)),
        output::duration_ms(Some(b.self_time_ms)),
    )
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
            "START                TRACE ID  ROOT         DURATION  SPANS  ERRORS  STATUS\n\
             2024-05-01 10:00:00  4bf92f35  api: GET /x  12.3ms    5      1       error\n\
             \x20                    00f067aa  ?: ?         -         1      0       unset (incomplete)\n"
        );
    }

    fn detail() -> TraceDetail {
        const MS: i64 = 1_000_000;
        serde_json::from_value(json!({
            "trace": {"trace_id": "4bf9", "root_service": "api", "root_name": "GET /",
                      "duration_ms": 100.0, "span_count": 4, "error_count": 1,
                      "status": "error", "complete": true},
            "spans": [
                {"span_id": "01", "name": "GET /", "service": "api", "start_unix_nano": 0,
                 "end_unix_nano": 100 * MS, "duration_ms": 100.0, "status": "ok"},
                {"span_id": "02", "parent_span_id": "01", "name": "query", "service": "db",
                 "start_unix_nano": 10 * MS, "end_unix_nano": 30 * MS, "duration_ms": 20.0,
                 "status": "error"},
                {"span_id": "04", "parent_span_id": "03", "name": "get", "service": "cache",
                 "start_unix_nano": 60 * MS, "end_unix_nano": 70 * MS, "duration_ms": 10.0,
                 "status": "ok"},
                {"span_id": "03", "parent_span_id": "01", "name": "render", "service": "api",
                 "start_unix_nano": 50 * MS, "end_unix_nano": 100 * MS, "duration_ms": 50.0,
                 "status": "ok"}
            ],
            "critical_path": [
                {"span_id": "01", "service": "api", "name": "GET /", "self_time_ms": 30.0, "on_path_ms": 30.0},
                {"span_id": "02", "service": "db", "name": "query", "self_time_ms": 20.0, "on_path_ms": 20.0},
                {"span_id": "03", "service": "api", "name": "render", "self_time_ms": 40.0, "on_path_ms": 40.0},
                {"span_id": "04", "service": "cache", "name": "get", "self_time_ms": 10.0, "on_path_ms": 10.0}
            ],
            "bottleneck": {"span_id": "03", "service": "api", "name": "render", "self_time_ms": 40.0, "on_path_ms": 40.0}
        }))
        .unwrap()
    }

    #[test]
    fn waterfall_indents_by_depth_and_places_bars_on_the_timeline() {
        let mut out = Vec::new();
        write_waterfall(&mut out, &detail(), 10).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "trace 4bf9  api: GET /  100ms  4 spans  1 error\n\
             api: GET /      |██████████|  100ms\n\
             \x20 db: query     | ██       |  20ms  ERROR\n\
             \x20 api: render   |     █████|  50ms\n\
             \x20   cache: get  |      █   |  10ms\n\
             \n\
             critical path:\n\
             \x20 SERVICE  SPAN    ON PATH  SELF TIME\n\
             \x20 api      GET /   30ms     30ms\n\
             \x20 db       query   20ms     20ms\n\
             \x20 api      render  40ms     40ms\n\
             \x20 cache    get     10ms     10ms\n\
             bottleneck: api: render (40ms on the critical path, 40ms self time)\n"
        );
    }

    #[test]
    fn orphans_open_spans_and_cycles_are_shown() {
        let spans: Vec<SpanView> = serde_json::from_value(json!([
            {"span_id": "01", "name": "root", "service": "a", "start_unix_nano": 0, "end_unix_nano": 10},
            {"span_id": "02", "parent_span_id": "09", "name": "orphan", "service": "b", "start_unix_nano": 5},
            {"span_id": "03", "parent_span_id": "04", "name": "x", "service": "c", "start_unix_nano": 1},
            {"span_id": "04", "parent_span_id": "03", "name": "y", "service": "c", "start_unix_nano": 2}
        ]))
        .unwrap();
        let order: Vec<(usize, &str)> = tree_order(&spans)
            .into_iter()
            .map(|(d, s)| (d, s.name.as_str()))
            .collect();
        assert_eq!(order, vec![(0, "root"), (0, "orphan"), (0, "x"), (0, "y")]);
        let d = TraceDetail {
            spans,
            ..TraceDetail::default()
        };
        let mut out = Vec::new();
        write_waterfall(&mut out, &d, 10).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("b: orphan  |     █████|  open"), "{text}");
        assert!(!text.contains("critical path"), "{text}");
    }

    #[test]
    fn bars_stay_inside_the_timeline() {
        assert_eq!(bar(0, 0, 0, 0, 4), "█   ");
        assert_eq!(bar(10, 10, 0, 10, 4), "   █");
        assert_eq!(bar(-5, 50, 0, 10, 4), "████");
    }

    #[test]
    fn tags_and_trace_ids_are_checked_locally() {
        assert_eq!(parse_tag("k=v=w"), Ok(("k".into(), "v=w".into())));
        assert!(parse_tag("=v").is_err());
        assert!(parse_tag("kv").is_err());
        assert_eq!(parse_trace_id("ABcd01"), Ok("abcd01".into()));
        assert!(parse_trace_id("../x").is_err());
    }
}
