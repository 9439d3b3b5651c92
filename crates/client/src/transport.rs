//! The HTTP client: base URL, timeouts, JSON requests and the SSE stream.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

use crate::{paths, ClientError, SseMessage, SseParser};

const EVENT_STREAM: &str = "text/event-stream";

/// A client for one blazar server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The base URL without a trailing `/`; paths are appended to it.
    base: String,
    timeout: Duration,
}

/// The answer of `GET /health`, returned for 503 (unhealthy) as well as 200.
#[derive(Debug, Clone)]
pub struct HealthResponse {
    /// The HTTP status: 200 for healthy or degraded, 503 for unhealthy.
    pub status: u16,
    /// The JSON body, `{"status","checks","timestamp"}`.
    pub body: Value,
}

impl Client {
    /// Returns a client for the server at `base_url` (e.g. `http://127.0.0.1:9595`, possibly with
    /// a path prefix). `timeout` bounds each JSON request, and connecting plus receiving the
    /// headers of a stream; a stream's body is not bounded.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] when `base_url` is not an http(s) URL.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, ClientError> {
        let invalid = |message: String| ClientError::InvalidUrl {
            url: base_url.to_string(),
            message,
        };
        let url = reqwest::Url::parse(base_url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "scheme must be http or https, not {:?}",
                url.scheme()
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("must not have a query or fragment".to_string()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .user_agent(concat!("blazar-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        let base = url.as_str().trim_end_matches('/').to_string();
        Ok(Self {
            http,
            base,
            timeout,
        })
    }

    /// Returns the base URL this client talks to, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// GETs `path` with `query` and returns the JSON body.
    ///
    /// # Errors
    /// [`ClientError::Http`] for a 4xx/5xx answer; transport errors and undecodable bodies as
    /// their variants.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, ClientError> {
        let url = self.url(path);
        let req = self.http.get(&url).query(query);
        let (status, body) = self.send(&url, req).await?;
        if !status.is_success() {
            return Err(ClientError::from_response(status.as_u16(), &body));
        }
        decode(&url, &body)
    }

    /// GETs `path` with `query` and returns the body as is, for answers that are not one JSON
    /// document (the audit trail's JSON lines).
    ///
    /// # Errors
    /// As [`Client::get_json`], less decoding.
    pub async fn get_bytes(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Bytes, ClientError> {
        let url = self.url(path);
        let req = self.http.get(&url).query(query);
        let (status, body) = self.send(&url, req).await?;
        if !status.is_success() {
            return Err(ClientError::from_response(status.as_u16(), &body));
        }
        Ok(body)
    }

    /// POSTs `body` as JSON to `path` and returns the JSON answer.
    ///
    /// # Errors
    /// As [`Client::get_json`].
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let url = self.url(path);
        let req = self.http.post(&url).json(body);
        let (status, bytes) = self.send(&url, req).await?;
        if !status.is_success() {
            return Err(ClientError::from_response(status.as_u16(), &bytes));
        }
        decode(&url, &bytes)
    }

    /// DELETEs `path` and returns the JSON answer.
    ///
    /// # Errors
    /// As [`Client::get_json`].
    pub async fn delete_json(&self, path: &str) -> Result<Value, ClientError> {
        let url = self.url(path);
        let req = self.http.delete(&url);
        let (status, bytes) = self.send(&url, req).await?;
        if !status.is_success() {
            return Err(ClientError::from_response(status.as_u16(), &bytes));
        }
        decode(&url, &bytes)
    }

    /// GETs `/health`. Unlike other requests a 503 is an answer, not an error: it means the
    /// server is up and reports itself unhealthy.
    ///
    /// # Errors
    /// Transport errors; [`ClientError::Http`] for other statuses, or a 503 that carries an error
    /// envelope instead of a health report.
    pub async fn health(&self) -> Result<HealthResponse, ClientError> {
        let url = self.url(paths::HEALTH);
        let (status, body) = self.send(&url, self.http.get(&url)).await?;
        let report = serde_json::from_slice::<Value>(&body)
            .ok()
            .filter(|v| v.get("status").is_some_and(Value::is_string));
        match report {
            Some(body) if status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE => {
                Ok(HealthResponse {
                    status: status.as_u16(),
                    body,
                })
            }
            _ if !status.is_success() => Err(ClientError::from_response(status.as_u16(), &body)),
            _ => decode(&url, &body).map(|body| HealthResponse {
                status: status.as_u16(),
                body,
            }),
        }
    }

    /// Opens the server-sent-event stream at `path` with `query` and returns its messages as
    /// they arrive. The stream ends when the server closes it; a dropped connection yields one
    /// [`ClientError::Disconnected`] and then ends.
    ///
    /// # Errors
    /// Connecting, a 4xx/5xx answer, or a response that is not `text/event-stream`.
    pub async fn stream(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<impl Stream<Item = Result<SseMessage, ClientError>> + Send + 'static, ClientError>
    {
        let url = self.url(path);
        let req = self
            .http
            .get(&url)
            .query(query)
            .header(ACCEPT, EVENT_STREAM);
        // Only the wait for headers is bounded: the body is open-ended by design.
        let resp = match tokio::time::timeout(self.timeout, req.send()).await {
            Err(_elapsed) => {
                return Err(ClientError::Timeout {
                    url,
                    after: self.timeout,
                })
            }
            Ok(Err(e)) => {
                return Err(ClientError::from_reqwest(
                    &self.base,
                    &url,
                    &e,
                    self.timeout,
                ))
            }
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if !status.is_success() {
            let body = self.read_body(&url, resp).await?;
            return Err(ClientError::from_response(status.as_u16(), &body));
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with(EVENT_STREAM) {
            return Err(ClientError::NotEventStream {
                url,
                content_type: content_type.to_string(),
            });
        }
        let state = SseState {
            body: Box::pin(resp.bytes_stream()),
            parser: SseParser::new(),
            ready: VecDeque::new(),
            url,
            timeout: self.timeout,
            done: false,
        };
        Ok(futures_util::stream::unfold(state, next_message))
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// Sends `req` with the request timeout and reads the whole body.
    async fn send(
        &self,
        url: &str,
        req: RequestBuilder,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let resp = req
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| ClientError::from_reqwest(&self.base, url, &e, self.timeout))?;
        let status = resp.status();
        Ok((status, self.read_body(url, resp).await?))
    }

    async fn read_body(&self, url: &str, resp: reqwest::Response) -> Result<Bytes, ClientError> {
        resp.bytes()
            .await
            .map_err(|e| ClientError::from_reqwest(&self.base, url, &e, self.timeout))
    }
}

fn decode(url: &str, body: &[u8]) -> Result<Value, ClientError> {
    serde_json::from_slice(body).map_err(|source| ClientError::Decode {
        url: url.to_string(),
        source,
    })
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

struct SseState {
    body: ByteStream,
    parser: SseParser,
    /// Messages parsed from the last chunk and not yet handed out.
    ready: VecDeque<SseMessage>,
    url: String,
    timeout: Duration,
    done: bool,
}

async fn next_message(mut s: SseState) -> Option<(Result<SseMessage, ClientError>, SseState)> {
    loop {
        if let Some(msg) = s.ready.pop_front() {
            return Some((Ok(msg), s));
        }
        if s.done {
            return None;
        }
        match s.body.next().await {
            Some(Ok(chunk)) => s.ready.extend(s.parser.push(&chunk)),
            Some(Err(e)) => {
                s.done = true;
                let err = match ClientError::from_reqwest(&s.url, &s.url, &e, s.timeout) {
                    // Mid-stream, every failure is the connection going away.
                    ClientError::Connect { url, source } => {
                        ClientError::Disconnected { url, source }
                    }
                    other => other,
                };
                return Some((Err(err), s));
            }
            None => s.done = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_keeps_path_prefix_and_drops_trailing_slash() {
        let c = Client::new("http://example.com:9595/blazar/", Duration::from_secs(1)).unwrap();
        assert_eq!(c.base_url(), "http://example.com:9595/blazar");
        assert_eq!(c.url("/health"), "http://example.com:9595/blazar/health");
        let c = Client::new("http://127.0.0.1:9595", Duration::from_secs(1)).unwrap();
        assert_eq!(
            c.url("/api/v1/telemetry/stats"),
            "http://127.0.0.1:9595/api/v1/telemetry/stats"
        );
    }

    #[test]
    fn rejects_non_http_urls() {
        for bad in [
            "127.0.0.1:9595",
            "ftp://host",
            "not a url",
            "http://host/?q=1",
        ] {
            let err = Client::new(bad, Duration::from_secs(1)).unwrap_err();
            assert!(
                matches!(err, ClientError::InvalidUrl { .. }),
                "{bad}: {err:?}"
            );
        }
    }
}
