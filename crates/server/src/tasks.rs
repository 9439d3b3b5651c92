//! Upkeep loops: WAL fsync interval, retention, trace completion, checkpoints, SIGHUP reload.
//! Each reads the clock and calls a pure-ish store method; each stops on the token.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use blazar_api::AppState;
use blazar_config::Config;
use blazar_store::{Settings, Store};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(crate) use blazar_api::now_ns;

fn every<F, Fut>(
    tracker: &TaskTracker,
    stop: &CancellationToken,
    period: Duration,
    name: &'static str,
    mut f: F,
) where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let stop = stop.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => f().await,
            }
        }
        tracing::debug!(task = name, "stopped");
    });
}

/// Starts the periodic upkeep tasks.
pub(crate) fn spawn_all(
    tracker: &TaskTracker,
    stop: &CancellationToken,
    store: &Arc<Store>,
    analysis: &Arc<blazar_analysis::Analysis>,
    config: &Config,
) {
    if let blazar_config::FsyncMode::Interval(d) = config.storage.fsync {
        let s = store.clone();
        every(tracker, stop, d, "wal_fsync", move || {
            let s = s.clone();
            async move {
                let r = tokio::task::spawn_blocking(move || s.sync_wal()).await;
                if let Ok(Err(e)) = r {
                    tracing::error!(error = %e, "wal fsync failed");
                }
            }
        });
    }
    let s = store.clone();
    every(
        tracker,
        stop,
        Duration::from_secs(5),
        "retention",
        move || {
            let s = s.clone();
            async move {
                let _ = tokio::task::spawn_blocking(move || s.enforce_retention(now_ns())).await;
            }
        },
    );
    let (s, a) = (store.clone(), analysis.clone());
    every(
        tracker,
        stop,
        Duration::from_millis(250),
        "trace_completion",
        move || {
            let (s, a) = (s.clone(), a.clone());
            async move {
                // Completion writes span metrics and sampling decisions to the WAL, and analysis
                // walks every span: both off the async workers.
                let done = tokio::task::spawn_blocking(move || {
                    let now = now_ns();
                    let views = s.complete_traces(now);
                    let issues = a.on_completed(&views, now);
                    for issue in &issues {
                        s.bus().publish(blazar_analysis::issue_message(issue, now));
                    }
                    count_issues(&s, &views, &issues, now);
                })
                .await;
                if let Err(e) = done {
                    tracing::error!(error = %e, "trace completion task failed");
                }
            }
        },
    );
    let s = store.clone();
    every(
        tracker,
        stop,
        config
            .storage
            .checkpoint_interval
            .max(Duration::from_secs(1)),
        "checkpoint",
        move || {
            let s = s.clone();
            async move {
                match tokio::task::spawn_blocking(move || s.checkpoint()).await {
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "checkpoint failed; keeping the previous one")
                    }
                    Err(e) => tracing::error!(error = %e, "checkpoint task failed"),
                    Ok(Ok(_)) => {}
                }
            }
        },
    );
}

/// Samples the host every `host.metrics_interval` (the first sample at once), keeps the latest
/// for the API and records seed 001's `system.*` gauges (and blazar's own process) as metrics.
pub(crate) fn spawn_host(
    tracker: &TaskTracker,
    stop: &CancellationToken,
    store: &Arc<Store>,
    host: &Arc<blazar_host::HostState>,
    period: Duration,
) {
    let collector = Arc::new(parking_lot::Mutex::new(blazar_host::HostCollector::new()));
    let (s, h) = (store.clone(), host.clone());
    let sample = move || {
        let (s, h, c) = (s.clone(), h.clone(), collector.clone());
        async move {
            let done = tokio::task::spawn_blocking(move || {
                let now = now_ns();
                let snap = c.lock().collect(now);
                record_host(&s, &snap, now);
                h.set(snap);
            })
            .await;
            if let Err(e) = done {
                tracing::error!(error = %e, "host sample failed");
            }
        }
    };
    let first = sample.clone();
    tracker.spawn(async move { first().await });
    every(tracker, stop, period, "host_resources", sample);
}

fn record_host(store: &Store, snap: &blazar_host::HostSnapshot, now_ns: i64) {
    let t = now_ns / blazar_model::NANOS_PER_MILLI;
    let points: Vec<blazar_model::MetricPoint> = blazar_host::gauges(snap)
        .into_iter()
        .filter_map(|g| {
            let name = [(blazar_model::METRIC_NAME_LABEL, g.name.to_string())];
            let mount = g.mount.map(|m| ("mount", m));
            Some(blazar_model::MetricPoint {
                labels: blazar_model::Labels::try_from_pairs(name.into_iter().chain(mount)).ok()?,
                kind: blazar_model::MetricKind::Gauge,
                value: g.value,
                t,
            })
        })
        .collect();
    if let Err(e) = store.write_points(points) {
        tracing::warn!(error = %e, "host metrics not recorded");
    }
}

/// Counts trace issues as the metric `trace_issues_total{pattern, severity, service}` (one
/// series per pattern and root service), so alert rules and charts can use them.
pub(crate) fn count_issues(
    store: &Store,
    views: &[blazar_signals::TraceView],
    issues: &[blazar_analysis::TraceIssue],
    now_ns: i64,
) {
    if issues.is_empty() {
        return;
    }
    let mut counts: std::collections::BTreeMap<(&str, &str, &str), u32> =
        std::collections::BTreeMap::new();
    for i in issues {
        let service = views
            .iter()
            .find(|v| v.summary.trace_id == i.trace_id)
            .map_or("unknown", |v| v.summary.root_service.as_str());
        *counts
            .entry((i.pattern.as_str(), i.severity.as_str(), service))
            .or_default() += 1;
    }
    let t = now_ns / blazar_model::NANOS_PER_MILLI;
    let points: Vec<blazar_model::MetricPoint> = counts
        .into_iter()
        .filter_map(|((pattern, severity, service), n)| {
            let labels = blazar_model::Labels::try_from_pairs([
                (blazar_model::METRIC_NAME_LABEL, "trace_issues_total"),
                ("pattern", pattern),
                ("severity", severity),
                ("service", service),
            ])
            .ok()?;
            Some(blazar_model::MetricPoint {
                labels,
                kind: blazar_model::MetricKind::Counter,
                value: f64::from(n),
                t,
            })
        })
        .collect();
    if let Err(e) = store.write_points(points) {
        tracing::warn!(error = %e, "trace issue counts not recorded");
    }
}

/// Reloads config on SIGHUP: re-reads the file, and on success applies it to the store and
/// handlers; on failure keeps the running config and logs why.
pub(crate) async fn reload_on_sighup(
    stop: CancellationToken,
    store: Arc<Store>,
    state: AppState,
    path: Option<PathBuf>,
    base: Config,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload disabled");
            return;
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = hup.recv() => {}
            }
            match blazar_config::load(path.as_deref(), std::env::vars()) {
                Ok((mut new, _)) => {
                    // Listeners and the data directory are fixed for the process's life.
                    new.server.listen = base.server.listen;
                    new.server.max_inflight_writes = base.server.max_inflight_writes;
                    new.otlp = base.otlp.clone();
                    new.storage.data_dir = base.storage.data_dir.clone();
                    store.reload(Settings::from_config(&new));
                    state.reload(&new);
                    state.health.start(&new.health, &store, &stop);
                    tracing::info!(services = new.health.services.len(), "config reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %e, "config reload failed; keeping the running config")
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (stop, store, state, path, base);
    }
}
