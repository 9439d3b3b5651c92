//! A TCP connect as a check: accepted is healthy, anything else a failure.

use std::time::{Duration, Instant};

use super::{Observation, Verdict};

/// Connects to `addr` (`host:port`) within `timeout`.
pub async fn check(addr: &str, timeout: Duration) -> Observation {
    let start = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_stream)) => Observation::new(Verdict::Healthy, start.elapsed(), "connected"),
        Ok(Err(e)) => Observation::new(Verdict::Failed, start.elapsed(), format!("connect: {e}")),
        Err(_) => Observation::new(
            Verdict::Failed,
            start.elapsed(),
            format!("no connection within {timeout:?}"),
        ),
    }
}
