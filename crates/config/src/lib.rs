//! Configuration: YAML text → `RawConfig` (serde, unknown keys rejected with their line) →
//! `Config` (validated, defaults filled). Seed-style flat keys map in `compat`; `BLAZAR_*`
//! environment variables override file keys in `env`.

mod alerting;
mod compat;
mod env;
mod error;
mod health;
mod load;
mod raw;
pub mod selector;
mod units;
mod validated;

pub use alerting::{
    AlertRule, AlertingConfig, Channel, ChannelKind, Condition, EscalationStep, Route, Severity,
};
pub use error::ConfigError;
pub use health::{
    Criticality, HealthConfig, MetricCheck, ProbeConfig, ProcessWatch, ServiceConfig,
    P2P_CONNECTIONS_METRIC, P2P_LATENCY_METRIC,
};
pub use load::{load, load_str, Source};
pub use raw::RawConfig;
pub use units::{ByteSize, HumanDuration};
pub use validated::{
    Config, EventsConfig, FsyncMode, HostConfig, LimitsConfig, OtlpConfig, PatternSeverity,
    RetentionConfig, ServerConfig, StorageConfig, StreamConfig, TracePatternConfig, TracingConfig,
};
