//! Turns a send outcome and the target's resource readings into the JSON summary and the
//! human summary. Pure: every input is passed in.

use serde_json::{json, Value};

use crate::gen::Signal;
use crate::send::Outcome;
use crate::stats::{per_s, quantile, round};

/// The target's resources around the run, when `--pid` was given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TargetUsage {
    pub(crate) cpu_s: f64,
    pub(crate) rss_before_bytes: u64,
    /// Largest `VmRSS` seen while sampling during the run and after it.
    pub(crate) rss_peak_bytes: u64,
    pub(crate) rss_after_bytes: u64,
}

/// Everything the summary reports.
#[derive(Debug)]
pub(crate) struct Report<'a> {
    pub(crate) target: &'a str,
    pub(crate) transport: &'a str,
    pub(crate) signal: Signal,
    pub(crate) concurrency: usize,
    pub(crate) batch: usize,
    pub(crate) gzip: bool,
    pub(crate) services: usize,
    pub(crate) pool_requests: usize,
    pub(crate) pool_bytes: usize,
    pub(crate) generate_s: f64,
    pub(crate) outcome: &'a Outcome,
    pub(crate) usage: Option<TargetUsage>,
    pub(crate) loadgen_cpu_s: f64,
}

impl Report<'_> {
    /// Items the server kept: those of successful requests minus partial rejections.
    fn items_accepted(&self) -> u64 {
        self.outcome
            .items_ok
            .saturating_sub(self.outcome.items_rejected)
    }

    /// Returns the one-line JSON summary.
    pub(crate) fn to_json(&self) -> Value {
        let o = self.outcome;
        let mut lat = o.latencies_us.clone();
        lat.sort_unstable();
        let secs = o.elapsed.as_secs_f64();
        let ms = |us: u64| round(us as f64 / 1000.0, 3);
        let accepted = self.items_accepted();
        let mut v = json!({
            "tool": "blazar-otlp-load",
            "target": self.target,
            "transport": self.transport,
            "signal": self.signal.as_str(),
            "item": self.signal.item(),
            "concurrency": self.concurrency,
            "batch": self.batch,
            "gzip": self.gzip,
            "services": self.services,
            "pool_requests": self.pool_requests,
            "pool_bytes": self.pool_bytes,
            "generate_s": round(self.generate_s, 3),
            "elapsed_s": round(secs, 3),
            "requests": o.requests,
            "requests_ok": o.requests_ok,
            "requests_failed": o.failed(),
            "throttled": o.throttled,
            "errors": o.errors,
            "items_sent": o.items_sent,
            "items_ok": o.items_ok,
            "items_rejected": o.items_rejected,
            "items_accepted": accepted,
            "items_per_s": round(per_s(accepted, secs), 1),
            "samples_ok": o.samples_ok,
            "requests_per_s": round(per_s(o.requests, secs), 1),
            "bytes_sent": o.bytes_sent,
            "latency_ms": {
                "p50": ms(quantile(&lat, 0.5)),
                "p90": ms(quantile(&lat, 0.9)),
                "p99": ms(quantile(&lat, 0.99)),
                "max": ms(lat.last().copied().unwrap_or(0)),
            },
            "loadgen_cpu_s": round(self.loadgen_cpu_s, 2),
        });
        if let (Some(u), Some(obj)) = (self.usage, v.as_object_mut()) {
            // Per item sent: a refused request costs the server too.
            let cpu_per_m = if o.items_sent > 0 {
                u.cpu_s / (o.items_sent as f64 / 1e6)
            } else {
                0.0
            };
            obj.insert("target_cpu_s".into(), json!(round(u.cpu_s, 2)));
            obj.insert(
                "target_cpu_s_per_million_items".into(),
                json!(round(cpu_per_m, 3)),
            );
            obj.insert("rss_before_bytes".into(), json!(u.rss_before_bytes));
            obj.insert("rss_peak_bytes".into(), json!(u.rss_peak_bytes));
            obj.insert("rss_after_bytes".into(), json!(u.rss_after_bytes));
        }
        v
    }

    /// Returns the human summary (several lines).
    pub(crate) fn to_text(&self) -> String {
        let j = self.to_json();
        let f = |k: &str| j.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let lat = |k: &str| {
            j.get("latency_ms")
                .and_then(|l| l.get(k))
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
        };
        let o = self.outcome;
        let item = self.signal.item();
        let mut s = format!(
            "{} {} over {}{}: {} requests in {:.1}s ({:.0}/s), {} ok, {} failed\n",
            self.target,
            self.signal.as_str(),
            self.transport,
            if self.gzip { " (gzip)" } else { "" },
            o.requests,
            f("elapsed_s"),
            f("requests_per_s"),
            o.requests_ok,
            o.failed(),
        );
        s.push_str(&format!(
            "  {item}: {} sent, {} accepted, {} rejected (partial success) = {:.0} {item}/s\n",
            o.items_sent,
            self.items_accepted(),
            o.items_rejected,
            f("items_per_s"),
        ));
        if self.signal == Signal::Metrics {
            s.push_str(&format!(
                "  samples in successful requests: {}\n",
                o.samples_ok
            ));
        }
        s.push_str(&format!(
            "  latency ms: p50 {:.1}  p99 {:.1}  max {:.1}\n",
            lat("p50"),
            lat("p99"),
            lat("max")
        ));
        let errors: Vec<String> = o.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        s.push_str(&format!(
            "  throttled (429 / RESOURCE_EXHAUSTED): {}; other errors: {}\n",
            o.throttled,
            if errors.is_empty() {
                "none".to_string()
            } else {
                errors.join(", ")
            }
        ));
        if let Some(u) = self.usage {
            s.push_str(&format!(
                "  target: {:.1} CPU-s = {:.2} CPU-s per million {item}; RSS {:.0} MiB before, {:.0} MiB peak\n",
                u.cpu_s,
                f("target_cpu_s_per_million_items"),
                u.rss_before_bytes as f64 / 1048576.0,
                u.rss_peak_bytes as f64 / 1048576.0,
            ));
        }
        s.push_str(&format!("  load tool CPU: {:.1}s", self.loadgen_cpu_s));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn summary_counts_accepted_items_and_cpu_per_million() {
        let mut outcome = Outcome {
            elapsed: Duration::from_secs(2),
            requests: 12,
            requests_ok: 10,
            throttled: 1,
            items_sent: 2_000_000,
            items_ok: 1_800_000,
            items_rejected: 200_000,
            latencies_us: vec![1000, 2000, 3000],
            ..Outcome::default()
        };
        outcome.errors.insert("http_503".into(), 1);
        let r = Report {
            target: "t",
            transport: "http",
            signal: Signal::Logs,
            concurrency: 4,
            batch: 512,
            gzip: false,
            services: 10,
            pool_requests: 64,
            pool_bytes: 1,
            generate_s: 0.1,
            outcome: &outcome,
            usage: Some(TargetUsage {
                cpu_s: 4.0,
                rss_before_bytes: 1,
                rss_peak_bytes: 3,
                rss_after_bytes: 2,
            }),
            loadgen_cpu_s: 0.5,
        };
        let j = r.to_json();
        assert_eq!(j["items_accepted"], 1_600_000);
        assert_eq!(j["items_per_s"], 800_000.0);
        assert_eq!(j["requests_failed"], 2);
        assert_eq!(j["errors"]["http_503"], 1);
        assert_eq!(j["target_cpu_s_per_million_items"], 2.0);
        assert_eq!(j["latency_ms"]["p50"], 2.0);
        assert!(r.to_text().contains("800000 log records/s"));
    }
}
