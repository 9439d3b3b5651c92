//! Sends a plan: one sequential sender per shard (so each series stays in time order), all
//! sharing one connection pool, stopping at a deadline or after a request budget.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::plan::Request;

/// How to send.
#[derive(Debug, Clone)]
pub(crate) struct ReplayConfig {
    pub(crate) url: String,
    /// No request starts at or after this instant.
    pub(crate) deadline: Instant,
    /// No more than this many requests start, over all shards.
    pub(crate) max_requests: u64,
    pub(crate) request_timeout: Duration,
    /// Bodies of the first this-many failed requests are printed to stderr.
    pub(crate) print_errors: usize,
}

/// What happened, summed over shards.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) elapsed: Duration,
    pub(crate) ok_requests: u64,
    pub(crate) ok_samples: u64,
    pub(crate) failed_requests: u64,
    pub(crate) failed_samples: u64,
    /// Requests that got no HTTP answer (connect error, reset, timeout).
    pub(crate) transport_errors: u64,
    /// Answers by status code, successes included.
    pub(crate) statuses: BTreeMap<u16, u64>,
    /// Request latencies in microseconds, failures included.
    pub(crate) latencies_us: Vec<u64>,
    pub(crate) unsent_requests: u64,
    pub(crate) bytes_sent: u64,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.ok_requests += other.ok_requests;
        self.ok_samples += other.ok_samples;
        self.failed_requests += other.failed_requests;
        self.failed_samples += other.failed_samples;
        self.transport_errors += other.transport_errors;
        for (code, n) in other.statuses {
            *self.statuses.entry(code).or_default() += n;
        }
        self.latencies_us.extend(other.latencies_us);
        self.unsent_requests += other.unsent_requests;
        self.bytes_sent += other.bytes_sent;
    }
}

struct Shared {
    client: reqwest::Client,
    cfg: ReplayConfig,
    started: AtomicU64,
    printed: AtomicUsize,
}

/// Sends every shard's requests in order, shards concurrently, and returns the outcome.
///
/// # Errors
/// The HTTP client cannot be built.
pub(crate) async fn replay(
    shards: Vec<Vec<Request>>,
    cfg: ReplayConfig,
) -> anyhow::Result<Outcome> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(shards.len())
        .timeout(cfg.request_timeout)
        .user_agent(concat!("blazar-loadgen/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let shared = Arc::new(Shared {
        client,
        cfg,
        started: AtomicU64::new(0),
        printed: AtomicUsize::new(0),
    });
    let begin = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for shard in shards {
        tasks.spawn(send_shard(shard, shared.clone()));
    }
    let mut total = Outcome::default();
    while let Some(done) = tasks.join_next().await {
        total.merge(done?);
    }
    total.elapsed = begin.elapsed();
    Ok(total)
}

async fn send_shard(shard: Vec<Request>, shared: Arc<Shared>) -> Outcome {
    let mut out = Outcome::default();
    let mut requests = shard.into_iter();
    for req in requests.by_ref() {
        if Instant::now() >= shared.cfg.deadline
            || shared.started.fetch_add(1, Ordering::Relaxed) >= shared.cfg.max_requests
        {
            out.unsent_requests += 1;
            break;
        }
        out.bytes_sent += req.body.len() as u64;
        let t0 = Instant::now();
        let sent = shared
            .client
            .post(&shared.cfg.url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(req.body)
            .send()
            .await;
        let result = match sent {
            Ok(resp) => {
                let status = resp.status();
                let body = if status.is_success() {
                    String::new()
                } else {
                    resp.text().await.unwrap_or_default()
                };
                Ok((status, body))
            }
            Err(e) => Err(e),
        };
        out.latencies_us
            .push(t0.elapsed().as_micros().try_into().unwrap_or(u64::MAX));
        match result {
            Ok((status, _)) if status.is_success() => {
                *out.statuses.entry(status.as_u16()).or_default() += 1;
                out.ok_requests += 1;
                out.ok_samples += req.samples;
            }
            Ok((status, body)) => {
                *out.statuses.entry(status.as_u16()).or_default() += 1;
                out.failed_requests += 1;
                out.failed_samples += req.samples;
                if shared.printed.fetch_add(1, Ordering::Relaxed) < shared.cfg.print_errors {
                    let body: String = body.chars().take(500).collect();
                    eprintln!("blazar-loadgen: {status} from target: {}", body.trim());
                }
            }
            Err(e) => {
                out.transport_errors += 1;
                out.failed_requests += 1;
                out.failed_samples += req.samples;
                if shared.printed.fetch_add(1, Ordering::Relaxed) < shared.cfg.print_errors {
                    eprintln!(
                        "blazar-loadgen: request failed: {:#}",
                        anyhow::Error::new(e)
                    );
                }
            }
        }
    }
    out.unsent_requests += requests.len() as u64;
    out
}
