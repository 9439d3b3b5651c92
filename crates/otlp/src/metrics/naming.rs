//! OTel names → Prometheus names, per the OpenTelemetry→Prometheus compatibility spec
//! (<https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/>).

/// What a metric becomes in Prometheus, which decides its suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// An OTLP gauge: unit `1` becomes `_ratio`.
    Gauge,
    /// A monotonic sum: `_total`.
    Counter,
    /// Everything else (non-monotonic sums, histograms, summaries): unit suffix only.
    Other,
}

/// Returns the Prometheus name for an OTel metric: sanitised, unit suffix added when missing,
/// `_total` for counters. `None` when nothing usable is left.
pub(crate) fn metric_name(otel: &str, unit: &str, shape: Shape) -> Option<String> {
    let mut name = sanitize_name(otel);
    if name.is_empty() || name == "_" {
        return None;
    }
    if shape == Shape::Counter {
        // Re-appended last, after the unit, as the spec orders the suffixes.
        if let Some(stripped) = name.strip_suffix("_total") {
            name = stripped.to_string();
        }
    }
    let (main, per) = unit_suffixes(unit, shape == Shape::Gauge);
    if let Some(main) = main {
        if !name.split('_').any(|t| t == main) {
            name.push('_');
            name.push_str(&main);
        }
    }
    if let Some(per) = per {
        let suffix = format!("_per_{per}");
        if !name.ends_with(&suffix) {
            name.push_str(&suffix);
        }
    }
    if shape == Shape::Counter {
        name.push_str("_total");
    }
    Some(name)
}

/// Replaces characters outside `[a-zA-Z0-9_:]` with `_`, collapses runs of `_`, and prefixes a
/// leading digit with `_`.
pub(crate) fn sanitize_name(s: &str) -> String {
    sanitize(s, |c| c.is_ascii_alphanumeric() || c == ':', "_")
}

/// Returns an attribute key as a label name: characters outside `[a-zA-Z0-9_]` become `_`, runs
/// of `_` collapse, a leading digit gets `key_`, a leading `_` gets `key` (`__` is reserved).
pub(crate) fn sanitize_label(s: &str) -> String {
    let out = sanitize(s, |c| c.is_ascii_alphanumeric(), "key_");
    if out.starts_with('_') {
        format!("key{out}")
    } else {
        out
    }
}

fn sanitize(s: &str, keep: impl Fn(char) -> bool, digit_prefix: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        out.push_str(digit_prefix);
    }
    for c in s.chars() {
        let c = if keep(c) { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out
}

/// Returns the (main, per) unit suffixes for a UCUM unit: `{...}` annotations dropped,
/// `X/Y` split, known units spelled out (`ms` → `milliseconds`, `By` → `bytes`).
fn unit_suffixes(unit: &str, gauge: bool) -> (Option<String>, Option<String>) {
    let unit = strip_annotations(unit);
    let unit = unit.trim();
    if unit == "1" {
        return (gauge.then(|| "ratio".to_string()), None);
    }
    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m.trim(), Some(p.trim())),
        None => (unit, None),
    };
    let main = (!main.is_empty() && main != "1")
        .then(|| main_unit(main).map_or_else(|| clean_unit(main), str::to_string))
        .filter(|s| !s.is_empty());
    let per = per
        .filter(|p| !p.is_empty())
        .map(|p| per_unit(p).map_or_else(|| clean_unit(p), str::to_string))
        .filter(|s| !s.is_empty());
    (main, per)
}

fn strip_annotations(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    let mut depth = 0usize;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// An unknown unit is kept, made label-safe: `[a-zA-Z0-9]` runs joined by `_`.
fn clean_unit(u: &str) -> String {
    u.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

fn main_unit(u: &str) -> Option<&'static str> {
    Some(match u {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tebibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        _ => return None,
    })
}

fn per_unit(u: &str) -> Option<&'static str> {
    Some(match u {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_unit_and_total_suffixes() {
        let n = |o, u, s| metric_name(o, u, s).unwrap();
        assert_eq!(
            n("rpc.server.duration", "ms", Shape::Other),
            "rpc_server_duration_milliseconds"
        );
        assert_eq!(
            n("orders.requests", "{request}", Shape::Counter),
            "orders_requests_total"
        );
        assert_eq!(
            n("orders.revenue", "USD", Shape::Counter),
            "orders_revenue_USD_total"
        );
        assert_eq!(
            n("cpu.utilization", "1", Shape::Gauge),
            "cpu_utilization_ratio"
        );
        assert_eq!(n("cpu.utilization", "1", Shape::Other), "cpu_utilization");
        assert_eq!(
            n("net.io", "By/s", Shape::Counter),
            "net_io_bytes_per_second_total"
        );
        assert_eq!(
            n("http.duration_seconds", "s", Shape::Other),
            "http_duration_seconds"
        );
        assert_eq!(n("reqs_total", "", Shape::Counter), "reqs_total");
        assert_eq!(n("2xx..count", "", Shape::Other), "_2xx_count");
        assert_eq!(n("queue.depth", "{message}", Shape::Gauge), "queue_depth");
        assert!(metric_name("...", "", Shape::Other).is_none());
    }

    #[test]
    fn label_names_are_sanitised() {
        assert_eq!(
            sanitize_label("rpc.grpc.status_code"),
            "rpc_grpc_status_code"
        );
        assert_eq!(sanitize_label("0day"), "key_0day");
        assert_eq!(sanitize_label("_private"), "key_private");
        assert_eq!(sanitize_label("__x"), "key_x");
        assert_eq!(sanitize_label("a-b c"), "a_b_c");
    }
}
