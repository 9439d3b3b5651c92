//! The endpoints: one axum router on every listening port, counters of what was served, and the
//! gap between two requests to the same endpoint (the checker's real interval, seen from here).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::plan::Kind;

/// Gap buckets, as a multiple of the check interval.
const GAP_RATIO_BUCKETS: [f64; 11] = [0.5, 0.9, 0.95, 0.99, 1.01, 1.05, 1.1, 1.5, 2.0, 5.0, 10.0];
/// Per-second request counts kept for `/stats` (ten minutes).
const PER_SECOND_KEPT: usize = 600;

const HEALTHY: &str = r#"{"status":"healthy"}"#;

/// How the endpoints behave.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Behaviour {
    pub(crate) slow: Duration,
    pub(crate) hang: Duration,
    /// Hanging requests held at once; past this a hanging endpoint answers 504 at once.
    pub(crate) max_hanging: i64,
    /// The check interval the config asks for, the unit of the gap histogram.
    pub(crate) interval: Duration,
}

/// Everything the handlers share.
pub(crate) struct Targets {
    kinds: Vec<Kind>,
    behaviour: Behaviour,
    started: Instant,
    served: [AtomicU64; Kind::ALL.len()],
    not_found: AtomicU64,
    hanging_now: AtomicI64,
    hang_finished: AtomicU64,
    /// Hanging requests whose client went away first (the server dropped the handler).
    hang_abandoned: AtomicU64,
    hang_overflow: AtomicU64,
    /// Microseconds since `started` of each endpoint's last request, plus one (0: never).
    last_hit_us: Vec<AtomicU64>,
    gap_buckets: [AtomicU64; GAP_RATIO_BUCKETS.len() + 1],
    gap_sum_us: AtomicU64,
    gap_count: AtomicU64,
    per_second: Mutex<PerSecond>,
}

#[derive(Default)]
struct PerSecond {
    last_total: u64,
    counts: VecDeque<u64>,
}

impl Targets {
    pub(crate) fn new(kinds: Vec<Kind>, behaviour: Behaviour) -> Arc<Self> {
        let n = kinds.len();
        Arc::new(Self {
            kinds,
            behaviour,
            started: Instant::now(),
            served: Default::default(),
            not_found: AtomicU64::new(0),
            hanging_now: AtomicI64::new(0),
            hang_finished: AtomicU64::new(0),
            hang_abandoned: AtomicU64::new(0),
            hang_overflow: AtomicU64::new(0),
            last_hit_us: (0..n).map(|_| AtomicU64::new(0)).collect(),
            gap_buckets: Default::default(),
            gap_sum_us: AtomicU64::new(0),
            gap_count: AtomicU64::new(0),
            per_second: Mutex::new(PerSecond::default()),
        })
    }

    /// Requests answered or being held, every kind.
    pub(crate) fn requests_total(&self) -> u64 {
        self.served.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Notes a request to endpoint `i` and, from the second one on, its gap to the previous.
    fn hit(&self, i: usize) {
        let Some(slot) = self.last_hit_us.get(i) else {
            return;
        };
        let now = self.now_us().saturating_add(1);
        let prev = slot.swap(now, Ordering::Relaxed);
        if prev == 0 {
            return;
        }
        let gap_us = now.saturating_sub(prev);
        let interval_us = self.behaviour.interval.as_micros().max(1) as f64;
        let ratio = gap_us as f64 / interval_us;
        let b = GAP_RATIO_BUCKETS
            .iter()
            .position(|le| ratio <= *le)
            .unwrap_or(GAP_RATIO_BUCKETS.len());
        if let Some(c) = self.gap_buckets.get(b) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.gap_sum_us.fetch_add(gap_us, Ordering::Relaxed);
        self.gap_count.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self, kind: Kind) {
        if let Some(c) = self.served.get(kind.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn per_second(&self) -> MutexGuard<'_, PerSecond> {
        self.per_second
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Called once a second: keeps that second's request count (the last ten minutes).
    pub(crate) fn tick(&self) -> u64 {
        let total = self.requests_total();
        let mut ps = self.per_second();
        let n = total.saturating_sub(ps.last_total);
        ps.last_total = total;
        if ps.counts.len() == PER_SECOND_KEPT {
            ps.counts.pop_front();
        }
        ps.counts.push_back(n);
        n
    }

    /// Everything counted so far (cumulative, so a caller diffs two reads).
    pub(crate) fn stats(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut kinds = serde_json::Map::new();
        let mut served = serde_json::Map::new();
        for k in Kind::ALL {
            let n = self.kinds.iter().filter(|x| **x == k).count();
            kinds.insert(k.as_str().into(), n.into());
            if k != Kind::Refuse {
                let c = self.served.get(k.index()).map_or(0, g);
                served.insert(k.as_str().into(), c.into());
            }
        }
        let mut cumulative = 0;
        let buckets: Vec<serde_json::Value> = GAP_RATIO_BUCKETS
            .iter()
            .map(|b| serde_json::json!(b))
            .chain(std::iter::once(serde_json::json!("+Inf")))
            .zip(self.gap_buckets.iter())
            .map(|(le, c)| {
                cumulative += g(c);
                serde_json::json!([le, cumulative])
            })
            .collect();
        let hit = self
            .last_hit_us
            .iter()
            .filter(|a| a.load(Ordering::Relaxed) != 0)
            .count();
        let per_second: Vec<u64> = self.per_second().counts.iter().copied().collect();
        serde_json::json!({
            "uptime_s": self.started.elapsed().as_secs_f64(),
            "endpoints": self.kinds.len(),
            "kinds": kinds,
            "requests_total": self.requests_total(),
            "served": served,
            "not_found": g(&self.not_found),
            "hanging_now": self.hanging_now.load(Ordering::Relaxed).max(0),
            "hang_finished": g(&self.hang_finished),
            "hang_abandoned": g(&self.hang_abandoned),
            "hang_overflow": g(&self.hang_overflow),
            "endpoints_hit": hit,
            "gap": {
                "interval_s": self.behaviour.interval.as_secs_f64(),
                "ratio_buckets": buckets,
                "sum_s": g(&self.gap_sum_us) as f64 / 1e6,
                "count": g(&self.gap_count),
            },
            "per_second": per_second,
        })
    }
}

/// The router every endpoint port serves.
pub(crate) fn endpoints(targets: Arc<Targets>) -> Router {
    Router::new()
        .route("/health/{id}", get(health))
        .with_state(targets)
}

/// The control port: `GET /stats`.
pub(crate) fn control(targets: Arc<Targets>) -> Router {
    Router::new()
        .route("/stats", get(stats))
        .with_state(targets)
}

async fn stats(State(t): State<Arc<Targets>>) -> Response {
    axum::Json(t.stats()).into_response()
}

fn healthy() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], HEALTHY).into_response()
}

async fn health(State(t): State<Arc<Targets>>, Path(id): Path<usize>) -> Response {
    let Some(kind) = t.kinds.get(id).copied() else {
        t.not_found.fetch_add(1, Ordering::Relaxed);
        return StatusCode::NOT_FOUND.into_response();
    };
    t.hit(id);
    t.count(kind);
    match kind {
        Kind::Ok => healthy(),
        Kind::Slow => {
            tokio::time::sleep(t.behaviour.slow).await;
            healthy()
        }
        Kind::Degraded => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"degraded"}"#,
        )
            .into_response(),
        Kind::Hang => hang(&t).await,
        // Nothing should reach a refused endpoint; if something does, it fails.
        Kind::Refuse => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn hang(t: &Arc<Targets>) -> Response {
    let held = HangGuard::enter(t.clone());
    if held.over_cap {
        t.hang_overflow.fetch_add(1, Ordering::Relaxed);
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    }
    tokio::time::sleep(t.behaviour.hang).await;
    held.finish();
    healthy()
}

/// Counts a held request; dropped unfinished means the server gave up on it (client gone).
struct HangGuard {
    t: Arc<Targets>,
    over_cap: bool,
    finished: bool,
}

impl HangGuard {
    fn enter(t: Arc<Targets>) -> Self {
        let before = t.hanging_now.fetch_add(1, Ordering::Relaxed);
        let over_cap = before >= t.behaviour.max_hanging;
        Self {
            t,
            over_cap,
            finished: over_cap,
        }
    }

    fn finish(mut self) {
        self.finished = true;
        self.t.hang_finished.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for HangGuard {
    fn drop(&mut self) {
        self.t.hanging_now.fetch_sub(1, Ordering::Relaxed);
        if !self.finished {
            self.t.hang_abandoned.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(kinds: Vec<Kind>) -> Arc<Targets> {
        Targets::new(
            kinds,
            Behaviour {
                slow: Duration::from_millis(1),
                hang: Duration::from_secs(60),
                max_hanging: 1,
                interval: Duration::from_secs(1),
            },
        )
    }

    #[test]
    fn gaps_are_bucketed_by_interval() {
        let t = targets(vec![Kind::Ok]);
        t.hit(0);
        t.hit(0);
        t.hit(7); // unknown endpoint: ignored
        let s = t.stats();
        assert_eq!(s["gap"]["count"], 1);
        // A gap of microseconds is in the first bucket (<= 0.5 intervals).
        assert_eq!(s["gap"]["ratio_buckets"][0], serde_json::json!([0.5, 1]));
        assert_eq!(s["endpoints_hit"], 1);
    }

    #[test]
    fn per_second_counts_are_bounded() {
        let t = targets(vec![Kind::Ok]);
        for _ in 0..PER_SECOND_KEPT + 10 {
            t.count(Kind::Ok);
            assert_eq!(t.tick(), 1);
        }
        assert_eq!(t.per_second().counts.len(), PER_SECOND_KEPT);
    }

    #[tokio::test]
    async fn a_second_hang_over_the_cap_answers_at_once() {
        let t = targets(vec![Kind::Hang, Kind::Hang]);
        let first = tokio::spawn(health(State(t.clone()), Path(0)));
        tokio::task::yield_now().await;
        for _ in 0..100 {
            if t.hanging_now.load(Ordering::Relaxed) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let r = health(State(t.clone()), Path(1)).await;
        assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
        first.abort();
        let _ = first.await;
        let s = t.stats();
        assert_eq!(s["hang_overflow"], 1);
        assert_eq!(s["hang_abandoned"], 1);
        assert_eq!(s["hanging_now"], 0);
        assert_eq!(s["served"]["hang"], 2);
    }
}
