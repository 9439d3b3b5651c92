//! The running monitor: a scheduler task per service, one process-watch task, and one
//! evaluator that owns every status decision. A reload starts a new generation of tasks and
//! keeps the state of services that are still configured.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use blazar_bus::{Message, MessageKind};
use blazar_config::{HealthConfig, ProbeConfig, ServiceConfig};
use blazar_store::Store;
use futures_util::FutureExt;
use parking_lot::Mutex;
use rand::Rng;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::overall::{overall, root_causes};
use crate::probe::grpc::GrpcProbe;
use crate::probe::http::{HttpClients, HttpRequest};
use crate::probe::{cut_message, exec, http, tcp, Observation, Verdict};
use crate::process::{ProcessSample, ProcessWatcher};
use crate::record::{Recorder, ResponseAgg};
use crate::stats::MonitorStats;
use crate::tracker::{Rules, Tracker, Transition};
use crate::view::{HealthView, ServiceView, Summary};
use crate::HealthStatus;

/// How often observations are written to the store when no status changed.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Extra time past a check's own timeout before the scheduler gives up on it.
const TIMEOUT_GRACE: Duration = Duration::from_millis(250);
/// The same for exec checks, which kill and reap their process group after the timeout.
const EXEC_GRACE: Duration = Duration::from_secs(5);
/// How often response-time histograms are written (each write is 16 series per service).
const RESPONSES_EVERY: Duration = Duration::from_secs(5);

/// The health monitor: start it with a config, reload it, read its view.
pub struct HealthMonitor {
    shared: Arc<Shared>,
    running: Mutex<Option<CancellationToken>>,
}

struct Shared {
    inner: Mutex<Inner>,
    stats: MonitorStats,
    http: Option<HttpClients>,
}

/// The current generation's services and every service's state, index-aligned.
#[derive(Default)]
struct Inner {
    generation: u64,
    services: Vec<Arc<ServiceConfig>>,
    deps: Vec<Vec<usize>>,
    states: Vec<ServiceState>,
    by_name: HashMap<String, usize>,
    overall: HealthStatus,
    enabled: bool,
}

#[derive(Default, Clone)]
struct ServiceState {
    tracker: Tracker,
    process: Option<ProcessSample>,
    rules: Option<Rules>,
}

/// A result sent to the evaluator.
enum Report {
    Check {
        generation: u64,
        index: usize,
        obs: Observation,
        at_ns: i64,
    },
    Process {
        generation: u64,
        samples: Vec<(usize, ProcessSample)>,
        at_ns: i64,
    },
}

impl Default for HealthMonitor {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthMonitor {
    /// Creates a monitor with no services (its view is empty until `start`).
    pub fn new() -> Self {
        let http = match HttpClients::new() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "HTTP client for health checks could not be built");
                None
            }
        };
        Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner::default()),
                stats: MonitorStats::default(),
                http,
            }),
            running: Mutex::new(None),
        }
    }

    /// Starts (or restarts, on reload) checking `config`'s services. Tasks stop when `stop`
    /// is cancelled or the next `start` replaces them. Services still configured keep their
    /// state; new ones start unknown.
    pub fn start(&self, config: &HealthConfig, store: &Arc<Store>, stop: &CancellationToken) {
        let token = stop.child_token();
        if let Some(old) = self.running.lock().replace(token.clone()) {
            old.cancel();
        }
        // Turned off: nothing is checked or listed (a frozen last status would read as current).
        let config = &if config.enabled {
            config.clone()
        } else {
            HealthConfig {
                services: Vec::new(),
                ..config.clone()
            }
        };
        let removed = self.removed_by(config);
        let generation = self.install(config);
        if !removed.is_empty() {
            // Their status series end here rather than showing a last value forever; under the
            // lock, so no write of the replaced generation lands after (see `flush`).
            let _inner = self.shared.inner.lock();
            let limits = store.settings().limits;
            let t = now_ns() / blazar_model::NANOS_PER_MILLI;
            let mut rec = Recorder::default();
            for (name, crit, status) in &removed {
                rec.stale(name, *crit, *status, t, &limits);
            }
            write(store, rec);
        }
        if !config.enabled || config.services.is_empty() {
            return;
        }
        let services: Vec<Arc<ServiceConfig>> = self.shared.inner.lock().services.clone();
        let (tx, rx) = mpsc::channel(services.len().saturating_mul(2).clamp(64, 16_384));
        let permits = Arc::new(Semaphore::new(config.max_concurrent_checks));
        tokio::spawn(evaluate(
            self.shared.clone(),
            store.clone(),
            rx,
            generation,
            token.clone(),
        ));
        let mut watched = Vec::new();
        for (index, svc) in services.iter().enumerate() {
            if svc.process.is_some() {
                watched.push(index);
            }
            if svc.probe.is_none() && svc.metric_checks.is_empty() {
                continue;
            }
            let ctx = CheckCtx {
                index,
                generation,
                svc: svc.clone(),
                grpc: grpc_probe(svc),
                shared: self.shared.clone(),
                store: store.clone(),
                permits: permits.clone(),
                tx: tx.clone(),
            };
            tokio::spawn(schedule(ctx, token.clone()));
        }
        if !watched.is_empty() {
            let every = watched
                .iter()
                .filter_map(|i| services.get(*i).map(|s| s.interval))
                .min()
                .unwrap_or(config.check_interval);
            tokio::spawn(watch_processes(
                services, watched, generation, every, tx, token,
            ));
        }
    }

    /// Returns the services now monitored that `config` no longer lists (or lists with another
    /// criticality).
    fn removed_by(
        &self,
        config: &HealthConfig,
    ) -> Vec<(String, blazar_config::Criticality, HealthStatus)> {
        let inner = self.shared.inner.lock();
        inner
            .services
            .iter()
            .zip(&inner.states)
            // A new criticality is a new label set: the old series ends too.
            .filter(|(s, _)| {
                !config
                    .services
                    .iter()
                    .any(|c| c.name == s.name && c.criticality == s.criticality)
            })
            .map(|(s, st)| (s.name.clone(), s.criticality, st.tracker.status))
            .collect()
    }

    /// Installs `config`'s services as a new generation, carrying state over by name.
    fn install(&self, config: &HealthConfig) -> u64 {
        let mut inner = self.shared.inner.lock();
        let old_states: HashMap<String, ServiceState> = inner
            .by_name
            .iter()
            .filter_map(|(name, i)| inner.states.get(*i).map(|s| (name.clone(), s.clone())))
            .collect();
        let services: Vec<Arc<ServiceConfig>> = config
            .services
            .iter()
            .map(|s| Arc::new(s.clone()))
            .collect();
        let by_name: HashMap<String, usize> = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let deps = services
            .iter()
            .map(|s| {
                s.dependencies
                    .iter()
                    .filter_map(|d| by_name.get(d).copied())
                    .collect()
            })
            .collect();
        let states = services
            .iter()
            .map(|s| {
                let mut st = old_states.get(&s.name).cloned().unwrap_or_default();
                st.rules = Some(Rules {
                    success_threshold: s.success_threshold,
                    failure_threshold: s.failure_threshold,
                    healthy_threshold: s.healthy_threshold,
                    unhealthy_timeout: config.unhealthy_timeout,
                    history: config.history,
                });
                st
            })
            .collect();
        inner.generation += 1;
        inner.services = services;
        inner.deps = deps;
        inner.states = states;
        inner.by_name = by_name;
        inner.enabled = config.enabled;
        inner.overall = overall(
            inner
                .services
                .iter()
                .zip(&inner.states)
                .map(|(s, st)| (s.criticality, st.tracker.status)),
        );
        inner.generation
    }

    /// Returns every service now, and the overall status.
    pub fn view(&self) -> HealthView {
        let inner = self.shared.inner.lock();
        let causes = causes(&inner);
        let mut summary = Summary::default();
        let services: Vec<ServiceView> = (0..inner.services.len())
            .filter_map(|i| service_view(&inner, &causes, i, false))
            .inspect(|s| summary.count(s.status))
            .collect();
        HealthView {
            status: inner.overall,
            timestamp: blazar_model::format_rfc3339_nanos(now_ns()),
            summary,
            services: sorted(services),
        }
    }

    /// Returns one service with its transitions, or `None` when it is not monitored.
    pub fn service(&self, name: &str) -> Option<ServiceView> {
        let inner = self.shared.inner.lock();
        let i = *inner.by_name.get(name)?;
        let causes = causes(&inner);
        service_view(&inner, &causes, i, true)
    }

    /// Returns the overall status and a one-line summary, for blazar's own `/health`.
    pub fn summary(&self) -> (HealthStatus, String) {
        let inner = self.shared.inner.lock();
        let mut s = Summary::default();
        let mut down = Vec::new();
        for (svc, st) in inner.services.iter().zip(&inner.states) {
            s.count(st.tracker.status);
            if st.tracker.status == HealthStatus::Unhealthy {
                down.push(svc.name.as_str());
            }
        }
        let mut msg = format!(
            "{} services: {} healthy, {} degraded, {} unhealthy, {} unknown",
            inner.services.len(),
            s.healthy,
            s.degraded,
            s.unhealthy,
            s.unknown
        );
        if !down.is_empty() {
            down.truncate(10);
            msg.push_str(&format!("; unhealthy: {}", down.join(", ")));
        }
        (inner.overall, msg)
    }

    /// Appends the monitor's own metrics in the Prometheus text format.
    pub fn encode_metrics(&self, out: &mut String) {
        let mut s = Summary::default();
        for st in &self.shared.inner.lock().states {
            s.count(st.tracker.status);
        }
        self.shared.stats.encode(out, &s);
    }
}

fn sorted(mut v: Vec<ServiceView>) -> Vec<ServiceView> {
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

fn causes(inner: &Inner) -> Vec<std::collections::BTreeSet<usize>> {
    let statuses: Vec<HealthStatus> = inner.states.iter().map(|s| s.tracker.status).collect();
    root_causes(&inner.deps, &statuses)
}

fn service_view(
    inner: &Inner,
    causes: &[std::collections::BTreeSet<usize>],
    i: usize,
    with_transitions: bool,
) -> Option<ServiceView> {
    let svc = inner.services.get(i)?;
    let st = inner.states.get(i)?;
    let t = &st.tracker;
    let name_of = |j: &usize| inner.services.get(*j).map(|s| s.name.clone());
    let rfc = |ns: Option<i64>| ns.map(blazar_model::format_rfc3339_nanos);
    let (check, target) = match (&svc.probe, svc.metric_checks.first(), &svc.process) {
        (Some(p), _, _) => (p.kind(), p.target()),
        (None, Some(m), _) => ("metric", m.name.clone()),
        (None, None, Some(blazar_config::ProcessWatch::Name(n))) => ("process", n.clone()),
        (None, None, Some(blazar_config::ProcessWatch::PidFile(p))) => ("process", p.clone()),
        (None, None, None) => ("none", String::new()),
    };
    Some(ServiceView {
        name: svc.name.clone(),
        status: t.status,
        criticality: svc.criticality,
        check,
        target,
        last_seen: rfc(t.last_seen_ns),
        last_check: rfc(t.last_check_ns),
        last_change: rfc(t.last_change_ns),
        response_time_ms: t.response_time.map(|d| d.as_secs_f64() * 1000.0),
        error_count: t.error_count,
        checks_total: t.checks_total,
        failures_total: t.failures_total,
        message: t.message.clone(),
        dependencies: inner
            .deps
            .get(i)
            .into_iter()
            .flatten()
            .filter_map(|j| Some((name_of(j)?, inner.states.get(*j).map(|s| s.tracker.status)?)))
            .collect(),
        affected_by: causes
            .get(i)
            .into_iter()
            .flatten()
            .filter_map(name_of)
            .collect(),
        process: st.process.clone(),
        transitions: with_transitions.then(|| t.transitions.iter().cloned().collect()),
    })
}

fn grpc_probe(svc: &ServiceConfig) -> Option<GrpcProbe> {
    match &svc.probe {
        Some(ProbeConfig::Grpc { endpoint, service }) => {
            match GrpcProbe::new(endpoint, service, svc.timeout) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(service = %svc.name, error = %e, "gRPC health check cannot be built");
                    None
                }
            }
        }
        _ => None,
    }
}

/// What one service's scheduler needs.
struct CheckCtx {
    index: usize,
    generation: u64,
    svc: Arc<ServiceConfig>,
    grpc: Option<GrpcProbe>,
    shared: Arc<Shared>,
    store: Arc<Store>,
    permits: Arc<Semaphore>,
    tx: mpsc::Sender<Report>,
}

/// Checks one service every interval until `stop`. The first check comes at a random point
/// within the first interval, so a thousand services spread evenly over it rather than firing
/// in the same second (as Prometheus offsets its scrapes).
async fn schedule(ctx: CheckCtx, stop: CancellationToken) {
    let interval = ctx.svc.interval;
    let offset = rand::thread_rng().gen_range(Duration::ZERO..interval);
    let mut next = tokio::time::Instant::now() + offset;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep_until(next) => {}
        }
        let permit = tokio::select! {
            () = stop.cancelled() => return,
            p = ctx.permits.acquire() => p,
        };
        let Ok(_permit) = permit else { return };
        ctx.shared.stats.lag(next.elapsed());
        ctx.shared.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        let obs = tokio::select! {
            () = stop.cancelled() => {
                ctx.shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            o = run_guarded(&ctx) => o,
        };
        ctx.shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        drop(_permit);
        let counter = if obs.verdict <= Verdict::Degraded {
            &ctx.shared.stats.passed
        } else {
            &ctx.shared.stats.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let report = Report::Check {
            generation: ctx.generation,
            index: ctx.index,
            obs,
            at_ns: now_ns(),
        };
        if ctx.tx.send(report).await.is_err() {
            return;
        }
        next += interval;
        let now = tokio::time::Instant::now();
        if next < now {
            // Fell behind (a check longer than the interval, or no permit): skip the missed
            // slots rather than firing them back to back.
            let behind = now.duration_since(next);
            let missed = behind.as_nanos() / interval.as_nanos().max(1) + 1;
            ctx.shared
                .stats
                .skipped
                .fetch_add(u64::try_from(missed).unwrap_or(u64::MAX), Ordering::Relaxed);
            next += interval.saturating_mul(u32::try_from(missed).unwrap_or(u32::MAX));
        }
    }
}

/// Runs one round of a service's checks, bounded by its timeout; a panic in a check is that
/// service's failure.
async fn run_guarded(ctx: &CheckCtx) -> Observation {
    // An exec check may need a few seconds past its timeout to kill and reap its processes.
    let grace = match ctx.svc.probe {
        Some(ProbeConfig::Exec { .. }) => EXEC_GRACE,
        _ => TIMEOUT_GRACE,
    };
    let limit = ctx.svc.timeout + grace;
    let start = Instant::now();
    match tokio::time::timeout(limit, guarded(run_checks(ctx))).await {
        Ok(Ok(obs)) => obs,
        Ok(Err(panic)) => {
            ctx.shared.stats.panicked.fetch_add(1, Ordering::Relaxed);
            tracing::error!(service = %ctx.svc.name, panic = %panic, "health check panicked");
            Observation::new(
                Verdict::Failed,
                start.elapsed(),
                format!("check panicked: {panic}"),
            )
        }
        Err(_) => Observation::new(
            Verdict::Failed,
            start.elapsed(),
            format!("no result within {:?}", ctx.svc.timeout),
        ),
    }
}

/// Awaits `fut`, turning a panic into its message.
pub(crate) async fn guarded<F: std::future::Future>(fut: F) -> Result<F::Output, String> {
    AssertUnwindSafe(fut).catch_unwind().await.map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string())
    })
}

async fn run_checks(ctx: &CheckCtx) -> Observation {
    let svc = &ctx.svc;
    let mut parts: Vec<Observation> = Vec::with_capacity(1 + svc.metric_checks.len());
    if let Some(p) = &svc.probe {
        parts.push(match p {
            ProbeConfig::Http {
                url,
                method,
                expected_status,
                headers,
                tls_verify,
            } => match &ctx.shared.http {
                Some(clients) => {
                    let req = HttpRequest {
                        url,
                        method,
                        expected_status,
                        headers,
                        tls_verify: *tls_verify,
                        timeout: svc.timeout,
                    };
                    http::check(clients, &req).await
                }
                None => Observation::new(Verdict::Failed, Duration::ZERO, "no HTTP client"),
            },
            ProbeConfig::Tcp { addr } => tcp::check(addr, svc.timeout).await,
            ProbeConfig::Grpc { .. } => match &ctx.grpc {
                Some(g) => g.check().await,
                None => Observation::new(
                    Verdict::Failed,
                    Duration::ZERO,
                    "gRPC endpoint is not a valid URI",
                ),
            },
            ProbeConfig::Exec { program, args } => exec::check(program, args, svc.timeout).await,
        });
    }
    if !svc.metric_checks.is_empty() {
        let now_ms = now_ns() / blazar_model::NANOS_PER_MILLI;
        for m in &svc.metric_checks {
            parts.push(crate::metric_check::evaluate(&ctx.store, m, now_ms));
        }
    }
    combine(parts)
}

/// The worst of several results; the response time is the first (the active check's).
fn combine(parts: Vec<Observation>) -> Observation {
    let elapsed = parts.first().map_or(Duration::ZERO, |o| o.elapsed);
    let worst = parts
        .iter()
        .map(|o| o.verdict)
        .max()
        .unwrap_or(Verdict::Failed);
    let message = if parts.len() == 1 {
        parts
            .into_iter()
            .next()
            .map(|o| o.message)
            .unwrap_or_default()
    } else {
        let bad: Vec<String> = parts
            .iter()
            .filter(|o| o.verdict == worst)
            .map(|o| o.message.clone())
            .collect();
        cut_message(&bad.join("; "))
    };
    Observation {
        verdict: worst,
        elapsed,
        message,
    }
}

/// Samples watched processes every `every`; a service with nothing else to check takes its
/// status from whether its process runs.
async fn watch_processes(
    services: Vec<Arc<ServiceConfig>>,
    watched: Vec<usize>,
    generation: u64,
    every: Duration,
    tx: mpsc::Sender<Report>,
    stop: CancellationToken,
) {
    let watcher = Arc::new(Mutex::new(ProcessWatcher::new()));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (w, svcs, idx) = (watcher.clone(), services.clone(), watched.clone());
        let sampled = tokio::task::spawn_blocking(move || {
            let watches: Vec<&blazar_config::ProcessWatch> = idx
                .iter()
                .filter_map(|i| svcs.get(*i).and_then(|s| s.process.as_ref()))
                .collect();
            let samples = w.lock().sample(&watches);
            idx.into_iter().zip(samples).collect::<Vec<_>>()
        })
        .await;
        let Ok(samples) = sampled else {
            tracing::error!("process watch failed");
            continue;
        };
        let report = Report::Process {
            generation,
            samples,
            at_ns: now_ns(),
        };
        if tx.send(report).await.is_err() {
            return;
        }
    }
}

/// The evaluator: applies results to trackers, writes series, publishes changes.
async fn evaluate(
    shared: Arc<Shared>,
    store: Arc<Store>,
    mut rx: mpsc::Receiver<Report>,
    generation: u64,
    stop: CancellationToken,
) {
    let mut pending = Pending::default();
    record_unknown(&shared, &store, generation).await;
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_responses = Instant::now();
    let mut buf = Vec::with_capacity(256);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {
                let responses = last_responses.elapsed() >= RESPONSES_EVERY;
                if responses {
                    last_responses = Instant::now();
                }
                flush(&shared, &store, &mut pending, generation, responses).await;
                continue;
            }
            n = rx.recv_many(&mut buf, 1024) => if n == 0 { break },
        }
        apply(&shared, &mut pending, generation, buf.drain(..));
        if !pending.transitions.is_empty() {
            flush(&shared, &store, &mut pending, generation, false).await;
        }
    }
    flush(&shared, &store, &mut pending, generation, true).await;
}

/// Observations not yet written. Each entry carries its service's config, so what was decided
/// is written and published even if a reload replaced the services meanwhile.
#[derive(Default)]
struct Pending {
    /// The latest status of each service checked since the last write.
    statuses: HashMap<usize, (Arc<ServiceConfig>, HealthStatus)>,
    /// Response times since the last histogram write.
    responses: HashMap<usize, (Arc<ServiceConfig>, ResponseAgg)>,
    processes: Vec<(Arc<ServiceConfig>, ProcessSample)>,
    transitions: Vec<(usize, Arc<ServiceConfig>, Transition)>,
    /// The last write's timestamp (ms): each write is later than the one before, so a stale
    /// marker never lands on its series' last sample's millisecond (where it would be refused).
    last_t: i64,
}

fn apply(
    shared: &Shared,
    pending: &mut Pending,
    generation: u64,
    reports: impl Iterator<Item = Report>,
) {
    let mut inner = shared.inner.lock();
    if inner.generation != generation {
        return;
    }
    for r in reports {
        match r {
            Report::Check {
                generation: g,
                index,
                obs,
                at_ns,
            } if g == generation => {
                observe(&mut inner, pending, index, &obs, at_ns);
            }
            Report::Process {
                generation: g,
                samples,
                at_ns,
            } if g == generation => {
                for (index, sample) in samples {
                    let Some(svc) = inner.services.get(index).cloned() else {
                        continue;
                    };
                    if svc.probe.is_none() && svc.metric_checks.is_empty() {
                        let obs = if sample.alive {
                            Observation::new(
                                Verdict::Healthy,
                                Duration::ZERO,
                                format!("pid {} running", sample.pid.unwrap_or_default()),
                            )
                        } else {
                            Observation::new(
                                Verdict::Failed,
                                Duration::ZERO,
                                sample.message.clone(),
                            )
                        };
                        observe(&mut inner, pending, index, &obs, at_ns);
                    }
                    if let Some(st) = inner.states.get_mut(index) {
                        st.process = Some(sample.clone());
                    }
                    pending.processes.push((svc, sample));
                }
            }
            _ => {}
        }
    }
    if !pending.transitions.is_empty() {
        inner.overall = overall(
            inner
                .services
                .iter()
                .zip(&inner.states)
                .map(|(s, st)| (s.criticality, st.tracker.status)),
        );
    }
}

fn observe(inner: &mut Inner, pending: &mut Pending, index: usize, obs: &Observation, at_ns: i64) {
    let (Some(svc), Some(st)) = (inner.services.get(index), inner.states.get_mut(index)) else {
        return;
    };
    let Some(rules) = st.rules else { return };
    if let Some(t) = st.tracker.observe(obs, at_ns, &rules) {
        pending.transitions.push((index, svc.clone(), t));
    }
    pending
        .statuses
        .insert(index, (svc.clone(), st.tracker.status));
    if !obs.elapsed.is_zero() {
        pending
            .responses
            .entry(index)
            .or_insert_with(|| (svc.clone(), ResponseAgg::default()))
            .1
            .observe(obs.elapsed.as_secs_f64());
    }
}

/// Writes `service.health.status = -1` for services not checked yet, so they show on charts.
async fn record_unknown(shared: &Shared, store: &Arc<Store>, generation: u64) {
    let unknown: Vec<(String, blazar_config::Criticality)> = {
        let inner = shared.inner.lock();
        if inner.generation != generation {
            return;
        }
        inner
            .services
            .iter()
            .zip(&inner.states)
            .filter(|(_, st)| st.tracker.status == HealthStatus::Unknown)
            .map(|(svc, _)| (svc.name.clone(), svc.criticality))
            .collect()
    };
    let store = store.clone();
    let _ = tokio::task::spawn_blocking(move || {
        let limits = store.settings().limits;
        let t = now_ns() / blazar_model::NANOS_PER_MILLI;
        let mut rec = Recorder::default();
        for (name, crit) in &unknown {
            rec.status(name, *crit, HealthStatus::Unknown, t, &limits);
        }
        write(&store, rec);
    })
    .await;
}

/// Writes what is pending (histograms only when `responses`) off the async workers, then
/// publishes the changes.
async fn flush(
    shared: &Arc<Shared>,
    store: &Arc<Store>,
    pending: &mut Pending,
    generation: u64,
    responses: bool,
) {
    if pending.statuses.is_empty()
        && pending.processes.is_empty()
        && pending.transitions.is_empty()
        && (!responses || pending.responses.is_empty())
    {
        return;
    }
    let statuses = std::mem::take(&mut pending.statuses);
    let processes = std::mem::take(&mut pending.processes);
    let transitions = std::mem::take(&mut pending.transitions);
    let response_aggs = if responses {
        std::mem::take(&mut pending.responses)
    } else {
        HashMap::new()
    };
    // Views for the messages come from the one consistent state; after a reload replaced the
    // services, the message carries what the transition itself knows.
    let messages: Vec<Message> = {
        let inner = shared.inner.lock();
        let current = inner.generation == generation;
        let causes = if current && !transitions.is_empty() {
            causes(&inner)
        } else {
            Vec::new()
        };
        transitions
            .iter()
            .map(|(index, svc, tr)| {
                let view = current
                    .then(|| service_view(&inner, &causes, *index, false))
                    .flatten();
                health_update(svc, view, tr, inner.overall)
            })
            .collect()
    };
    for (_, svc, tr) in &transitions {
        tracing::info!(
            service = %svc.name,
            from = tr.from.as_str(),
            to = tr.to.as_str(),
            message = %tr.message,
            "health changed"
        );
    }
    let t = (now_ns() / blazar_model::NANOS_PER_MILLI).max(pending.last_t + 1);
    pending.last_t = t;
    let s = store.clone();
    let sh = shared.clone();
    let written = tokio::task::spawn_blocking(move || {
        let limits = s.settings().limits;
        let mut rec = Recorder::default();
        // Written under the monitor's lock, and only for services still installed with the
        // same criticality: a reload writes its stale markers under the same lock, so a write
        // from the generation it replaced cannot bring a removed service's series back.
        let inner = sh.inner.lock();
        let installed = |svc: &ServiceConfig| {
            inner
                .by_name
                .get(&svc.name)
                .and_then(|i| inner.services.get(*i))
                .is_some_and(|c| c.criticality == svc.criticality)
        };
        for (svc, tr) in transitions.iter().map(|(_, svc, tr)| (svc, tr)) {
            // Back to a status already left in this write (healthy → degraded → healthy):
            // that series is current again, not ended.
            let current_again = statuses
                .values()
                .any(|(s, st)| s.name == svc.name && *st == tr.from);
            if !current_again {
                rec.stale(&svc.name, svc.criticality, tr.from, t, &limits);
            }
        }
        for (svc, status) in statuses.values().filter(|(svc, _)| installed(svc)) {
            rec.status(&svc.name, svc.criticality, *status, t, &limits);
        }
        for (svc, agg) in response_aggs.values().filter(|(svc, _)| installed(svc)) {
            rec.responses(&svc.name, agg, t, &limits);
        }
        for (svc, sample) in processes.iter().filter(|(svc, _)| installed(svc)) {
            rec.process(&svc.name, sample, t, &limits);
        }
        write(&s, rec);
        drop(inner);
    })
    .await;
    if let Err(e) = written {
        tracing::error!(error = %e, "health series write failed");
    }
    for m in messages {
        store.bus().publish(m);
    }
}

fn write(store: &Store, rec: Recorder) {
    if rec.is_empty() {
        return;
    }
    if let Err(e) = store.write_series(&rec.into_batch()) {
        tracing::warn!(error = %e, "health series not recorded");
    }
}

/// A `health_update` stream message: the service now (its status as of this transition), what
/// it was, and the whole.
fn health_update(
    svc: &ServiceConfig,
    view: Option<ServiceView>,
    tr: &Transition,
    overall: HealthStatus,
) -> Message {
    let mut data = match view {
        Some(v) => serde_json::to_value(&v).unwrap_or_default(),
        None => serde_json::json!({
            "name": svc.name,
            "criticality": svc.criticality,
            "message": tr.message,
        }),
    };
    if let Some(obj) = data.as_object_mut() {
        obj.insert("status".into(), serde_json::json!(tr.to));
        obj.insert("previous".into(), serde_json::json!(tr.from));
        obj.insert("overall".into(), serde_json::json!(overall));
    }
    Message {
        kind: MessageKind::HealthUpdate,
        timestamp_ns: tr.at_ns,
        service: Some(svc.name.clone()),
        data,
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_check_is_a_result_not_a_crash() {
        let r = guarded(async {
            let v: Vec<u8> = Vec::new();
            #[allow(clippy::indexing_slicing)]
            let x = v[3];
            x
        })
        .await;
        let msg = r.unwrap_err();
        assert!(msg.contains("index out of bounds"), "{msg}");
        let r = guarded(async { std::panic::panic_any(String::from("boom")) }).await;
        assert_eq!(r.unwrap_err(), "boom");
    }

    #[test]
    fn combine_takes_the_worst() {
        let o = |v, m: &str| Observation::new(v, Duration::from_millis(2), m);
        let c = combine(vec![
            o(Verdict::Healthy, "HTTP 200"),
            o(Verdict::Degraded, "peers 2 < 3"),
        ]);
        assert_eq!(c.verdict, Verdict::Degraded);
        assert_eq!(c.message, "peers 2 < 3");
        assert_eq!(c.elapsed, Duration::from_millis(2));
    }
}
