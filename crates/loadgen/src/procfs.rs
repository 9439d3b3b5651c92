//! Reads a process's CPU time and resident memory from Linux `/proc`.
//! Only the process itself: children are not counted (none of the measured servers fork).

use anyhow::{anyhow, Context};

/// `USER_HZ`: the unit of `/proc/PID/stat` times, 100 on every Linux ABI we run on.
const CLOCK_TICKS_PER_S: f64 = 100.0;

/// Returns the user+system CPU seconds of process `pid` (`"self"` for this one).
///
/// # Errors
/// The process is gone or its `stat` line is malformed.
pub(crate) fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_cpu_seconds(&stat).with_context(|| format!("parsing {path}"))
}

/// Returns the resident set size of process `pid` in bytes.
///
/// # Errors
/// The process is gone or its `status` has no `VmRSS` line.
pub(crate) fn rss_bytes(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_rss_bytes(&status).with_context(|| format!("parsing {path}"))
}

fn parse_cpu_seconds(stat: &str) -> anyhow::Result<f64> {
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("no ')' after the command name"))?;
    // After ')' come field 3 (state) onwards; utime and stime are fields 14 and 15.
    let mut fields = rest.split_whitespace().skip(11);
    let mut next = |name: &str| -> anyhow::Result<f64> {
        let f = fields.next().ok_or_else(|| anyhow!("{name}: missing"))?;
        f.parse::<u64>()
            .map(|v| v as f64)
            .map_err(|e| anyhow!("{name}: {e}, got {f:?}"))
    };
    let utime = next("utime")?;
    let stime = next("stime")?;
    Ok((utime + stime) / CLOCK_TICKS_PER_S)
}

fn parse_rss_bytes(status: &str) -> anyhow::Result<u64> {
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow!("VmRSS: missing"))?;
    let mut parts = line.split_whitespace().skip(1);
    let kib: u64 = parts
        .next()
        .ok_or_else(|| anyhow!("VmRSS: no value"))?
        .parse()
        .map_err(|e| anyhow!("VmRSS: {e}"))?;
    Ok(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_skips_a_command_with_spaces_and_parens() {
        let stat = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 130 0 0 20 0 8 0 100 1000 200";
        assert!((parse_cpu_seconds(stat).unwrap() - 3.8).abs() < 1e-9);
    }

    #[test]
    fn rss_is_read_in_kib() {
        let status = "Name:\tblazar\nVmPeak:\t 9000 kB\nVmRSS:\t  2048 kB\nThreads:\t4\n";
        assert_eq!(parse_rss_bytes(status).unwrap(), 2 << 20);
    }

    #[test]
    fn own_process_is_readable() {
        assert!(cpu_seconds("self").unwrap() >= 0.0);
        assert!(rss_bytes("self").unwrap() > 0);
    }
}
