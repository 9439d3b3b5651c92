//! The standard gRPC health checking protocol (`grpc.health.v1.Health/Check`).
//! STUB: the probes helper replaces this file.

use std::time::Duration;

use super::{Observation, Verdict};

/// A gRPC health check against one endpoint; the channel is made once and reused.
#[derive(Debug, Clone)]
pub struct GrpcProbe {
    endpoint: String,
    service: String,
    timeout: Duration,
}

impl GrpcProbe {
    /// Builds a probe for `endpoint` (`http://host:port`) asking about `service` (empty: the
    /// whole server). Does not connect yet.
    ///
    /// # Errors
    /// An endpoint that is not a valid URI.
    pub fn new(endpoint: &str, service: &str, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            endpoint: endpoint.to_string(),
            service: service.to_string(),
            timeout,
        })
    }

    /// Runs one check: `SERVING` healthy, `NOT_SERVING` unhealthy, anything else or an error
    /// a failure.
    pub async fn check(&self) -> Observation {
        let _ = (&self.endpoint, &self.service);
        Observation::new(Verdict::Failed, self.timeout, "grpc checks not built yet")
    }
}
