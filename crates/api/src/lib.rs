//! blazar-api: axum routers for the native and Prometheus-compatible HTTP API, and the live stream
