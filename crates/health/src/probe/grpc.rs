//! The standard gRPC health checking protocol (`grpc.health.v1.Health/Check`): `SERVING` is
//! healthy, `NOT_SERVING` unhealthy, any other answer or an RPC error a failure.

use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use super::{cut_message, Observation, Verdict};

/// A gRPC health check against one endpoint; the channel is made once and reused.
#[derive(Debug, Clone)]
pub struct GrpcProbe {
    // A probe runs every interval, so one HTTP/2 connection is kept open (and reconnected
    // after a failure) rather than dialled per check. Clones share it.
    client: HealthClient<Channel>,
    service: String,
    timeout: Duration,
}

impl GrpcProbe {
    /// Builds a probe for `endpoint` (`http://host:port`) asking about `service` (empty: the
    /// whole server). Does not connect yet. Must be called within a Tokio runtime (the channel
    /// runs a task there); checks must run on that same runtime.
    ///
    /// # Errors
    /// An endpoint that is not a valid URI, an `https` endpoint (this build has no TLS for
    /// gRPC), or no Tokio runtime.
    pub fn new(endpoint: &str, service: &str, timeout: Duration) -> Result<Self, String> {
        let ep = Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| format!("invalid gRPC endpoint {endpoint:?}: {e}"))?;
        match ep.uri().scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "gRPC endpoint {endpoint:?}: https is not supported (no TLS in this build)"
                ))
            }
            _ => {
                return Err(format!(
                    "gRPC endpoint {endpoint:?} must start with http://"
                ))
            }
        }
        // `connect_lazy` spawns the channel's worker with `tokio::spawn`, which panics
        // outside a runtime; say so instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err("gRPC probe built outside a Tokio runtime".to_string());
        }
        let channel = ep.connect_timeout(timeout).timeout(timeout).connect_lazy();
        Ok(Self {
            client: HealthClient::new(channel),
            service: service.to_string(),
            timeout,
        })
    }

    /// Runs one check: `SERVING` healthy, `NOT_SERVING` unhealthy, anything else or an error
    /// a failure.
    pub async fn check(&self) -> Observation {
        let start = Instant::now();
        // Cheap: clones share the channel; `check` needs `&mut`.
        let mut client = self.client.clone();
        let request = HealthCheckRequest {
            service: self.service.clone(),
        };
        let outcome = tokio::time::timeout(self.timeout, client.check(request)).await;
        let elapsed = start.elapsed();
        match outcome {
            Err(_) => Observation::new(
                Verdict::Failed,
                elapsed,
                format!("no answer within {:?}", self.timeout),
            ),
            Ok(Err(status)) => self.rpc_error(&status, elapsed),
            Ok(Ok(resp)) => self.judge(resp.into_inner().status, elapsed),
        }
    }

    fn judge(&self, status: i32, elapsed: Duration) -> Observation {
        match ServingStatus::try_from(status) {
            Ok(ServingStatus::Serving) => Observation::new(Verdict::Healthy, elapsed, "SERVING"),
            Ok(ServingStatus::NotServing) => {
                Observation::new(Verdict::Unhealthy, elapsed, "NOT_SERVING")
            }
            Ok(s @ (ServingStatus::Unknown | ServingStatus::ServiceUnknown)) => Observation::new(
                Verdict::Failed,
                elapsed,
                cut_message(&format!(
                    "{} for service {:?}",
                    s.as_str_name(),
                    self.service
                )),
            ),
            Err(_) => Observation::new(
                Verdict::Failed,
                elapsed,
                cut_message(&format!(
                    "unknown serving status {status} for service {:?}",
                    self.service
                )),
            ),
        }
    }

    fn rpc_error(&self, status: &tonic::Status, elapsed: Duration) -> Observation {
        let mut msg = format!("gRPC {:?}: {}", status.code(), status.message());
        // Transport errors hide the reason (refused, reset) in the source chain.
        let mut src = std::error::Error::source(status);
        while let Some(s) = src {
            let s_text = s.to_string();
            if !msg.contains(&s_text) {
                msg = format!("{msg}: {s_text}");
            }
            src = s.source();
        }
        // The reference server answers NOT_FOUND for a service it does not know.
        if status.code() == tonic::Code::NotFound {
            msg = format!("service {:?} unknown to the server ({msg})", self.service);
        }
        Observation::new(Verdict::Failed, elapsed, cut_message(&msg))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::net::TcpListener;
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;
    use tonic::transport::server::TcpIncoming;
    use tonic_health::server::HealthReporter;
    use tonic_health::ServingStatus as Reported;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(2);

    /// A real tonic server with the reference health service; dropped or stopped, it shuts
    /// down gracefully (which closes open connections).
    struct Server {
        reporter: HealthReporter,
        stop: Option<oneshot::Sender<()>>,
        task: JoinHandle<()>,
    }

    impl Server {
        async fn start(addr: SocketAddr) -> (Self, SocketAddr) {
            let listener = TcpListener::bind(addr).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (reporter, service) = tonic_health::server::health_reporter();
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                tonic::transport::Server::builder()
                    .add_service(service)
                    .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
            let server = Self {
                reporter,
                stop: Some(stop),
                task,
            };
            (server, addr)
        }

        async fn stop(mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            tokio::time::timeout(Duration::from_secs(10), &mut self.task)
                .await
                .unwrap()
                .unwrap();
        }
    }

    fn probe(addr: SocketAddr, service: &str) -> GrpcProbe {
        GrpcProbe::new(&format!("http://{addr}"), service, TIMEOUT).unwrap()
    }

    async fn verdict(p: &GrpcProbe) -> Verdict {
        p.check().await.verdict
    }

    #[tokio::test]
    async fn serving_is_healthy_and_not_serving_unhealthy_on_one_probe() {
        let (server, addr) = Server::start("127.0.0.1:0".parse().unwrap()).await;
        let whole = probe(addr, "");
        let named = probe(addr, "blazar.Test");
        server
            .reporter
            .set_service_status("blazar.Test", Reported::Serving)
            .await;

        let o = whole.check().await;
        assert_eq!(o.verdict, Verdict::Healthy, "{o:?}");
        assert_eq!(o.message, "SERVING");
        assert_eq!(verdict(&named).await, Verdict::Healthy);

        server
            .reporter
            .set_service_status("blazar.Test", Reported::NotServing)
            .await;
        let o = named.check().await;
        assert_eq!(o.verdict, Verdict::Unhealthy, "{o:?}");
        assert_eq!(o.message, "NOT_SERVING");
        assert_eq!(verdict(&whole).await, Verdict::Healthy);

        server
            .reporter
            .set_service_status("", Reported::NotServing)
            .await;
        assert_eq!(verdict(&whole).await, Verdict::Unhealthy);

        // Back to serving: the same probe (same channel) sees it.
        server
            .reporter
            .set_service_status("blazar.Test", Reported::Serving)
            .await;
        assert_eq!(verdict(&named).await, Verdict::Healthy);
        // A clone shares the channel and works too.
        assert_eq!(verdict(&named.clone()).await, Verdict::Healthy);
        server.stop().await;
    }

    #[tokio::test]
    async fn unknown_service_fails_naming_it() {
        let (server, addr) = Server::start("127.0.0.1:0".parse().unwrap()).await;
        let o = probe(addr, "no.Such").check().await;
        assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
        assert!(o.message.contains("no.Such"), "{o:?}");
        assert!(o.message.contains("NotFound"), "{o:?}");
        server.stop().await;
    }

    #[tokio::test]
    async fn unknown_answers_fail_naming_the_service() {
        let p = GrpcProbe {
            client: HealthClient::new(Endpoint::from_static("http://127.0.0.1:1").connect_lazy()),
            service: "svc.A".into(),
            timeout: TIMEOUT,
        };
        for status in [
            ServingStatus::ServiceUnknown as i32,
            ServingStatus::Unknown as i32,
            42,
        ] {
            let o = p.judge(status, Duration::ZERO);
            assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
            assert!(o.message.contains("\"svc.A\""), "{o:?}");
        }
    }

    #[tokio::test]
    async fn nothing_listening_fails_within_the_timeout() {
        // Bind then drop to get a port with (almost surely) nothing on it.
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let p = probe(addr, "");
        let start = Instant::now();
        let o = p.check().await;
        assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
        assert!(o.message.starts_with("gRPC Unavailable"), "{o:?}");
        assert!(start.elapsed() < TIMEOUT + Duration::from_secs(3), "{o:?}");
    }

    #[tokio::test]
    async fn unroutable_endpoint_fails_by_the_timeout() {
        // 192.0.2.0/24 is TEST-NET-1: connects hang (or fail at once without a route).
        let p = GrpcProbe::new("http://192.0.2.1:50051", "", Duration::from_millis(300)).unwrap();
        let start = Instant::now();
        let o = p.check().await;
        assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
        assert!(start.elapsed() < Duration::from_secs(5), "{o:?}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_fails_by_the_timeout() {
        // Accepts connections and holds them without a word of HTTP/2.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mute = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let p = GrpcProbe::new(&format!("http://{addr}"), "", Duration::from_millis(300)).unwrap();
        let start = Instant::now();
        let o = p.check().await;
        assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
        assert!(start.elapsed() < Duration::from_secs(5), "{o:?}");
        mute.abort();
    }

    #[tokio::test]
    async fn a_restarted_server_is_seen_again_by_the_same_probe() {
        let (server, addr) = Server::start("127.0.0.1:0".parse().unwrap()).await;
        let p = probe(addr, "");
        assert_eq!(verdict(&p).await, Verdict::Healthy);

        server.stop().await;
        let start = Instant::now();
        let o = p.check().await;
        assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
        assert!(start.elapsed() < TIMEOUT + Duration::from_secs(3), "{o:?}");

        // Same port again; the probe's channel reconnects on its own.
        let (server, _) = Server::start(addr).await;
        let mut last = None;
        for _ in 0..20 {
            let o = p.check().await;
            if o.verdict == Verdict::Healthy {
                last = None;
                break;
            }
            last = Some(o);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(last, None, "never healthy again");
        server.stop().await;
    }

    #[tokio::test]
    async fn bad_endpoints_are_refused_up_front() {
        assert!(GrpcProbe::new("not a uri", "", TIMEOUT).is_err());
        assert!(GrpcProbe::new("https://127.0.0.1:1", "", TIMEOUT).is_err());
        assert!(GrpcProbe::new("127.0.0.1:1", "", TIMEOUT).is_err());
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        assert!(GrpcProbe::new("http://127.0.0.1:1", "", TIMEOUT).is_err());
    }

    #[test]
    fn probe_is_shareable() {
        fn assert_traits<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
        assert_traits::<GrpcProbe>();
    }
}
