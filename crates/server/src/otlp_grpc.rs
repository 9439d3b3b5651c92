//! OTLP/gRPC: the trace, metrics and logs `Export` services on `otlp.grpc_listen` (tonic).
//! Requests go through the same ingest as OTLP/HTTP (`blazar_api::otlp`) and the same write
//! admission; failures map onto the gRPC codes the OTLP specification prescribes, with a
//! `RetryInfo` detail on RESOURCE_EXHAUSTED/UNAVAILABLE so SDKs retry after a pause.

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
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};

/// The three OTLP services over one shared state.
#[derive(Clone)]
struct Otlp {
    state: AppState,
}

impl Otlp {
    /// Runs `work` on the blocking pool (it writes the WAL) under a write permit.
    async fn run<F>(&self, signal: blazar_otlp::Signal, work: F) -> Result<Accepted, Status>
    where
        F: FnOnce(&AppState) -> Result<Accepted, ApiError> + Send + 'static,
    {
        let Ok(permit) = self.state.write_permits.clone().try_acquire_owned() else {
            self.state.store.self_metrics().rejected(
                blazar_api::otlp::store_signal(signal),
                blazar_store::RejectReason::Overloaded,
                1,
            );
            return Err(retryable(
                Code::ResourceExhausted,
                "server: too many writes in flight (server.max_inflight_writes); retry later",
            ));
        };
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

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[tonic::async_trait]
impl TraceService for Otlp {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let req = request.into_inner();
        let out = self
            .run(blazar_otlp::Signal::Traces, move |s| {
                blazar_api::otlp::ingest_traces(&s.store, req, now_ns())
            })
            .await?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (out.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: i64::try_from(out.rejected).unwrap_or(i64::MAX),
                error_message: out.message,
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
        let req = request.into_inner();
        let out = self
            .run(blazar_otlp::Signal::Metrics, move |s| {
                let limits = s.settings.read().limits;
                blazar_api::otlp::ingest_metrics(&s.store, req, now_ns(), &limits)
            })
            .await?;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: (out.rejected > 0).then(|| ExportMetricsPartialSuccess {
                rejected_data_points: i64::try_from(out.rejected).unwrap_or(i64::MAX),
                error_message: out.message,
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
        let req = request.into_inner();
        let out = self
            .run(blazar_otlp::Signal::Logs, move |s| {
                blazar_api::otlp::ingest_logs(&s.store, req, now_ns())
            })
            .await?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: (out.rejected > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: i64::try_from(out.rejected).unwrap_or(i64::MAX),
                error_message: out.message,
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
    let max = state.settings.read().max_body_bytes;
    let svc = Otlp { state };
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tonic::transport::Server::builder()
        .add_service(
            TraceServiceServer::new(svc.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max),
        )
        .add_service(
            MetricsServiceServer::new(svc.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max),
        )
        .add_service(
            LogsServiceServer::new(svc)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max),
        )
        .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
        .await
}
