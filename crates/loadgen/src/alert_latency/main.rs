//! `blazar-alert-latency`: measures how long blazar takes from the sample that crosses an alert
//! threshold to the webhook receiving the notification, optionally under background ingest.
//!
//! It runs the webhook receiver on loopback, writes a blazar config with one rule per probe
//! (`lat_<i>`: `latency.probe{probe="<i>"}` > 0.5, `duration: 0s`, `group_wait: 0s`, grouped
//! by `alertname, probe` so every alert is its own group), then, once blazar is up, sets one
//! idle probe to 1 every `--every` and records when the firing notification for it arrives.
//! The probe is then set to 0 and reused only after its resolved notification (which waits
//! `group_interval`), so every crossing opens a fresh notification group. Meanwhile it can send
//! `--ingest-rate` JSON metric points/s of unrelated series. Benchmark orchestration lives in
//! `scripts/bench-alerts`.

mod ingest;
mod plan;
mod probes;
#[path = "../procfs.rs"]
mod procfs;
mod receiver;
mod report;
#[path = "../stats.rs"]
mod stats;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::json;

use crate::plan::parse_duration;
use crate::probes::{Probes, Records};
use crate::receiver::{lock, Counts, Shared};
use crate::stats::{per_s, round};

/// Measures alert latency: threshold-crossing sample → webhook notification received.
///
/// Prints progress to stderr, a human summary to stderr and a one-line JSON summary to stdout.
#[derive(Debug, Parser)]
#[command(name = "blazar-alert-latency", version)]
struct Args {
    /// blazar's base URL, e.g. http://127.0.0.1:9595 (loopback only).
    #[arg(long, conflicts_with = "target_file")]
    target: Option<String>,
    /// Read blazar's base URL from the first line of this file once it exists, and its
    /// process id from the second line if there is one and `--pid` is not given (the script
    /// writes it after starting blazar with the config this tool wrote).
    #[arg(long, value_name = "PATH")]
    target_file: Option<PathBuf>,
    /// Where to write the blazar config (YAML) with the rules and the webhook channel.
    #[arg(long, value_name = "PATH")]
    config_out: Option<PathBuf>,
    /// Where to write one CSV line per measured crossing (send time, latency and its parts).
    #[arg(long, value_name = "PATH")]
    crossings_out: Option<PathBuf>,
    /// The webhook receiver's listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Probes (one rule each); a probe is busy from its crossing until its resolved
    /// notification, about `--group-interval` later.
    #[arg(long, default_value_t = 64)]
    probes: usize,
    /// One crossing this often.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    every: Duration,
    /// How long a probe stays above the threshold after its firing notification.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    hold: Duration,
    /// `alerting.group_interval` in the written config (when resolved notifications go out).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    group_interval: Duration,
    /// `alerting.repeat_interval` in the written config.
    #[arg(long, default_value = "1h", value_parser = parse_duration_h)]
    repeat_interval: Duration,
    /// `alerting.evaluation_interval` in the written config.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    evaluation_interval: Duration,
    /// The webhook channel's timeout in the written config.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    webhook_timeout: Duration,
    /// Crossings and notifications before the window are not counted.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    warmup: Duration,
    /// The measurement window.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// A crossing without its firing notification after this long counts as lost.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Background load: JSON metric points per second (0: none).
    #[arg(long, default_value_t = 0)]
    ingest_rate: u64,
    /// Background load: points per request.
    #[arg(long, default_value_t = 100)]
    ingest_batch: usize,
    /// Background load: distinct series.
    #[arg(long, default_value_t = 10_000)]
    ingest_series: usize,
    /// Background load: connections, each sending one request at a time.
    #[arg(long, default_value_t = 4)]
    ingest_connections: usize,
    /// Background load: metric name (`latency.probe` sends through the rule engine too; its
    /// `probe` label then never matches a rule).
    #[arg(long, default_value = "bench.load")]
    ingest_name: String,
    /// blazar's process id, to read its CPU time and RSS from /proc.
    #[arg(long)]
    pid: Option<u32>,
    /// How long to wait for the target file and for blazar's /health.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    ready_timeout: Duration,
    /// Runtime worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Seed of the background load's values.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Also accepts hours (`1h`, `24h`).
fn parse_duration_h(s: &str) -> Result<Duration, String> {
    match s.trim().strip_suffix('h') {
        Some(h) => h
            .parse::<f64>()
            .ok()
            .and_then(|h| Duration::try_from_secs_f64(h * 3600.0).ok())
            .ok_or_else(|| format!("{s:?}: expected a number of hours")),
        None => parse_duration(s),
    }
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
            eprintln!("blazar-alert-latency: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(mut args: Args) -> anyhow::Result<()> {
    if args.probes == 0 || args.probes > 10_000 {
        bail!("--probes: expected 1..=10000, got {}", args.probes);
    }
    if args.every < Duration::from_millis(1) {
        bail!("--every: expected at least 1ms");
    }
    if args.ingest_rate > 0 && (args.ingest_batch == 0 || args.ingest_connections == 0) {
        bail!("--ingest-batch and --ingest-connections must be positive");
    }
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let shared = Arc::new(Shared {
        probes: Mutex::new(Probes::new(args.probes)),
        records: Mutex::new(Records::default()),
        counts: Counts::default(),
        metrics_url: OnceLock::new(),
        client,
        hold: args.hold,
    });

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the webhook receiver {}", args.listen))?;
    let hook_addr = listener.local_addr()?;
    let app = receiver::router(shared.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("blazar-alert-latency: webhook receiver stopped: {e}");
        }
    });
    let hook_url = format!("http://{hook_addr}{}", plan::HOOK_PATH);
    if let Some(path) = &args.config_out {
        let yaml = plan::config_yaml(
            plan::Alerting {
                probes: args.probes,
                group_interval: args.group_interval,
                repeat_interval: args.repeat_interval,
                evaluation_interval: args.evaluation_interval,
                webhook_timeout: args.webhook_timeout,
            },
            &hook_url,
        );
        write_atomically(path, yaml.as_bytes())?;
    }
    eprintln!(
        "blazar-alert-latency: ready receiver={hook_addr} probes={}",
        args.probes
    );

    let (base, file_pid) = target(&args).await?;
    if args.pid.is_none() {
        args.pid = file_pid;
    }
    check_loopback(&base)?;
    wait_healthy(&shared.client, &base, args.ready_timeout).await?;
    let _ = shared
        .metrics_url
        .set(format!("{base}/api/v1/telemetry/metrics"));

    let counters = Arc::new(ingest::Counters::default());
    let stop_ingest = Arc::new(AtomicBool::new(false));
    let load = ingest::Load {
        url: format!("{base}/api/v1/telemetry/metrics"),
        rate: args.ingest_rate,
        batch: args.ingest_batch,
        series: args.ingest_series,
        connections: args.ingest_connections,
        name: args.ingest_name.clone(),
        seed: args.seed,
    };
    let ingest_task = tokio::spawn(ingest::run(load, counters.clone(), stop_ingest.clone()));
    eprintln!(
        "blazar-alert-latency: target {base}; warm-up {:?}, window {:?}, ingest {} points/s",
        args.warmup, args.duration, args.ingest_rate
    );

    let ping_url: Arc<str> = format!("http://{hook_addr}{}", plan::PING_PATH).into();
    let window = schedule(&args, &shared, &counters, ping_url).await;

    // Drain: wait for the window's crossings still in flight (or their timeout).
    let drain_until = Instant::now() + args.timeout;
    loop {
        let now = Instant::now();
        let (awaiting, expired) = {
            let mut p = lock(&shared.probes);
            let e = p.expire(now, args.timeout, args.group_interval + args.timeout);
            (p.awaiting_measured(), e)
        };
        for i in expired {
            tokio::spawn(receiver::resolve(shared.clone(), i, Duration::ZERO));
        }
        if awaiting == 0 || now >= drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_ingest.store(true, Ordering::Relaxed);
    let _ = tokio::time::timeout(Duration::from_secs(35), ingest_task).await;

    if let Some(path) = &args.crossings_out {
        let csv = lock(&shared.records).crossings_csv();
        write_atomically(path, csv.as_bytes())?;
    }
    let report = build_report(&args, &shared, &counters, &window);
    println!("{report}");
    eprintln!("{}", report::human(&report));
    Ok(())
}

/// What the window measured besides the records.
#[derive(Debug, Default)]
struct Window {
    secs: f64,
    ingest: ingest::Snapshot,
    blazar_cpu_s: Option<f64>,
    tool_cpu_s: Option<f64>,
}

/// Runs the crossings: warm-up, then the window; returns the window's length and deltas.
async fn schedule(
    args: &Args,
    shared: &Arc<Shared>,
    counters: &Arc<ingest::Counters>,
    ping_url: Arc<str>,
) -> Window {
    let pid = args.pid.map(|p| p.to_string());
    let cpu = |pid: &Option<String>| pid.as_deref().and_then(|p| procfs::cpu_seconds(p).ok());
    let start = Instant::now();
    let window_start = start + args.warmup;
    let window_end = window_start + args.duration;
    let mut tick = tokio::time::interval(args.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut measuring = false;
    let mut at_start = (Instant::now(), ingest::Snapshot::default(), None, None);
    let mut last_report = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        if now >= window_end {
            break;
        }
        if !measuring && now >= window_start {
            measuring = true;
            counters.measuring.store(true, Ordering::Relaxed);
            at_start = (
                now,
                counters.snapshot(),
                cpu(&pid),
                cpu(&Some("self".into())),
            );
        }
        let (claimed, expired) = {
            let mut p = lock(&shared.probes);
            let e = p.expire(now, args.timeout, args.group_interval + args.timeout);
            (p.claim(), e)
        };
        for i in expired {
            tokio::spawn(receiver::resolve(shared.clone(), i, Duration::ZERO));
        }
        match claimed {
            Some(i) => {
                if measuring {
                    shared.counts.sent.fetch_add(1, Ordering::Relaxed);
                }
                tokio::spawn(receiver::cross(shared.clone(), i, measuring));
                if measuring {
                    tokio::spawn(receiver::baseline(shared.clone(), ping_url.clone()));
                }
            }
            None if measuring => {
                shared.counts.skipped_busy.fetch_add(1, Ordering::Relaxed);
            }
            None => {}
        }
        if now.duration_since(last_report) >= Duration::from_secs(10) {
            last_report = now;
            let r = lock(&shared.records);
            eprintln!(
                "blazar-alert-latency: t={:.0}s notified={} busy probes={} ingest points={}",
                now.duration_since(start).as_secs_f64(),
                r.latency.us.len(),
                lock(&shared.probes).busy(),
                counters.snapshot().points_ok
            );
        }
    }
    counters.measuring.store(false, Ordering::Relaxed);
    let now = Instant::now();
    let (t0, ingest0, blazar0, tool0) = at_start;
    let diff = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
    Window {
        secs: now.saturating_duration_since(t0).as_secs_f64(),
        ingest: counters.snapshot().since(ingest0),
        blazar_cpu_s: diff(cpu(&pid), blazar0),
        tool_cpu_s: diff(cpu(&Some("self".into())), tool0),
    }
}

fn build_report(
    args: &Args,
    shared: &Shared,
    counters: &ingest::Counters,
    w: &Window,
) -> serde_json::Value {
    let c = &shared.counts;
    let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let (lost, resolve_timeouts) = {
        let p = lock(&shared.probes);
        (p.lost, p.resolve_timeouts)
    };
    let rec = lock(&shared.records);
    let pct = |cpu: Option<f64>| cpu.map(|s| round(100.0 * s / w.secs.max(1e-9), 1));
    let rss_mib = args
        .pid
        .and_then(|p| procfs::rss_bytes(&p.to_string()).ok())
        .map(|b| round(b as f64 / (1u64 << 20) as f64, 1));
    json!({
        "tool": "blazar-alert-latency",
        "probes": args.probes,
        "every_ms": args.every.as_millis() as u64,
        "hold_ms": args.hold.as_millis() as u64,
        "group_interval_ms": args.group_interval.as_millis() as u64,
        "warmup_s": args.warmup.as_secs_f64(),
        "duration_s": round(w.secs, 2),
        "crossings": {
            "sent": g(&c.sent),
            "notified": g(&c.notified),
            "lost": lost,
            "skipped_busy": g(&c.skipped_busy),
            "write_errors": g(&c.write_errors),
            "resolve_errors": g(&c.resolve_errors),
            "resolve_timeouts": resolve_timeouts,
            "notified_before_http_answer": rec.before_ack,
            "per_s": round(per_s(g(&c.sent), w.secs), 2),
        },
        "notifications": {
            "received": g(&c.notifications),
            "firing_alerts": g(&c.firing_alerts),
            "resolved_alerts": g(&c.resolved_alerts),
            "unexpected": g(&c.unexpected),
            "unparsed": g(&c.unparsed),
        },
        "latency_ms": report::distribution(&rec.latency),
        "to_notification_ms": report::distribution(&rec.to_notification),
        "delivery_ms": report::distribution(&rec.delivery),
        "ack_ms": report::distribution(&rec.ack),
        "loopback_ms": report::distribution(&rec.loopback),
        "ingest": {
            "name": args.ingest_name,
            "target_points_per_s": args.ingest_rate,
            "batch": args.ingest_batch,
            "series": args.ingest_series,
            "connections": args.ingest_connections,
            "points_per_s": round(per_s(w.ingest.points_ok, w.secs), 0),
            "requests_per_s": round(per_s(w.ingest.requests_ok, w.secs), 1),
            "throttled": w.ingest.throttled,
            "rejected": w.ingest.rejected,
            "transport_errors": w.ingest.transport_errors,
            "behind_ticks": w.ingest.behind,
            "request_ms": report::distribution(&lock(&counters.latency)),
        },
        "blazar": {"pid": args.pid, "cpu_pct": pct(w.blazar_cpu_s), "rss_mib": rss_mib},
        "tool_cpu_pct": pct(w.tool_cpu_s),
    })
}

/// blazar's base URL and process id: `--target`, or the lines of `--target-file` once it
/// appears.
async fn target(args: &Args) -> anyhow::Result<(String, Option<u32>)> {
    if let Some(t) = &args.target {
        return Ok((t.trim_end_matches('/').to_string(), None));
    }
    let Some(path) = &args.target_file else {
        bail!("give --target or --target-file");
    };
    let deadline = Instant::now() + args.ready_timeout;
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            let mut lines = s.lines().map(str::trim);
            if let Some(url) = lines.next().filter(|l| !l.is_empty()) {
                let pid = lines.next().and_then(|l| l.parse().ok());
                return Ok((url.trim_end_matches('/').to_string(), pid));
            }
        }
        if Instant::now() >= deadline {
            bail!(
                "{} did not name a target within {:?}",
                path.display(),
                args.ready_timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Refuses targets that are not on this machine: the tool measures loopback latency.
fn check_loopback(base: &str) -> anyhow::Result<()> {
    let host = base
        .strip_prefix("http://")
        .context("the target must be an http:// URL")?
        .split('/')
        .next()
        .unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("target {base}: loopback only");
    }
    Ok(())
}

async fn wait_healthy(
    client: &reqwest::Client,
    base: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = client.get(format!("{base}/health")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            bail!("{base}/health not ready within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        assert!(check_loopback("http://127.0.0.1:9595").is_ok());
        assert!(check_loopback("http://localhost:9595").is_ok());
        assert!(check_loopback("http://[::1]:9595").is_ok());
        assert!(check_loopback("http://10.0.0.1:9595").is_err());
        assert!(check_loopback("https://127.0.0.1:9595").is_err());
    }

    #[test]
    fn hours_parse() {
        assert_eq!(parse_duration_h("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration_h("90s").unwrap(), Duration::from_secs(90));
    }

    #[test]
    fn args_parse_with_defaults() {
        let a = Args::try_parse_from(["x", "--target", "http://127.0.0.1:1"]).unwrap();
        assert_eq!(a.probes, 64);
        assert_eq!(a.every, Duration::from_millis(50));
        assert!(Args::try_parse_from(["x", "--target", "a", "--target-file", "b"]).is_err());
    }
}
