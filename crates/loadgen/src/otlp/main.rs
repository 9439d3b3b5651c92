//! `blazar-otlp-load`: pre-generates a pool of OTLP trace, metric or log requests and sends them
//! over OTLP/gRPC or OTLP/HTTP protobuf to one loopback receiver for a fixed time, reporting
//! throughput, latency, errors and, with `--pid`, the receiver's CPU and memory. Benchmark
//! orchestration lives in `scripts/bench-otlp`.

mod gen;
mod patch;
#[path = "../procfs.rs"]
mod procfs;
mod report;
mod send;
#[path = "../stats.rs"]
mod stats;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::Parser;

use crate::gen::{generate, Signal, Spec};
use crate::report::{Report, TargetUsage};
use crate::send::{SendConfig, Target};

/// Sends pre-generated OTLP traffic to a loopback receiver for a fixed time.
///
/// Prints a human summary to stderr and a one-line JSON summary to stdout.
#[derive(Debug, Parser)]
#[command(name = "blazar-otlp-load", version)]
struct Args {
    /// OTLP/gRPC receiver, HOST:PORT (loopback only).
    #[arg(long, conflicts_with = "http", required_unless_present = "http")]
    grpc: Option<String>,
    /// OTLP/HTTP receiver base URL, e.g. http://127.0.0.1:4318 (loopback only); requests go
    /// to /v1/traces, /v1/metrics or /v1/logs as protobuf.
    #[arg(long)]
    http: Option<String>,
    /// What to send.
    #[arg(long, value_enum)]
    signal: Signal,
    /// Concurrent senders, one connection each.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// No request starts after this many seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Items per request: spans, data points or log records.
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// Compress requests with gzip.
    #[arg(long)]
    gzip: bool,
    /// Target process to read CPU time and RSS from (/proc/PID).
    #[arg(long)]
    pid: Option<u32>,
    /// Distinct `service.name`s.
    #[arg(long, default_value_t = 10)]
    services: usize,
    /// Requests generated before the clock starts and sent round-robin (ids, times and
    /// cumulative values are rewritten per send). For metrics this bounds the series:
    /// pool × batch data points, each its own series.
    #[arg(long, default_value_t = 64)]
    pool: usize,
    /// Seed of the generated content.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Name of the target in the summary.
    #[arg(long, default_value = "blazar")]
    target_name: String,
    /// A request without an answer after this long counts as a transport error.
    #[arg(long, default_value_t = 30)]
    request_timeout_s: u64,
    /// A sender told to back off (429, 503, RESOURCE_EXHAUSTED, UNAVAILABLE) waits this long.
    #[arg(long, default_value_t = 100)]
    backoff_ms: u64,
    /// Wait this long after the last answer before reading the target's CPU, so work the
    /// target finishes right after the load is counted.
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
    /// The first this-many failures and partial successes are printed.
    #[arg(long, default_value_t = 5)]
    print_errors: usize,
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blazar-otlp-load: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Senders encode their number in bits 48..63 of every id.
const MAX_CONCURRENCY: usize = 1 << 15;

fn run(args: Args) -> anyhow::Result<()> {
    let target = match (&args.grpc, &args.http) {
        (Some(addr), None) => {
            check_loopback_addr(addr)?;
            Target::Grpc(addr.clone())
        }
        (None, Some(url)) => {
            check_loopback_url(url)?;
            Target::Http(url.clone())
        }
        _ => bail!("give exactly one of --grpc and --http"),
    };
    if args.concurrency == 0 || args.concurrency > MAX_CONCURRENCY {
        bail!(
            "--concurrency: expected 1..={MAX_CONCURRENCY}, got {}",
            args.concurrency
        );
    }
    if args.batch == 0 || args.services == 0 || args.seconds == 0 {
        bail!("--batch, --services and --seconds must be positive");
    }
    let now_ns = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos())?;
    let spec = Spec {
        signal: args.signal,
        batch: args.batch,
        services: args.services,
        // Every sender needs at least one request of its own.
        pool: args.pool.max(args.concurrency),
        seed: args.seed,
        // Cumulative series started a minute ago.
        start_ns: now_ns.saturating_sub(60_000_000_000),
    };
    let gen_start = Instant::now();
    let pool = generate(&spec).context("generating the request pool")?;
    let generate_s = gen_start.elapsed().as_secs_f64();
    let pool_bytes: usize = pool.iter().map(|e| e.body.len()).sum();
    eprintln!(
        "blazar-otlp-load: generated {} {} requests of {} {} ({:.1} MiB) in {generate_s:.2}s",
        spec.pool,
        spec.signal.as_str(),
        spec.batch,
        spec.signal.item(),
        pool_bytes as f64 / 1048576.0,
    );
    let mut shares: Vec<Vec<gen::Entry>> = vec![Vec::new(); args.concurrency];
    for (i, e) in pool.into_iter().enumerate() {
        if let Some(s) = shares.get_mut(i % args.concurrency) {
            s.push(e);
        }
    }

    let pid = args.pid.map(|p| p.to_string());
    let (cpu_before, rss_before) = match &pid {
        Some(p) => (procfs::cpu_seconds(p)?, procfs::rss_bytes(p)?),
        None => (0.0, 0),
    };
    let self_cpu_before = procfs::cpu_seconds("self")?;
    let cfg = SendConfig {
        target: target.clone(),
        signal: args.signal,
        deadline: Instant::now() + Duration::from_secs(args.seconds),
        gzip: args.gzip,
        request_timeout: Duration::from_secs(args.request_timeout_s.max(1)),
        backoff: Duration::from_millis(args.backoff_ms),
        print_errors: args.print_errors,
    };
    // One thread: sending pre-encoded bodies is light, and the cores belong to the target.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the runtime")?;
    let peak = Arc::new(AtomicU64::new(rss_before));
    let stop = Arc::new(AtomicBool::new(false));
    let outcome = rt.block_on(async {
        let sampler = pid
            .clone()
            .map(|p| tokio::spawn(sample_rss(p, peak.clone(), stop.clone())));
        let out = send::run(shares, cfg).await;
        if let Some(s) = sampler {
            // Keep sampling through the settle time: the target may still be working.
            tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
            stop.store(true, Ordering::Relaxed);
            s.await.context("rss sampler")?;
        }
        out
    })?;
    let loadgen_cpu_s = procfs::cpu_seconds("self")? - self_cpu_before;
    let usage = match &pid {
        Some(p) => {
            let cpu_after = procfs::cpu_seconds(p).context("the target exited during the run")?;
            let rss_after = procfs::rss_bytes(p)?;
            Some(TargetUsage {
                cpu_s: cpu_after - cpu_before,
                rss_before_bytes: rss_before,
                rss_peak_bytes: peak.load(Ordering::Relaxed).max(rss_after),
                rss_after_bytes: rss_after,
            })
        }
        None => None,
    };
    let report = Report {
        target: &args.target_name,
        transport: target.transport(),
        signal: args.signal,
        concurrency: args.concurrency,
        batch: spec.batch,
        gzip: args.gzip,
        services: spec.services,
        pool_requests: spec.pool,
        pool_bytes,
        generate_s,
        outcome: &outcome,
        usage,
        loadgen_cpu_s,
    };
    eprintln!("{}", report.to_text());
    println!("{}", report.to_json());
    Ok(())
}

/// Samples the target's `VmRSS` every 100 ms into `peak` until `stop`.
async fn sample_rss(pid: String, peak: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        // A failed read (the target exiting) shows later as a failed CPU read.
        if let Ok(rss) = procfs::rss_bytes(&pid) {
            peak.fetch_max(rss, Ordering::Relaxed);
        }
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses an HTTP target that is not on this machine.
fn check_loopback_url(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("--http {url:?}"))?;
    if !is_loopback_host(parsed.host_str().unwrap_or_default()) {
        bail!("--http {url:?}: only loopback targets are allowed");
    }
    Ok(())
}

/// Refuses a gRPC target that is not on this machine.
fn check_loopback_addr(addr: &str) -> anyhow::Result<()> {
    let loopback = match addr.parse::<SocketAddr>() {
        Ok(a) => a.ip().is_loopback(),
        Err(_) => addr
            .rsplit_once(':')
            .is_some_and(|(host, port)| host == "localhost" && port.parse::<u16>().is_ok()),
    };
    if !loopback {
        bail!("--grpc {addr:?}: expected a loopback HOST:PORT");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert!(check_loopback_url("http://127.0.0.1:4318").is_ok());
        assert!(check_loopback_url("http://[::1]:4318/").is_ok());
        assert!(check_loopback_url("http://10.0.0.1:4318").is_err());
        assert!(check_loopback_addr("127.0.0.1:4317").is_ok());
        assert!(check_loopback_addr("[::1]:4317").is_ok());
        assert!(check_loopback_addr("localhost:4317").is_ok());
        assert!(check_loopback_addr("10.1.2.3:4317").is_err());
        assert!(check_loopback_addr("example.com:4317").is_err());
    }
}
