//! What can go wrong talking to blazar, and decoding of the server's `{"error":{..}}` bodies.

use std::time::Duration;

use serde::Deserialize;

/// Why a request to blazar failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL given to [`crate::Client::new`] is not a usable http(s) URL.
    #[error("invalid server url {url:?}: {message}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// No connection could be made (refused, unresolvable host, TLS failure).
    #[error("cannot reach blazar at {url}")]
    Connect {
        /// The server's base URL.
        url: String,
        /// The innermost cause, e.g. `Connection refused (os error 111)`.
        #[source]
        source: std::io::Error,
    },
    /// The request did not complete within the client's timeout.
    #[error("request to {url} timed out after {}", fmt_duration(*after))]
    Timeout {
        /// The URL requested.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server answered with a 4xx/5xx status.
    #[error("{message} (HTTP {status})")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The server's machine-readable code (`invalid_input`, ...), empty when the body had none.
        code: String,
        /// The server's explanation (it names the offending field), or the raw body.
        message: String,
    },
    /// The connection failed after it was made (reset while sending or reading the body).
    #[error("connection to {url} dropped")]
    Disconnected {
        /// The URL requested.
        url: String,
        /// The innermost cause.
        #[source]
        source: std::io::Error,
    },
    /// The response body is not the JSON that was expected.
    #[error("decoding response from {url}")]
    Decode {
        /// The URL requested.
        url: String,
        /// Why the body did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A stream endpoint answered with something other than `text/event-stream`.
    #[error("expected an event stream from {url}, got content type {content_type:?}")]
    NotEventStream {
        /// The URL requested.
        url: String,
        /// The `Content-Type` the server sent.
        content_type: String,
    },
}

impl ClientError {
    /// Classifies a transport error from reqwest: `base` is the server's URL (named when it
    /// cannot be reached), `url` what was being requested.
    pub(crate) fn from_reqwest(
        base: &str,
        url: &str,
        err: &reqwest::Error,
        timeout: Duration,
    ) -> Self {
        if err.is_timeout() {
            Self::Timeout {
                url: url.to_string(),
                after: timeout,
            }
        } else if err.is_connect() {
            Self::Connect {
                url: base.to_string(),
                source: root_cause(err),
            }
        } else {
            Self::Disconnected {
                url: url.to_string(),
                source: root_cause(err),
            }
        }
    }

    /// Builds [`ClientError::Http`] from a status and the response body: the standard
    /// `{"error":{"code","message"}}` envelope when it is one, else the body text (or the
    /// status's reason phrase when the body is empty).
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        if let Ok(envelope) = serde_json::from_slice::<ErrorEnvelope>(body) {
            return Self::Http {
                status,
                code: envelope.error.code,
                message: envelope.error.message,
            };
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let message = if text.is_empty() {
            reason_phrase(status).to_string()
        } else {
            truncate(text, MAX_BODY_IN_MESSAGE)
        };
        Self::Http {
            status,
            code: String::new(),
            message,
        }
    }
}

/// The longest non-JSON error body quoted in a message, in characters.
const MAX_BODY_IN_MESSAGE: usize = 200;

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    message: String,
}

/// Copies the innermost cause of `err` into an owned `io::Error` (keeping its kind when it was
/// one), so messages read `cannot reach blazar at URL: Connection refused` rather than repeating
/// every layer of the HTTP stack.
fn root_cause(err: &reqwest::Error) -> std::io::Error {
    let mut cur: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    match cur.downcast_ref::<std::io::Error>() {
        Some(io) => std::io::Error::new(io.kind(), io.to_string()),
        None => std::io::Error::other(cur.to_string()),
    }
}

fn reason_phrase(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("request failed")
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_shows_message_and_status() {
        let body = br#"{"error":{"code":"invalid_input","message":"value: expected a number, got \"abc\""}}"#;
        let err = ClientError::from_response(400, body);
        assert_eq!(
            err.to_string(),
            r#"value: expected a number, got "abc" (HTTP 400)"#
        );
        match err {
            ClientError::Http { status, code, .. } => {
                assert_eq!(status, 400);
                assert_eq!(code, "invalid_input");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn envelope_without_code_still_decodes() {
        let err = ClientError::from_response(404, br#"{"error":{"message":"no such trace"}}"#);
        assert_eq!(err.to_string(), "no such trace (HTTP 404)");
    }

    #[test]
    fn plain_text_body_becomes_the_message() {
        let err = ClientError::from_response(502, b"  bad gateway from proxy\n");
        assert_eq!(err.to_string(), "bad gateway from proxy (HTTP 502)");
    }

    #[test]
    fn empty_body_uses_reason_phrase() {
        let err = ClientError::from_response(503, b"");
        assert_eq!(err.to_string(), "Service Unavailable (HTTP 503)");
    }

    #[test]
    fn long_body_is_truncated_on_a_char_boundary() {
        let body = "é".repeat(500);
        let msg = match ClientError::from_response(500, body.as_bytes()) {
            ClientError::Http { message, .. } => message,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(msg.chars().count(), MAX_BODY_IN_MESSAGE + 3);
        assert!(msg.ends_with("..."));
    }

    #[test]
    fn json_that_is_not_an_envelope_is_quoted() {
        let err = ClientError::from_response(500, br#"{"oops":true}"#);
        assert_eq!(err.to_string(), r#"{"oops":true} (HTTP 500)"#);
    }

    #[test]
    fn timeout_message_names_the_duration() {
        let err = ClientError::Timeout {
            url: "http://x/health".into(),
            after: Duration::from_secs(10),
        };
        assert_eq!(
            err.to_string(),
            "request to http://x/health timed out after 10s"
        );
        let err = ClientError::Timeout {
            url: "http://x".into(),
            after: Duration::from_millis(1500),
        };
        assert_eq!(
            err.to_string(),
            "request to http://x timed out after 1500ms"
        );
    }
}
