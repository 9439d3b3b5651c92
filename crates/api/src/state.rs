//! What handlers share.

use std::sync::Arc;
use std::time::Instant;

use blazar_config::Config;
use blazar_model::Limits;
use blazar_store::StoreRef;
use parking_lot::RwLock;

/// One internal component's health, for `/health`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ComponentCheck {
    pub status: &'static str,
    pub message: String,
}

/// Something that can report extra health checks (the health monitor, later).
pub trait HealthSource: Send + Sync {
    /// Returns named checks to merge into `/health`.
    fn checks(&self) -> Vec<(String, ComponentCheck)>;
}

/// Request-path settings that reload may change.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub limits: Limits,
    pub max_body_bytes: usize,
    pub max_batch_items: usize,
    pub stream_enabled: bool,
    pub max_lag_events: usize,
    pub send_timeout: std::time::Duration,
    pub batch_size: usize,
    pub max_inflight_writes: usize,
}

impl ApiSettings {
    /// Derives handler settings from config.
    pub fn from_config(c: &Config) -> Self {
        Self {
            limits: c.limits,
            max_body_bytes: c.server.max_body_bytes,
            max_batch_items: c.server.max_batch_items,
            stream_enabled: c.stream.enabled,
            max_lag_events: c.stream.max_lag_events,
            send_timeout: c.stream.send_timeout,
            batch_size: c.events.batch_size,
            max_inflight_writes: c.server.max_inflight_writes,
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: StoreRef,
    pub settings: Arc<RwLock<ApiSettings>>,
    pub started: Instant,
    pub health_sources: Arc<Vec<Arc<dyn HealthSource>>>,
    /// Permits for write requests in flight (`server.max_inflight_writes`).
    pub write_permits: Arc<tokio::sync::Semaphore>,
    /// Cancelled at shutdown: long-lived responses (the stream) end so the server can stop.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Whether writes wait for an fdatasync (`storage.fsync: always`).
    pub fsync_always: bool,
    /// Trace analysis: patterns, the issues found, the service graph. The server feeds it
    /// completed traces; handlers read it.
    pub analysis: Arc<blazar_analysis::Analysis>,
    /// The latest host resource sample (the server's collector task fills it).
    pub host: Arc<blazar_host::HostState>,
    /// The service health monitor (the server starts it; handlers read it).
    pub health: Arc<blazar_health::HealthMonitor>,
    /// Alert rules, alerts and notifications (the server starts it; handlers read it).
    pub alerts: Arc<blazar_alerting::AlertManager>,
    /// The audit trail (hash-chained JSON lines under `<data_dir>/audit/`).
    pub audit: Arc<blazar_audit::AuditLog>,
}

impl AppState {
    /// Builds state for `store` with settings from `config`.
    #[allow(clippy::disallowed_methods)]
    pub fn new(store: StoreRef, config: &Config, audit: Arc<blazar_audit::AuditLog>) -> Self {
        let alerts = blazar_alerting::AlertManager::new(&config.alerting);
        alerts.set_audit(audit.clone());
        Self {
            store,
            settings: Arc::new(RwLock::new(ApiSettings::from_config(config))),
            started: Instant::now(),
            health_sources: Arc::new(Vec::new()),
            write_permits: Arc::new(tokio::sync::Semaphore::new(
                config.server.max_inflight_writes,
            )),
            shutdown: tokio_util::sync::CancellationToken::new(),
            fsync_always: config.storage.fsync == blazar_config::FsyncMode::Always,
            analysis: Arc::new(blazar_analysis::Analysis::from_config(config)),
            host: Arc::new(blazar_host::HostState::default()),
            health: Arc::new(blazar_health::HealthMonitor::new()),
            alerts,
            audit,
        }
    }

    /// Applies a reloaded config to what handlers read: request settings and trace patterns.
    pub fn reload(&self, config: &Config) {
        *self.settings.write() = ApiSettings::from_config(config);
        self.analysis.reload(config);
        self.alerts.reload(&config.alerting);
    }

    /// Returns how many write requests hold a permit now.
    pub(crate) fn writes_in_flight(&self) -> usize {
        self.settings
            .read()
            .max_inflight_writes
            .saturating_sub(self.write_permits.available_permits())
    }

    pub(crate) fn settings(&self) -> ApiSettings {
        self.settings.read().clone()
    }
}
