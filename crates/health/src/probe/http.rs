//! An HTTP(S) request as a check, with seed 001's rules: 200 with a JSON body whose `status` is
//! `healthy`, `degraded` or `unhealthy` gives that status, 200 with any other body is healthy,
//! 503 is degraded, other codes are failures. With `expected_status` set, those codes pass
//! (their body is read the same way) and 503 stays degraded unless listed.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::{cut_message, Observation, Verdict};

/// Most body bytes read for the `status` field; a longer body is cut (and still counts).
const MAX_BODY: usize = 64 * 1024;

/// HTTP clients shared by every check: one verifying TLS, one not. Connections are pooled, so
/// a service checked every second keeps one open connection.
#[derive(Debug, Clone)]
pub struct HttpClients {
    verify: reqwest::Client,
    insecure: reqwest::Client,
}

impl HttpClients {
    /// Builds both clients.
    ///
    /// # Errors
    /// The TLS backend cannot be initialised.
    pub fn new() -> Result<Self, reqwest::Error> {
        let base = || {
            reqwest::Client::builder()
                .user_agent(concat!("blazar-health/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::limited(3))
                .pool_idle_timeout(Duration::from_secs(90))
                .tcp_nodelay(true)
        };
        Ok(Self {
            verify: base().build()?,
            insecure: base().danger_accept_invalid_certs(true).build()?,
        })
    }
}

/// What one HTTP check sends.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    pub url: &'a str,
    pub method: &'a str,
    pub expected_status: &'a [u16],
    pub headers: &'a [(String, String)],
    pub tls_verify: bool,
    pub timeout: Duration,
}

/// Runs one HTTP check.
pub async fn check(clients: &HttpClients, req: &HttpRequest<'_>) -> Observation {
    let start = Instant::now();
    let client = if req.tls_verify {
        &clients.verify
    } else {
        &clients.insecure
    };
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut builder = client.request(method, req.url).timeout(req.timeout);
    for (k, v) in req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let outcome = tokio::time::timeout(req.timeout, async {
        let resp = builder.send().await?;
        let code = resp.status().as_u16();
        let body = read_body(resp).await;
        Ok::<_, reqwest::Error>((code, body))
    })
    .await;
    let elapsed = start.elapsed();
    match outcome {
        Err(_) => Observation::new(
            Verdict::Failed,
            elapsed,
            format!("no answer within {:?}", req.timeout),
        ),
        Ok(Err(e)) => Observation::new(Verdict::Failed, elapsed, describe(&e)),
        Ok(Ok((code, body))) => judge(code, &body, req.expected_status, elapsed),
    }
}

async fn read_body(resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = MAX_BODY.saturating_sub(out.len());
        out.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
        if out.len() >= MAX_BODY {
            break;
        }
    }
    out
}

/// Applies seed 001's rules to a response.
pub fn judge(code: u16, body: &[u8], expected: &[u16], elapsed: Duration) -> Observation {
    let passes = if expected.is_empty() {
        (200..300).contains(&code)
    } else {
        expected.contains(&code)
    };
    if passes {
        let (verdict, said) = body_status(body);
        let message = match said {
            Some(m) => format!("HTTP {code}: {m}"),
            None => format!("HTTP {code}"),
        };
        return Observation::new(verdict, elapsed, cut_message(&message));
    }
    if code == 503 {
        return Observation::new(Verdict::Degraded, elapsed, "HTTP 503");
    }
    Observation::new(Verdict::Failed, elapsed, format!("HTTP {code}"))
}

/// Reads `{"status": ...}` (and a `message`, if any) from a passing response's body.
fn body_status(body: &[u8]) -> (Verdict, Option<String>) {
    #[derive(serde::Deserialize)]
    struct Body {
        status: Option<String>,
        message: Option<String>,
    }
    let Ok(b) = serde_json::from_slice::<Body>(body) else {
        return (Verdict::Healthy, None);
    };
    // Seed 001: `healthy`, `degraded`, anything else unhealthy. The words of Spring Boot
    // (`UP`, `DOWN`, `OUT_OF_SERVICE`) and of the IETF health check draft (`pass`, `warn`,
    // `fail`) mean what they say. No `status` field at all is like an unparsable body: healthy.
    let verdict = match b.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("healthy" | "ok" | "up" | "pass") => Verdict::Healthy,
        Some("degraded" | "warn" | "warning") => Verdict::Degraded,
        Some(_) => Verdict::Unhealthy,
    };
    let said = match (b.status, b.message) {
        (Some(s), Some(m)) => Some(format!("{s}: {m}")),
        (Some(s), None) => Some(s),
        (None, m) => m,
    };
    (verdict, said)
}

fn describe(e: &reqwest::Error) -> String {
    // reqwest's top message is generic ("error sending request"); the cause says why.
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    cut_message(&msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(code: u16, body: &str, expected: &[u16]) -> Verdict {
        judge(code, body.as_bytes(), expected, Duration::ZERO).verdict
    }

    #[test]
    fn seed_001_rules() {
        assert_eq!(v(200, r#"{"status":"healthy"}"#, &[]), Verdict::Healthy);
        assert_eq!(v(200, r#"{"status":"degraded"}"#, &[]), Verdict::Degraded);
        assert_eq!(v(200, r#"{"status":"unhealthy"}"#, &[]), Verdict::Unhealthy);
        assert_eq!(v(200, "not json", &[]), Verdict::Healthy);
        assert_eq!(v(200, r#"{"uptime": 3}"#, &[]), Verdict::Healthy);
        assert_eq!(v(200, r#"{"status":"down"}"#, &[]), Verdict::Unhealthy);
        assert_eq!(v(200, r#"{"status":"UP"}"#, &[]), Verdict::Healthy);
        assert_eq!(v(200, r#"{"status":"warn"}"#, &[]), Verdict::Degraded);
        assert_eq!(v(200, r#"{"status":"fail"}"#, &[]), Verdict::Unhealthy);
        assert_eq!(v(200, "", &[]), Verdict::Healthy);
        assert_eq!(v(204, "", &[]), Verdict::Healthy);
        assert_eq!(v(503, r#"{"status":"healthy"}"#, &[]), Verdict::Degraded);
        assert_eq!(v(500, "", &[]), Verdict::Failed);
        assert_eq!(v(404, "", &[]), Verdict::Failed);
        assert_eq!(v(301, "", &[]), Verdict::Failed);
    }

    #[test]
    fn expected_status_overrides_the_pass_set() {
        assert_eq!(v(418, "", &[418]), Verdict::Healthy);
        assert_eq!(v(200, "", &[204]), Verdict::Failed);
        assert_eq!(v(503, "", &[204]), Verdict::Degraded);
        assert_eq!(
            v(503, r#"{"status":"degraded"}"#, &[200, 503]),
            Verdict::Degraded
        );
    }

    #[test]
    fn message_carries_what_the_service_said() {
        let o = judge(
            200,
            br#"{"status":"degraded","message":"replica lag 30s"}"#,
            &[],
            Duration::ZERO,
        );
        assert_eq!(o.message, "HTTP 200: degraded: replica lag 30s");
    }
}
