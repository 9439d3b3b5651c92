//! The service health monitor (seed 001's `HealthMonitor`, generalised).
//!
//! Data flow: one scheduler task per service runs its checks every `interval` (bounded by a
//! semaphore and each by its timeout; a panicking check is that service's failure) and sends
//! each [`probe::Observation`] to one evaluator task. The evaluator alone decides statuses
//! ([`tracker::Tracker`]: thresholds, `unhealthy_timeout`, transitions), resolves
//! dependencies and the overall status ([`overall`]), records `service.health.*` series in the
//! store ([`record`]) and publishes `health_update` on the bus. The API reads a
//! [`view::HealthView`] built on request.

pub mod metric_check;
mod monitor;
pub mod overall;
pub mod probe;
pub mod process;
pub mod record;
mod stats;
pub mod status;
pub mod tracker;
pub mod view;

pub use monitor::HealthMonitor;
pub use status::HealthStatus;
pub use view::{HealthView, ServiceView, Summary};
