//! Turns a replay outcome and the target's resource readings into the JSON summary and the
//! human line. Pure: every input is passed in.

use serde_json::{json, Value};

use crate::replay::Outcome;
use crate::stats::{quantile, round};

/// The target's resources around the run, when `--pid` was given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TargetUsage {
    pub(crate) cpu_s: f64,
    pub(crate) rss_before_bytes: u64,
    pub(crate) rss_after_bytes: u64,
}

/// Everything the summary reports.
#[derive(Debug)]
pub(crate) struct Report<'a> {
    pub(crate) target: &'a str,
    pub(crate) url: &'a str,
    pub(crate) series: usize,
    pub(crate) samples_per_series: usize,
    pub(crate) samples_per_request: usize,
    pub(crate) concurrency: usize,
    pub(crate) planned_requests: usize,
    pub(crate) planned_samples: u64,
    pub(crate) generate_s: f64,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) outcome: &'a Outcome,
    pub(crate) usage: Option<TargetUsage>,
    pub(crate) loadgen_cpu_s: f64,
}

impl Report<'_> {
    /// Returns the one-line JSON summary.
    pub(crate) fn to_json(&self) -> Value {
        let o = self.outcome;
        let mut lat = o.latencies_us.clone();
        lat.sort_unstable();
        let secs = o.elapsed.as_secs_f64();
        let per_s = crate::stats::per_s(o.ok_samples, secs);
        let statuses: serde_json::Map<String, Value> = o
            .statuses
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let ms = |us: u64| round(us as f64 / 1000.0, 3);
        let mut v = json!({
            "target": self.target,
            "url": self.url,
            "series": self.series,
            "samples_per_series": self.samples_per_series,
            "samples_per_request": self.samples_per_request,
            "concurrency": self.concurrency,
            "planned_requests": self.planned_requests,
            "planned_samples": self.planned_samples,
            "generate_s": round(self.generate_s, 3),
            "data_min_t_ms": self.min_t,
            "data_max_t_ms": self.max_t,
            "complete": o.unsent_requests == 0,
            "elapsed_s": round(secs, 3),
            "requests_ok": o.ok_requests,
            "requests_failed": o.failed_requests,
            "requests_unsent": o.unsent_requests,
            "transport_errors": o.transport_errors,
            "statuses": statuses,
            "samples_ok": o.ok_samples,
            "samples_failed": o.failed_samples,
            "samples_per_s": round(per_s, 1),
            "bytes_sent": o.bytes_sent,
            "latency_ms": { "p50": ms(quantile(&lat, 0.5)), "p90": ms(quantile(&lat, 0.9)), "p99": ms(quantile(&lat, 0.99)), "max": ms(lat.last().copied().unwrap_or(0)) },
            "loadgen_cpu_s": round(self.loadgen_cpu_s, 2),
        });
        if let (Some(u), Some(obj)) = (self.usage, v.as_object_mut()) {
            let samples = o.ok_samples + o.failed_samples;
            let cpu_per_m = if samples > 0 {
                u.cpu_s / (samples as f64 / 1e6)
            } else {
                0.0
            };
            let per_series = |b: u64| {
                if self.series > 0 {
                    b as f64 / self.series as f64
                } else {
                    0.0
                }
            };
            obj.insert("target_cpu_s".into(), json!(round(u.cpu_s, 2)));
            obj.insert(
                "cpu_s_per_million_samples".into(),
                json!(round(cpu_per_m, 3)),
            );
            obj.insert("rss_before_bytes".into(), json!(u.rss_before_bytes));
            obj.insert("rss_after_bytes".into(), json!(u.rss_after_bytes));
            obj.insert(
                "rss_bytes_per_series".into(),
                json!(round(per_series(u.rss_after_bytes), 1)),
            );
            obj.insert(
                "rss_growth_bytes_per_series".into(),
                json!(round(
                    per_series(u.rss_after_bytes.saturating_sub(u.rss_before_bytes)),
                    1
                )),
            );
        }
        v
    }

    /// Returns the human summary line.
    pub(crate) fn to_line(&self) -> String {
        let j = self.to_json();
        let f = |k: &str| j.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let lat = |k: &str| {
            j.get("latency_ms")
                .and_then(|l| l.get(k))
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
        };
        let o = self.outcome;
        let mut line = format!(
            "{}: {} series, {} of {} samples ok in {:.1}s = {:.0} samples/s; latency p50 {:.1} ms p99 {:.1} ms max {:.1} ms; {} failed requests ({} transport), {} unsent",
            self.target,
            self.series,
            o.ok_samples,
            self.planned_samples,
            f("elapsed_s"),
            f("samples_per_s"),
            lat("p50"),
            lat("p99"),
            lat("max"),
            o.failed_requests,
            o.transport_errors,
            o.unsent_requests,
        );
        if self.usage.is_some() {
            line.push_str(&format!(
                "; target CPU {:.1}s = {:.2} CPU-s per million samples, RSS {:.0} MiB = {:.0} bytes per series",
                f("target_cpu_s"),
                f("cpu_s_per_million_samples"),
                f("rss_after_bytes") / (1024.0 * 1024.0),
                f("rss_bytes_per_series"),
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn quantile_is_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.99), 99);
        assert_eq!(quantile(&[], 0.99), 0);
    }

    #[test]
    fn summary_reports_rates_per_million_and_per_series() {
        let outcome = Outcome {
            elapsed: Duration::from_secs(2),
            ok_requests: 10,
            ok_samples: 2_000_000,
            latencies_us: vec![1000, 2000, 3000],
            ..Outcome::default()
        };
        let usage = TargetUsage {
            cpu_s: 4.0,
            rss_before_bytes: 1000,
            rss_after_bytes: 1_001_000,
        };
        let r = Report {
            target: "t",
            url: "http://127.0.0.1:1/api/v1/write",
            series: 1000,
            samples_per_series: 2000,
            samples_per_request: 2000,
            concurrency: 2,
            planned_requests: 10,
            planned_samples: 2_000_000,
            generate_s: 1.0,
            min_t: 0,
            max_t: 1,
            outcome: &outcome,
            usage: Some(usage),
            loadgen_cpu_s: 0.5,
        };
        let j = r.to_json();
        assert_eq!(j["samples_per_s"], 1_000_000.0);
        assert_eq!(j["cpu_s_per_million_samples"], 2.0);
        assert_eq!(j["rss_bytes_per_series"], 1001.0);
        assert_eq!(j["rss_growth_bytes_per_series"], 1000.0);
        assert_eq!(j["latency_ms"]["p50"], 2.0);
        assert!(r.to_line().contains("1000000 samples/s"));
    }
}
