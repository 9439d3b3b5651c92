//! `blazar resources`: the host now — CPU, load, memory, disks, network, blazar's own process.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use blazar_client::paths;
use blazar_client::wire::Resources;
use clap::Args;

use super::output;
use super::Ctx;

#[derive(Debug, Args)]
pub(crate) struct ResourcesArgs {
    /// Refresh in place until Ctrl-C.
    #[arg(long)]
    watch: bool,
    /// Seconds between refreshes with `--watch`.
    #[arg(long, value_name = "SECONDS", default_value_t = 2)]
    interval: u64,
}

/// Prints the latest sample (or the server's JSON); with `--watch`, again every interval.
///
/// # Errors
/// The request failing.
pub(crate) async fn run(ctx: &Ctx, args: ResourcesArgs) -> anyhow::Result<ExitCode> {
    loop {
        let body = ctx.client.get_json(paths::RESOURCES, &[]).await?;
        if ctx.json {
            output::print_json(&body)?;
        } else {
            let r: Resources = output::decode(body, "resources")?;
            let mut out = io::stdout().lock();
            if args.watch && io::stdout().is_terminal() {
                // Home the cursor and clear, so the block refreshes in place.
                write!(out, "\x1b[H\x1b[2J")?;
            }
            write_block(&mut out, &r)?;
            out.flush()?;
        }
        if !args.watch {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(args.interval.max(1))) => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}

fn write_block(out: &mut impl Write, r: &Resources) -> io::Result<()> {
    let c = &r.cpu;
    writeln!(
        out,
        "CPU      {:5.1}%  load {:.2} {:.2} {:.2}  ({} cores)",
        c.usage_percent, c.load_average_1m, c.load_average_5m, c.load_average_15m, c.cores
    )?;
    let m = &r.memory;
    writeln!(
        out,
        "MEMORY   {:5.1}%  {} used of {}, {} available",
        m.usage_percent,
        output::bytes(m.used_bytes),
        output::bytes(m.total_bytes),
        output::bytes(m.available_bytes)
    )?;
    for d in &r.disks {
        writeln!(
            out,
            "DISK     {:5.1}%  {} used of {}, {} available  {}",
            d.usage_percent,
            output::bytes(d.used_bytes),
            output::bytes(d.total_bytes),
            output::bytes(d.available_bytes),
            d.mount
        )?;
    }
    let n = &r.network;
    writeln!(
        out,
        "NETWORK  sent {}/s  received {}/s  packets {} out, {} in  errors {}",
        output::bytes(n.bytes_sent_per_sec as u64),
        output::bytes(n.bytes_received_per_sec as u64),
        n.packets_sent,
        n.packets_received,
        n.error_count
    )?;
    let p = &r.process;
    writeln!(
        out,
        "BLAZAR   pid {}  cpu {:.1}%  memory {}  (at {})",
        p.pid,
        p.cpu_percent,
        output::bytes(p.memory_bytes),
        output::time(&r.timestamp)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block() {
        let r: Resources = serde_json::from_value(json!({
            "timestamp": "2024-05-01T10:00:00Z",
            "cpu": {"usage_percent": 12.34, "load_average_1m": 0.5, "load_average_5m": 0.25,
                    "load_average_15m": 0.125, "cores": 2},
            "memory": {"usage_percent": 50.0, "used_bytes": 1073741824, "available_bytes": 1073741824,
                       "total_bytes": 2147483648u64},
            "disks": [{"mount": "/", "usage_percent": 25.0, "used_bytes": 1024, "available_bytes": 3072,
                       "total_bytes": 4096}],
            "network": {"bytes_sent_per_sec": 2048.0, "bytes_received_per_sec": 512.0,
                        "packets_sent": 10, "packets_received": 20, "error_count": 0},
            "process": {"pid": 42, "cpu_percent": 1.5, "memory_bytes": 10485760}
        }))
        .unwrap();
        let mut out = Vec::new();
        write_block(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "CPU       12.3%  load 0.50 0.25 0.12  (2 cores)\n\
             MEMORY    50.0%  1.0GiB used of 2.0GiB, 1.0GiB available\n\
             DISK      25.0%  1.0KiB used of 4.0KiB, 3.0KiB available  /\n\
             NETWORK  sent 2.0KiB/s  received 512B/s  packets 10 out, 20 in  errors 0\n\
             BLAZAR   pid 42  cpu 1.5%  memory 10.0MiB  (at 2024-05-01 10:00:00)\n"
        );
    }
}
