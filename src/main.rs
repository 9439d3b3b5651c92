//! blazar: the telemetry server (`blazar serve`) and its command-line client.
//!
//! Only this binary uses `anyhow`: every failure ends here as one `error: ...` line on stderr
//! and a non-zero exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

// The ingest path allocates and frees many small strings (label names and values per series);
// mimalloc's thread-local free lists cut that cost sharply against glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        // `blazar tail | head`: the reader went away, which is not our failure.
        Err(err) if cli::output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, whatever the chain's messages contain (YAML errors can span lines).
            let message = format!("{err:#}").replace('\n', " ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
