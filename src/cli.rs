//! Command-line definitions (clap derive) and dispatch; each command lives in `cli/<name>.rs`.

mod alerts;
mod analyze;
mod audit;
mod config;
mod events;
mod health;
mod logs;
mod metrics;
pub(crate) mod output;
mod resources;
mod serve;
mod services;
mod silence;
mod status;
mod table;
mod tail;
mod term;
mod traces;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use blazar_client::Client;
use clap::{Args, Parser, Subcommand};

/// Real-time operational telemetry server, and a client for it.
#[derive(Debug, Parser)]
#[command(name = "blazar", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every client command shares.
#[derive(Debug, Args)]
struct Global {
    /// The blazar server client commands talk to.
    #[arg(
        long,
        global = true,
        env = "BLAZAR_URL",
        default_value = "http://127.0.0.1:9595",
        value_name = "URL"
    )]
    server: String,
    /// Print the server's JSON (pretty) instead of tables, for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// Request timeout (`500ms`, `10s`, `2m`).
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Validate a config file and exit.
    CheckConfig(config::CheckConfigArgs),
    /// Export the audit trail, or verify an export's hash chain.
    Audit(audit::AuditArgs),
    #[command(flatten)]
    Client(ClientCommand),
}

/// Commands that talk to a running server.
#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Show the server's health and ingest/store statistics.
    Status,
    /// List metrics with their current values.
    Metrics(metrics::MetricsArgs),
    /// List stored events, oldest first.
    Events(events::EventsArgs),
    /// Send one event.
    Emit(events::EmitArgs),
    /// List recent traces.
    Traces(traces::TracesArgs),
    /// Show one trace as a waterfall, with its critical path and bottleneck.
    Trace(traces::TraceArgs),
    /// List performance issues found in completed traces.
    Analyze(analyze::AnalyzeArgs),
    /// List stored log records.
    Logs(logs::LogsArgs),
    /// Show the service dependency graph built from completed traces.
    Services,
    /// Show the host now: CPU, load, memory, disks, network, blazar's own process.
    Resources(resources::ResourcesArgs),
    /// Show the monitored services' health, or one service's in detail (exit 1 when unhealthy).
    Health(health::HealthArgs),
    /// List alerts: the active ones (firing and pending), or those in one state.
    Alerts(alerts::AlertsArgs),
    /// Acknowledge an active alert.
    Ack(alerts::AckArgs),
    /// List the alert rules (configured and built-in) with their state and last evaluation.
    Rules,
    /// Silence alerts for a while, list silences, or end one.
    Silence {
        #[command(subcommand)]
        command: silence::SilenceCommand,
    },
    /// Follow the live stream until Ctrl-C.
    Tail(tail::TailArgs),
}

/// What a client command needs: the connection and the output mode.
pub(crate) struct Ctx {
    client: Client,
    json: bool,
}

/// Runs the parsed command and returns the process exit code.
///
/// # Errors
/// Whatever the command failed with; `main` prints it.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Cli { global, command } = cli;
    match command {
        Command::Serve(args) => serve::run(args),
        Command::CheckConfig(args) => config::check(args, global.json),
        Command::Audit(args) => audit::run(args, &global.server, global.timeout, global.json),
        Command::Client(command) => {
            let client = Client::new(&global.server, global.timeout)?;
            let ctx = Ctx {
                client,
                json: global.json,
            };
            // Client commands do a request or two: one thread is plenty.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(run_client(&ctx, command))
        }
    }
}

async fn run_client(ctx: &Ctx, command: ClientCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClientCommand::Status => status::run(ctx).await,
        ClientCommand::Metrics(args) => metrics::run(ctx, args).await,
        ClientCommand::Events(args) => events::list(ctx, args).await,
        ClientCommand::Emit(args) => events::emit(ctx, args).await,
        ClientCommand::Traces(args) => traces::run(ctx, args).await,
        ClientCommand::Trace(args) => traces::show(ctx, args).await,
        ClientCommand::Analyze(args) => analyze::run(ctx, args).await,
        ClientCommand::Logs(args) => logs::run(ctx, args).await,
        ClientCommand::Services => services::run(ctx).await,
        ClientCommand::Resources(args) => resources::run(ctx, args).await,
        ClientCommand::Health(args) => health::run(ctx, args).await,
        ClientCommand::Alerts(args) => alerts::list(ctx, args).await,
        ClientCommand::Ack(args) => alerts::ack(ctx, args).await,
        ClientCommand::Rules => alerts::rules(ctx).await,
        ClientCommand::Silence { command } => silence::run(ctx, command).await,
        ClientCommand::Tail(args) => tail::run(ctx, args).await,
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    blazar_config::HumanDuration::parse(s).map(|d| d.0)
}

/// Builds a query from optional parameters, leaving out those not given.
fn query<'a>(params: &[(&'a str, Option<String>)]) -> Vec<(&'a str, String)> {
    params
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (*k, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "blazar",
            "metrics",
            "--json",
            "--timeout",
            "500ms",
            "--server",
            "http://h:1",
        ])
        .unwrap();
        assert!(cli.global.json);
        assert_eq!(cli.global.timeout, Duration::from_millis(500));
        assert_eq!(cli.global.server, "http://h:1");
    }

    #[test]
    fn query_leaves_out_missing_values() {
        let q = query(&[
            ("a", Some("1".into())),
            ("b", None),
            ("c", Some("x".into())),
        ]);
        assert_eq!(q, vec![("a", "1".to_string()), ("c", "x".to_string())]);
    }
}
