//! `TestServer`: runs `blazar serve --listen 127.0.0.1:0 --data-dir <tmp>`, reads the bound
//! address from its `listening` log line, waits for `/health`, kills on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_blazar");

/// A write request holding a permit (see [`TestServer::hold_write`]).
pub struct HeldWrite {
    pub tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    pub request: tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
}

pub struct TestServer {
    child: Option<Child>,
    pub base: String,
    /// OTLP/gRPC and OTLP/HTTP listener addresses (`host:port`), when OTLP is enabled.
    pub otlp_grpc: Option<String>,
    pub otlp_http: Option<String>,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub log: Arc<Mutex<String>>,
    pub client: reqwest::Client,
}

#[derive(Default, Clone)]
pub struct Opts {
    pub config_yaml: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub env: Vec<(String, String)>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Opts::default()).await
    }

    pub async fn start_with(opts: Opts) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| tmp.path().join("data"));
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--otlp-grpc")
            .arg("127.0.0.1:0")
            .arg("--otlp-http")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir);
        if let Some(yaml) = &opts.config_yaml {
            let p = tmp.path().join("blazar.yaml");
            std::fs::write(&p, yaml).unwrap();
            cmd.arg("--config").arg(&p);
        }
        cmd.current_dir(tmp.path())
            .env("BLAZAR_LOG", "info")
            // Host gauges would add series and stream messages to tests that count them; the
            // host test turns sampling back on (`opts.env` is applied after this).
            .env("BLAZAR_HOST__ENABLED", "false")
            .env_remove("BLAZAR_URL");
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn blazar");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<(String, String)>();
        let log2 = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            let mut otlp = (String::new(), String::new());
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log2.lock().unwrap().push_str(&line);
                log2.lock().unwrap().push('\n');
                if sent || !line.contains("listening") {
                    continue;
                }
                let Some(addr) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .map(|a| a.trim_matches('"').to_string())
                else {
                    continue;
                };
                // OTLP listeners are announced before the main one.
                if line.contains("kind=\"otlp_grpc\"") || line.contains("kind=otlp_grpc") {
                    otlp.0 = addr;
                } else if line.contains("kind=\"otlp_http\"") || line.contains("kind=otlp_http") {
                    otlp.1 = addr;
                } else if line.contains("kind=\"http\"") || line.contains("kind=http") {
                    let _ = tx.send((addr, format!("{} {}", otlp.0, otlp.1)));
                    sent = true;
                }
            }
        });
        let (addr, otlp) = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "blazar did not report a listening address; log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let mut otlp = otlp
            .split(' ')
            .map(|a| (!a.is_empty()).then(|| a.to_string()));
        let (otlp_grpc, otlp_http) = (otlp.next().flatten(), otlp.next().flatten());
        let srv = TestServer {
            child: Some(child),
            base: format!("http://{addr}"),
            otlp_grpc,
            otlp_http,
            data_dir,
            _tmp: Some(tmp),
            log,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        srv.wait_healthy().await;
        srv
    }

    pub async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = self.client.get(self.url("/health")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "blazar never became healthy; log:\n{}",
            self.log.lock().unwrap()
        );
    }

    /// Waits until the server has written at least one checkpoint.
    pub async fn wait_checkpoint(&self) {
        eventually("a checkpoint", || async {
            let (_, m) = self.get_text("/metrics").await;
            m.lines()
                .any(|l| l.starts_with("blazar_checkpoints_total") && !l.ends_with(" 0"))
                .then_some(())
        })
        .await;
    }

    /// Waits until `n` live-stream subscribers are connected.
    pub async fn wait_subscribers(&self, n: u64) {
        eventually("stream subscribers", || async {
            let (_, s) = self.get_json("/api/v1/telemetry/stats").await;
            (s["stream"]["subscribers"].as_u64() == Some(n)).then_some(())
        })
        .await;
    }

    /// Takes one write permit with a JSON POST to `path` whose body stops after `first`; returns
    /// the sender of the rest (send it, then drop the sender, to finish) and the request.
    pub async fn hold_write(&self, path: &str, first: &[u8]) -> HeldWrite {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
        let body =
            reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|c| (c, rx))
            }));
        let request = tokio::spawn(
            self.client
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body)
                .send(),
        );
        tx.send(Ok(first.to_vec())).await.unwrap();
        eventually("the held request to take the permit", || async {
            let (_, s) = self.get_json("/api/v1/telemetry/stats").await;
            (s["server"]["writes_in_flight"] == 1).then_some(())
        })
        .await;
        HeldWrite { tx, request }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>, content_type: &str) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Kills the process with SIGKILL, keeping the data directory for a restart.
    pub fn kill9(&mut self) -> Opts {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        Opts {
            data_dir: Some(self.data_dir.clone()),
            ..Opts::default()
        }
    }

    /// Sends a signal by number.
    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let status = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    /// Waits for the process to exit by itself (generous deadline); returns its exit code.
    pub async fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    return status.code();
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn keep_tmp(&mut self) -> tempfile::TempDir {
        self._tmp.take().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `f` until it returns Some, up to a generous deadline.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the CLI against `server`, returning (exit code, stdout, stderr).
pub fn cli(server: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("--server")
        .arg(server)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
