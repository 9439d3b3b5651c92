//! The HTTP POST every HTTP channel makes, and how its outcome becomes a [`DeliveryError`].

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::StatusCode;

use super::DeliveryError;

/// How much of a refusing answer goes into the error message.
const BODY_SNIPPET_BYTES: usize = 200;

/// Names a delivery in messages: `webhook channel "ops"`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Channel<'a> {
    pub(super) kind: &'static str,
    pub(super) name: &'a str,
}

impl fmt::Display for Channel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} channel {:?}", self.kind, self.name)
    }
}

/// POSTs `body` as JSON to `url` within `timeout`; `Ok` on 2xx.
pub(super) async fn post_json(
    http: &reqwest::Client,
    channel: Channel<'_>,
    url: &str,
    timeout: Duration,
    mut headers: HeaderMap,
    body: Vec<u8>,
) -> Result<(), DeliveryError> {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let resp = http
        .post(url)
        .timeout(timeout)
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| request_error(channel, timeout, e))?;
    let status = resp.status();
    // Read (a bounded part of) the answer either way, so the connection can be reused.
    let snippet = body_snippet(resp).await;
    if status.is_success() {
        Ok(())
    } else {
        Err(refused(channel, status, &snippet))
    }
}

/// Classifies a non-2xx answer.
pub(super) fn refused(channel: Channel<'_>, status: StatusCode, snippet: &str) -> DeliveryError {
    let mut msg = format!("{channel}: receiver answered {status}");
    if status.is_redirection() {
        msg.push_str(" (redirects are not followed)");
    }
    if !snippet.is_empty() {
        msg.push_str(": ");
        msg.push_str(snippet);
    }
    if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        DeliveryError::Retryable(msg)
    } else {
        DeliveryError::Permanent(msg)
    }
}

/// Builds a header from configuration or data; a bad one can never be sent.
pub(super) fn header(
    channel: Channel<'_>,
    name: &str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), DeliveryError> {
    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        DeliveryError::Permanent(format!("{channel}: invalid header name {name:?}"))
    })?;
    let v = HeaderValue::from_str(value).map_err(|_| {
        DeliveryError::Permanent(format!("{channel}: invalid value for header {name:?}"))
    })?;
    Ok((n, v))
}

/// Renders a serialization failure (only possible for maps with non-string keys).
pub(super) fn render_error(channel: Channel<'_>, e: &serde_json::Error) -> DeliveryError {
    DeliveryError::Permanent(format!("{channel}: rendering the payload: {e}"))
}

fn request_error(channel: Channel<'_>, timeout: Duration, e: reqwest::Error) -> DeliveryError {
    // The URL may carry a secret (Slack's does): keep it out of messages.
    let e = e.without_url();
    if e.is_timeout() {
        DeliveryError::Retryable(format!("{channel}: no answer within {timeout:?}"))
    } else if e.is_builder() {
        DeliveryError::Permanent(format!("{channel}: {}", chain(&e)))
    } else {
        DeliveryError::Retryable(format!("{channel}: {}", chain(&e)))
    }
}

/// Renders an error and its sources, `a: b: c`, skipping a source its parent already shows.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

async fn body_snippet(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < BODY_SNIPPET_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    buf.truncate(BODY_SNIPPET_BYTES);
    String::from_utf8_lossy(&buf).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Receiver;
    use super::*;

    const CH: Channel<'static> = Channel {
        kind: "webhook",
        name: "t",
    };

    async fn post(url: &str, timeout: Duration) -> Result<(), DeliveryError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        post_json(&http, CH, url, timeout, HeaderMap::new(), b"{}".to_vec()).await
    }

    #[tokio::test]
    async fn server_errors_and_throttling_are_retryable() {
        let rx = Receiver::start().await;
        for code in [500, 502, 503, 408, 429] {
            rx.reply(code, "busy");
            let err = post(&rx.url("/"), Duration::from_secs(10))
                .await
                .unwrap_err();
            assert!(
                matches!(&err, DeliveryError::Retryable(m) if m.contains(&code.to_string()) && m.contains("busy")),
                "{code}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn client_errors_are_permanent_with_status_and_body_prefix() {
        let rx = Receiver::start().await;
        let long = format!("bad payload {}", "x".repeat(500));
        rx.reply(400, &long);
        let err = post(&rx.url("/"), Duration::from_secs(10))
            .await
            .unwrap_err();
        let DeliveryError::Permanent(msg) = err else {
            panic!("expected permanent, got {err:?}")
        };
        assert!(
            msg.starts_with(
                "webhook channel \"t\": receiver answered 400 Bad Request: bad payload xxx"
            ),
            "{msg}"
        );
        // 200 bytes of the body, not all of it.
        assert!(msg.len() < 300, "{msg}");
        for code in [401, 403, 404, 410, 422, 301] {
            rx.reply(code, "");
            let err = post(&rx.url("/"), Duration::from_secs(10))
                .await
                .unwrap_err();
            assert!(
                matches!(err, DeliveryError::Permanent(_)),
                "{code}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn success_is_any_2xx() {
        let rx = Receiver::start().await;
        for code in [200, 202, 204] {
            rx.reply(code, "");
            post(&rx.url("/"), Duration::from_secs(10)).await.unwrap();
        }
    }

    #[tokio::test]
    async fn connection_refused_is_retryable_without_the_url() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{addr}/services/SECRET-TOKEN");
        let err = post(&url, Duration::from_secs(10)).await.unwrap_err();
        let DeliveryError::Retryable(msg) = err else {
            panic!("expected retryable, got {err:?}")
        };
        assert!(!msg.contains("SECRET-TOKEN"), "{msg}");
        assert!(msg.starts_with("webhook channel \"t\": "), "{msg}");
    }

    #[tokio::test]
    async fn slow_receiver_times_out_retryable() {
        let rx = Receiver::start().await;
        rx.delay(Duration::from_secs(30));
        let err = post(&rx.url("/"), Duration::from_millis(200))
            .await
            .unwrap_err();
        let DeliveryError::Retryable(msg) = err else {
            panic!("expected retryable, got {err:?}")
        };
        assert_eq!(msg, "webhook channel \"t\": no answer within 200ms");
    }

    #[test]
    fn bad_configured_headers_are_permanent() {
        assert!(matches!(
            header(CH, "bad header", "v"),
            Err(DeliveryError::Permanent(_))
        ));
        assert!(matches!(
            header(CH, "x-ok", "line\nbreak"),
            Err(DeliveryError::Permanent(_))
        ));
        assert!(header(CH, "Authorization", "Bearer t").is_ok());
    }
}
