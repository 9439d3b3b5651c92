//! A command as a check: exit 0 healthy, 1 degraded, any other code or a signal unhealthy; a
//! command that cannot start or outlives its timeout is a failure. The message is the first
//! non-empty line it printed (stdout, else stderr).

use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::FusedFuture;
use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use super::{cut_message, Observation, Verdict};

/// Bytes kept of each output stream; the rest is read and dropped, so a chatty command
/// neither blocks on a full pipe nor grows our memory.
const MAX_CAPTURE: usize = 4 * 1024;

/// How long to keep reading after the command exited. What it wrote is already in the pipe,
/// but a background child that inherited the pipe can hold it open for ever.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// How long to wait for a killed command to be reaped (`kill_on_drop` and Tokio's orphan
/// reaping cover the rest).
const REAP_WAIT: Duration = Duration::from_secs(2);

/// Runs `program args`, killing it at `timeout`.
pub async fn check(program: &str, args: &[String], timeout: Duration) -> Observation {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group, so a timeout can kill what a shell script started too.
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Observation::new(
                Verdict::Failed,
                start.elapsed(),
                cut_message(&format!("cannot run {program}: {e}")),
            )
        }
    };

    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let mut out = Vec::new();
    let mut err = Vec::new();
    let outcome = {
        let reads = async {
            tokio::join!(capture(stdout, &mut out), capture(stderr, &mut err));
        }
        .fuse();
        tokio::pin!(reads);
        // Read while waiting: a command blocked on a full pipe would never exit.
        let waited = tokio::time::timeout_at(deadline, async {
            loop {
                tokio::select! {
                    status = child.wait() => break status,
                    () = &mut reads, if !reads.is_terminated() => {}
                }
            }
        })
        .await;
        if matches!(waited, Ok(Ok(_))) && !reads.is_terminated() {
            let grace = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .min(DRAIN_GRACE);
            let _ = tokio::time::timeout(grace, &mut reads).await;
        }
        waited
    };

    let status = match outcome {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            kill(&mut child).await;
            return Observation::new(
                Verdict::Failed,
                start.elapsed(),
                cut_message(&format!("waiting for {program}: {e}")),
            );
        }
        Err(_) => {
            kill(&mut child).await;
            return Observation::new(
                Verdict::Failed,
                start.elapsed(),
                format!("no exit within {timeout:?}"),
            );
        }
    };
    judge(status, &out, &err, start.elapsed())
}

/// Reads `stream` to its end, keeping the first [`MAX_CAPTURE`] bytes in `keep`.
async fn capture<R: AsyncRead + Unpin>(stream: Option<R>, keep: &mut Vec<u8>) {
    let Some(mut stream) = stream else {
        return;
    };
    let mut buf = vec![0u8; MAX_CAPTURE];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = MAX_CAPTURE.saturating_sub(keep.len()).min(n);
                keep.extend_from_slice(buf.get(..room).unwrap_or_default());
            }
        }
    }
}

/// Kills a command that ran too long, with whatever it started, and reaps it.
async fn kill(child: &mut Child) {
    // `id` is `Some` until the child is reaped, so the group id cannot have been reused yet.
    #[cfg(unix)]
    if let Some(pid) = child.id() {
        kill_group(pid).await;
    }
    let _ = child.start_kill();
    let _ = tokio::time::timeout(REAP_WAIT, child.wait()).await;
}

/// Best effort `kill -KILL -- -pgid` (no libc here); `start_kill` still gets the command
/// itself if this fails.
#[cfg(unix)]
async fn kill_group(pgid: u32) {
    let killer = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status();
    let _ = tokio::time::timeout(REAP_WAIT, killer).await;
}

/// Turns an exit status and output into a result.
fn judge(status: ExitStatus, out: &[u8], err: &[u8], elapsed: Duration) -> Observation {
    let line = first_line(out).or_else(|| first_line(err));
    let (verdict, fallback) = match status.code() {
        Some(0) => (Verdict::Healthy, "exit 0".to_string()),
        Some(1) => (Verdict::Degraded, "exit 1".to_string()),
        Some(code) => (Verdict::Unhealthy, format!("exit {code}")),
        None => {
            let why = describe_signal(status);
            let message = match line {
                Some(l) => format!("{why}: {l}"),
                None => why,
            };
            return Observation::new(Verdict::Unhealthy, elapsed, cut_message(&message));
        }
    };
    Observation::new(verdict, elapsed, cut_message(&line.unwrap_or(fallback)))
}

/// The first line with something visible in it, control characters removed.
fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| l.chars().filter(|c| !c.is_control()).collect::<String>())
        .find(|l| !l.trim().is_empty())
}

#[cfg(unix)]
fn describe_signal(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    let Some(sig) = status.signal() else {
        return format!("ended without an exit code ({status})");
    };
    let core = if status.core_dumped() {
        " (core dumped)"
    } else {
        ""
    };
    match signal_name(sig) {
        Some(name) => format!("killed by {name} (signal {sig}){core}"),
        None => format!("killed by signal {sig}{core}"),
    }
}

#[cfg(not(unix))]
fn describe_signal(status: ExitStatus) -> String {
    format!("ended without an exit code ({status})")
}

/// Names of the signals that usually end a check (Linux numbering).
#[cfg(unix)]
fn signal_name(sig: i32) -> Option<&'static str> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(20);

    async fn sh(script: &str, timeout: Duration) -> Observation {
        check("sh", &["-c".to_string(), script.to_string()], timeout).await
    }

    #[tokio::test]
    async fn exit_codes_decide() {
        let o = sh("echo all good; exit 0", LONG).await;
        assert_eq!(
            (o.verdict, o.message.as_str()),
            (Verdict::Healthy, "all good")
        );
        let o = sh("echo lagging; exit 1", LONG).await;
        assert_eq!(
            (o.verdict, o.message.as_str()),
            (Verdict::Degraded, "lagging")
        );
        let o = sh("exit 2", LONG).await;
        assert_eq!(
            (o.verdict, o.message.as_str()),
            (Verdict::Unhealthy, "exit 2")
        );
        let o = sh("exit 0", LONG).await;
        assert_eq!(
            (o.verdict, o.message.as_str()),
            (Verdict::Healthy, "exit 0")
        );
        assert!(o.elapsed > Duration::ZERO);
    }

    #[tokio::test]
    async fn message_is_the_first_non_empty_line_of_stdout_else_stderr() {
        let o = sh(r"printf '\n  \n first \nsecond\n'; echo err >&2", LONG).await;
        assert_eq!(o.message, "first");
        let o = sh("echo 'disk full' >&2; exit 2", LONG).await;
        assert_eq!(
            (o.verdict, o.message.as_str()),
            (Verdict::Unhealthy, "disk full")
        );
        let long = "x".repeat(3000);
        let o = sh(&format!("echo {long}"), LONG).await;
        assert!(o.message.len() <= super::super::MAX_MESSAGE_BYTES + '…'.len_utf8());
    }

    #[tokio::test]
    async fn args_are_passed_as_they_are() {
        let args = ["a  b".to_string(), "$HOME".to_string()];
        let o = check("echo", &args, LONG).await;
        assert_eq!(
            (o.verdict, o.message.as_str()),
            (Verdict::Healthy, "a  b $HOME")
        );
    }

    #[tokio::test]
    async fn stdin_is_empty() {
        // `cat` would wait for ever on an inherited terminal.
        let o = check("cat", &[], LONG).await;
        assert_eq!(o.verdict, Verdict::Healthy, "{o:?}");
    }

    #[tokio::test]
    async fn a_signal_is_unhealthy_and_named() {
        let o = sh("echo going; kill -TERM $$", LONG).await;
        assert_eq!(o.verdict, Verdict::Unhealthy, "{o:?}");
        assert!(o.message.contains("SIGTERM"), "{o:?}");
        assert!(o.message.contains("going"), "{o:?}");
    }

    #[tokio::test]
    async fn a_program_that_cannot_start_is_a_failure() {
        let o = check("/nonexistent/blazar-check", &[], LONG).await;
        assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
        assert!(o.message.contains("/nonexistent/blazar-check"), "{o:?}");

        let dir = tempfile::tempdir().unwrap();
        let not_exec = dir.path().join("check.sh");
        std::fs::write(&not_exec, "#!/bin/sh\nexit 0\n").unwrap();
        let o = check(not_exec.to_str().unwrap(), &[], LONG).await;
        assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
        assert!(o.message.contains("check.sh"), "{o:?}");
    }

    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed() {
        let start = Instant::now();
        let o = check("sleep", &["10".to_string()], Duration::from_millis(200)).await;
        assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
        assert!(o.message.starts_with("no exit within"), "{o:?}");
        assert!(start.elapsed() < Duration::from_secs(5), "{o:?}");
    }

    /// Whether `pid` is gone or a zombie (an orphan whose reaper is slow).
    fn gone(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        }
    }

    #[tokio::test]
    async fn a_timeout_kills_what_the_command_started() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let o = sh(&script, Duration::from_millis(500)).await;
        assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.trim();
        let mut waited = Duration::ZERO;
        while !gone(pid) && waited < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
        assert!(gone(pid), "background sleep {pid} survived the timeout");
    }

    #[tokio::test]
    async fn a_background_child_holding_the_pipe_does_not_hold_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; echo done", pid_file.display());
        let start = Instant::now();
        let o = sh(&script, LONG).await;
        assert_eq!((o.verdict, o.message.as_str()), (Verdict::Healthy, "done"));
        assert!(start.elapsed() < Duration::from_secs(10), "{o:?}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    }

    #[tokio::test]
    async fn megabytes_of_output_neither_block_nor_pile_up() {
        let o = sh("head -c 10000000 /dev/zero", LONG).await;
        assert_eq!(
            (o.verdict, o.message.as_str()),
            (Verdict::Healthy, "exit 0")
        );
        let o = sh("echo bad; head -c 10000000 /dev/zero; exit 2", LONG).await;
        assert_eq!((o.verdict, o.message.as_str()), (Verdict::Unhealthy, "bad"));
        let o = sh("head -c 10000000 /dev/zero >&2; echo fine", LONG).await;
        assert_eq!((o.verdict, o.message.as_str()), (Verdict::Healthy, "fine"));
    }

    #[test]
    fn capture_keeps_only_the_cap() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let data = vec![b'a'; MAX_CAPTURE * 3 + 17];
        let mut keep = Vec::new();
        rt.block_on(capture(Some(data.as_slice()), &mut keep));
        assert_eq!(keep.len(), MAX_CAPTURE);
    }
}
