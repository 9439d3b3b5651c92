//! Turns the recorded latencies into the JSON summary and the human one.

use serde_json::{json, Value};

use crate::probes::Series;
use crate::stats::{quantile, round};

/// Count, mean and nearest-rank quantiles of `s` in milliseconds (3 decimals).
pub(crate) fn distribution(s: &Series) -> Value {
    let mut v = s.us.clone();
    v.sort_unstable();
    let ms = |us: u64| round(us as f64 / 1000.0, 3);
    let mean = if v.is_empty() {
        0.0
    } else {
        v.iter().map(|x| *x as f64).sum::<f64>() / v.len() as f64 / 1000.0
    };
    json!({
        "count": v.len(),
        "not_kept": s.overflow,
        "p50": ms(quantile(&v, 0.50)),
        "p90": ms(quantile(&v, 0.90)),
        "p99": ms(quantile(&v, 0.99)),
        "p999": ms(quantile(&v, 0.999)),
        "max": ms(v.last().copied().unwrap_or(0)),
        "mean": round(mean, 3),
    })
}

/// One line per figure: `name: p50 / p90 / p99 / max ms (n)`.
pub(crate) fn human(report: &Value) -> String {
    let line = |name: &str, d: &Value| {
        format!(
            "  {name:<36} p50 {:>8.2}  p90 {:>8.2}  p99 {:>8.2}  max {:>8.2} ms  (n={})",
            d["p50"].as_f64().unwrap_or_default(),
            d["p90"].as_f64().unwrap_or_default(),
            d["p99"].as_f64().unwrap_or_default(),
            d["max"].as_f64().unwrap_or_default(),
            d["count"]
        )
    };
    let c = &report["crossings"];
    let i = &report["ingest"];
    let mut out = vec![
        format!(
            "blazar-alert-latency: {} s, {} probes, one crossing every {} ms; ingest target {} points/s, achieved {} points/s ({} req/s, throttled {}, rejected {}, transport errors {}, behind {})",
            report["duration_s"],
            report["probes"],
            report["every_ms"],
            i["target_points_per_s"],
            i["points_per_s"],
            i["requests_per_s"],
            i["throttled"],
            i["rejected"],
            i["transport_errors"],
            i["behind_ticks"],
        ),
        format!(
            "  crossings sent {}, notified {}, lost {}, skipped (all probes busy) {}, write errors {}; notifications {} (firing alerts {}, resolved alerts {}, unexpected {}), resolve timeouts {}",
            c["sent"],
            c["notified"],
            c["lost"],
            c["skipped_busy"],
            c["write_errors"],
            report["notifications"]["received"],
            report["notifications"]["firing_alerts"],
            report["notifications"]["resolved_alerts"],
            report["notifications"]["unexpected"],
            c["resolve_timeouts"],
        ),
        line("sample sent → webhook received", &report["latency_ms"]),
        line("  sample sent → notification made", &report["to_notification_ms"]),
        line("  notification made → received", &report["delivery_ms"]),
        line("sample sent → HTTP answer", &report["ack_ms"]),
        line("ingest request → HTTP answer", &i["request_ms"]),
        line("baseline: POST to own receiver", &report["loopback_ms"]),
    ];
    if let Some(cpu) = report["blazar"]["cpu_pct"].as_f64() {
        out.push(format!(
            "  blazar CPU {cpu:.1} % of a core, RSS {} MiB; this tool {:.1} % of a core",
            report["blazar"]["rss_mib"],
            report["tool_cpu_pct"].as_f64().unwrap_or_default()
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_uses_nearest_rank_in_ms() {
        let mut s = Series::default();
        for us in (1..=100).rev() {
            s.push_us(us * 1000);
        }
        let d = distribution(&s);
        assert_eq!(d["count"], 100);
        assert_eq!(d["p50"], 50.0);
        assert_eq!(d["p99"], 99.0);
        assert_eq!(d["max"], 100.0);
        assert_eq!(d["mean"], 50.5);
        let empty = distribution(&Series::default());
        assert_eq!(empty["p99"], 0.0);
    }
}
