//! Active checks. Each returns an [`Observation`]; none panics or waits past its timeout
//! (the caller also bounds it).

pub mod exec;
pub mod grpc;
pub mod http;
pub mod tcp;

use std::time::Duration;

/// What one check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// The service answered and said it is healthy.
    Healthy,
    /// The service answered and said it is degraded (503, `{"status":"degraded"}`, exit 1).
    Degraded,
    /// The check did not succeed (refused, timed out, a bad status code): degraded until
    /// failures have lasted `unhealthy_timeout`, then unhealthy.
    Failed,
    /// The service answered and said it is unhealthy (`{"status":"unhealthy"}`, gRPC
    /// `NOT_SERVING`, an exit code above 1): unhealthy at once.
    Unhealthy,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub verdict: Verdict,
    /// How long the check took.
    pub elapsed: Duration,
    /// Why, for people: `HTTP 503`, `connection refused`, the first line a command printed.
    pub message: String,
}

impl Observation {
    /// A result with `verdict` and `message`, taking `elapsed`.
    pub fn new(verdict: Verdict, elapsed: Duration, message: impl Into<String>) -> Self {
        Self {
            verdict,
            elapsed,
            message: message.into(),
        }
    }
}

/// Longest message kept from a check's output.
pub const MAX_MESSAGE_BYTES: usize = 512;

/// Cuts `s` to at most [`MAX_MESSAGE_BYTES`] on a character boundary.
pub fn cut_message(s: &str) -> String {
    let s = s.trim();
    if s.len() <= MAX_MESSAGE_BYTES {
        return s.to_string();
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", s.get(..end).unwrap_or_default())
}
