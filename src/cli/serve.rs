//! `blazar serve`: load config, apply flag overrides, start logging and hand over to
//! `blazar_server::run` on a multi-thread runtime.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use blazar_config::{Config, Source};
use clap::Args;
use tracing_subscriber::EnvFilter;

/// The variable holding the log filter (`info`, `blazar=debug,tower_http=warn`, ...).
const LOG_ENV: &str = "BLAZAR_LOG";
const DEFAULT_LOG_FILTER: &str = "info";

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Config file [default: ./blazar.yaml if present, else built-in defaults].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Main HTTP listener (API, dashboard, /metrics); overrides `server.listen`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// OTLP gRPC listener; overrides `otlp.grpc_listen`.
    #[arg(long, value_name = "ADDR")]
    otlp_grpc: Option<SocketAddr>,
    /// OTLP HTTP listener; overrides `otlp.http_listen`.
    #[arg(long, value_name = "ADDR")]
    otlp_http: Option<SocketAddr>,
    /// Data directory (WAL, checkpoints); overrides `storage.data_dir`.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Runs the server until it is told to stop.
///
/// # Errors
/// Bad config or log filter, or whatever the server fails with.
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging()?;
    let (mut config, source) = blazar_config::load(args.config.as_deref(), std::env::vars())?;
    args.apply(&mut config);
    // Reload re-reads the file actually used, including an implicit ./blazar.yaml.
    let config_path = match &source {
        Source::File(path) => Some(path.clone()),
        Source::Defaults => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(blazar_server::run(config, source, config_path))?;
    Ok(ExitCode::SUCCESS)
}

impl ServeArgs {
    /// Flags win over the file and the environment.
    fn apply(&self, config: &mut Config) {
        if let Some(addr) = self.listen {
            config.server.listen = addr;
        }
        if let Some(addr) = self.otlp_grpc {
            config.otlp.grpc_listen = addr;
        }
        if let Some(addr) = self.otlp_http {
            config.otlp.http_listen = addr;
        }
        if let Some(dir) = &self.data_dir {
            config.storage.data_dir = dir.clone();
        }
    }
}

/// Human-readable logs on stderr, filtered by `BLAZAR_LOG` (default `info`).
fn init_logging() -> anyhow::Result<()> {
    let filter = match std::env::var(LOG_ENV) {
        Ok(spec) => EnvFilter::try_new(&spec)
            .with_context(|| format!("{LOG_ENV}: invalid log filter {spec:?}"))?,
        Err(_) => EnvFilter::new(DEFAULT_LOG_FILTER),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes would break log scrapers (and the tests' `addr=` parsing) on a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_config() {
        let mut config = blazar_config::load_str("", "test", std::iter::empty()).unwrap();
        let args = ServeArgs {
            config: None,
            listen: Some("127.0.0.1:0".parse().unwrap()),
            otlp_grpc: None,
            otlp_http: Some("127.0.0.1:1".parse().unwrap()),
            data_dir: Some(PathBuf::from("/tmp/x")),
        };
        args.apply(&mut config);
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:0");
        assert_eq!(config.otlp.grpc_listen.to_string(), "127.0.0.1:4317");
        assert_eq!(config.otlp.http_listen.to_string(), "127.0.0.1:1");
        assert_eq!(config.storage.data_dir, PathBuf::from("/tmp/x"));
    }
}
