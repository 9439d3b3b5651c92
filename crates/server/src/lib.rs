//! Wiring only: build every component from `Config`, run them, reload on SIGHUP, shut down in
//! order. Start: open the store (checkpoint + WAL replay) → bind listeners → start upkeep
//! tasks. Stop: stop accepting → stop tasks → final WAL sync.

mod otlp_grpc;
mod tasks;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use blazar_api::AppState;
use blazar_bus::Bus;
use blazar_config::{Config, Source};
use blazar_store::{SelfMetrics, Settings, Store};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for open connections to finish.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the daemon until SIGINT/SIGTERM.
///
/// # Errors
/// The store cannot be opened or a listener cannot be bound.
pub async fn run(
    config: Config,
    source: Source,
    config_path: Option<PathBuf>,
) -> anyhow::Result<()> {
    match &source {
        Source::Defaults => tracing::info!("no config file; using embedded defaults"),
        Source::File(p) => tracing::info!(file = %p.display(), "loaded config"),
    }
    let bus = Bus::new(config.stream.buffer_size);
    let metrics = Arc::new(SelfMetrics::new());
    let settings = Settings::from_config(&config);
    let data_dir = settings.data_dir.clone();
    let (store, report) = tokio::task::spawn_blocking(move || Store::open(settings, bus, metrics))
        .await
        .context("store open task")?
        .with_context(|| format!("opening data directory {}", data_dir.display()))?;
    tracing::info!(
        data_dir = %data_dir.display(),
        checkpoint = ?report.checkpoint,
        checkpoint_records = report.checkpoint_records,
        wal_segments = report.wal.segments,
        wal_records = report.wal.records,
        truncated_bytes = report.wal.truncated_bytes,
        bad_records = report.bad_records,
        elapsed_ms = report.elapsed_ms as u64,
        "store opened"
    );
    let store = Arc::new(store);
    let stop = CancellationToken::new();
    let audit_dir = data_dir.join("audit");
    let audit = blazar_audit::AuditLog::open(&audit_dir)
        .with_context(|| format!("opening the audit log in {}", audit_dir.display()))?;
    let mut state = AppState::new(store.clone(), &config, Arc::new(audit));
    state.shutdown = stop.clone();
    let app =
        blazar_api::router(state.clone()).layer(tower_http::trace::TraceLayer::new_for_http());

    // Bind every listener before serving any, so a taken port fails the start cleanly. The
    // main listener is announced last: once it is logged, every address is known.
    let otlp = if config.otlp.enabled {
        Some(bind_otlp(&config).await?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding server.listen {}", config.server.listen))?;
    let addr = listener.local_addr().context("reading bound address")?;
    tracing::info!(addr = %addr, kind = "http", "listening");

    let tracker = TaskTracker::new();
    rebuild_analysis(&store, &state).await;
    tasks::spawn_all(&tracker, &stop, &store, &state.analysis, &config);
    if config.host.enabled {
        tasks::spawn_host(
            &tracker,
            &stop,
            &store,
            &state.host,
            config.host.metrics_interval,
        );
    }
    {
        // Alerts of a service whose dependency is the root of its trouble fold under the
        // dependency's alert: the health monitor knows the root causes.
        let health = state.health.clone();
        state
            .alerts
            .set_dependencies(Arc::new(move |service: &str| {
                health
                    .service(service)
                    .map(|v| v.affected_by)
                    .unwrap_or_default()
            }));
    }
    state
        .alerts
        .start(&store, &stop, Some(&config.storage.data_dir.join("outbox")));
    state.health.start(&config.health, &store, &stop);
    tracker.spawn(tasks::reload_on_sighup(
        stop.clone(),
        store.clone(),
        state.clone(),
        config_path,
        config.clone(),
    ));
    if let Some((grpc, http)) = otlp {
        let (st, sp) = (state.clone(), stop.clone());
        tracker.spawn(bounded_by_grace(stop.clone(), "otlp_grpc", async move {
            otlp_grpc::serve(grpc, st, sp)
                .await
                .map_err(anyhow::Error::from)
        }));
        let otlp_app = blazar_api::otlp_http_router(state.clone())
            .layer(tower_http::trace::TraceLayer::new_for_http());
        let sp = stop.clone();
        tracker.spawn(bounded_by_grace(stop.clone(), "otlp_http", async move {
            axum::serve(http, otlp_app)
                .with_graceful_shutdown(sp.cancelled_owned())
                .await
                .map_err(anyhow::Error::from)
        }));
    }
    tracker.close();

    let shutdown = stop.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
    let serve = axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
    // Graceful shutdown waits for open connections; a stuck client must not hold the process.
    let deadline = {
        let stop = stop.clone();
        async move {
            stop.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        }
    };
    tokio::select! {
        r = serve => r.context("http server")?,
        () = deadline => tracing::warn!(grace_s = SHUTDOWN_GRACE.as_secs(), "connections still open at shutdown; closing them"),
    }
    // Order: the listener is closed (no new writes); upkeep tasks stop; the WAL is flushed.
    stop.cancel();
    tracker.wait().await;
    // Traces still in their quiet period are decided now (sampling, span metrics, analysis):
    // after a restart they would count as already completed.
    let (s, a) = (store.clone(), state.analysis.clone());
    let finished = tokio::task::spawn_blocking(move || {
        let now = tasks::now_ns();
        let views = s.complete_traces_now(now);
        let issues = a.on_completed(&views, now);
        tasks::count_issues(&s, &views, &issues, now);
        views.len()
    })
    .await;
    if let Ok(n) = finished {
        tracing::info!(traces = n, "completed open traces at shutdown");
    }
    store.sync_wal().context("final wal sync")?;
    tracing::info!("stopped");
    Ok(())
}

/// Runs a listener's server; once `stop` fires it gets `SHUTDOWN_GRACE` to finish open
/// requests, then is dropped so a stuck client cannot hold the process.
async fn bounded_by_grace<F>(stop: CancellationToken, kind: &'static str, serve: F)
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let deadline = async {
        stop.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = serve => if let Err(e) = r {
            tracing::error!(error = %format!("{e:#}"), kind, "listener failed");
        },
        () = deadline => tracing::warn!(kind, "connections still open at shutdown; closing them"),
    }
}

/// Rebuilds the service graph and trace issues from the traces the store replayed, so a
/// restart keeps them.
async fn rebuild_analysis(store: &Arc<Store>, state: &AppState) {
    let (s, a) = (store.clone(), state.analysis.clone());
    let rebuilt = tokio::task::spawn_blocking(move || {
        // Only traces that completed before the restart (a trace pending again after a late
        // span included, so its known issues are not announced twice): the others complete,
        // and are analysed, announced and counted, after it.
        let summaries: Vec<_> = s
            .traces(&blazar_signals::TraceQuery::default())
            .into_iter()
            .filter(|t| t.ever_completed)
            .collect();
        let n = summaries.len();
        a.rebuild(summaries.iter().filter_map(|t| s.trace(t.trace_id)));
        n
    })
    .await;
    match rebuilt {
        Ok(n) => tracing::info!(traces = n, "trace analysis rebuilt from stored traces"),
        Err(e) => tracing::error!(error = %e, "trace analysis rebuild failed"),
    }
}

/// Binds the OTLP gRPC and HTTP listeners and announces them.
async fn bind_otlp(
    config: &Config,
) -> anyhow::Result<(tokio::net::TcpListener, tokio::net::TcpListener)> {
    let grpc = tokio::net::TcpListener::bind(config.otlp.grpc_listen)
        .await
        .with_context(|| format!("binding otlp.grpc_listen {}", config.otlp.grpc_listen))?;
    let http = tokio::net::TcpListener::bind(config.otlp.http_listen)
        .await
        .with_context(|| format!("binding otlp.http_listen {}", config.otlp.http_listen))?;
    let g = grpc.local_addr().context("reading bound address")?;
    let h = http.local_addr().context("reading bound address")?;
    tracing::info!(addr = %g, kind = "otlp_grpc", "listening");
    tracing::info!(addr = %h, kind = "otlp_http", "listening");
    Ok((grpc, http))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
