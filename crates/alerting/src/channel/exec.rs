//! The `exec` channel: a remediation command (seed 000's self-healing) run once per firing
//! alert, its outcome recorded as a [`RemediationOutcome`].
//!
//! - Only firing notifications run it, and only for their firing alerts, one after another
//!   (remediations are not run in parallel); resolved ones are delivered without running.
//! - The command runs directly (no shell): `command[0]` with the rest as arguments, in the
//!   server's working directory and environment plus:
//!   `BLAZAR_ALERT_ID`, `BLAZAR_ALERT_RULE`, `BLAZAR_ALERT_NAME`, `BLAZAR_ALERT_SEVERITY`,
//!   `BLAZAR_ALERT_SERVICE` (empty when none), `BLAZAR_ALERT_STATUS` (`firing`),
//!   `BLAZAR_ALERT_LABELS` (a JSON object), `BLAZAR_ALERT_VALUE`, `BLAZAR_ALERT_MESSAGE`,
//!   `BLAZAR_ALERT_ATTEMPT` (1-based), `BLAZAR_CHANNEL` and `BLAZAR_NOTIFICATION_KEY`.
//!   Its stdin is the notification as JSON (only this alert when the whole is over 1 MiB);
//!   a command that does not read it is fine.
//! - Per (channel, alert id): no new run within `cooldown` of the last run's start, and at most
//!   `max_attempts` runs per firing episode (an episode is identified by the alert's
//!   `fired_at`, so an alert that resolves and fires again starts over; the cooldown still
//!   applies across episodes). A skipped run is logged and the delivery is `Ok`. Never two runs
//!   at once for the same alert and channel.
//! - Exit 0 is success. A non-zero exit, death by signal, not finishing within `timeout` (the
//!   process is killed; processes it started in the background are not) or failing to start is
//!   [`DeliveryError::Permanent`]: a failed remediation is reported and recorded, and the next
//!   attempt waits for the next notification (after `cooldown`), not for the retry loop.
//! - Output: the first 4 KiB of stdout and of stderr are kept; the outcome shows the first
//!   non-empty line (stdout's on success, stderr's first on failure), at most 300 characters.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::{alert_name, now_ns, truncate_chars, DeliveryError};
use crate::alert::{Alert, AlertState, Notification};

/// At most this many (channel, alert) records are kept; the one whose last run is oldest goes.
const MAX_RECORDS: usize = 10_000;
/// Bytes of stdout and of stderr kept from one run (the rest is read and dropped).
const OUTPUT_BYTES: usize = 4096;
/// Characters of the output line kept in the outcome and error.
const OUTPUT_LINE_CHARS: usize = 300;
/// Larger notifications are passed with only the remediated alert.
const MAX_STDIN_BYTES: usize = 1 << 20;
/// After the command exits, how long output still held open (by a process it left running in
/// the background) is read before giving up on it.
const OUTPUT_GRACE: Duration = Duration::from_millis(250);

/// How a remediation run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemediationStatus {
    /// Started, not finished yet.
    Running,
    /// Exited 0.
    Succeeded,
    /// Exited non-zero or was killed by a signal.
    Failed,
    /// Did not finish within the channel's `timeout`; killed.
    TimedOut,
    /// Could not be started (command not found, not executable, ...).
    NotStarted,
    /// The delivery was dropped while the command ran (shutdown); the command was killed.
    Cancelled,
}

impl RemediationStatus {
    /// Returns the wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::NotStarted => "not_started",
            Self::Cancelled => "cancelled",
        }
    }
}

/// What an `exec` channel last did for one alert: shown on the alert ("remediation: failed,
/// exit 1, `unit api.service not found`, 2 of 3 attempts").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemediationOutcome {
    /// The `exec` channel's name.
    pub channel: String,
    pub alert_id: String,
    /// How the last run ended (or `running`).
    pub status: RemediationStatus,
    /// Runs in the alert's current firing episode, the last included.
    pub attempts: u32,
    /// The channel's `max_attempts` when the last run started.
    pub max_attempts: u32,
    /// The last run's exit code; `None` while running, or when it was killed, timed out or
    /// never started.
    pub exit_code: Option<i32>,
    /// The last run's first non-empty output line (see the module docs); may be empty.
    pub output: String,
    /// Why the last run failed, as the delivery error said; `None` on success or while running.
    pub error: Option<String>,
    /// When the last run started, RFC 3339.
    pub started_at: String,
    /// When it ended, RFC 3339; `None` while running.
    pub finished_at: Option<String>,
}

/// An `exec` channel's limits (from `ChannelKind::Exec`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) timeout: Duration,
    pub(super) cooldown: Duration,
    pub(super) max_attempts: u32,
}

/// Per (channel, alert id) remediation state, shared by a [`super::Sender`]'s clones.
#[derive(Debug, Default)]
pub(super) struct Remediations {
    records: HashMap<(String, String), Record>,
}

#[derive(Debug, Clone)]
struct Record {
    outcome: RemediationOutcome,
    /// The firing episode `outcome.attempts` counts (the alert's `fired_at`).
    episode: String,
    last_run: Instant,
}

/// Whether a run may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admit {
    /// Run; the attempt (1-based) is reserved.
    Run { attempt: u32 },
    /// The last run started less than `cooldown` ago.
    Cooldown { remaining: Duration },
    /// `max_attempts` runs happened in this episode.
    Exhausted { attempts: u32 },
    /// A run for this alert and channel has not finished.
    Busy,
}

/// How one run ended.
struct Finished {
    status: RemediationStatus,
    exit_code: Option<i32>,
    output: String,
    error: Option<String>,
}

impl Remediations {
    /// Decides whether `channel` may run for `alert_id` (in firing episode `episode`) at `now`
    /// and, if so, records the run as started.
    pub(super) fn admit(
        &mut self,
        channel: &str,
        alert_id: &str,
        episode: &str,
        limits: Limits,
        now: Instant,
        now_rfc3339: &str,
    ) -> Admit {
        let key = (channel.to_string(), alert_id.to_string());
        let attempt = match self.records.get(&key) {
            None => 1,
            Some(r) => {
                if r.outcome.status == RemediationStatus::Running {
                    return Admit::Busy;
                }
                let attempts = if r.episode == episode {
                    r.outcome.attempts
                } else {
                    0
                };
                if attempts >= limits.max_attempts {
                    return Admit::Exhausted { attempts };
                }
                let since = now.saturating_duration_since(r.last_run);
                if since < limits.cooldown {
                    return Admit::Cooldown {
                        remaining: limits.cooldown.saturating_sub(since),
                    };
                }
                attempts.saturating_add(1)
            }
        };
        let outcome = RemediationOutcome {
            channel: key.0.clone(),
            alert_id: key.1.clone(),
            status: RemediationStatus::Running,
            attempts: attempt,
            max_attempts: limits.max_attempts,
            exit_code: None,
            output: String::new(),
            error: None,
            started_at: now_rfc3339.to_string(),
            finished_at: None,
        };
        self.records.insert(
            key,
            Record {
                outcome,
                episode: episode.to_string(),
                last_run: now,
            },
        );
        self.evict();
        Admit::Run { attempt }
    }

    fn finish(&mut self, channel: &str, alert_id: &str, f: Finished) {
        let key = (channel.to_string(), alert_id.to_string());
        if let Some(r) = self.records.get_mut(&key) {
            r.outcome.status = f.status;
            r.outcome.exit_code = f.exit_code;
            r.outcome.output = f.output;
            r.outcome.error = f.error;
            r.outcome.finished_at = Some(blazar_model::format_rfc3339_nanos(now_ns()));
        }
    }

    fn evict(&mut self) {
        while self.records.len() > MAX_RECORDS {
            let oldest = self
                .records
                .iter()
                .min_by_key(|(_, r)| r.last_run)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.records.remove(&k),
                None => break,
            };
        }
    }

    /// Returns the outcomes (of one alert, or all), sorted by alert id then channel.
    pub(super) fn outcomes(&self, alert_id: Option<&str>) -> Vec<RemediationOutcome> {
        let mut out: Vec<RemediationOutcome> = self
            .records
            .values()
            .filter(|r| alert_id.is_none_or(|id| r.outcome.alert_id == id))
            .map(|r| r.outcome.clone())
            .collect();
        out.sort_by(|a, b| (&a.alert_id, &a.channel).cmp(&(&b.alert_id, &b.channel)));
        out
    }
}

/// Marks a run `cancelled` if its delivery is dropped before it finishes.
struct RunGuard<'a> {
    state: &'a Arc<Mutex<Remediations>>,
    channel: &'a str,
    alert_id: &'a str,
    done: bool,
}

impl RunGuard<'_> {
    fn finish(mut self, f: Finished) {
        self.state.lock().finish(self.channel, self.alert_id, f);
        self.done = true;
    }
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.state.lock().finish(
                self.channel,
                self.alert_id,
                Finished {
                    status: RemediationStatus::Cancelled,
                    exit_code: None,
                    output: String::new(),
                    error: Some("the delivery was cancelled; the command was killed".into()),
                },
            );
        }
    }
}

/// Runs the remediation for each firing alert of `n` that its limits admit.
pub(super) async fn deliver(
    state: &Arc<Mutex<Remediations>>,
    name: &str,
    command: &[String],
    limits: Limits,
    n: &Notification,
) -> Result<(), DeliveryError> {
    if n.status != AlertState::Firing {
        return Ok(());
    }
    let Some((program, args)) = command.split_first() else {
        return Err(DeliveryError::Permanent(format!(
            "exec channel {name:?}: no command"
        )));
    };
    let mut failures = Vec::new();
    for alert in n.firing() {
        let episode = alert.fired_at.as_deref().unwrap_or(&alert.started_at);
        let now_rfc3339 = blazar_model::format_rfc3339_nanos(now_ns());
        let admit = state.lock().admit(
            name,
            &alert.id,
            episode,
            limits,
            Instant::now(),
            &now_rfc3339,
        );
        let attempt = match admit {
            Admit::Run { attempt } => attempt,
            Admit::Cooldown { remaining } => {
                tracing::info!(
                    channel = name,
                    alert_id = %alert.id,
                    remaining = ?remaining,
                    "remediation skipped: in cooldown"
                );
                continue;
            }
            Admit::Exhausted { attempts } => {
                tracing::warn!(
                    channel = name,
                    alert_id = %alert.id,
                    attempts,
                    "remediation skipped: max attempts reached"
                );
                continue;
            }
            Admit::Busy => {
                tracing::info!(
                    channel = name,
                    alert_id = %alert.id,
                    "remediation skipped: still running"
                );
                continue;
            }
        };
        let guard = RunGuard {
            state,
            channel: name,
            alert_id: &alert.id,
            done: false,
        };
        let env = env(name, n, alert, attempt);
        let stdin = stdin(n, alert);
        let finished = run(program, args, env, stdin, limits.timeout).await;
        let error = finished.error.clone();
        match &error {
            None => tracing::info!(
                channel = name,
                alert_id = %alert.id,
                attempt,
                output = %finished.output,
                "remediation succeeded"
            ),
            Some(e) => tracing::warn!(
                channel = name,
                alert_id = %alert.id,
                attempt,
                error = %e,
                "remediation failed"
            ),
        }
        guard.finish(finished);
        if let Some(e) = error {
            failures.push(format!("alert {}: {e}", alert.id));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(DeliveryError::Permanent(format!(
            "exec channel {name:?}: {}",
            failures.join("; ")
        )))
    }
}

fn env(channel: &str, n: &Notification, a: &Alert, attempt: u32) -> Vec<(&'static str, String)> {
    vec![
        ("BLAZAR_ALERT_ID", a.id.clone()),
        ("BLAZAR_ALERT_RULE", a.rule_id.clone()),
        ("BLAZAR_ALERT_NAME", alert_name(a).to_string()),
        ("BLAZAR_ALERT_SEVERITY", a.severity.as_str().to_string()),
        (
            "BLAZAR_ALERT_SERVICE",
            a.service.clone().unwrap_or_default(),
        ),
        ("BLAZAR_ALERT_STATUS", a.state.as_str().to_string()),
        (
            "BLAZAR_ALERT_LABELS",
            serde_json::to_string(&a.labels).unwrap_or_else(|_| "{}".into()),
        ),
        ("BLAZAR_ALERT_VALUE", a.value.to_string()),
        ("BLAZAR_ALERT_MESSAGE", a.message.clone()),
        ("BLAZAR_ALERT_ATTEMPT", attempt.to_string()),
        ("BLAZAR_CHANNEL", channel.to_string()),
        ("BLAZAR_NOTIFICATION_KEY", n.key.clone()),
    ]
}

/// The notification as JSON, or with only `a` when that is over [`MAX_STDIN_BYTES`].
fn stdin(n: &Notification, a: &Alert) -> Vec<u8> {
    match serde_json::to_vec(n) {
        Ok(v) if v.len() <= MAX_STDIN_BYTES => v,
        _ => {
            let one = Notification {
                key: n.key.clone(),
                group_key: n.group_key.clone(),
                status: n.status,
                group_labels: n.group_labels.clone(),
                alerts: vec![a.clone()],
                timestamp: n.timestamp.clone(),
            };
            serde_json::to_vec(&one).unwrap_or_default()
        }
    }
}

async fn run(
    program: &str,
    args: &[String],
    env: Vec<(&'static str, String)>,
    stdin: Vec<u8>,
    timeout: Duration,
) -> Finished {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Finished {
                status: RemediationStatus::NotStarted,
                exit_code: None,
                output: String::new(),
                error: Some(format!("could not start {program:?}: {e}")),
            }
        }
    };
    // Write errors (the command exited or closed stdin) are ignored; the task ends with the run.
    let writer = child.stdin.take().map(|mut w| {
        tokio::spawn(async move {
            let _ = w.write_all(&stdin).await;
            let _ = w.shutdown().await;
        })
    });
    let stop = CancellationToken::new();
    let stdout = child
        .stdout
        .take()
        .map(|r| tokio::spawn(read_bounded(r, stop.clone())));
    let stderr = child
        .stderr
        .take()
        .map(|r| tokio::spawn(read_bounded(r, stop.clone())));

    let waited = tokio::time::timeout(timeout, child.wait()).await;
    if waited.is_err() {
        let _ = child.kill().await;
    }
    if let Some(w) = writer {
        w.abort();
    }
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(OUTPUT_GRACE).await;
            stop.cancel();
        })
    };
    let stdout = match stdout {
        Some(h) => h.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let stderr = match stderr {
        Some(h) => h.await.unwrap_or_default(),
        None => Vec::new(),
    };
    stopper.abort();

    match waited {
        Ok(Ok(status)) if status.success() => Finished {
            status: RemediationStatus::Succeeded,
            exit_code: status.code(),
            output: first_line(&stdout)
                .or_else(|| first_line(&stderr))
                .unwrap_or_default(),
            error: None,
        },
        Ok(Ok(status)) => {
            let output = first_line(&stderr)
                .or_else(|| first_line(&stdout))
                .unwrap_or_default();
            let how = match status.code() {
                Some(code) => format!("exited with {code}"),
                None => killed_by(status),
            };
            Finished {
                status: RemediationStatus::Failed,
                exit_code: status.code(),
                error: Some(with_output(format!("{program:?} {how}"), &output)),
                output,
            }
        }
        Ok(Err(e)) => Finished {
            status: RemediationStatus::Failed,
            exit_code: None,
            output: String::new(),
            error: Some(format!("waiting for {program:?}: {e}")),
        },
        Err(_) => {
            let output = first_line(&stderr)
                .or_else(|| first_line(&stdout))
                .unwrap_or_default();
            Finished {
                status: RemediationStatus::TimedOut,
                exit_code: None,
                error: Some(with_output(
                    format!("{program:?} did not finish within {timeout:?}; killed"),
                    &output,
                )),
                output,
            }
        }
    }
}

fn with_output(msg: String, output: &str) -> String {
    if output.is_empty() {
        msg
    } else {
        format!("{msg}: {output}")
    }
}

#[cfg(unix)]
fn killed_by(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(sig) => format!("was killed by signal {sig}"),
        None => "ended without an exit code".into(),
    }
}

#[cfg(not(unix))]
fn killed_by(_status: std::process::ExitStatus) -> String {
    "ended without an exit code".into()
}

/// Reads `r` to its end (or until `stop`), keeping the first [`OUTPUT_BYTES`].
async fn read_bounded<R: AsyncRead + Unpin>(mut r: R, stop: CancellationToken) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::select! {
            biased;
            read = r.read(&mut chunk) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            () = stop.cancelled() => break,
        };
        let room = OUTPUT_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
    }
    kept
}

fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| truncate_chars(l, OUTPUT_LINE_CHARS))
}

#[cfg(test)]
mod tests {
    use blazar_config::{ChannelKind, Severity};

    use super::super::testkit::{alert, notification, resolved};
    use super::super::Sender;
    use super::*;

    fn sh(script: &str, cooldown: Duration, max_attempts: u32) -> ChannelKind {
        ChannelKind::Exec {
            command: vec!["sh".into(), "-c".into(), script.into()],
            timeout: Duration::from_secs(20),
            cooldown,
            max_attempts,
        }
    }

    fn firing() -> Notification {
        notification(AlertState::Firing, vec![])
    }

    #[tokio::test]
    async fn command_sees_alert_in_env_and_notification_on_stdin() {
        let sender = Sender::new().unwrap();
        let kind = sh(
            r#"echo "$BLAZAR_ALERT_ID|$BLAZAR_ALERT_RULE|$BLAZAR_ALERT_NAME|$BLAZAR_ALERT_SEVERITY|$BLAZAR_ALERT_SERVICE|$BLAZAR_ALERT_STATUS|$BLAZAR_ALERT_VALUE|$BLAZAR_ALERT_ATTEMPT|$BLAZAR_CHANNEL|$BLAZAR_NOTIFICATION_KEY|$BLAZAR_ALERT_LABELS""#,
            Duration::ZERO,
            3,
        );
        sender.deliver("fix", &kind, &firing()).await.unwrap();
        let outcomes = sender.remediation_outcomes();
        assert_eq!(outcomes.len(), 1);
        let o = &outcomes[0];
        assert_eq!(
            o.output,
            r#"a1b2c3d4e5f60718|high_cpu|HighCPU|critical|api|firing|95.5|1|fix|k-1|{"alertname":"HighCPU","service":"api","severity":"critical"}"#
        );
        assert_eq!(
            (
                o.channel.as_str(),
                o.alert_id.as_str(),
                o.status,
                o.attempts,
                o.max_attempts,
                o.exit_code,
                o.error.as_deref()
            ),
            (
                "fix",
                "a1b2c3d4e5f60718",
                RemediationStatus::Succeeded,
                1,
                3,
                Some(0),
                None
            )
        );
        assert!(o.finished_at.is_some());

        // stdin: the notification JSON.
        let sender = Sender::new().unwrap();
        let kind = sh("head -c 100", Duration::ZERO, 3);
        sender.deliver("fix", &kind, &firing()).await.unwrap();
        let o = &sender.remediation_outcomes_for("a1b2c3d4e5f60718")[0];
        assert!(
            o.output
                .starts_with(r#"{"key":"k-1","group_key":"g-high-cpu","status":"firing""#),
            "{}",
            o.output
        );
    }

    #[tokio::test]
    async fn failing_command_is_permanent_with_exit_code_and_first_line() {
        let sender = Sender::new().unwrap();
        let kind = sh(
            "echo partial; echo 'unit api.service not found' >&2; echo more >&2; exit 3",
            Duration::ZERO,
            3,
        );
        let err = sender.deliver("fix", &kind, &firing()).await.unwrap_err();
        let DeliveryError::Permanent(m) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            m,
            "exec channel \"fix\": alert a1b2c3d4e5f60718: \"sh\" exited with 3: unit api.service not found"
        );
        let o = &sender.remediation_outcomes()[0];
        assert_eq!(o.status, RemediationStatus::Failed);
        assert_eq!(o.exit_code, Some(3));
        assert_eq!(o.output, "unit api.service not found");
        assert_eq!(
            o.error.as_deref(),
            Some("\"sh\" exited with 3: unit api.service not found")
        );
    }

    #[tokio::test]
    async fn cooldown_skips_a_second_run() {
        let sender = Sender::new().unwrap();
        let kind = sh("echo ran", Duration::from_secs(3600), 5);
        sender.deliver("fix", &kind, &firing()).await.unwrap();
        sender.deliver("fix", &kind, &firing()).await.unwrap();
        let o = &sender.remediation_outcomes()[0];
        assert_eq!(o.attempts, 1);
        assert_eq!(o.status, RemediationStatus::Succeeded);
    }

    #[tokio::test]
    async fn max_attempts_stops_until_the_alert_fires_again() {
        let sender = Sender::new().unwrap();
        let kind = sh("echo nope; exit 1", Duration::ZERO, 2);
        for _ in 0..2 {
            let err = sender.deliver("fix", &kind, &firing()).await.unwrap_err();
            assert!(matches!(err, DeliveryError::Permanent(_)));
        }
        // Third: skipped, delivered.
        sender.deliver("fix", &kind, &firing()).await.unwrap();
        assert_eq!(sender.remediation_outcomes()[0].attempts, 2);

        // A new firing episode (fired again later) starts over.
        let mut again = alert("a1b2c3d4e5f60718", Severity::Critical, Some("api"), "CPU");
        again.fired_at = Some("2024-05-02T08:00:00Z".into());
        let n = notification(AlertState::Firing, vec![again]);
        assert!(sender.deliver("fix", &kind, &n).await.is_err());
        assert_eq!(sender.remediation_outcomes()[0].attempts, 1);
    }

    #[tokio::test]
    async fn resolved_notifications_and_resolved_alerts_do_not_run() {
        let sender = Sender::new().unwrap();
        let kind = sh("exit 1", Duration::ZERO, 3);
        let a = alert("id1", Severity::Critical, None, "m");
        sender
            .deliver(
                "fix",
                &kind,
                &notification(AlertState::Resolved, vec![resolved(a.clone())]),
            )
            .await
            .unwrap();
        assert!(sender.remediation_outcomes().is_empty());

        // A firing notification runs only for its firing alerts.
        let kind = sh("echo $BLAZAR_ALERT_ID", Duration::ZERO, 3);
        let n = notification(
            AlertState::Firing,
            vec![
                resolved(a),
                alert("id2", Severity::Info, None, "m"),
                alert("id3", Severity::Info, None, "m"),
            ],
        );
        sender.deliver("fix", &kind, &n).await.unwrap();
        let seen: Vec<(String, String)> = sender
            .remediation_outcomes()
            .into_iter()
            .map(|o| (o.alert_id, o.output))
            .collect();
        assert_eq!(
            seen,
            [("id2".into(), "id2".into()), ("id3".into(), "id3".into())]
        );
    }

    #[tokio::test]
    async fn slow_command_is_killed_and_reported() {
        let sender = Sender::new().unwrap();
        let kind = ChannelKind::Exec {
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo starting; exec sleep 30".into(),
            ],
            timeout: Duration::from_millis(200),
            cooldown: Duration::ZERO,
            max_attempts: 3,
        };
        let err = sender.deliver("fix", &kind, &firing()).await.unwrap_err();
        let DeliveryError::Permanent(m) = err else {
            panic!("{err:?}")
        };
        assert!(
            m.ends_with("\"sh\" did not finish within 200ms; killed: starting"),
            "{m}"
        );
        let o = &sender.remediation_outcomes()[0];
        assert_eq!(o.status, RemediationStatus::TimedOut);
        assert_eq!(o.exit_code, None);
    }

    #[tokio::test]
    async fn missing_program_is_permanent_not_started() {
        let sender = Sender::new().unwrap();
        let kind = ChannelKind::Exec {
            command: vec!["/nonexistent/blazar-remediate".into()],
            timeout: Duration::from_secs(5),
            cooldown: Duration::ZERO,
            max_attempts: 3,
        };
        let err = sender.deliver("fix", &kind, &firing()).await.unwrap_err();
        assert!(
            matches!(&err, DeliveryError::Permanent(m) if m.contains("could not start \"/nonexistent/blazar-remediate\"")),
            "{err:?}"
        );
        assert_eq!(
            sender.remediation_outcomes()[0].status,
            RemediationStatus::NotStarted
        );
    }

    #[tokio::test]
    async fn command_that_ignores_a_large_stdin_still_finishes() {
        let sender = Sender::new().unwrap();
        let mut alerts: Vec<Alert> = (0..1000)
            .map(|i| {
                resolved(alert(
                    &format!("id{i:04}"),
                    Severity::Info,
                    None,
                    &"m".repeat(100),
                ))
            })
            .collect();
        alerts.push(alert("firing", Severity::Info, None, "m"));
        let n = notification(AlertState::Firing, alerts);
        assert!(serde_json::to_vec(&n).unwrap().len() > 256 * 1024);
        let kind = sh("exit 0", Duration::ZERO, 1);
        sender.deliver("fix", &kind, &n).await.unwrap();
        assert_eq!(
            sender.remediation_outcomes()[0].status,
            RemediationStatus::Succeeded
        );
    }

    #[test]
    fn oversized_notification_is_passed_with_only_the_alert() {
        let mut alerts: Vec<Alert> = (0..3000)
            .map(|i| {
                resolved(alert(
                    &format!("id{i:04}"),
                    Severity::Info,
                    None,
                    &"m".repeat(300),
                ))
            })
            .collect();
        alerts.push(alert("firing", Severity::Info, None, "m"));
        let n = notification(AlertState::Firing, alerts);
        let a = n.alerts.last().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&stdin(&n, a)).unwrap();
        assert_eq!(v["key"], "k-1");
        assert_eq!(v["alerts"].as_array().unwrap().len(), 1);
        assert_eq!(v["alerts"][0]["id"], "firing");
        let small = notification(AlertState::Firing, vec![]);
        let v: serde_json::Value =
            serde_json::from_slice(&stdin(&small, &small.alerts[0])).unwrap();
        assert_eq!(v, serde_json::to_value(&small).unwrap());
    }

    fn limits(cooldown: Duration, max_attempts: u32) -> Limits {
        Limits {
            timeout: Duration::from_secs(1),
            cooldown,
            max_attempts,
        }
    }

    #[test]
    fn admit_applies_busy_cooldown_attempts_and_episodes() {
        let mut r = Remediations::default();
        let t0 = Instant::now();
        let l = limits(Duration::from_secs(60), 2);
        let admit = |r: &mut Remediations, ep: &str, t: Instant| r.admit("c", "a", ep, l, t, "T");
        assert_eq!(admit(&mut r, "e1", t0), Admit::Run { attempt: 1 });
        assert_eq!(admit(&mut r, "e1", t0), Admit::Busy);
        r.finish("c", "a", done());
        assert_eq!(
            admit(&mut r, "e1", t0 + Duration::from_secs(10)),
            Admit::Cooldown {
                remaining: Duration::from_secs(50)
            }
        );
        assert_eq!(
            admit(&mut r, "e1", t0 + Duration::from_secs(60)),
            Admit::Run { attempt: 2 }
        );
        r.finish("c", "a", done());
        assert_eq!(
            admit(&mut r, "e1", t0 + Duration::from_secs(600)),
            Admit::Exhausted { attempts: 2 }
        );
        // A new episode: the cooldown still counts, attempts start over.
        assert!(matches!(
            admit(&mut r, "e2", t0 + Duration::from_secs(70)),
            Admit::Cooldown { .. }
        ));
        assert_eq!(
            admit(&mut r, "e2", t0 + Duration::from_secs(600)),
            Admit::Run { attempt: 1 }
        );
        // Other channels and alerts are independent.
        assert_eq!(
            r.admit("c2", "a", "e1", l, t0, "T"),
            Admit::Run { attempt: 1 }
        );
        assert_eq!(
            r.admit("c", "b", "e1", l, t0, "T"),
            Admit::Run { attempt: 1 }
        );
    }

    #[test]
    fn dropped_run_is_recorded_cancelled() {
        let state = Arc::new(Mutex::new(Remediations::default()));
        let l = limits(Duration::ZERO, 3);
        let admit = state.lock().admit("c", "a", "e", l, Instant::now(), "T");
        assert_eq!(admit, Admit::Run { attempt: 1 });
        drop(RunGuard {
            state: &state,
            channel: "c",
            alert_id: "a",
            done: false,
        });
        let o = &state.lock().outcomes(None)[0];
        assert_eq!(o.status, RemediationStatus::Cancelled);
        // No longer busy.
        assert_eq!(
            state.lock().admit("c", "a", "e", l, Instant::now(), "T"),
            Admit::Run { attempt: 2 }
        );
    }

    fn done() -> Finished {
        Finished {
            status: RemediationStatus::Succeeded,
            exit_code: Some(0),
            output: String::new(),
            error: None,
        }
    }
}
