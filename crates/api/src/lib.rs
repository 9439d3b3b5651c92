//! The HTTP surface (DESIGN §3): the native API under `/api/v1/telemetry/`, the
//! Prometheus-compatible `/api/v1/write`, `/metrics`, `/health`, and the live stream.
//! Handlers translate with `blazar-ingest` and call the store; nothing here owns data.

mod body;
mod error;
pub mod otlp;
mod params;
mod routes;
mod state;

pub use error::ApiError;
pub use params::now_ns;
pub use routes::{otlp_http_router, router};
pub use state::{ApiSettings, AppState, ComponentCheck, HealthSource};
