//! `blazar check-config`: load a config file the way `serve` would and report the result.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::output;

const DEFAULT_FILE: &str = "blazar.yaml";

#[derive(Debug, Args)]
pub(crate) struct CheckConfigArgs {
    /// The file to check [default: blazar.yaml].
    #[arg(value_name = "FILE", conflicts_with = "config")]
    file: Option<PathBuf>,
    /// The file to check (same as FILE).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Prints `ok: <file>` when the file loads and validates.
///
/// # Errors
/// The load error, which names the key, the line and what was expected.
pub(crate) fn check(args: CheckConfigArgs, json: bool) -> anyhow::Result<ExitCode> {
    let file = args
        .file
        .or(args.config)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    // Environment overrides apply as they would for `serve`, so a bad BLAZAR_* shows up too.
    blazar_config::load(Some(&file), std::env::vars())?;
    if json {
        output::print_json(&json!({ "ok": true, "file": file.display().to_string() }))?;
    } else {
        writeln!(std::io::stdout(), "ok: {}", file.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
