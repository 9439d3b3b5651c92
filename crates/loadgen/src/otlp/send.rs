//! Sends pooled requests over OTLP/gRPC or OTLP/HTTP protobuf until a deadline: one sequential
//! sender per connection, each owning its share of the pool (so each metric series has one
//! writer and stays in time order), rewriting ids, times and cumulative values before each send.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::bytes::{Buf, BufMut, Bytes};
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

use crate::gen::{Entry, Signal};
use crate::patch::SendValues;

/// Where to send.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// `HOST:PORT` of an OTLP/gRPC server.
    Grpc(String),
    /// Base URL of an OTLP/HTTP server; `/v1/<signal>` is appended.
    Http(String),
}

impl Target {
    /// Returns the transport's name in the summary.
    pub(crate) fn transport(&self) -> &'static str {
        match self {
            Self::Grpc(_) => "grpc",
            Self::Http(_) => "http",
        }
    }
}

/// How to send.
#[derive(Debug, Clone)]
pub(crate) struct SendConfig {
    pub(crate) target: Target,
    pub(crate) signal: Signal,
    /// No request starts at or after this instant.
    pub(crate) deadline: Instant,
    pub(crate) gzip: bool,
    pub(crate) request_timeout: Duration,
    /// A sender told to back off (429, 503, RESOURCE_EXHAUSTED, UNAVAILABLE) waits this long.
    pub(crate) backoff: Duration,
    /// The first this-many failures and partial successes are printed to stderr.
    pub(crate) print_errors: usize,
}

/// What happened, summed over senders.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) elapsed: Duration,
    pub(crate) requests: u64,
    pub(crate) requests_ok: u64,
    /// Refused with 429 or RESOURCE_EXHAUSTED (also not in `errors`).
    pub(crate) throttled: u64,
    /// Other failures by kind: `http_<status>`, `grpc_<code>`, `transport`.
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) items_sent: u64,
    /// Items of requests answered with success, partial rejections included.
    pub(crate) items_ok: u64,
    /// Items the server refused in a partial success.
    pub(crate) items_rejected: u64,
    /// Samples (metrics) of requests answered with success.
    pub(crate) samples_ok: u64,
    pub(crate) bytes_sent: u64,
    /// Request latencies in microseconds, failures included.
    pub(crate) latencies_us: Vec<u64>,
    /// Fields rewritten before sending (ids, times, values), over the run.
    pub(crate) patched_fields: u64,
}

impl Outcome {
    fn merge(&mut self, o: Outcome) {
        self.requests += o.requests;
        self.requests_ok += o.requests_ok;
        self.throttled += o.throttled;
        for (k, n) in o.errors {
            *self.errors.entry(k).or_default() += n;
        }
        self.items_sent += o.items_sent;
        self.items_ok += o.items_ok;
        self.items_rejected += o.items_rejected;
        self.samples_ok += o.samples_ok;
        self.bytes_sent += o.bytes_sent;
        self.latencies_us.extend(o.latencies_us);
        self.patched_fields += o.patched_fields;
    }

    /// Returns the failed requests (throttled included).
    pub(crate) fn failed(&self) -> u64 {
        self.throttled + self.errors.values().sum::<u64>()
    }
}

/// The answer to one request.
enum Answer {
    /// Success; how many items the server refused and why.
    Ok {
        rejected: u64,
        message: String,
    },
    Throttled,
    /// Any other failure: its kind, whether to back off, and a description.
    Failed {
        kind: String,
        back_off: bool,
        detail: String,
    },
}

/// One connection.
enum Conn {
    Grpc(tonic::client::Grpc<Channel>, PathAndQuery),
    Http(reqwest::Client, String),
}

/// Sends `shares` (one per sender) concurrently until the deadline and returns the outcome.
///
/// # Errors
/// A connection cannot be set up.
pub(crate) async fn run(shares: Vec<Vec<Entry>>, cfg: SendConfig) -> anyhow::Result<Outcome> {
    let nonce: u64 = rand::random();
    let mut conns = Vec::with_capacity(shares.len());
    for _ in &shares {
        conns.push(connect(&cfg).await?);
    }
    let printed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let begin = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (sender, (share, conn)) in shares.into_iter().zip(conns).enumerate() {
        let cfg = cfg.clone();
        let printed = printed.clone();
        tasks.spawn(
            async move { send_share(sender as u64, nonce, share, conn, cfg, printed).await },
        );
    }
    let mut total = Outcome::default();
    while let Some(done) = tasks.join_next().await {
        total.merge(done?);
    }
    total.elapsed = begin.elapsed();
    Ok(total)
}

async fn connect(cfg: &SendConfig) -> anyhow::Result<Conn> {
    match &cfg.target {
        Target::Grpc(addr) => {
            let channel = Endpoint::from_shared(format!("http://{addr}"))
                .with_context(|| format!("--grpc {addr:?}"))?
                .timeout(cfg.request_timeout)
                .connect()
                .await
                .with_context(|| format!("connecting to {addr}"))?;
            let mut grpc = tonic::client::Grpc::new(channel)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(64 << 20);
            if cfg.gzip {
                grpc = grpc.send_compressed(CompressionEncoding::Gzip);
            }
            let path = match cfg.signal {
                Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                Signal::Metrics => {
                    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
                }
                Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            };
            Ok(Conn::Grpc(grpc, PathAndQuery::from_static(path)))
        }
        Target::Http(base) => {
            // One client per sender: one keep-alive connection each, like the gRPC channels.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(cfg.request_timeout)
                .user_agent(concat!("blazar-otlp-load/", env!("CARGO_PKG_VERSION")))
                .build()?;
            let url = format!("{}/v1/{}", base.trim_end_matches('/'), cfg.signal.as_str());
            Ok(Conn::Http(client, url))
        }
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

const MS: u64 = 1_000_000;

/// Returns the next send's base time: now, cut to the millisecond (blazar keeps metric samples
/// in ms), and at least 1 ms after the previous one, so every series of the sender moves on.
pub(crate) fn next_base_ns(now_ns: u64, previous: u64) -> u64 {
    (now_ns / MS * MS).max(previous.saturating_add(MS))
}

/// Returns the values of send number `seq` of sender `sender`, whose id counters stand at
/// `traces`/`spans`; a pooled request is sent again every `share_len` sends.
pub(crate) fn send_values(
    sender: u64,
    nonce: u64,
    seq: u64,
    share_len: u64,
    base_ns: u64,
    traces: u64,
    spans: u64,
) -> SendValues {
    const TOP: u64 = 1 << 63;
    SendValues {
        base_ns,
        nonce_hi: nonce | TOP,
        nonce_lo: nonce.rotate_left(32) | TOP,
        // Sender in bits 48..63, so senders never share an id; the nonce's top bit keeps
        // span ids non-zero.
        first_trace: (sender << 48) | traces,
        first_span: (sender << 48) | spans,
        growth: seq / share_len.max(1) + 1,
    }
}

async fn send_share(
    sender: u64,
    nonce: u64,
    mut share: Vec<Entry>,
    mut conn: Conn,
    cfg: SendConfig,
    printed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Outcome {
    let mut out = Outcome::default();
    let share_len = share.len() as u64;
    let (mut seq, mut base, mut traces, mut spans) = (0u64, 0u64, 0u64, 0u64);
    let print = |msg: String| {
        if printed.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < cfg.print_errors {
            eprintln!("blazar-otlp-load: {msg}");
        }
    };
    while Instant::now() < cfg.deadline {
        let Some(entry) = share.get_mut((seq % share_len.max(1)) as usize) else {
            break;
        };
        base = next_base_ns(now_ns(), base);
        let v = send_values(sender, nonce, seq, share_len, base, traces, spans);
        traces += entry.patches.traces;
        spans += entry.patches.spans;
        seq += 1;
        entry.patches.apply(&mut entry.body, &v);
        out.patched_fields += entry.patches.len() as u64;
        out.requests += 1;
        out.items_sent += entry.items;
        let t0 = Instant::now();
        let answer = match &mut conn {
            Conn::Grpc(grpc, path) => {
                let body = Bytes::copy_from_slice(&entry.body);
                out.bytes_sent += body.len() as u64;
                send_grpc(grpc, path, body, cfg.signal).await
            }
            Conn::Http(client, url) => {
                let body = if cfg.gzip {
                    gzip(&entry.body)
                } else {
                    entry.body.clone()
                };
                out.bytes_sent += body.len() as u64;
                send_http(client, url, body, cfg.gzip, cfg.signal).await
            }
        };
        out.latencies_us
            .push(t0.elapsed().as_micros().try_into().unwrap_or(u64::MAX));
        match answer {
            Answer::Ok { rejected, message } => {
                out.requests_ok += 1;
                out.items_ok += entry.items;
                out.samples_ok += entry.samples;
                if rejected > 0 {
                    out.items_rejected += rejected;
                    print(format!("partial success: {rejected} rejected: {message}"));
                }
            }
            Answer::Throttled => {
                out.throttled += 1;
                tokio::time::sleep(cfg.backoff).await;
            }
            Answer::Failed {
                kind,
                back_off,
                detail,
            } => {
                print(format!("{kind}: {detail}"));
                *out.errors.entry(kind).or_default() += 1;
                if back_off {
                    tokio::time::sleep(cfg.backoff).await;
                }
            }
        }
    }
    out
}

fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    enc.write_all(body)
        .and_then(|()| enc.finish())
        .unwrap_or_default()
}

async fn send_grpc(
    grpc: &mut tonic::client::Grpc<Channel>,
    path: &PathAndQuery,
    body: Bytes,
    signal: Signal,
) -> Answer {
    if let Err(e) = grpc.ready().await {
        return Answer::Failed {
            kind: "transport".into(),
            back_off: true,
            detail: format!("{:#}", anyhow::Error::new(e)),
        };
    }
    match grpc
        .unary(tonic::Request::new(body), path.clone(), RawCodec)
        .await
    {
        Ok(resp) => {
            let (rejected, message) = partial_success(signal, resp.into_inner());
            Answer::Ok { rejected, message }
        }
        Err(status) if status.code() == tonic::Code::ResourceExhausted => Answer::Throttled,
        Err(status) => Answer::Failed {
            kind: format!("grpc_{:?}", status.code()),
            back_off: status.code() == tonic::Code::Unavailable,
            detail: status.message().to_string(),
        },
    }
}

async fn send_http(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    gzip: bool,
    signal: Signal,
) -> Answer {
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
        .body(body);
    if gzip {
        req = req.header(reqwest::header::CONTENT_ENCODING, "gzip");
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return Answer::Failed {
                kind: "transport".into(),
                back_off: true,
                detail: format!("{:#}", anyhow::Error::new(e)),
            }
        }
    };
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap_or_default();
    if status.is_success() {
        let (rejected, message) = partial_success(signal, bytes);
        return Answer::Ok { rejected, message };
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Answer::Throttled;
    }
    Answer::Failed {
        kind: format!("http_{}", status.as_u16()),
        back_off: status == reqwest::StatusCode::SERVICE_UNAVAILABLE,
        detail: rpc_status_message(&bytes),
    }
}

/// Returns the rejected count and message of an `Export*ServiceResponse`.
fn partial_success(signal: Signal, body: Bytes) -> (u64, String) {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let got = match signal {
        Signal::Traces => ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (count(p.rejected_spans), p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (count(p.rejected_data_points), p.error_message)),
        Signal::Logs => ExportLogsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (count(p.rejected_log_records), p.error_message)),
    };
    got.unwrap_or_default()
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn rpc_status_message(body: &[u8]) -> String {
    match RpcStatus::decode(body) {
        Ok(s) if !s.message.is_empty() => s.message,
        _ => String::from_utf8_lossy(body.get(..body.len().min(300)).unwrap_or_default())
            .into_owned(),
    }
}

/// A gRPC codec for pre-encoded requests: bytes go out as they are, answers come back raw.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_time_moves_at_least_a_millisecond_per_send() {
        let a = next_base_ns(5 * MS + 7, 0);
        assert_eq!(a, 5 * MS);
        // The clock did not move (or went back): still 1 ms later.
        let b = next_base_ns(5 * MS + 9, a);
        assert_eq!(b, 6 * MS);
        let c = next_base_ns(9 * MS + 1, b);
        assert_eq!(c, 9 * MS);
    }

    #[test]
    fn growth_rises_each_time_a_pooled_request_comes_round() {
        let g = |seq| send_values(0, 1, seq, 4, 0, 0, 0).growth;
        assert_eq!((g(0), g(3), g(4), g(7), g(8)), (1, 1, 2, 2, 3));
    }

    #[test]
    fn senders_get_disjoint_id_ranges() {
        let a = send_values(0, 7, 0, 1, 0, 10, 10);
        let b = send_values(1, 7, 0, 1, 0, 10, 10);
        assert_ne!(a.first_span, b.first_span);
        assert_ne!(a.first_trace, b.first_trace);
        assert_eq!(a.nonce_lo >> 63, 1);
    }

    #[test]
    fn error_body_message_is_read_from_rpc_status() {
        let body = RpcStatus {
            code: 8,
            message: "too many writes".into(),
        }
        .encode_to_vec();
        assert_eq!(rpc_status_message(&body), "too many writes");
    }
}
