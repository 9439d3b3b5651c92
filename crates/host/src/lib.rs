//! Host resources (seed 001's system resource monitor): CPU, load, memory, each real disk,
//! network rates, and blazar's own process, sampled by [`HostCollector::collect`] and kept as
//! the latest [`HostSnapshot`] for the API. No clocks of its own: the caller passes the time.

use std::collections::HashSet;

use serde::Serialize;
use sysinfo::{Disks, Networks, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// CPU now (seed 001's `CPUStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuStats {
    pub usage_percent: f64,
    pub load_average_1m: f64,
    pub load_average_5m: f64,
    pub load_average_15m: f64,
    pub cores: usize,
}

/// Memory now (seed 001's `MemoryStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemoryStats {
    pub usage_percent: f64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub total_bytes: u64,
}

/// One mounted disk (seed 001's `DiskStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DiskStats {
    pub mount: String,
    pub file_system: String,
    pub usage_percent: f64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub total_bytes: u64,
}

/// Network over all interfaces but loopback (seed 001's `NetworkStats`): rates over the last
/// interval, packet and error totals since boot.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkStats {
    pub bytes_sent_per_sec: f64,
    pub bytes_received_per_sec: f64,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub error_count: u64,
}

/// blazar's own process.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProcessStats {
    pub pid: u32,
    /// Percent of one core (can pass 100 on several).
    pub cpu_percent: f64,
    pub memory_bytes: u64,
}

/// One sample of everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostSnapshot {
    /// Unix nanoseconds when taken.
    #[serde(skip)]
    pub taken_ns: i64,
    pub timestamp: String,
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub disks: Vec<DiskStats>,
    pub network: NetworkStats,
    pub process: ProcessStats,
}

/// File systems that are not disks (memory, kernel and container pseudo file systems).
const PSEUDO_FS: [&str; 12] = [
    "tmpfs",
    "devtmpfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "squashfs",
    "devpts",
    "mqueue",
    "securityfs",
    "debugfs",
    "tracefs",
];

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Keeps sysinfo's state between samples (CPU usage and network rates are deltas).
pub struct HostCollector {
    system: System,
    disks: Disks,
    networks: Networks,
    pid: Pid,
    last_ns: Option<i64>,
}

impl HostCollector {
    /// A collector for this host and the current process.
    pub fn new() -> Self {
        let mut system = System::new();
        system.refresh_cpu_usage();
        let mut networks = Networks::new_with_refreshed_list();
        networks.refresh(true);
        Self {
            system,
            disks: Disks::new_with_refreshed_list(),
            networks,
            pid: Pid::from_u32(std::process::id()),
            last_ns: None,
        }
    }

    /// Samples everything at `now_ns` (used for the network rates' interval).
    pub fn collect(&mut self, now_ns: i64) -> HostSnapshot {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        self.disks.refresh(true);
        self.networks.refresh(true);
        let load = System::load_average();
        let cpu = CpuStats {
            usage_percent: f64::from(self.system.global_cpu_usage()),
            load_average_1m: load.one,
            load_average_5m: load.five,
            load_average_15m: load.fifteen,
            cores: self.system.cpus().len(),
        };
        let total = self.system.total_memory();
        let available = self.system.available_memory();
        let used = total.saturating_sub(available);
        let memory = MemoryStats {
            usage_percent: percent(used, total),
            used_bytes: used,
            available_bytes: available,
            total_bytes: total,
        };
        let mut seen = HashSet::new();
        let disks = self
            .disks
            .list()
            .iter()
            .filter(|d| {
                let fs = d.file_system().to_string_lossy();
                !PSEUDO_FS.contains(&fs.as_ref()) && d.total_space() > 0
            })
            .filter(|d| seen.insert(d.mount_point().to_path_buf()))
            .map(|d| {
                let total = d.total_space();
                let available = d.available_space();
                let used = total.saturating_sub(available);
                DiskStats {
                    mount: d.mount_point().display().to_string(),
                    file_system: d.file_system().to_string_lossy().into_owned(),
                    usage_percent: percent(used, total),
                    used_bytes: used,
                    available_bytes: available,
                    total_bytes: total,
                }
            })
            .collect();
        let secs = self
            .last_ns
            .map(|t| (now_ns.saturating_sub(t)) as f64 / 1e9)
            .filter(|s| *s > 0.0);
        self.last_ns = Some(now_ns);
        let mut network = NetworkStats::default();
        let (mut sent, mut received) = (0u64, 0u64);
        for (name, data) in self.networks.list() {
            if name == "lo" {
                continue;
            }
            sent = sent.saturating_add(data.transmitted());
            received = received.saturating_add(data.received());
            network.packets_sent = network
                .packets_sent
                .saturating_add(data.total_packets_transmitted());
            network.packets_received = network
                .packets_received
                .saturating_add(data.total_packets_received());
            network.error_count = network.error_count.saturating_add(
                data.total_errors_on_received()
                    .saturating_add(data.total_errors_on_transmitted()),
            );
        }
        if let Some(secs) = secs {
            network.bytes_sent_per_sec = sent as f64 / secs;
            network.bytes_received_per_sec = received as f64 / secs;
        }
        let process = self
            .system
            .process(self.pid)
            .map(|p| ProcessStats {
                pid: self.pid.as_u32(),
                cpu_percent: f64::from(p.cpu_usage()),
                memory_bytes: p.memory(),
            })
            .unwrap_or_default();
        HostSnapshot {
            taken_ns: now_ns,
            timestamp: blazar_model::format_rfc3339_nanos(now_ns),
            cpu,
            memory,
            disks,
            network,
            process,
        }
    }
}

impl Default for HostCollector {
    fn default() -> Self {
        Self::new()
    }
}

/// The latest snapshot, shared between the collector task and the API.
#[derive(Default)]
pub struct HostState {
    latest: parking_lot::RwLock<Option<HostSnapshot>>,
}

impl HostState {
    /// Replaces the latest snapshot.
    pub fn set(&self, s: HostSnapshot) {
        *self.latest.write() = Some(s);
    }

    /// Returns the latest snapshot, if one was taken.
    pub fn latest(&self) -> Option<HostSnapshot> {
        self.latest.read().clone()
    }
}

/// One gauge a snapshot records.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    /// Seed 001's name, e.g. `system.memory.usage_percent`.
    pub name: &'static str,
    /// The disk's mount, for per-disk gauges.
    pub mount: Option<String>,
    pub value: f64,
}

/// The gauges one snapshot records, under seed 001's names.
pub fn gauges(s: &HostSnapshot) -> Vec<Gauge> {
    let host = [
        ("system.cpu.usage_percent", s.cpu.usage_percent),
        ("system.cpu.load_average_1m", s.cpu.load_average_1m),
        ("system.cpu.load_average_5m", s.cpu.load_average_5m),
        ("system.cpu.load_average_15m", s.cpu.load_average_15m),
        ("system.memory.usage_percent", s.memory.usage_percent),
        (
            "system.memory.available_bytes",
            s.memory.available_bytes as f64,
        ),
        ("system.memory.used_bytes", s.memory.used_bytes as f64),
        (
            "system.network.bytes_sent_per_sec",
            s.network.bytes_sent_per_sec,
        ),
        (
            "system.network.bytes_received_per_sec",
            s.network.bytes_received_per_sec,
        ),
        ("system.network.errors", s.network.error_count as f64),
        ("blazar.process.cpu_percent", s.process.cpu_percent),
        ("blazar.process.memory_bytes", s.process.memory_bytes as f64),
    ];
    let mut out: Vec<Gauge> = host
        .into_iter()
        .map(|(name, value)| Gauge {
            name,
            mount: None,
            value,
        })
        .collect();
    for d in &s.disks {
        for (name, value) in [
            ("system.disk.usage_percent", d.usage_percent),
            ("system.disk.available_bytes", d.available_bytes as f64),
        ] {
            out.push(Gauge {
                name,
                mount: Some(d.mount.clone()),
                value,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_of_this_host_is_plausible() {
        let mut c = HostCollector::new();
        let first = c.collect(1_000_000_000);
        assert!(first.memory.total_bytes > 0);
        assert!(first.memory.used_bytes <= first.memory.total_bytes);
        assert!((0.0..=100.0).contains(&first.memory.usage_percent));
        assert!(first.cpu.cores > 0);
        assert!(!first.disks.is_empty(), "no disk found");
        assert!(first.disks.iter().all(|d| d.used_bytes <= d.total_bytes));
        assert!(first.process.memory_bytes > 0);
        assert_eq!(
            first.network.bytes_sent_per_sec, 0.0,
            "no rate before an interval"
        );
        let second = c.collect(2_000_000_000);
        assert!(second.network.bytes_received_per_sec >= 0.0);
        let names: Vec<&str> = gauges(&second).iter().map(|g| g.name).collect();
        for n in [
            "system.cpu.usage_percent",
            "system.cpu.load_average_1m",
            "system.memory.usage_percent",
            "system.memory.available_bytes",
            "system.disk.usage_percent",
            "system.disk.available_bytes",
            "system.network.bytes_sent_per_sec",
            "system.network.bytes_received_per_sec",
        ] {
            assert!(names.contains(&n), "{n} missing");
        }
    }
}
