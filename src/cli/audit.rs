//! `blazar audit export` (fetch the audit trail as JSON lines, exactly as the server stores
//! them) and `blazar audit verify FILE` (check a copy's hash chain locally, no server needed).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use blazar_audit::{format_time, AuditRecord, VerifyReport};
use blazar_client::Client;
use clap::{Args, Subcommand};

use super::{output, query};

/// The audit trail: `GET ?since=&limit=` → JSON lines, oldest first.
const AUDIT_PATH: &str = "/api/v1/telemetry/audit";
/// Records asked for per request; export pages until an answer is empty.
const PAGE: usize = 10_000;

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Fetch the audit trail from the server as JSON lines, oldest first.
    Export(ExportArgs),
    /// Check the hash chain of an audit log or export; runs locally, no server needed.
    #[command(
        after_help = "Exit status: 0 when every line verifies; 1 at the first line that does not \
(changed, removed, reordered or not a record), which is printed."
    )]
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Only records from this time on: a duration ago (`1h`, `7d`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Write to FILE (complete or not at all) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The JSON-lines file: an export, or the server's `audit.jsonl`.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Runs an audit subcommand; `server`, `timeout` and `json` are the global options.
///
/// # Errors
/// Export: the requests or writing failing. Verify: the file cannot be read (a file that reads
/// but does not verify is exit code 1, not an error).
pub(crate) fn run(
    args: AuditArgs,
    server: &str,
    timeout: Duration,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match args.command {
        AuditCommand::Verify(args) => verify(&args.file, json),
        AuditCommand::Export(args) => {
            let client = Client::new(server, timeout)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(export(&client, args))
        }
    }
}

fn verify(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let report = blazar_audit::verify_file(file)?;
    if json {
        output::print_json(&serde_json::to_value(&report)?)?;
    } else {
        println!("{}", summary(&report));
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line saying whether the chain holds, and where it breaks.
fn summary(report: &VerifyReport) -> String {
    match &report.first_bad {
        Some(bad) if report.lines == 0 => format!("bad: {bad}"),
        Some(bad) => format!("bad: {bad}; lines 1-{} verify", report.lines),
        None => {
            let mut s = format!("ok: {} lines, chain intact", report.lines);
            if let (Some(first), Some(last), Some(hash)) =
                (report.first_seq, report.last_seq, &report.last_hash)
            {
                let start = if first > 0 { ", starts mid-chain" } else { "" };
                s.push_str(&format!(" (seq {first}..{last}{start}; last hash {hash})"));
            }
            s
        }
    }
}

/// Pages through the trail with `since` = the last record's time + 1 ns (times strictly
/// increase) until an answer is empty, writing each line as received.
async fn export(client: &Client, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let Some(path) = args.output else {
        let mut out = io::stdout().lock();
        export_to(client, args.since, &mut out).await?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    // A failed export must not leave a file that looks complete: write aside, then rename.
    let mut partial = path.clone().into_os_string();
    partial.push(".part");
    let partial = PathBuf::from(partial);
    let written = async {
        let file =
            File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
        let mut out = BufWriter::new(file);
        let n = export_to(client, args.since, &mut out).await?;
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", partial.display()))?;
        file.sync_all()
            .with_context(|| format!("writing {}", partial.display()))?;
        fs::rename(&partial, &path).with_context(|| format!("renaming to {}", path.display()))?;
        anyhow::Ok(n)
    }
    .await;
    match written {
        Ok(n) => {
            eprintln!("exported {n} audit records to {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Writes every record from `since` on to `out`; returns how many.
async fn export_to(
    client: &Client,
    mut since: Option<String>,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    let mut total = 0u64;
    loop {
        let q = query(&[("since", since.clone()), ("limit", Some(PAGE.to_string()))]);
        let body = client.get_bytes(AUDIT_PATH, &q).await?;
        let mut last_time = None;
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let record: AuditRecord = serde_json::from_slice(line).with_context(|| {
                format!("the server's record {} is not an audit record", total + 1)
            })?;
            let time = record.time_ns().with_context(|| {
                format!("record seq {} has a bad time {:?}", record.seq, record.time)
            })?;
            out.write_all(line)?;
            out.write_all(b"\n")?;
            last_time = Some(time);
            total += 1;
        }
        match last_time {
            Some(t) => since = Some(format_time(t.saturating_add(1))),
            None => return Ok(total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(lines: u64, first_bad: Option<&str>) -> VerifyReport {
        let mut text = String::new();
        let dir = tempfile::tempdir().unwrap();
        let log = blazar_audit::AuditLog::open(dir.path()).unwrap();
        for i in 0..lines {
            let r = log
                .append(
                    blazar_audit::AuditKind::Alert,
                    "system",
                    serde_json::json!({"i": i}),
                )
                .unwrap();
            text.push_str(&r.to_line().unwrap());
            text.push('\n');
        }
        if let Some(bad) = first_bad {
            text.push_str(bad);
        }
        blazar_audit::verify_reader(text.as_bytes()).unwrap()
    }

    #[test]
    fn summary_says_ok_with_the_range_and_last_hash() {
        let r = report(3, None);
        let s = summary(&r);
        assert!(
            s.starts_with("ok: 3 lines, chain intact (seq 0..2; last hash "),
            "{s}"
        );
        assert_eq!(summary(&report(0, None)), "ok: 0 lines, chain intact");
    }

    #[test]
    fn summary_names_the_first_bad_line() {
        let s = summary(&report(2, Some("junk\n")));
        assert!(s.starts_with("bad: line 3: not JSON"), "{s}");
        assert!(s.ends_with("; lines 1-2 verify"), "{s}");
        let s = summary(&report(0, Some("junk\n")));
        assert!(
            s.starts_with("bad: line 1: not JSON") && !s.contains("verify"),
            "{s}"
        );
    }
}
