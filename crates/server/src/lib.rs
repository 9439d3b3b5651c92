//! Wiring only: build every component from `Config`, run them, reload on SIGHUP, shut down in
//! order. Start: open the store (checkpoint + WAL replay) → bind listeners → start upkeep
//! tasks. Stop: stop accepting → stop tasks → final WAL sync.

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
    let mut state = AppState::new(store.clone(), &config);
    state.shutdown = stop.clone();
    let app =
        blazar_api::router(state.clone()).layer(tower_http::trace::TraceLayer::new_for_http());

    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding server.listen {}", config.server.listen))?;
    let addr = listener.local_addr().context("reading bound address")?;
    tracing::info!(addr = %addr, kind = "http", "listening");

    let tracker = TaskTracker::new();
    tasks::spawn_all(&tracker, &stop, &store, &config);
    tracker.spawn(tasks::reload_on_sighup(
        stop.clone(),
        store.clone(),
        state.clone(),
        config_path,
        config.clone(),
    ));
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
    store.sync_wal().context("final wal sync")?;
    tracing::info!("stopped");
    Ok(())
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
