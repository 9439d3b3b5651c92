//! Process watch: liveness, CPU and memory of a service's process, found by name or pid file.
//! STUB: the probes helper replaces this file.

use blazar_config::ProcessWatch;
use serde::Serialize;

/// One look at a watched process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessSample {
    /// The process found (the oldest, when a name matches several).
    pub pid: Option<u32>,
    pub alive: bool,
    /// CPU use since the previous sample, in percent of one core.
    pub cpu_percent: f64,
    /// Resident memory.
    pub memory_bytes: u64,
    /// Why it is not alive, when it is not.
    pub message: String,
}

/// Samples watched processes; keeps what CPU accounting needs between calls. Blocking: call
/// from a blocking thread.
#[derive(Default)]
pub struct ProcessWatcher {}

impl ProcessWatcher {
    /// Creates a watcher.
    pub fn new() -> Self {
        Self {}
    }

    /// Samples every watch in one pass over the process table; results in `watches` order.
    pub fn sample(&mut self, watches: &[&ProcessWatch]) -> Vec<ProcessSample> {
        watches
            .iter()
            .map(|_| ProcessSample {
                pid: None,
                alive: false,
                cpu_percent: 0.0,
                memory_bytes: 0,
                message: "process watch not built yet".into(),
            })
            .collect()
    }
}
