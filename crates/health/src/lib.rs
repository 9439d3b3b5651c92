//! The service health monitor (seed 001's `HealthMonitor`, generalised).
//!
//! Data flow: one scheduler task per service runs its checks every `interval` (bounded by a
//! semaphore and each by its timeout; a panicking check is that service's failure) and sends
//! each [`probe::Observation`] to one evaluator task. The evaluator alone owns every service's
//! [`tracker::Tracker`] (thresholds, `unhealthy_timeout`, transitions), resolves dependencies
//! and the overall status, records `service.health.*` series in the store, publishes
//! `health_update` on the bus, and swaps in a fresh [`view::HealthView`] for the API.

pub mod probe;
pub mod process;
pub mod status;

pub use status::HealthStatus;
