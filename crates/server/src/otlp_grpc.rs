//! OTLP/gRPC: the trace, metrics and logs `Export` services on `otlp.grpc_listen` (tonic).
//! Requests go through the same ingest as OTLP/HTTP (`blazar_api::otlp`) and the same write
//! admission; failures map onto the gRPC codes the OTLP specification prescribes, with a
//! `RetryInfo` detail on RESOURCE_EXHAUSTED/UNAVAILABLE so SDKs retry after a pause.

use std::sync::Arc;
use std::time::Duration;

use blazar_api::otlp::{grpc_code, Accepted};
use blazar_api::{ApiError, AppState};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};

/// The three OTLP services over one shared state.
#[derive(Clone)]
struct Otlp {
    state: AppState,
}

impl Otlp {
    /// Runs `work` on the blocking pool (it writes the WAL), holding the write permit
    /// [`Admission`] took: the permit moves into the blocking task, so it is held until the work
    /// is done even if the client's deadline drops the request future first.
    async fn run<F>(
        &self,
        permit: Option<Arc<OwnedSemaphorePermit>>,
        work: F,
    ) -> Result<Accepted, Status>
    where
        F: FnOnce(&AppState) -> Result<Accepted, ApiError> + Send + 'static,
    {
        let state = self.state.clone();
        let out = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&state)
        })
        .await
        .map_err(|e| Status::internal(format!("otlp worker: {e}")))?;
        out.map_err(to_status)
    }
}

/// The permit [`Admission`] puts in a request's extensions.
fn permit_of<T>(request: &Request<T>) -> Option<Arc<OwnedSemaphorePermit>> {
    request
        .extensions()
        .get::<Arc<OwnedSemaphorePermit>>()
        .cloned()
}

/// tonic's message-size limit: above any `server.max_body_bytes`, which `Admission` enforces.
const TONIC_MESSAGE_CEILING: usize = 1 << 30;

/// How long a client may take to send a request body while holding a write permit.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// In front of the tonic services: takes a write permit before anything is read (a flood gets
/// RESOURCE_EXHAUSTED with RetryInfo, and memory stays bounded by `max_inflight_writes` ×
/// `max_body_bytes`), reads the body within `server.max_body_bytes`, and inflates gzip frames
/// itself with the same bound. tonic's own decompression checks only the compressed size, so a
/// small gzip bomb would otherwise inflate without limit.
#[derive(Clone)]
struct Admission<S> {
    inner: S,
    state: AppState,
}

#[derive(Clone)]
struct AdmissionLayer {
    state: AppState,
}

impl<S> tower::Layer<S> for AdmissionLayer {
    type Service = Admission<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Admission {
            inner,
            state: self.state.clone(),
        }
    }
}

type GrpcRequest = http::Request<tonic::body::Body>;
type GrpcResponse = http::Response<tonic::body::Body>;

impl<S> tower::Service<GrpcRequest> for Admission<S>
where
    S: tower::Service<GrpcRequest, Response = GrpcResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = GrpcResponse;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<GrpcResponse, S::Error>> + Send + 'static>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: GrpcRequest) -> Self::Future {
        // The ready service handles this call; a fresh clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            let signal = signal_of(req.uri().path());
            let reject = |reason, status: Status| {
                state.store.self_metrics().rejected(signal, reason, 1);
                Ok(status.into_http())
            };
            let Ok(permit) = state.write_permits.clone().try_acquire_owned() else {
                return reject(
                    blazar_store::RejectReason::Overloaded,
                    retryable(
                        Code::ResourceExhausted,
                        "server: too many writes in flight (server.max_inflight_writes); retry later",
                    ),
                );
            };
            let max = state.settings.read().max_body_bytes;
            let (mut parts, body) = req.into_parts();
            // Frame headers (5 bytes) ride on top of the message limit; a client that holds the
            // permit without sending its body is cut off.
            let read = tokio::time::timeout(
                BODY_READ_TIMEOUT,
                http_body_util::BodyExt::collect(http_body_util::Limited::new(
                    body,
                    max.saturating_add(64),
                )),
            )
            .await;
            let bytes = match read {
                Ok(Ok(c)) => c.to_bytes(),
                Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                    return reject(
                        blazar_store::RejectReason::TooLarge,
                        Status::out_of_range(format!(
                            "body: larger than the limit of {max} bytes (server.max_body_bytes)"
                        )),
                    );
                }
                Ok(Err(e)) => {
                    return reject(
                        blazar_store::RejectReason::Invalid,
                        Status::invalid_argument(format!("body: could not be read: {e}")),
                    );
                }
                Err(_) => {
                    return reject(
                        blazar_store::RejectReason::Invalid,
                        Status::deadline_exceeded(format!(
                            "body: not received within {}s",
                            BODY_READ_TIMEOUT.as_secs()
                        )),
                    );
                }
            };
            let gzip = parts
                .headers
                .get("grpc-encoding")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
            let bytes = if gzip {
                // Inflating up to `max` bytes is CPU work: off the async workers.
                let inflated = tokio::task::spawn_blocking(move || inflate_frames(&bytes, max))
                    .await
                    .unwrap_or_else(|e| Err((Code::Internal, format!("inflate worker: {e}"))));
                match inflated {
                    Ok(b) => {
                        parts.headers.remove("grpc-encoding");
                        parts.headers.remove(http::header::CONTENT_LENGTH);
                        b
                    }
                    Err((code, message)) => {
                        return reject(
                            blazar_store::RejectReason::Invalid,
                            Status::new(code, message),
                        )
                    }
                }
            } else {
                bytes
            };
            parts.extensions.insert(Arc::new(permit));
            let req = http::Request::from_parts(
                parts,
                tonic::body::Body::new(http_body_util::Full::new(bytes)),
            );
            inner.call(req).await
        })
    }
}

/// The signal a gRPC method carries, for counting refusals.
fn signal_of(path: &str) -> blazar_store::Signal {
    if path.contains(".trace.") {
        blazar_store::Signal::Spans
    } else if path.contains(".logs.") {
        blazar_store::Signal::Logs
    } else {
        blazar_store::Signal::Metrics
    }
}

/// Rewrites gRPC length-prefixed frames so none is compressed: each gzip frame is inflated to
/// at most `max` bytes (a larger one is OUT_OF_RANGE, as tonic answers an oversized message).
fn inflate_frames(body: &[u8], max: usize) -> Result<bytes::Bytes, (Code, String)> {
    // OTLP's Export calls are unary: exactly one message, so one frame.
    let header = body.get(1..5).and_then(|b| <[u8; 4]>::try_from(b).ok());
    let (Some(&flag), Some(len)) = (body.first(), header) else {
        return Err((Code::InvalidArgument, "grpc frame: truncated header".into()));
    };
    let len = u32::from_be_bytes(len) as usize;
    let Some(frame) = body.get(5..5usize.saturating_add(len)) else {
        return Err((
            Code::InvalidArgument,
            "grpc frame: truncated message".into(),
        ));
    };
    if body.len() != 5 + len {
        return Err((
            Code::InvalidArgument,
            "grpc frame: a unary request carries one message".into(),
        ));
    }
    let message = match flag {
        0 => frame.to_vec(),
        1 => blazar_otlp::gunzip(frame, max).map_err(|e| {
            let code = if e.to_string().contains("limit") {
                Code::OutOfRange
            } else {
                Code::InvalidArgument
            };
            (code, e.to_string())
        })?,
        other => {
            return Err((
                Code::InvalidArgument,
                format!("grpc frame: compressed flag {other} is not 0 or 1"),
            ))
        }
    };
    let Ok(n) = u32::try_from(message.len()) else {
        return Err((Code::OutOfRange, "grpc frame: message too large".into()));
    };
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&message);
    Ok(bytes::Bytes::from(out))
}

/// A gRPC status for an API error, with the code OTLP prescribes.
fn to_status(e: ApiError) -> Status {
    let code = Code::from_i32(grpc_code(e.status));
    if matches!(code, Code::ResourceExhausted | Code::Unavailable) {
        retryable(code, &e.message)
    } else {
        Status::new(code, e.message)
    }
}

/// `google.rpc.RetryInfo` and the `google.rpc.Status` that carries it in `grpc-status-details-bin`.
mod rpc {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Duration {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        pub retry_delay: Option<Duration>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Any {
        #[prost(string, tag = "1")]
        pub type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Status {
        #[prost(int32, tag = "1")]
        pub code: i32,
        #[prost(string, tag = "2")]
        pub message: String,
        #[prost(message, repeated, tag = "3")]
        pub details: Vec<Any>,
    }
}

/// How long a refused sender should wait.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// A status OTLP clients retry: the OTLP spec retries RESOURCE_EXHAUSTED only with RetryInfo.
fn retryable(code: Code, message: &str) -> Status {
    let retry = rpc::RetryInfo {
        retry_delay: Some(rpc::Duration {
            seconds: i64::try_from(RETRY_DELAY.as_secs()).unwrap_or(1),
            nanos: 0,
        }),
    };
    let details = rpc::Status {
        code: code as i32,
        message: message.to_string(),
        details: vec![rpc::Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".to_string(),
            value: prost::Message::encode_to_vec(&retry),
        }],
    };
    Status::with_details(
        code,
        message.to_string(),
        prost::Message::encode_to_vec(&details).into(),
    )
}

#[tonic::async_trait]
impl TraceService for Otlp {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let permit = permit_of(&request);
        let req = request.into_inner();
        let out = self
            .run(permit, move |s| {
                blazar_api::otlp::ingest_traces(&s.store, req, crate::tasks::now_ns())
            })
            .await?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (out.rejected > 0 || !out.message.is_empty()).then(|| {
                ExportTracePartialSuccess {
                    rejected_spans: i64::try_from(out.rejected).unwrap_or(i64::MAX),
                    error_message: out.message,
                }
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let permit = permit_of(&request);
        let req = request.into_inner();
        let out = self
            .run(permit, move |s| {
                let limits = s.settings.read().limits;
                blazar_api::otlp::ingest_metrics(&s.store, req, crate::tasks::now_ns(), &limits)
            })
            .await?;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: (out.rejected > 0 || !out.message.is_empty()).then(|| {
                ExportMetricsPartialSuccess {
                    rejected_data_points: i64::try_from(out.rejected).unwrap_or(i64::MAX),
                    error_message: out.message,
                }
            }),
        }))
    }
}

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let permit = permit_of(&request);
        let req = request.into_inner();
        let out = self
            .run(permit, move |s| {
                blazar_api::otlp::ingest_logs(&s.store, req, crate::tasks::now_ns())
            })
            .await?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: (out.rejected > 0 || !out.message.is_empty()).then(|| {
                ExportLogsPartialSuccess {
                    rejected_log_records: i64::try_from(out.rejected).unwrap_or(i64::MAX),
                    error_message: out.message,
                }
            }),
        }))
    }
}

/// Serves the OTLP gRPC services on `listener` until `stop`.
///
/// # Errors
/// The transport fails.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    // `Admission` enforces `server.max_body_bytes` per request (reloadable); tonic's own limit
    // is only a ceiling above any sane setting.
    let max = TONIC_MESSAGE_CEILING;
    let svc = Otlp {
        state: state.clone(),
    };
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    // No `accept_compressed`: `Admission` inflates gzip frames with a bound; tonic then sees
    // plain frames (and answers UNIMPLEMENTED for encodings other than gzip).
    tonic::transport::Server::builder()
        .layer(AdmissionLayer { state })
        .add_service(
            TraceServiceServer::new(svc.clone())
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max),
        )
        .add_service(
            MetricsServiceServer::new(svc.clone())
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max),
        )
        .add_service(
            LogsServiceServer::new(svc)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max),
        )
        .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(flag: u8, message: &[u8]) -> Vec<u8> {
        let mut b = vec![flag];
        b.extend_from_slice(&(message.len() as u32).to_be_bytes());
        b.extend_from_slice(message);
        b
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn one_gzip_frame_is_inflated_into_a_plain_one() {
        let out = inflate_frames(&frame(1, &gzip(b"hello")), 100).unwrap();
        assert_eq!(&out[..], &frame(0, b"hello")[..]);
        let plain = inflate_frames(&frame(0, b"as is"), 100).unwrap();
        assert_eq!(&plain[..], &frame(0, b"as is")[..]);
    }

    #[test]
    fn bombs_extra_frames_bad_flags_and_truncation_are_refused() {
        let bomb = frame(1, &gzip(&vec![0u8; 1 << 20]));
        assert_eq!(
            inflate_frames(&bomb, 64 << 10).unwrap_err().0,
            Code::OutOfRange
        );
        let mut two = frame(1, &gzip(b"a"));
        two.extend(frame(1, &gzip(b"b")));
        assert_eq!(
            inflate_frames(&two, 100).unwrap_err().0,
            Code::InvalidArgument
        );
        assert_eq!(
            inflate_frames(&frame(2, b"x"), 100).unwrap_err().0,
            Code::InvalidArgument
        );
        let whole = frame(0, b"abcdef");
        assert_eq!(
            inflate_frames(&whole[..whole.len() - 1], 100)
                .unwrap_err()
                .0,
            Code::InvalidArgument
        );
        assert_eq!(
            inflate_frames(&[1, 0], 100).unwrap_err().0,
            Code::InvalidArgument
        );
    }
}
