//! blazar-client: the async HTTP client the CLI uses to talk to a running blazar.
//!
//! It owns transport (timeouts, error bodies, SSE parsing) and a lenient view of the JSON wire
//! shapes; it knows nothing of how the server stores or computes them.

mod error;
pub mod paths;
mod sse;
mod transport;
pub mod wire;

pub use error::ClientError;
pub use sse::{SseMessage, SseParser};
pub use transport::{Client, HealthResponse};
