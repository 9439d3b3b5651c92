//! `blazar-loadgen`: pre-generates Prometheus remote_write traffic for a node-exporter-like fleet
//! and replays it against one loopback receiver, reporting throughput, latency and, with `--pid`,
//! the receiver's CPU and memory. Benchmark orchestration lives in `scripts/bench-remote-write`.

mod plan;
mod procfs;
mod replay;
mod report;
mod series;
mod stats;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::Parser;

use crate::plan::{generate, load, save, PlanSpec};
use crate::replay::{replay, ReplayConfig};
use crate::report::{Report, TargetUsage};

/// Replays pre-generated remote_write 1.0 traffic against a loopback receiver.
///
/// Prints a human summary to stderr and a one-line JSON summary to stdout.
#[derive(Debug, Parser)]
#[command(name = "blazar-loadgen", version)]
struct Args {
    /// remote_write endpoint, e.g. http://127.0.0.1:9595/api/v1/write (loopback only).
    #[arg(long)]
    url: String,
    /// Name of the target in the summary.
    #[arg(long, default_value = "target")]
    target_name: String,
    /// Active series (about 100 per simulated host).
    #[arg(long, default_value_t = 10_000)]
    series: usize,
    /// Samples per series (480 = 2 hours at a 15 s interval).
    #[arg(long, default_value_t = 480)]
    samples_per_series: usize,
    /// Simulated scrape interval.
    #[arg(long, default_value_t = 15_000)]
    interval_ms: i64,
    /// Largest timestamp jitter of a scrape, either way.
    #[arg(long, default_value_t = 5)]
    jitter_ms: i64,
    /// Samples per request (Prometheus's `max_samples_per_send`), one sample per series entry.
    #[arg(long, default_value_t = 2000)]
    samples_per_request: usize,
    /// Concurrent senders (connections); series are sharded over them like Prometheus shards.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// No request starts after this many seconds.
    #[arg(long, default_value_t = 60)]
    max_seconds: u64,
    /// No more than this many requests are sent.
    #[arg(long, default_value_t = u64::MAX)]
    max_requests: u64,
    /// A request without an answer after this long counts as a transport error.
    #[arg(long, default_value_t = 30)]
    request_timeout_s: u64,
    /// First scrape's timestamp; default: now minus the data's span, so the last sample is
    /// just before now (receivers reject samples far in the past or in the future).
    #[arg(long)]
    start_ms: Option<i64>,
    /// Seed of labels, values and jitter: the same seed gives the same bodies.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Target process to read CPU time and RSS from (/proc/PID).
    #[arg(long)]
    pid: Option<u32>,
    /// Wait this long after the last answer before reading the target's CPU and RSS, so
    /// buffered work (flushes, merges) done right after the load is counted.
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
    /// Bodies of the first this-many failed requests are printed.
    #[arg(long, default_value_t = 5)]
    print_errors: usize,
    /// Reuse the plan saved in this file, or save the generated one there, so several targets
    /// get byte-identical requests (the file's spec must match the arguments, `--start-ms` too).
    #[arg(long)]
    plan_file: Option<PathBuf>,
    /// Threads generating the plan (before the clock starts); default: all cores.
    #[arg(long)]
    gen_threads: Option<usize>,
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blazar-loadgen: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    check_loopback(&args.url)?;
    if args.series == 0
        || args.samples_per_series == 0
        || args.concurrency == 0
        || args.interval_ms <= 0
    {
        bail!("--series, --samples-per-series, --concurrency and --interval-ms must be positive");
    }
    let now_ms = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let mut spec = PlanSpec {
        series: args.series,
        samples_per_series: args.samples_per_series,
        samples_per_request: args.samples_per_request.max(1),
        shards: args.concurrency,
        interval_ms: args.interval_ms,
        jitter_ms: args.jitter_ms.max(0),
        start_ms: 0,
        seed: args.seed,
    };
    spec.start_ms = args.start_ms.unwrap_or(now_ms - spec.span_ms());
    if spec.start_ms + spec.span_ms() > now_ms {
        bail!(
            "--start-ms {}: the data would reach {} ms past now",
            spec.start_ms,
            spec.start_ms + spec.span_ms() - now_ms
        );
    }

    let threads = args
        .gen_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let gen_start = Instant::now();
    let (plan, source) = match &args.plan_file {
        Some(path) if path.exists() => (load(&spec, path)?, "loaded"),
        Some(path) => {
            let plan = generate(&spec, threads);
            save(&plan, &spec, path)?;
            (plan, "generated and saved")
        }
        None => (generate(&spec, threads), "generated"),
    };
    let generate_s = gen_start.elapsed().as_secs_f64();
    let (planned_requests, planned_samples, min_t, max_t) =
        (plan.requests(), plan.samples(), plan.min_t, plan.max_t);
    eprintln!(
        "blazar-loadgen: {} {planned_requests} requests, {planned_samples} samples, {:.1} MiB snappy in {generate_s:.1}s; data {} .. {} ms ({}s before now)",
        source,
        plan.bytes() as f64 / (1024.0 * 1024.0),
        min_t,
        max_t,
        (now_ms - min_t) / 1000
    );

    let pid = args.pid.map(|p| p.to_string());
    let (cpu_before, rss_before) = match &pid {
        Some(p) => (procfs::cpu_seconds(p)?, procfs::rss_bytes(p)?),
        None => (0.0, 0),
    };
    let self_cpu_before = procfs::cpu_seconds("self")?;
    let cfg = ReplayConfig {
        url: args.url.clone(),
        deadline: Instant::now() + Duration::from_secs(args.max_seconds),
        max_requests: args.max_requests,
        request_timeout: Duration::from_secs(args.request_timeout_s.max(1)),
        print_errors: args.print_errors,
    };
    // One thread: sending pre-encoded bodies is light, and the cores belong to the target.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the runtime")?;
    let outcome = rt.block_on(replay(plan.shards, cfg))?;
    let loadgen_cpu_s = procfs::cpu_seconds("self")? - self_cpu_before;
    let usage = match &pid {
        Some(p) => {
            std::thread::sleep(Duration::from_millis(args.settle_ms));
            let cpu_after = procfs::cpu_seconds(p).context("the target exited during the run")?;
            Some(TargetUsage {
                cpu_s: cpu_after - cpu_before,
                rss_before_bytes: rss_before,
                rss_after_bytes: procfs::rss_bytes(p)?,
            })
        }
        None => None,
    };
    let report = Report {
        target: &args.target_name,
        url: &args.url,
        series: args.series,
        samples_per_series: args.samples_per_series,
        samples_per_request: spec.samples_per_request,
        concurrency: args.concurrency,
        planned_requests,
        planned_samples,
        generate_s,
        min_t,
        max_t,
        outcome: &outcome,
        usage,
        loadgen_cpu_s,
    };
    eprintln!("{}", report.to_line());
    println!("{}", report.to_json());
    Ok(())
}

/// Refuses any target that is not on this machine.
fn check_loopback(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("--url {url:?}"))?;
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("--url {url:?}: only loopback targets are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_are_accepted() {
        assert!(check_loopback("http://127.0.0.1:9595/api/v1/write").is_ok());
        assert!(check_loopback("http://[::1]:9595/api/v1/write").is_ok());
        assert!(check_loopback("http://localhost:1/x").is_ok());
        assert!(check_loopback("http://10.0.0.1:9595/api/v1/write").is_err());
        assert!(check_loopback("http://example.com/api/v1/write").is_err());
    }
}
