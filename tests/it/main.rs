//! Integration tests: the real `blazar` binary on loopback with random ports, driven over HTTP.
//! No timing asserts: waits are generous deadlines, assertions are on content and counts.

mod support;

mod alertmanager;
mod alerts;
mod analysis;
mod audit;
mod bad_input;
mod cli;
mod cli_alerts;
mod cli_health;
mod cli_silence;
mod cli_traces;
mod config;
mod health;
mod ingest;
mod otlp;
mod prometheus;
mod remote_write;
mod resources;
mod restart;
mod self_metrics;
mod stream;
