//! The simulated node-exporter fleet: which series exist (their labels) and how each value moves.
//! Pure and seeded: the same seed and series count give the same labels and values.

use blazar_ingest::remote_write::proto::Label;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How a series' value moves from one scrape to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Motion {
    /// Grows by irregular steps around `per_s` per second; `whole` rounds to integers.
    Counter { per_s: f64, whole: bool },
    /// Jitters around `base` by up to `spread`, rounded to a multiple of `step`.
    Gauge { base: f64, spread: f64, step: f64 },
    /// Stays at `value`, changing rarely.
    Constant { value: f64 },
}

#[cfg(test)]
impl Motion {
    /// Returns the category name, for tests.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Self::Counter { .. } => "counter",
            Self::Gauge { .. } => "gauge",
            Self::Constant { .. } => "constant",
        }
    }
}

/// One per-host series before the host's target labels are added.
#[derive(Debug, Clone)]
struct Template {
    name: String,
    labels: Vec<(&'static str, String)>,
    motion: Motion,
}

/// One simulated series: sorted labels, how it moves, and its state.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) labels: Vec<Label>,
    pub(crate) motion: Motion,
    /// Offset of this host's scrapes within the interval, like Prometheus spreads targets.
    pub(crate) phase_ms: i64,
    value: f64,
    rng: StdRng,
}

impl Series {
    /// Returns the next scraped value, `interval_s` after the previous one.
    pub(crate) fn next_value(&mut self, interval_s: f64) -> f64 {
        self.value = match self.motion {
            Motion::Counter { per_s, whole } => {
                // Idle scrapes and bursts: a fifth of steps add nothing, the rest 0..3x the mean.
                let inc = if self.rng.gen_bool(0.2) {
                    0.0
                } else {
                    per_s * interval_s * self.rng.gen_range(0.0..3.0)
                };
                let v = self.value + inc;
                if whole {
                    v.round()
                } else {
                    (v * 100.0).round() / 100.0
                }
            }
            Motion::Gauge { base, spread, step } => {
                // Mean-reverting walk: half the way back to base plus noise.
                let walked =
                    base + (self.value - base) * 0.5 + spread * self.rng.gen_range(-1.0..1.0);
                ((walked / step).round() * step).max(0.0)
            }
            Motion::Constant { value } => {
                if self.rng.gen_bool(0.001) {
                    value + 1.0
                } else {
                    value
                }
            }
        };
        self.value
    }

    /// Returns a jitter in `-jitter_ms..=jitter_ms` for one scrape's timestamp.
    pub(crate) fn jitter_ms(&mut self, jitter_ms: i64) -> i64 {
        if jitter_ms <= 0 {
            0
        } else {
            self.rng.gen_range(-jitter_ms..=jitter_ms)
        }
    }
}

const CPUS: usize = 4;
const CPU_MODES: [(&str, f64); 8] = [
    ("idle", 0.7),
    ("iowait", 0.01),
    ("irq", 0.002),
    ("nice", 0.001),
    ("softirq", 0.01),
    ("steal", 0.0),
    ("system", 0.05),
    ("user", 0.2),
];
const NET_DEVICES: [&str; 3] = ["eth0", "eth1", "lo"];
const DISKS: [&str; 2] = ["nvme0n1", "sda"];
const MOUNTS: [(&str, &str, &str); 4] = [
    ("/dev/nvme0n1p2", "ext4", "/"),
    ("/dev/nvme0n1p1", "vfat", "/boot/efi"),
    ("/dev/sda1", "xfs", "/var/lib/data"),
    ("tmpfs", "tmpfs", "/run"),
];
const COLLECTORS: [&str; 10] = [
    "cpu",
    "diskstats",
    "filesystem",
    "loadavg",
    "meminfo",
    "netdev",
    "netstat",
    "sockstat",
    "stat",
    "vmstat",
];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-south-1"];

/// Returns the per-host series of one node_exporter, grouped by motion.
fn host_templates() -> (Vec<Template>, Vec<Template>, Vec<Template>) {
    let t = |name: &str, labels: Vec<(&'static str, String)>, motion| Template {
        name: name.to_owned(),
        labels,
        motion,
    };
    let counter = |per_s, whole| Motion::Counter { per_s, whole };
    let gauge = |base, spread, step| Motion::Gauge { base, spread, step };
    let constant = |value| Motion::Constant { value };

    let mut counters = Vec::new();
    for cpu in 0..CPUS {
        for (mode, share) in CPU_MODES {
            let labels = vec![("cpu", cpu.to_string()), ("mode", mode.to_owned())];
            counters.push(t("node_cpu_seconds_total", labels, counter(share, false)));
        }
    }
    for dev in NET_DEVICES {
        for (name, per_s) in [
            ("node_network_receive_bytes_total", 2e5),
            ("node_network_transmit_bytes_total", 1e5),
            ("node_network_receive_packets_total", 300.0),
            ("node_network_transmit_packets_total", 200.0),
        ] {
            counters.push(t(
                name,
                vec![("device", dev.to_owned())],
                counter(per_s, true),
            ));
        }
    }
    for dev in DISKS {
        for (name, per_s, whole) in [
            ("node_disk_reads_completed_total", 20.0, true),
            ("node_disk_writes_completed_total", 50.0, true),
            ("node_disk_read_bytes_total", 4e5, true),
            ("node_disk_written_bytes_total", 9e5, true),
            ("node_disk_io_time_seconds_total", 0.05, false),
        ] {
            counters.push(t(
                name,
                vec![("device", dev.to_owned())],
                counter(per_s, whole),
            ));
        }
    }
    for (name, per_s) in [
        ("node_context_switches_total", 3000.0),
        ("node_intr_total", 2000.0),
        ("node_forks_total", 5.0),
        ("node_vmstat_pgfault", 4000.0),
        ("node_vmstat_pgmajfault", 0.5),
        ("node_vmstat_pgpgin", 400.0),
        ("node_vmstat_pgpgout", 900.0),
    ] {
        counters.push(t(name, vec![], counter(per_s, true)));
    }

    let mut gauges = Vec::new();
    for (name, base) in [
        ("node_load1", 0.8),
        ("node_load5", 0.7),
        ("node_load15", 0.6),
    ] {
        gauges.push(t(name, vec![], gauge(base, 0.3, 0.01)));
    }
    for (name, base) in [
        ("node_memory_MemFree_bytes", 2.1e9),
        ("node_memory_MemAvailable_bytes", 9.5e9),
        ("node_memory_Cached_bytes", 6.2e9),
        ("node_memory_Buffers_bytes", 3.1e8),
        ("node_memory_Active_bytes", 7.4e9),
        ("node_memory_Inactive_bytes", 4.9e9),
        ("node_memory_Dirty_bytes", 2.0e6),
        ("node_memory_Slab_bytes", 6.0e8),
        ("node_memory_AnonPages_bytes", 4.4e9),
        ("node_memory_Mapped_bytes", 9.0e8),
        ("node_memory_Shmem_bytes", 1.2e8),
        ("node_memory_Committed_AS_bytes", 1.1e10),
    ] {
        gauges.push(t(name, vec![], gauge(base, base * 0.02, 4096.0)));
    }
    for (dev, fstype, mount) in MOUNTS {
        let labels = || {
            vec![
                ("device", dev.to_owned()),
                ("fstype", fstype.to_owned()),
                ("mountpoint", mount.to_owned()),
            ]
        };
        gauges.push(t(
            "node_filesystem_avail_bytes",
            labels(),
            gauge(1.9e10, 5e7, 4096.0),
        ));
        gauges.push(t(
            "node_filesystem_free_bytes",
            labels(),
            gauge(2.1e10, 5e7, 4096.0),
        ));
        gauges.push(t(
            "node_filesystem_files_free",
            labels(),
            gauge(1.2e6, 200.0, 1.0),
        ));
    }
    for (name, base, spread) in [
        ("node_procs_running", 3.0, 3.0),
        ("node_procs_blocked", 0.0, 1.0),
        ("node_sockstat_TCP_inuse", 120.0, 20.0),
        ("node_sockstat_TCP_tw", 40.0, 15.0),
        ("node_entropy_available_bits", 3500.0, 300.0),
        ("node_filefd_allocated", 5200.0, 100.0),
        ("node_netstat_Tcp_CurrEstab", 80.0, 10.0),
    ] {
        gauges.push(t(name, vec![], gauge(base, spread, 1.0)));
    }
    for cpu in 0..CPUS {
        gauges.push(t(
            "node_cpu_scaling_frequency_hertz",
            vec![("cpu", cpu.to_string())],
            gauge(2.4e9, 6e8, 1e6),
        ));
    }
    for sensor in 1..=4 {
        let labels = vec![
            ("chip", "platform_coretemp_0".to_owned()),
            ("sensor", format!("temp{sensor}")),
        ];
        gauges.push(t("node_hwmon_temp_celsius", labels, gauge(48.0, 6.0, 1.0)));
    }
    for c in COLLECTORS {
        gauges.push(t(
            "node_scrape_collector_duration_seconds",
            vec![("collector", c.to_owned())],
            gauge(0.002, 0.0015, 1e-6),
        ));
    }

    let mut constants = Vec::new();
    for (name, value) in [
        ("node_memory_MemTotal_bytes", 16_624_349_184.0),
        ("node_memory_SwapTotal_bytes", 0.0),
        ("node_boot_time_seconds", 1_700_000_000.0),
        ("node_filefd_maximum", 9_223_372_036_854_775_807.0),
    ] {
        constants.push(t(name, vec![], constant(value)));
    }
    for (dev, fstype, mount) in MOUNTS {
        let labels = || {
            vec![
                ("device", dev.to_owned()),
                ("fstype", fstype.to_owned()),
                ("mountpoint", mount.to_owned()),
            ]
        };
        constants.push(t("node_filesystem_size_bytes", labels(), constant(4.2e10)));
        constants.push(t("node_filesystem_files", labels(), constant(2_621_440.0)));
        constants.push(t("node_filesystem_readonly", labels(), constant(0.0)));
    }
    for dev in NET_DEVICES {
        constants.push(t(
            "node_network_up",
            vec![("device", dev.to_owned())],
            constant(1.0),
        ));
        constants.push(t(
            "node_network_mtu_bytes",
            vec![("device", dev.to_owned())],
            constant(1500.0),
        ));
    }
    for c in COLLECTORS {
        constants.push(t(
            "node_scrape_collector_success",
            vec![("collector", c.to_owned())],
            constant(1.0),
        ));
    }
    let uname = vec![
        ("domainname", "(none)".to_owned()),
        ("machine", "x86_64".to_owned()),
        ("release", "6.1.0-18-amd64".to_owned()),
        ("sysname", "Linux".to_owned()),
        (
            "version",
            "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)".to_owned(),
        ),
    ];
    constants.push(t("node_uname_info", uname, constant(1.0)));
    let build = vec![
        ("goversion", "go1.21.6".to_owned()),
        ("revision", "unknown".to_owned()),
        ("version", "1.7.0".to_owned()),
    ];
    constants.push(t("node_exporter_build_info", build, constant(1.0)));
    (counters, gauges, constants)
}

/// Returns `n` series spread over hosts, a third each counters, jittering gauges and
/// near-constants (interleaved, so any prefix keeps the thirds), seeded by `seed`.
pub(crate) fn fleet(n: usize, seed: u64, interval_ms: i64) -> Vec<Series> {
    let (counters, gauges, constants) = host_templates();
    let per_kind = counters.len().min(gauges.len()).min(constants.len());
    let per_host: Vec<&Template> = (0..per_kind)
        .flat_map(|i| {
            [&counters, &gauges, &constants]
                .into_iter()
                .filter_map(move |pool| pool.get(i))
        })
        .collect();
    let per_host_len = per_host.len().max(1);
    let mut out = Vec::with_capacity(n);
    let mut phase_rng = StdRng::seed_from_u64(seed);
    let mut phase_ms = 0;
    for i in 0..n {
        let host = i / per_host_len;
        let Some(template) = per_host.get(i % per_host_len) else {
            break;
        };
        if i % per_host_len == 0 {
            phase_ms = phase_rng.gen_range(0..interval_ms.max(1));
        }
        let region = REGIONS
            .get(host % REGIONS.len())
            .copied()
            .unwrap_or("eu-west-1");
        let mut pairs: Vec<(&str, String)> = vec![
            ("__name__", template.name.clone()),
            (
                "instance",
                format!(
                    "10.{}.{}.{}:9100",
                    host / 65_536 % 256,
                    host / 256 % 256,
                    host % 256
                ),
            ),
            ("job", "node".to_owned()),
            ("cluster", format!("prod-{}", host % 7)),
            ("env", "prod".to_owned()),
            ("region", region.to_owned()),
            (
                "zone",
                format!(
                    "{region}{}",
                    ["a", "b", "c"].get(host / 3 % 3).copied().unwrap_or("a")
                ),
            ),
            ("node_pool", format!("pool-{}", host % 5)),
        ];
        pairs.extend(template.labels.iter().cloned());
        // remote_write senders sort labels by name.
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        let labels = pairs
            .into_iter()
            .map(|(name, value)| Label {
                name: name.to_owned(),
                value,
            })
            .collect();
        let mut rng = StdRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let value = match template.motion {
            Motion::Counter { per_s, .. } => (per_s * rng.gen_range(1e4..1e6)).round(),
            Motion::Gauge { base, .. } => base,
            Motion::Constant { value } => value,
        };
        out.push(Series {
            labels,
            motion: template.motion,
            phase_ms,
            value,
            rng,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn fleet_has_unique_sorted_label_sets_of_about_ten() {
        let fleet = fleet(3000, 7, 15_000);
        let keys: HashSet<String> = fleet
            .iter()
            .map(|s| {
                s.labels
                    .iter()
                    .map(|l| format!("{}={}", l.name, l.value))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        assert_eq!(keys.len(), 3000);
        for s in &fleet {
            assert!(s.labels.windows(2).all(|w| w[0].name < w[1].name));
        }
        let mean = fleet.iter().map(|s| s.labels.len()).sum::<usize>() as f64 / 3000.0;
        assert!((9.0..=11.5).contains(&mean), "mean labels {mean}");
    }

    #[test]
    fn fleet_is_a_third_of_each_motion() {
        let fleet = fleet(3000, 7, 15_000);
        for kind in ["counter", "gauge", "constant"] {
            assert_eq!(
                fleet.iter().filter(|s| s.motion.as_str() == kind).count(),
                1000,
                "{kind}"
            );
        }
    }

    #[test]
    fn counters_never_decrease() {
        let mut fleet = fleet(300, 1, 15_000);
        for s in fleet.iter_mut().filter(|s| s.motion.as_str() == "counter") {
            let mut last = s.next_value(15.0);
            for _ in 0..100 {
                let v = s.next_value(15.0);
                assert!(v >= last);
                last = v;
            }
        }
    }
}
