//! `blazar-health-targets`: serves many HTTP health endpoints on loopback for blazar's health
//! monitor to check — most answer at once, some slowly, some 503, some hang far past the check
//! timeout, and some point at closed ports — and writes the blazar config that checks them
//! all. Counts what it served, per second and per endpoint (the gap between two checks of
//! one endpoint), on `GET /stats` of its control port and in the summary it prints at exit.
//! Benchmark orchestration lives in `scripts/bench-health`.

mod plan;
mod serve;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;

use crate::plan::{parse_duration, Checks, Kind, Mix};
use crate::serve::{Behaviour, Targets};

/// Serves HTTP health endpoints on loopback and writes a blazar config checking them.
///
/// Prints progress to stderr and, at exit (SIGINT, SIGTERM or --duration), a one-line JSON
/// summary to stdout.
#[derive(Debug, Parser)]
#[command(name = "blazar-health-targets", version)]
struct Args {
    /// Health endpoints to serve (one blazar service each).
    #[arg(long, default_value_t = 2000)]
    endpoints: usize,
    /// Listening ports on 127.0.0.1 the endpoints are spread over (round-robin).
    #[arg(long, default_value_t = 50)]
    ports: usize,
    /// Percent of endpoints that answer healthy only after --slow-ms.
    #[arg(long, default_value_t = 10)]
    slow_percent: u32,
    /// How long a slow endpoint takes.
    #[arg(long, default_value = "300ms", value_parser = parse_duration)]
    slow_ms: Duration,
    /// Percent of endpoints that answer 503 at once (blazar: degraded).
    #[arg(long, default_value_t = 2)]
    degraded_percent: u32,
    /// Percent of endpoints on ports where nothing listens (connection refused).
    #[arg(long, default_value_t = 5)]
    refuse_percent: u32,
    /// Percent of endpoints that answer only after --hang-ms, far past the check timeout.
    #[arg(long, default_value_t = 5)]
    hang_percent: u32,
    /// How long a hanging endpoint holds a request (unless the client leaves first).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    hang_ms: Duration,
    /// Hanging requests held at once; past this, hanging endpoints answer 504 at once.
    #[arg(long, default_value_t = 10_000)]
    max_hanging: i64,
    /// `health.check_interval` in the written config.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    interval: Duration,
    /// Each service's `timeout` in the written config.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    timeout: Duration,
    /// `health.unhealthy_timeout` in the written config.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    unhealthy_timeout: Duration,
    /// Where to write the blazar config (YAML).
    #[arg(long, value_name = "PATH")]
    config_out: Option<PathBuf>,
    /// Where to write each service's kind and expected status (JSON).
    #[arg(long, value_name = "PATH")]
    manifest_out: Option<PathBuf>,
    /// Control listener serving `GET /stats` (cumulative counters as JSON).
    #[arg(long, default_value = "127.0.0.1:0")]
    control: SocketAddr,
    /// Stop after this long (`90s`, `5m`); default: run until SIGINT or SIGTERM.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Print requests served per second every this many seconds (0: never).
    #[arg(long, default_value_t = 10)]
    report_every: u64,
    /// Runtime worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Seed of which endpoint gets which behaviour.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        rt.worker_threads(args.threads);
    }
    let result = rt
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blazar-health-targets: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.endpoints == 0 || args.endpoints > 1_000_000 {
        bail!("--endpoints: expected 1..=1000000, got {}", args.endpoints);
    }
    if args.ports == 0 || args.ports > 10_000 {
        bail!("--ports: expected 1..=10000, got {}", args.ports);
    }
    let mix = Mix {
        slow: args.slow_percent,
        degraded: args.degraded_percent,
        refuse: args.refuse_percent,
        hang: args.hang_percent,
    };
    let kinds = plan::kinds(args.endpoints, mix, args.seed)?;
    let refused = kinds.iter().filter(|k| **k == Kind::Refuse).count();

    let mut listeners = Vec::with_capacity(args.ports);
    for _ in 0..args.ports {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding an endpoint port")?;
        listeners.push(l);
    }
    let listening: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()?;
    let closed = closed_ports(refused.min(args.ports))?;

    let targets = Targets::new(
        kinds.clone(),
        Behaviour {
            slow: args.slow_ms,
            hang: args.hang_ms,
            max_hanging: args.max_hanging,
            interval: args.interval,
        },
    );
    let app = serve::endpoints(targets.clone());
    for l in listeners {
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                eprintln!("blazar-health-targets: endpoint listener stopped: {e}");
            }
        });
    }
    let control = tokio::net::TcpListener::bind(args.control)
        .await
        .with_context(|| format!("binding the control listener {}", args.control))?;
    let control_addr = control.local_addr()?;
    let ctl = serve::control(targets.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(control, ctl).await {
            eprintln!("blazar-health-targets: control listener stopped: {e}");
        }
    });

    if let Some(path) = &args.config_out {
        let checks = Checks {
            interval: args.interval,
            timeout: args.timeout,
            unhealthy_timeout: args.unhealthy_timeout,
        };
        let yaml = plan::config_yaml(&kinds, &listening, &closed, checks)?;
        write_atomically(path, yaml.as_bytes())?;
    }
    if let Some(path) = &args.manifest_out {
        let json = serde_json::to_vec(&plan::manifest(&kinds))?;
        write_atomically(path, &json)?;
    }
    let counts: Vec<String> = Kind::ALL
        .iter()
        .map(|k| {
            let n = kinds.iter().filter(|x| *x == k).count();
            format!("{}={n}", k.as_str())
        })
        .collect();
    eprintln!(
        "blazar-health-targets: ready endpoints={} ports={} {} control={control_addr}",
        args.endpoints,
        listening.len(),
        counts.join(" ")
    );

    let ticker = tokio::spawn(tick(targets.clone(), args.report_every));
    wait_for_end(args.duration).await?;
    ticker.abort();
    let stats = targets.stats();
    println!("{stats}");
    eprintln!(
        "blazar-health-targets: served {} requests in {:.0} s; hanging now {}, abandoned {}, overflow {}",
        stats["requests_total"],
        stats["uptime_s"].as_f64().unwrap_or_default(),
        stats["hanging_now"],
        stats["hang_abandoned"],
        stats["hang_overflow"],
    );
    Ok(())
}

/// Ports where nothing listens: bound (so they differ from each other and from ours), then
/// released.
fn closed_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .context("picking a closed port")?;
    let ports = held
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()?;
    drop(held);
    Ok(ports)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// Counts requests per second; every `report_every` seconds prints the last one.
async fn tick(targets: Arc<Targets>, report_every: u64) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    let mut seconds = 0u64;
    loop {
        every.tick().await;
        let n = targets.tick();
        seconds += 1;
        if report_every > 0 && seconds.is_multiple_of(report_every) {
            eprintln!(
                "blazar-health-targets: t={seconds}s requests/s={n} total={}",
                targets.requests_total()
            );
        }
    }
}

async fn wait_for_end(duration: Option<Duration>) -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    let limit = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("listening for SIGINT")?,
        _ = term.recv() => {}
        () = limit => {}
    }
    Ok(())
}
