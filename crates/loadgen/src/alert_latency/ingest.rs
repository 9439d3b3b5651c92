//! Background ingest: JSON metric points of series no rule watches (unless `--ingest-name` is a
//! rule's metric), POSTed in batches to `/api/v1/telemetry/metrics` at a paced rate over a few
//! keep-alive connections. Bodies are generated before the clock starts.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::probes::Series;

/// Bodies kept; series beyond `MAX_BODIES × batch` share bodies.
const MAX_BODIES: usize = 4096;

/// How much background load to send.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub(crate) url: String,
    /// Points per second over all connections.
    pub(crate) rate: u64,
    pub(crate) batch: usize,
    pub(crate) series: usize,
    pub(crate) connections: usize,
    pub(crate) name: String,
    pub(crate) seed: u64,
}

/// Counters of the background load; `latency` only while `measuring`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests_ok: AtomicU64,
    pub(crate) points_ok: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) transport_errors: AtomicU64,
    /// Ticks skipped because a connection was still waiting for its last answer.
    pub(crate) behind: AtomicU64,
    pub(crate) measuring: AtomicBool,
    pub(crate) latency: Mutex<Series>,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Snapshot {
    pub(crate) requests_ok: u64,
    pub(crate) points_ok: u64,
    pub(crate) throttled: u64,
    pub(crate) rejected: u64,
    pub(crate) transport_errors: u64,
    pub(crate) behind: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Snapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            requests_ok: g(&self.requests_ok),
            points_ok: g(&self.points_ok),
            throttled: g(&self.throttled),
            rejected: g(&self.rejected),
            transport_errors: g(&self.transport_errors),
            behind: g(&self.behind),
        }
    }
}

impl Snapshot {
    /// `self − earlier`, field by field.
    pub(crate) fn since(self, earlier: Snapshot) -> Snapshot {
        Snapshot {
            requests_ok: self.requests_ok.saturating_sub(earlier.requests_ok),
            points_ok: self.points_ok.saturating_sub(earlier.points_ok),
            throttled: self.throttled.saturating_sub(earlier.throttled),
            rejected: self.rejected.saturating_sub(earlier.rejected),
            transport_errors: self
                .transport_errors
                .saturating_sub(earlier.transport_errors),
            behind: self.behind.saturating_sub(earlier.behind),
        }
    }
}

/// Generates the request bodies: series `k` is `NAME{host="h<k/100>",idx="<k>"}`, a gauge;
/// body `b` holds series `b × batch ..` (wrapping), each with a random value.
pub(crate) fn bodies(load: &Load) -> Vec<axum::body::Bytes> {
    let batch = load.batch.max(1);
    let series = load.series.max(1);
    let n = series.div_ceil(batch).clamp(1, MAX_BODIES);
    let mut rng = StdRng::seed_from_u64(load.seed);
    (0..n)
        .map(|b| {
            let mut s = String::with_capacity(batch * 96);
            s.push('[');
            for j in 0..batch {
                let k = (b * batch + j) % series;
                if j > 0 {
                    s.push(',');
                }
                let v: f64 = rng.gen_range(0.0..100.0);
                let _ = write!(
                    s,
                    "{{\"name\":\"{}\",\"type\":\"gauge\",\"value\":{v:.3},\"tags\":{{\"host\":\"h{}\",\"idx\":\"{k}\"}}}}",
                    load.name,
                    k / 100
                );
            }
            s.push(']');
            axum::body::Bytes::from(s)
        })
        .collect()
}

/// Runs `load` until `stop` is set: each connection sends its share of the rate, one request at
/// a time, on a fixed schedule (ticks missed while waiting for an answer are skipped and
/// counted as `behind`).
pub(crate) async fn run(load: Load, counters: Arc<Counters>, stop: Arc<AtomicBool>) {
    if load.rate == 0 || load.connections == 0 {
        return;
    }
    let bodies = Arc::new(bodies(&load));
    let per_conn = load.rate as f64 / load.connections as f64 / load.batch.max(1) as f64;
    let period = Duration::from_secs_f64(1.0 / per_conn.max(0.001));
    let mut tasks = Vec::with_capacity(load.connections);
    for c in 0..load.connections {
        let client = match reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("blazar-alert-latency: ingest client: {e}");
                return;
            }
        };
        let (bodies, counters, stop, url) = (
            bodies.clone(),
            counters.clone(),
            stop.clone(),
            load.url.clone(),
        );
        let batch = load.batch as u64;
        tasks.push(tokio::spawn(async move {
            // Connections start spread over one period.
            tokio::time::sleep(period.mul_f64(c as f64 / load.connections as f64)).await;
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut next = c;
            let mut last_tick = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let now = Instant::now();
                let missed = (now.saturating_duration_since(last_tick).as_secs_f64()
                    / period.as_secs_f64()) as u64;
                if missed > 1 {
                    counters.behind.fetch_add(missed - 1, Ordering::Relaxed);
                }
                last_tick = now;
                let Some(body) = bodies.get(next % bodies.len().max(1)).cloned() else {
                    return;
                };
                next = next.wrapping_add(load.connections);
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().is_success() => {
                        // Read the answer so the connection is reused.
                        let _ = resp.bytes().await;
                        counters.requests_ok.fetch_add(1, Ordering::Relaxed);
                        counters.points_ok.fetch_add(batch, Ordering::Relaxed);
                        if counters.measuring.load(Ordering::Relaxed) {
                            if let Ok(mut l) = counters.latency.lock() {
                                l.push(t.elapsed());
                            }
                        }
                    }
                    Ok(resp) if resp.status().as_u16() == 429 || resp.status().as_u16() == 503 => {
                        let _ = resp.bytes().await;
                        counters.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(resp) => {
                        let status = resp.status();
                        let text = resp.text().await.unwrap_or_default();
                        if counters.rejected.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("blazar-alert-latency: ingest {status}: {text:.300}");
                        }
                    }
                    Err(e) => {
                        if counters.transport_errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("blazar-alert-latency: ingest: {e}");
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(series: usize, batch: usize) -> Load {
        Load {
            url: String::new(),
            rate: 1,
            batch,
            series,
            connections: 1,
            name: "bench.load".into(),
            seed: 1,
        }
    }

    #[test]
    fn bodies_cover_every_series_once() {
        let b = bodies(&load(250, 100));
        assert_eq!(b.len(), 3);
        let mut seen = std::collections::HashSet::new();
        for body in &b {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            let items = v.as_array().unwrap();
            assert_eq!(items.len(), 100);
            for p in items {
                assert_eq!(p["name"], "bench.load");
                seen.insert(p["tags"]["idx"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(seen.len(), 250, "the last body wraps to the first series");
    }

    #[test]
    fn bodies_are_bounded() {
        assert_eq!(bodies(&load(10_000_000, 1)).len(), MAX_BODIES);
    }
}
