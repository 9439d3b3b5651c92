//! `blazar health [SERVICE]` against a running server whose health monitor checks real local
//! HTTP targets: the overview table, one service's transitions, `--json`, exit codes, errors.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{cli, eventually, Opts, TestServer};

/// Runs the CLI off the async runtime (the targets answer on it meanwhile).
async fn run(base: &str, args: &[&str]) -> (i32, String, String) {
    let base = base.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&base, &args)
    })
    .await
    .unwrap()
}

/// A real HTTP server for the checks: `GET /health` answers 200 `{"status":"healthy"}`, any
/// other path 503. Stops when dropped.
struct Target {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Target {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16384 {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&request);
                    let path = head.split_whitespace().nth(1).unwrap_or("");
                    let (status, body) = if path == "/health" {
                        ("200 OK", r#"{"status":"healthy"}"#)
                    } else {
                        ("503 Service Unavailable", r#"{"status":"degraded"}"#)
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(response.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        Self { port, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The status column of `service`'s row in `blazar health`'s table, if it has one.
fn status_of<'a>(table: &'a str, service: &str) -> Option<&'a str> {
    table.lines().find_map(|l| {
        let mut cols = l.split_whitespace();
        (cols.next() == Some(service))
            .then(|| cols.next())
            .flatten()
    })
}

/// Polls `blazar health` until every `(service, status)` pair shows; returns the last output.
async fn wait_statuses(base: &str, want: &[(&str, &str)]) -> (i32, String) {
    eventually("the health table to show the expected statuses", || async {
        let (code, out, _) = run(base, &["health"]).await;
        want.iter()
            .all(|(svc, status)| status_of(&out, svc) == Some(*status))
            .then_some((code, out))
    })
    .await
}

#[tokio::test]
async fn health_shows_services_their_transitions_and_errors() {
    let target = Target::start().await;
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(format!(
            "health:\n  check_interval: 200ms\n  unhealthy_timeout: 10m\n  services:\n    \
             web: {{health_endpoint: \"{}\", criticality_level: critical}}\n    \
             db: {{health_endpoint: \"{}\", dependencies: []}}\n",
            target.url("/health"),
            target.url("/degraded")
        )),
        ..Opts::default()
    })
    .await;
    let base = srv.base.clone();

    // The overview: overall line, then a row per service; degraded still exits 0.
    let (code, out) = wait_statuses(&base, &[("web", "healthy"), ("db", "degraded")]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("overall: degraded  ("), "{out}");
    assert!(out.contains("1 healthy, 1 degraded, 0 unhealthy"), "{out}");
    let header = out.lines().find(|l| l.starts_with("SERVICE")).unwrap();
    for col in [
        "STATUS",
        "CRIT",
        "CHECK",
        "RESPONSE",
        "ERRORS",
        "DEPENDENCIES",
        "LAST CHANGE",
    ] {
        assert!(header.contains(col), "{out}");
    }
    let web = out.lines().find(|l| l.starts_with("web ")).unwrap();
    assert!(web.contains("critical") && web.contains("http"), "{out}");
    assert!(!out.contains('\x1b'), "no colour on a pipe: {out:?}");

    // --json is the server's document.
    let (code, out, err) = run(&base, &["health", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["status"], "degraded", "{doc}");
    let names: Vec<&str> = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"web") && names.contains(&"db"), "{doc}");

    // One service in detail, with its transitions.
    let (code, out, err) = run(&base, &["health", "web"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("web: healthy\n"), "{out}");
    assert!(out.contains(&target.url("/health")), "{out}");
    assert!(out.contains("unknown → healthy"), "{out}");
    let (code, out, err) = run(&base, &["health", "db"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("db: degraded\n"), "{out}");
    assert!(out.contains("→ degraded"), "{out}");
    let (code, out, _) = run(&base, &["health", "web", "--json"]).await;
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["name"], "web", "{doc}");
    assert_eq!(doc["transitions"][0]["from"], "unknown", "{doc}");
    assert_eq!(doc["transitions"][0]["to"], "healthy", "{doc}");

    // A service the monitor does not know: one error line naming it, non-zero exit.
    let (code, out, err) = run(&base, &["health", "nope"]).await;
    assert_ne!(code, 0, "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("error: ") && err.contains("nope"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test]
async fn unhealthy_critical_service_fails_the_exit_code_and_is_named_as_a_cause() {
    let target = Target::start().await;
    // A port nothing listens on: every check of `gone` is refused.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(format!(
            "health:\n  check_interval: 200ms\n  unhealthy_timeout: 1s\n  services:\n    \
             gone: {{health_endpoint: \"http://127.0.0.1:{dead}/health\", \
             criticality_level: critical}}\n    \
             app: {{health_endpoint: \"{}\", dependencies: [gone]}}\n",
            target.url("/health")
        )),
        ..Opts::default()
    })
    .await;
    let base = srv.base.clone();

    let (code, out) = wait_statuses(&base, &[("gone", "unhealthy")]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("overall: unhealthy"), "{out}");
    let app = out.lines().find(|l| l.starts_with("app ")).unwrap();
    assert!(app.contains("gone=unhealthy"), "{out}");
    assert!(app.contains("affected by gone"), "{out}");

    let (code, out, err) = run(&base, &["health", "gone"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(out.starts_with("gone: unhealthy\n"), "{out}");
    assert!(err.is_empty(), "{err}");
}

#[tokio::test]
async fn health_without_a_server_is_one_error_line() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (code, out, err) = run(&format!("http://127.0.0.1:{dead}"), &["health"]).await;
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("error: cannot reach blazar"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
