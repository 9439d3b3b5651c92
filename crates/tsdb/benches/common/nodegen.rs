//! Synthetic node-exporter-like data for density measurements and benches: per instance
//! a third counters, a third jittering gauges, a third nearly constant series; all series
//! of an instance share a scrape timestamp with a few ms of jitter, as Prometheus scrapes.

#![allow(dead_code, unreachable_pub)]

/// Scrape interval in milliseconds.
pub const INTERVAL_MS: i64 = 15_000;
/// Series per instance.
pub const SERIES_PER_INSTANCE: usize = 100;

/// A small deterministic PRNG (splitmix64), so runs are comparable.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn f(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
}

#[derive(Clone)]
enum Gen {
    /// Counter with increments `rate * (1 ± jitter)` rounded to `1/scale`, sometimes idle.
    Counter {
        v: f64,
        rate: f64,
        scale: f64,
        idle: f64,
    },
    /// Gauge doing a random walk of up to `step` quanta of `quantum` around `base`.
    Gauge {
        base: f64,
        v: f64,
        step: i64,
        quantum: f64,
        lo: f64,
        hi: f64,
    },
    /// Constant that changes with probability `p` per scrape to another of `choices`.
    Constant { v: f64, choices: Vec<f64>, p: f64 },
}

/// One synthetic series: its labels and its value generator.
#[derive(Clone)]
pub struct SeriesGen {
    pub labels: Vec<(String, String)>,
    gen: Gen,
}

impl SeriesGen {
    /// Returns the next value.
    pub fn next(&mut self, rng: &mut Rng) -> f64 {
        match &mut self.gen {
            Gen::Counter {
                v,
                rate,
                scale,
                idle,
            } => {
                if rng.f() >= *idle {
                    let inc = *rate * (0.5 + rng.f());
                    *v = ((*v * *scale).round() + (inc * *scale).round()) / *scale;
                }
                *v
            }
            Gen::Gauge {
                base: _,
                v,
                step,
                quantum,
                lo,
                hi,
            } => {
                let k = rng.range(-*step, *step);
                let next = *v + k as f64 * *quantum;
                if next >= *lo && next <= *hi {
                    // Keep the value on its quantum grid, as kB*1024 or 2-decimal gauges are.
                    *v = ((next / *quantum).round() * *quantum * 1e6).round() / 1e6;
                }
                *v
            }
            Gen::Constant { v, choices, p } => {
                if rng.f() < *p {
                    if let Some(c) = choices.get(rng.range(0, choices.len() as i64 - 1) as usize) {
                        *v = *c;
                    }
                }
                *v
            }
        }
    }
}

/// A constant series: name, extra labels, value.
type Constant<'a> = (String, Vec<(&'a str, String)>, f64);

/// One scrape target: its series and scrape phase.
pub struct Instance {
    pub series: Vec<SeriesGen>,
    pub offset_ms: i64,
}

fn labels(name: &str, inst: &str, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut v = vec![
        ("__name__".to_string(), name.to_string()),
        ("instance".to_string(), inst.to_string()),
        ("job".to_string(), "node".to_string()),
        ("env".to_string(), "production".to_string()),
        ("region".to_string(), "eu-west-1".to_string()),
        ("cluster".to_string(), "k8s-prod-03".to_string()),
        ("team".to_string(), "platform".to_string()),
    ];
    v.extend(extra.iter().map(|(k, val)| (k.to_string(), val.clone())));
    v
}

/// Builds `instances` targets of [`SERIES_PER_INSTANCE`] series each.
pub fn instances(n: usize, rng: &mut Rng) -> Vec<Instance> {
    (0..n).map(|i| instance(i, rng)).collect()
}

fn instance(i: usize, rng: &mut Rng) -> Instance {
    let inst = format!("10.{}.{}.{}:9100", i / 65536 % 256, i / 256 % 256, i % 256);
    let mut s = Vec::with_capacity(SERIES_PER_INSTANCE);
    let up_secs = rng.range(3600, 90 * 86400) as f64;
    // Counters: 33.
    for cpu in 0..4 {
        for (mode, rate) in [
            ("idle", 0.85),
            ("user", 0.08),
            ("system", 0.03),
            ("iowait", 0.004),
        ] {
            let v = (up_secs * rate * 100.0).round() / 100.0;
            let gen = Gen::Counter {
                v,
                rate: rate * 15.0,
                scale: 100.0,
                idle: 0.0,
            };
            s.push(SeriesGen {
                labels: labels(
                    "node_cpu_seconds_total",
                    &inst,
                    &[("cpu", cpu.to_string()), ("mode", mode.to_string())],
                ),
                gen,
            });
        }
    }
    for dev in ["eth0", "eth1"] {
        for (name, rate) in [
            (
                "node_network_receive_bytes_total",
                10f64.powf(3.0 + 3.0 * rng.f()),
            ),
            (
                "node_network_transmit_bytes_total",
                10f64.powf(3.0 + 3.0 * rng.f()),
            ),
            (
                "node_network_receive_packets_total",
                10f64.powf(1.0 + 2.0 * rng.f()),
            ),
            (
                "node_network_transmit_packets_total",
                10f64.powf(1.0 + 2.0 * rng.f()),
            ),
        ] {
            let gen = Gen::Counter {
                v: (up_secs * rate).round(),
                rate: rate * 15.0,
                scale: 1.0,
                idle: 0.05,
            };
            s.push(SeriesGen {
                labels: labels(name, &inst, &[("device", dev.to_string())]),
                gen,
            });
        }
    }
    for dev in ["nvme0n1", "nvme1n1", "sda"] {
        for (name, rate, scale) in [
            (
                "node_disk_reads_completed_total",
                10f64.powf(3.0 * rng.f()),
                1.0,
            ),
            (
                "node_disk_written_bytes_total",
                512.0 * 10f64.powf(1.0 + 3.0 * rng.f()),
                1.0 / 512.0,
            ),
            ("node_disk_io_time_seconds_total", 0.05 * rng.f(), 1000.0),
        ] {
            let v = ((up_secs * rate) * scale).round() / scale;
            let gen = Gen::Counter {
                v,
                rate: rate * 15.0,
                scale,
                idle: 0.2,
            };
            s.push(SeriesGen {
                labels: labels(name, &inst, &[("device", dev.to_string())]),
                gen,
            });
        }
    }
    // Gauges: 33.
    let mem = 1024.0 * 1024.0 * 1024.0 * rng.range(8, 64) as f64;
    for name in [
        "MemFree",
        "MemAvailable",
        "Cached",
        "Buffers",
        "Active",
        "Inactive",
        "Dirty",
        "Slab",
        "AnonPages",
        "Mapped",
    ] {
        let base = ((mem * (0.05 + 0.4 * rng.f())) / 1024.0).round() * 1024.0;
        let gen = Gen::Gauge {
            base,
            v: base,
            step: 256,
            quantum: 4096.0,
            lo: 0.0,
            hi: mem,
        };
        s.push(SeriesGen {
            labels: labels(&format!("node_memory_{name}_bytes"), &inst, &[]),
            gen,
        });
    }
    for name in ["node_load1", "node_load5", "node_load15"] {
        let base = (rng.f() * 400.0).round() / 100.0;
        let gen = Gen::Gauge {
            base,
            v: base,
            step: 10,
            quantum: 0.01,
            lo: 0.0,
            hi: 64.0,
        };
        s.push(SeriesGen {
            labels: labels(name, &inst, &[]),
            gen,
        });
    }
    for (mp, dev) in [
        ("/", "/dev/nvme0n1p2"),
        ("/boot", "/dev/nvme0n1p1"),
        ("/var/lib/docker", "/dev/nvme1n1"),
        ("/data", "/dev/sda1"),
    ] {
        let size = 4096.0 * rng.range(1 << 18, 1 << 28) as f64;
        let base = (size * rng.f() / 4096.0).round() * 4096.0;
        let gen = Gen::Gauge {
            base,
            v: base,
            step: 64,
            quantum: 4096.0,
            lo: 0.0,
            hi: size,
        };
        s.push(SeriesGen {
            labels: labels(
                "node_filesystem_avail_bytes",
                &inst,
                &[
                    ("mountpoint", mp.to_string()),
                    ("device", dev.to_string()),
                    ("fstype", "ext4".to_string()),
                ],
            ),
            gen,
        });
    }
    for sensor in 0..6 {
        let base = rng.range(35, 70) as f64;
        let gen = Gen::Gauge {
            base,
            v: base,
            step: 1,
            quantum: 1.0,
            lo: 20.0,
            hi: 100.0,
        };
        s.push(SeriesGen {
            labels: labels(
                "node_hwmon_temp_celsius",
                &inst,
                &[
                    ("chip", "platform_coretemp_0".to_string()),
                    ("sensor", format!("temp{sensor}")),
                ],
            ),
            gen,
        });
    }
    for (name, base, step) in [
        ("node_procs_running", 3.0, 2),
        ("node_procs_blocked", 0.0, 1),
        ("node_entropy_available_bits", 3500.0, 40),
        ("node_sockstat_TCP_inuse", 120.0, 5),
        ("node_nf_conntrack_entries", 900.0, 30),
        ("node_sockstat_sockets_used", 700.0, 8),
    ] {
        let gen = Gen::Gauge {
            base,
            v: base,
            step,
            quantum: 1.0,
            lo: 0.0,
            hi: 1e9,
        };
        s.push(SeriesGen {
            labels: labels(name, &inst, &[]),
            gen,
        });
    }
    for cpu in 0..4 {
        let gen = Gen::Gauge {
            base: 2.4e9,
            v: 2.4e9,
            step: 3,
            quantum: 1e8,
            lo: 8e8,
            hi: 3.6e9,
        };
        s.push(SeriesGen {
            labels: labels(
                "node_cpu_scaling_frequency_hertz",
                &inst,
                &[("cpu", cpu.to_string())],
            ),
            gen,
        });
    }
    // Nearly constant: 34.
    for cpu in 0..4 {
        for mode in ["irq", "steal"] {
            let v = if mode == "irq" {
                (up_secs * 0.0007 * 100.0).round() / 100.0
            } else {
                0.0
            };
            let gen = Gen::Constant {
                v,
                choices: vec![v, v + 0.01],
                p: 0.01,
            };
            s.push(SeriesGen {
                labels: labels(
                    "node_cpu_seconds_total",
                    &inst,
                    &[("cpu", cpu.to_string()), ("mode", mode.to_string())],
                ),
                gen,
            });
        }
    }
    let boot = (1_700_000_000.0 - up_secs).round();
    let mut constants: Vec<Constant<'_>> = vec![
        ("node_boot_time_seconds".into(), vec![], boot),
        ("node_memory_MemTotal_bytes".into(), vec![], mem),
        ("node_filefd_maximum".into(), vec![], 9.223372036854776e18),
        (
            "node_time_zone_offset_seconds".into(),
            vec![("time_zone", "UTC".to_string())],
            0.0,
        ),
        (
            "node_exporter_build_info".into(),
            vec![("version", "1.8.2".to_string())],
            1.0,
        ),
        (
            "node_os_info".into(),
            vec![("id", "debian".to_string())],
            1.0,
        ),
        ("node_timex_sync_status".into(), vec![], 1.0),
        ("node_timex_tai_offset_seconds".into(), vec![], 37.0),
    ];
    for dev in ["eth0", "eth1"] {
        constants.push((
            "node_network_up".into(),
            vec![("device", dev.to_string())],
            1.0,
        ));
        constants.push((
            "node_network_mtu_bytes".into(),
            vec![("device", dev.to_string())],
            1500.0,
        ));
        constants.push((
            "node_network_speed_bytes".into(),
            vec![("device", dev.to_string())],
            1.25e9,
        ));
        constants.push((
            "node_network_carrier".into(),
            vec![("device", dev.to_string())],
            1.0,
        ));
    }
    for mp in ["/", "/boot", "/var/lib/docker", "/data"] {
        constants.push((
            "node_filesystem_size_bytes".into(),
            vec![("mountpoint", mp.to_string())],
            4096.0 * rng.range(1 << 18, 1 << 28) as f64,
        ));
        constants.push((
            "node_filesystem_readonly".into(),
            vec![("mountpoint", mp.to_string())],
            0.0,
        ));
    }
    constants.push(("node_memory_SwapTotal_bytes".into(), vec![], 0.0));
    constants.push(("node_memory_HugePages_Total".into(), vec![], 0.0));
    for (name, extra, v) in constants {
        let gen = Gen::Constant {
            v,
            choices: vec![v, 0.0],
            p: 0.002,
        };
        s.push(SeriesGen {
            labels: labels(&name, &inst, &extra),
            gen,
        });
    }
    debug_assert_eq!(s.len(), SERIES_PER_INSTANCE);
    Instance {
        series: s,
        offset_ms: rng.range(0, INTERVAL_MS - 1),
    }
}

/// Returns the timestamp of scrape `k` of an instance: phase, interval and 0..=5 ms of jitter.
pub fn scrape_time(start_ms: i64, inst: &Instance, k: i64, rng: &mut Rng) -> i64 {
    start_ms + inst.offset_ms + k * INTERVAL_MS + rng.range(0, 5)
}
