//! The webhook receiver and the probe samples: shared state, the `POST /hook` handler that
//! matches firing notifications to probes and records latencies, and the writes that cross
//! (value 1) and resolve (value 0) a probe.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

use crate::plan;
use crate::probes::{Fired, Probes, Records};

/// Writes of one resolving sample before giving up (the probe then waits for its timeout).
const RESOLVE_ATTEMPTS: u32 = 3;

/// Counts of what happened, for the report.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Measured crossings sent.
    pub(crate) sent: AtomicU64,
    /// Measured crossings whose firing notification came.
    pub(crate) notified: AtomicU64,
    /// Scheduler ticks in the window with no idle probe.
    pub(crate) skipped_busy: AtomicU64,
    /// Crossing samples blazar did not accept.
    pub(crate) write_errors: AtomicU64,
    /// Resolving samples not accepted after every attempt.
    pub(crate) resolve_errors: AtomicU64,
    pub(crate) notifications: AtomicU64,
    pub(crate) firing_alerts: AtomicU64,
    pub(crate) resolved_alerts: AtomicU64,
    /// Firing or resolved alerts for a probe not waiting for one, or without a probe label.
    pub(crate) unexpected: AtomicU64,
    /// Bodies that were not a notification.
    pub(crate) unparsed: AtomicU64,
}

/// State shared by the scheduler, the receiver and the sample writes.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) probes: Mutex<Probes>,
    pub(crate) records: Mutex<Records>,
    pub(crate) counts: Counts,
    /// blazar's `/api/v1/telemetry/metrics`, once known.
    pub(crate) metrics_url: OnceLock<String>,
    pub(crate) client: reqwest::Client,
    /// How long a probe stays above the threshold after its firing notification.
    pub(crate) hold: Duration,
}

/// Locks `m`, taking the data even if a holder panicked (counters stay usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The current Unix time in nanoseconds.
pub(crate) fn unix_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The receiver's routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(plan::HOOK_PATH, post(hook))
        .route(plan::PING_PATH, post(ping))
        .with_state(shared)
}

async fn hook(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let at_ns = unix_ns();
    s.counts.notifications.fetch_add(1, Ordering::Relaxed);
    let Ok(notice) = plan::parse_notice(&body) else {
        s.counts.unparsed.fetch_add(1, Ordering::Relaxed);
        return StatusCode::OK;
    };
    for a in &notice.alerts {
        if a.firing {
            s.counts.firing_alerts.fetch_add(1, Ordering::Relaxed);
        } else if a.resolved {
            s.counts.resolved_alerts.fetch_add(1, Ordering::Relaxed);
        }
        let Some(i) = a.probe else {
            s.counts.unexpected.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if a.firing {
            let fired = lock(&s.probes).fired(i, at);
            match fired {
                Fired::Awaited {
                    latency,
                    sent_ns,
                    measured,
                } => {
                    if measured {
                        s.counts.notified.fetch_add(1, Ordering::Relaxed);
                        let split = notice
                            .timestamp_ns
                            .map(|ts| (nonneg_us(ts - sent_ns), nonneg_us(at_ns - ts)));
                        let mut r = lock(&s.records);
                        r.latency.push(latency);
                        if let Some((made, delivered)) = split {
                            r.to_notification.push_us(made);
                            r.delivery.push_us(delivered);
                        }
                        let total = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                        r.push_crossing((sent_ns, total, split.map(|x| x.0), split.map(|x| x.1)));
                    }
                    tokio::spawn(resolve(s.clone(), i, s.hold));
                }
                Fired::Unexpected => {
                    s.counts.unexpected.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else if a.resolved && !lock(&s.probes).resolved(i) {
            s.counts.unexpected.fetch_add(1, Ordering::Relaxed);
        }
    }
    StatusCode::OK
}

async fn ping(_body: Bytes) -> StatusCode {
    StatusCode::OK
}

/// Times one POST to the tool's own receiver: the machine's floor for one loopback HTTP hop
/// (scheduling included), measured alongside the crossings.
pub(crate) async fn baseline(s: Arc<Shared>, url: Arc<str>) {
    let t = Instant::now();
    let r = s
        .client
        .post(&*url)
        .header("content-type", "application/json")
        .body(plan::probe_body(0, 1, 0))
        .send()
        .await;
    if let Ok(resp) = r {
        if resp.status().is_success() {
            let _ = resp.bytes().await;
            lock(&s.records).loopback.push(t.elapsed());
        }
    }
}

fn nonneg_us(ns: i64) -> u64 {
    u64::try_from(ns.max(0) / 1000).unwrap_or(0)
}

/// Sends probe `i`'s crossing sample (the probe was claimed) and records its HTTP answer time.
pub(crate) async fn cross(s: Arc<Shared>, i: usize, measured: bool) {
    let Some(url) = s.metrics_url.get() else {
        return;
    };
    let t = Instant::now();
    let now_ns = unix_ns();
    let t_ms = {
        let mut p = lock(&s.probes);
        p.sent(i, t, now_ns, measured);
        p.stamp(i, now_ns.div_euclid(1_000_000))
    };
    let body = plan::probe_body(i, 1, t_ms);
    let r = s
        .client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let ack = t.elapsed();
    match r {
        Ok(resp) if resp.status().is_success() => {
            let _ = resp.bytes().await;
            if measured {
                let answered_first = lock(&s.probes).awaits_firing(i, t);
                let mut rec = lock(&s.records);
                rec.ack.push(ack);
                rec.push_ack(now_ns, u64::try_from(ack.as_micros()).unwrap_or(u64::MAX));
                if !answered_first {
                    rec.before_ack += 1;
                }
            }
        }
        Ok(resp) => {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            if s.counts.write_errors.fetch_add(1, Ordering::Relaxed) < 3 {
                eprintln!("blazar-alert-latency: probe {i} write: {status}: {text:.300}");
            }
        }
        Err(e) => {
            if s.counts.write_errors.fetch_add(1, Ordering::Relaxed) < 3 {
                eprintln!("blazar-alert-latency: probe {i} write: {e}");
            }
        }
    }
}

/// Sends probe `i`'s resolving sample after `hold` (the probe is already resolving).
pub(crate) async fn resolve(s: Arc<Shared>, i: usize, hold: Duration) {
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    let Some(url) = s.metrics_url.get() else {
        return;
    };
    let t_ms = lock(&s.probes).stamp(i, unix_ns().div_euclid(1_000_000));
    let body = plan::probe_body(i, 0, t_ms);
    for attempt in 1..=RESOLVE_ATTEMPTS {
        let r = s
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        match r {
            Ok(resp) if resp.status().is_success() => {
                let _ = resp.bytes().await;
                return;
            }
            Ok(resp) => eprintln!(
                "blazar-alert-latency: probe {i} resolve attempt {attempt}: {}",
                resp.status()
            ),
            Err(e) => eprintln!("blazar-alert-latency: probe {i} resolve attempt {attempt}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.counts.resolve_errors.fetch_add(1, Ordering::Relaxed);
}
