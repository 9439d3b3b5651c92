//! The real Alertmanager (Debian's `prometheus-alertmanager`) as an `alertmanager` channel's
//! peer: blazar's alert appears in its `GET /api/v2/alerts` with the rule's labels and
//! annotations, and leaves it when blazar resolves it. Fails, saying why, if Alertmanager is not
//! installed (scripts/test installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{Opts, TestServer};

/// An Alertmanager started by the test on a free loopback port, killed on drop.
struct Alertmanager {
    child: Child,
    base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    /// Starts Alertmanager with a route to a receiver that sends nothing, its own storage and no
    /// clustering (by default it would also bind :9094 for gossip), and waits until it is ready.
    async fn start(client: &reqwest::Client) -> Self {
        let bin = binary().unwrap_or_else(|| {
            panic!(
                "Alertmanager not found (/usr/bin/prometheus-alertmanager or `alertmanager` on \
                 PATH): run scripts/test, which installs Debian's prometheus-alertmanager"
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: \"null\"\n  group_wait: 0s\nreceivers:\n  - name: \"null\"\n",
        )
        .unwrap();
        let log = dir.path().join("alertmanager.log");
        let port = free_port();
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let mut am = Alertmanager {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = am.child.try_wait() {
                panic!("Alertmanager exited ({status}); log:\n{}", am.log_text());
            }
            if let Ok(r) = client.get(format!("{}/-/ready", am.base)).send().await {
                if r.status().is_success() {
                    return am;
                }
            }
            if Instant::now() > deadline {
                panic!("Alertmanager never became ready; log:\n{}", am.log_text());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /api/v2/alerts?<query>`: the listed alerts.
    async fn alerts(&self, client: &reqwest::Client, query: &str) -> Vec<Value> {
        let r = client
            .get(format!("{}/api/v2/alerts?{query}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "GET /api/v2/alerts?{query}");
        match r.json::<Value>().await.unwrap() {
            Value::Array(alerts) => alerts,
            other => panic!("GET /api/v2/alerts?{query}: not a list: {other}"),
        }
    }
}

/// Debian installs the binary as `prometheus-alertmanager`; upstream builds call it `alertmanager`.
fn binary() -> Option<PathBuf> {
    let debian = Path::new("/usr/bin/prometheus-alertmanager");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["prometheus-alertmanager", "alertmanager"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn gauge(srv: &TestServer, value: f64) {
    let (code, body) = srv
        .post_json(
            "/api/v1/telemetry/metrics",
            json!({"name": "cpu.usage", "type": "gauge", "value": value, "tags": {"host": "a"}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
}

/// Polls `check` (Err carries what it saw) until it is Ok, up to a generous deadline; on timeout
/// panics with the last observation and both servers' logs.
async fn wait_for<T, F, Fut>(what: &str, am: &Alertmanager, srv: &TestServer, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = match check().await {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}; last seen: {seen}\nAlertmanager log:\n{}\nblazar log:\n{}",
                am.log_text(),
                srv.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether `a` is blazar's HighCPU alert for host `a`.
fn is_ours(a: &Value) -> bool {
    a["labels"]["alertname"] == "HighCPU" && a["labels"]["host"] == "a"
}

/// Whether Alertmanager would still call `a` active: its `endsAt` is still ahead. (A firing alert
/// posted without `endsAt` gets now + `resolve_timeout` there; a resolved one keeps ours.)
fn ends_in_future(a: &Value) -> bool {
    let ends = a["endsAt"].as_str().unwrap_or_default();
    match chrono::DateTime::parse_from_rfc3339(ends) {
        Ok(t) => t > chrono::Utc::now(),
        // No or unreadable endsAt: not resolved as far as we can tell.
        Err(_) => true,
    }
}

#[tokio::test]
async fn alerts_reach_the_real_alertmanager_and_resolve_there() {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let am = Alertmanager::start(&client).await;
    let config = format!(
        "alerting:\n  evaluation_interval: 200ms\n  group_wait: 0s\n  group_interval: 500ms\n  rules:\n    \
         - {{id: hot_cpu, name: HighCPU, metric: 'cpu.usage', condition: gt, threshold: 90, severity: critical, \
         labels: {{team: web}}, annotations: {{summary: 'cpu {{{{ $labels.host }}}} at {{{{ $value }}}}'}}, \
         notification_channels: [am]}}\n  channels:\n    \
         - {{name: am, type: alertmanager, config: {{url: \"{}\"}}}}\n",
        am.base
    );
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(config),
        ..Opts::default()
    })
    .await;

    gauge(&srv, 95.0).await;
    // Alertmanager lists a new alert as `unprocessed` until it has run it through its silences and
    // inhibitions; wait until it is `active`.
    let alert = wait_for(
        "the alert to be active in Alertmanager",
        &am,
        &srv,
        || async {
            let alerts = am.alerts(&client, "").await;
            alerts
                .iter()
                .find(|a| is_ours(a) && a["status"]["state"] == "active")
                .cloned()
                .ok_or_else(|| Value::Array(alerts).to_string())
        },
    )
    .await;
    let labels = &alert["labels"];
    assert_eq!(labels["alertname"], "HighCPU", "{alert}");
    assert_eq!(labels["severity"], "critical", "{alert}");
    assert_eq!(labels["team"], "web", "{alert}");
    assert_eq!(labels["host"], "a", "{alert}");
    assert_eq!(alert["annotations"]["summary"], "cpu a at 95", "{alert}");
    assert_eq!(alert["receivers"][0]["name"], "null", "{alert}");
    assert!(ends_in_future(&alert), "active but already ended: {alert}");
    // Only the one alert: one series, one rule.
    let ours = am.alerts(&client, "").await;
    assert_eq!(ours.iter().filter(|a| is_ours(a)).count(), 1, "{ours:?}");
    // The same alert by Alertmanager's own label matching.
    let matched = am
        .alerts(
            &client,
            "filter=alertname%3D%22HighCPU%22&filter=team%3D%22web%22&filter=severity%3D%22critical%22",
        )
        .await;
    assert_eq!(matched.len(), 1, "{matched:?}");
    assert_eq!(matched[0]["fingerprint"], alert["fingerprint"]);

    gauge(&srv, 10.0).await;
    // Resolved in Alertmanager: blazar posts the alert again with `endsAt` = its resolution
    // time, in the past. Alertmanager keeps a resolved alert in memory for a while, but its
    // `GET /api/v2/alerts` leaves out alerts whose `endsAt` has passed, whatever the
    // active/silenced/inhibited flags (0.25 does). So: the alert is gone from the listing
    // that asks for everything (all flags default to true), or, should a version list resolved
    // alerts, what is listed is no longer `active` and ends no later than now. The fingerprint
    // ties it to the alert that was firing.
    let fp = alert["fingerprint"].clone();
    wait_for(
        "the alert to resolve in Alertmanager",
        &am,
        &srv,
        || async {
            let alerts = am.alerts(&client, "").await;
            let still: Vec<&Value> = alerts
                .iter()
                .filter(|a| a["fingerprint"] == fp)
                .filter(|a| a["status"]["state"] == "active" || ends_in_future(a))
                .collect();
            if still.is_empty() {
                Ok(())
            } else {
                Err(json!(still).to_string())
            }
        },
    )
    .await;
}
