//! The health monitor's config: seed 001's `HealthConfig` (flat or under `health:`), each
//! service's check typed, dependencies checked for unknown names and cycles.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::compat::pick;
use crate::raw::{RawConfig, RawMetricCheck, RawService};
use crate::ConfigError;

/// How much an unhealthy service matters to the whole (seed 001's `criticality_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    /// Unhealthy makes the whole unhealthy.
    Critical,
    /// Unhealthy makes the whole degraded (the default).
    #[default]
    Important,
    /// Can only degrade the whole.
    Optional,
}

impl Criticality {
    /// Returns the wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Important => "important",
            Self::Optional => "optional",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "critical" => Some(Self::Critical),
            "important" => Some(Self::Important),
            "optional" => Some(Self::Optional),
            _ => None,
        }
    }
}

/// The health monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    pub enabled: bool,
    /// Default interval between checks of a service.
    pub check_interval: Duration,
    /// A failing service is degraded until failures have lasted this long, then unhealthy.
    pub unhealthy_timeout: Duration,
    /// Services, by name.
    pub services: Vec<ServiceConfig>,
    /// Checks running at once; more wait (bounds sockets and processes).
    pub max_concurrent_checks: usize,
    /// Status transitions kept per service.
    pub history: usize,
}

/// One monitored service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    pub name: String,
    pub criticality: Criticality,
    pub dependencies: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive results needed to move to a better status.
    pub success_threshold: u32,
    /// Consecutive results needed to move to a worse status.
    pub failure_threshold: u32,
    /// A better status must also have held this long (seed 001's `healthy_threshold`).
    pub healthy_threshold: Duration,
    /// The active check, if any.
    pub probe: Option<ProbeConfig>,
    /// Checks over pushed metrics (`metrics` and `p2p`); the worst result wins.
    pub metric_checks: Vec<MetricCheck>,
    /// A process whose liveness, CPU and memory are recorded.
    pub process: Option<ProcessWatch>,
}

/// An active check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeConfig {
    /// An HTTP(S) request; seed 001's status rules decide.
    Http {
        url: String,
        method: String,
        /// Codes that pass; empty means 2xx (seed 001: 200, with 503 degraded).
        expected_status: Vec<u16>,
        headers: Vec<(String, String)>,
        tls_verify: bool,
    },
    /// A TCP connect to `host:port`.
    Tcp { addr: String },
    /// The standard gRPC health checking protocol (`grpc.health.v1.Health/Check`) at
    /// `endpoint` (`http://host:port`), for `service` (empty: the whole server).
    Grpc { endpoint: String, service: String },
    /// A command: exit 0 healthy, 1 degraded, any other unhealthy.
    Exec { program: String, args: Vec<String> },
}

impl ProbeConfig {
    /// Returns the check kind's name (`http`, `tcp`, `grpc`, `exec`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http { .. } => "http",
            Self::Tcp { .. } => "tcp",
            Self::Grpc { .. } => "grpc",
            Self::Exec { .. } => "exec",
        }
    }

    /// Returns what the check targets, for display.
    pub fn target(&self) -> String {
        match self {
            Self::Http { url, .. } => url.clone(),
            Self::Tcp { addr } => addr.clone(),
            Self::Grpc { endpoint, service } if service.is_empty() => endpoint.clone(),
            Self::Grpc { endpoint, service } => format!("{endpoint} ({service})"),
            Self::Exec { program, args } => std::iter::once(program.as_str())
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// A check over the latest value of every series of `name` with `labels`; the worst wins.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCheck {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub degraded_below: Option<f64>,
    pub unhealthy_below: Option<f64>,
    pub degraded_above: Option<f64>,
    pub unhealthy_above: Option<f64>,
    /// A latest sample older than this counts as missing (a failure).
    pub max_age: Duration,
}

/// A process to watch: by name, or by the pid in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessWatch {
    Name(String),
    PidFile(String),
}

/// Default gauge name for seed 001's P2P connection count.
pub const P2P_CONNECTIONS_METRIC: &str = "p2p.peer.connections";
/// Default gauge name for the P2P average latency, in milliseconds as seed 001 records it.
pub const P2P_LATENCY_METRIC: &str = "p2p.network.latency_ms";

pub(crate) fn health(raw: &RawConfig) -> Result<HealthConfig, ConfigError> {
    let h = &raw.health;
    let both = |flat: &str, section: bool, flat_set: bool| {
        if section && flat_set {
            Err(ConfigError::invalid(
                flat,
                format!("set both as {flat} and as health.{flat}; keep one"),
            ))
        } else {
            Ok(())
        }
    };
    both(
        "check_interval",
        h.check_interval.is_some(),
        raw.check_interval.is_some(),
    )?;
    both(
        "healthy_threshold",
        h.healthy_threshold.is_some(),
        raw.healthy_threshold.is_some(),
    )?;
    both(
        "unhealthy_timeout",
        h.unhealthy_timeout.is_some(),
        raw.unhealthy_timeout.is_some(),
    )?;
    both("services", h.services.is_some(), raw.services.is_some())?;
    // Seed 001's `health_check_interval` is the daemon-wide default; `check_interval` (the
    // health monitor's own key) wins over it.
    let check_interval = pick(h.check_interval, raw.check_interval)
        .or(raw.health_check_interval)
        .map_or(Duration::from_secs(10), |d| d.0);
    at_least("health.check_interval", check_interval, 100)?;
    let default_timeout = h.timeout.map_or(Duration::from_secs(5), |d| d.0);
    at_least("health.timeout", default_timeout, 1)?;
    let healthy_threshold =
        pick(h.healthy_threshold, raw.healthy_threshold).map_or(Duration::ZERO, |d| d.0);
    let unhealthy_timeout =
        pick(h.unhealthy_timeout, raw.unhealthy_timeout).map_or(Duration::from_secs(30), |d| d.0);
    let success_threshold = threshold("health.success_threshold", h.success_threshold, 2)?;
    let failure_threshold = threshold("health.failure_threshold", h.failure_threshold, 1)?;
    let max_concurrent_checks = h.max_concurrent_checks.unwrap_or(4096);
    if !(1..=65_536).contains(&max_concurrent_checks) {
        return Err(ConfigError::invalid(
            "health.max_concurrent_checks",
            format!("expected 1 to 65536, got {max_concurrent_checks}"),
        ));
    }
    let history = h.history.unwrap_or(100);
    if !(1..=10_000).contains(&history) {
        return Err(ConfigError::invalid(
            "health.history",
            format!("expected 1 to 10000 transitions, got {history}"),
        ));
    }
    let raw_services = h.services.as_ref().or(raw.services.as_ref());
    let key_base = if h.services.is_some() {
        "health.services"
    } else {
        "services"
    };
    let mut services = Vec::new();
    for (name, svc) in raw_services.into_iter().flatten() {
        let key = |field: &str| format!("{key_base}.{name}.{field}");
        let defaults = Defaults {
            interval: check_interval,
            timeout: default_timeout,
            success_threshold,
            failure_threshold,
            healthy_threshold,
        };
        services.push(service(name, svc, &defaults, &key)?);
    }
    check_dependencies(&services, key_base)?;
    Ok(HealthConfig {
        enabled: h.enabled.unwrap_or(true),
        check_interval,
        unhealthy_timeout,
        services,
        max_concurrent_checks,
        history,
    })
}

struct Defaults {
    interval: Duration,
    timeout: Duration,
    success_threshold: u32,
    failure_threshold: u32,
    healthy_threshold: Duration,
}

fn at_least(key: &str, d: Duration, ms: u64) -> Result<(), ConfigError> {
    if d < Duration::from_millis(ms) {
        return Err(ConfigError::invalid(
            key,
            format!("expected at least {ms}ms"),
        ));
    }
    Ok(())
}

fn threshold(key: &str, v: Option<u32>, default: u32) -> Result<u32, ConfigError> {
    match v {
        Some(0) => Err(ConfigError::invalid(key, "expected at least 1, got 0")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

fn service(
    name: &str,
    svc: &RawService,
    d: &Defaults,
    key: &dyn Fn(&str) -> String,
) -> Result<ServiceConfig, ConfigError> {
    if name.is_empty() || name.len() > 128 || name.contains(['/', '?', '#']) {
        return Err(ConfigError::invalid(
            &key("name"),
            "a service name must be 1-128 characters without '/', '?' or '#'",
        ));
    }
    let criticality = match svc.criticality_level.as_deref() {
        None => Criticality::default(),
        Some(s) => Criticality::parse(s).ok_or_else(|| {
            ConfigError::invalid(
                &key("criticality_level"),
                format!("expected one of critical, important, optional, got {s:?}"),
            )
        })?,
    };
    let interval = svc.interval.map_or(d.interval, |v| v.0);
    at_least(&key("interval"), interval, 100)?;
    let timeout = svc.timeout.map_or(d.timeout, |v| v.0);
    at_least(&key("timeout"), timeout, 1)?;
    let probe = probe(svc, key)?;
    let mut metric_checks = Vec::new();
    for (i, m) in svc.metrics.iter().enumerate() {
        metric_checks.push(metric_check(m, interval, &key(&format!("metrics[{i}]")))?);
    }
    if let Some(p) = &svc.p2p {
        let max_age = p
            .connectivity_test_interval
            .map_or(interval, |v| v.0)
            .saturating_mul(3)
            .max(Duration::from_secs(1));
        let min = p.min_connections.unwrap_or(1.0);
        if !min.is_finite() || min < 0.0 {
            return Err(ConfigError::invalid(
                &key("p2p.min_connections"),
                format!("expected a non-negative number, got {min}"),
            ));
        }
        metric_checks.push(MetricCheck {
            name: p
                .connections_metric
                .clone()
                .unwrap_or_else(|| P2P_CONNECTIONS_METRIC.to_string()),
            labels: Vec::new(),
            degraded_below: Some(min),
            // Seed 001: no peer at all is unhealthy.
            unhealthy_below: Some(1.0),
            degraded_above: None,
            unhealthy_above: None,
            max_age,
        });
        if let Some(lat) = p.max_latency_threshold {
            metric_checks.push(MetricCheck {
                name: p
                    .latency_metric
                    .clone()
                    .unwrap_or_else(|| P2P_LATENCY_METRIC.to_string()),
                labels: Vec::new(),
                degraded_below: None,
                unhealthy_below: None,
                degraded_above: Some(lat.0.as_secs_f64() * 1000.0),
                unhealthy_above: None,
                max_age,
            });
        }
    }
    let process = match (&svc.process, &svc.pid_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                &key("pid_file"),
                "set either process or pid_file, not both",
            ))
        }
        (Some(n), None) if !n.is_empty() => Some(ProcessWatch::Name(n.clone())),
        (None, Some(p)) if !p.is_empty() => Some(ProcessWatch::PidFile(p.clone())),
        (None, None) => None,
        _ => return Err(ConfigError::invalid(&key("process"), "must not be empty")),
    };
    if probe.is_none() && metric_checks.is_empty() && process.is_none() {
        return Err(ConfigError::invalid(
            &key("health_endpoint"),
            "expected something to check: health_endpoint, command, metrics, p2p or process",
        ));
    }
    Ok(ServiceConfig {
        name: name.to_string(),
        criticality,
        dependencies: svc.dependencies.clone(),
        interval,
        timeout,
        success_threshold: threshold(
            &key("success_threshold"),
            svc.success_threshold,
            d.success_threshold,
        )?,
        failure_threshold: threshold(
            &key("failure_threshold"),
            svc.failure_threshold,
            d.failure_threshold,
        )?,
        healthy_threshold: d.healthy_threshold,
        probe,
        metric_checks,
        process,
    })
}

fn probe(
    svc: &RawService,
    key: &dyn Fn(&str) -> String,
) -> Result<Option<ProbeConfig>, ConfigError> {
    let endpoint = svc.health_endpoint.as_deref().map(str::trim);
    let kind = match (svc.check.as_deref(), endpoint, &svc.command) {
        (Some(k), _, _) => k,
        (None, Some(e), _) if e.starts_with("tcp://") => "tcp",
        (None, Some(e), _) if e.starts_with("grpc://") => "grpc",
        (None, Some(_), _) => "http",
        (None, None, Some(_)) => "exec",
        (None, None, None) => return Ok(None),
    };
    let need_endpoint = || {
        endpoint.filter(|e| !e.is_empty()).ok_or_else(|| {
            ConfigError::invalid(
                &key("health_endpoint"),
                format!("a {kind} check needs a health_endpoint"),
            )
        })
    };
    let probe = match kind {
        "http" => {
            let url = need_endpoint()?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    &key("health_endpoint"),
                    format!("expected an http:// or https:// URL, got {url:?}"),
                ));
            }
            let method = svc.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
            if !matches!(
                method.as_str(),
                "GET" | "HEAD" | "POST" | "PUT" | "OPTIONS" | "PATCH" | "DELETE"
            ) {
                return Err(ConfigError::invalid(
                    &key("method"),
                    format!("expected an HTTP method such as GET or HEAD, got {method:?}"),
                ));
            }
            let expected_status = svc.expected_status.clone().unwrap_or_default();
            if let Some(bad) = expected_status.iter().find(|c| !(100..=599).contains(*c)) {
                return Err(ConfigError::invalid(
                    &key("expected_status"),
                    format!("expected HTTP status codes (100-599), got {bad}"),
                ));
            }
            for (h, v) in &svc.headers {
                let name_ok = !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
                if !name_ok || v.chars().any(|c| c.is_control() && c != '\t') {
                    return Err(ConfigError::invalid(
                        &key(&format!("headers.{h}")),
                        "expected a header name of letters, digits, '-' or '_' and a value \
                         without control characters",
                    ));
                }
            }
            ProbeConfig::Http {
                url: url.to_string(),
                method,
                expected_status,
                headers: svc
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                tls_verify: svc.tls_verify.unwrap_or(true),
            }
        }
        "tcp" => {
            let e = need_endpoint()?;
            let addr = e.strip_prefix("tcp://").unwrap_or(e).trim_end_matches('/');
            if addr
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err(ConfigError::invalid(
                    &key("health_endpoint"),
                    format!("expected tcp://HOST:PORT, got {e:?}"),
                ));
            }
            ProbeConfig::Tcp {
                addr: addr.to_string(),
            }
        }
        "grpc" => {
            let e = need_endpoint()?;
            let rest = e
                .strip_prefix("grpc://")
                .or_else(|| e.strip_prefix("http://"))
                .unwrap_or(e)
                .trim_end_matches('/');
            if rest
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err(ConfigError::invalid(
                    &key("health_endpoint"),
                    format!("expected grpc://HOST:PORT, got {e:?}"),
                ));
            }
            ProbeConfig::Grpc {
                endpoint: format!("http://{rest}"),
                service: svc.grpc_service.clone().unwrap_or_default(),
            }
        }
        "exec" => {
            let cmd = svc.command.as_deref().unwrap_or_default();
            let Some((program, args)) = cmd.split_first().filter(|(p, _)| !p.is_empty()) else {
                return Err(ConfigError::invalid(
                    &key("command"),
                    "an exec check needs a command, e.g. [\"/usr/bin/check\", \"--quick\"]",
                ));
            };
            ProbeConfig::Exec {
                program: program.clone(),
                args: args.to_vec(),
            }
        }
        other => {
            return Err(ConfigError::invalid(
                &key("check"),
                format!("expected one of http, tcp, grpc, exec, got {other:?}"),
            ))
        }
    };
    Ok(Some(probe))
}

fn metric_check(
    m: &RawMetricCheck,
    interval: Duration,
    key: &str,
) -> Result<MetricCheck, ConfigError> {
    if m.name.is_empty() {
        return Err(ConfigError::invalid(
            &format!("{key}.name"),
            "must not be empty",
        ));
    }
    let bounds = [
        ("degraded_below", m.degraded_below),
        ("unhealthy_below", m.unhealthy_below),
        ("degraded_above", m.degraded_above),
        ("unhealthy_above", m.unhealthy_above),
    ];
    if bounds.iter().all(|(_, v)| v.is_none()) {
        return Err(ConfigError::invalid(
            key,
            "expected at least one of degraded_below, unhealthy_below, degraded_above, \
             unhealthy_above",
        ));
    }
    if let Some((field, v)) = bounds
        .iter()
        .find_map(|(f, v)| v.filter(|x| !x.is_finite()).map(|x| (f, x)))
    {
        return Err(ConfigError::invalid(
            &format!("{key}.{field}"),
            format!("expected a finite number, got {v}"),
        ));
    }
    Ok(MetricCheck {
        name: m.name.clone(),
        labels: m
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        degraded_below: m.degraded_below,
        unhealthy_below: m.unhealthy_below,
        degraded_above: m.degraded_above,
        unhealthy_above: m.unhealthy_above,
        max_age: m.max_age.map_or(
            interval.saturating_mul(3).max(Duration::from_secs(1)),
            |d| d.0,
        ),
    })
}

/// Rejects unknown dependencies and cycles, naming the services on the cycle.
fn check_dependencies(services: &[ServiceConfig], key_base: &str) -> Result<(), ConfigError> {
    let index: BTreeMap<&str, &ServiceConfig> =
        services.iter().map(|s| (s.name.as_str(), s)).collect();
    for s in services {
        for dep in &s.dependencies {
            if !index.contains_key(dep.as_str()) {
                return Err(ConfigError::invalid(
                    &format!("{key_base}.{}.dependencies", s.name),
                    format!("unknown service {dep:?}"),
                ));
            }
            if dep == &s.name {
                return Err(ConfigError::invalid(
                    &format!("{key_base}.{}.dependencies", s.name),
                    "a service cannot depend on itself",
                ));
            }
        }
    }
    // Depth-first search with colours: grey on the current path, black when done.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour: BTreeMap<&str, Colour> = index.keys().map(|k| (*k, Colour::White)).collect();
    for start in index.keys() {
        if colour.get(start) != Some(&Colour::White) {
            continue;
        }
        // Stack of (service, next dependency index); `path` mirrors it for the message.
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        colour.insert(start, Colour::Grey);
        while let Some((name, i)) = stack.last().copied() {
            let deps = index
                .get(name)
                .map_or(&[][..], |s| s.dependencies.as_slice());
            match deps.get(i) {
                None => {
                    colour.insert(name, Colour::Black);
                    stack.pop();
                }
                Some(dep) => {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    match colour.get(dep.as_str()).copied() {
                        Some(Colour::Grey) => {
                            let from = stack.iter().position(|(n, _)| *n == dep.as_str());
                            let cycle: Vec<&str> = stack
                                .iter()
                                .skip(from.unwrap_or(0))
                                .map(|(n, _)| *n)
                                .chain(std::iter::once(dep.as_str()))
                                .collect();
                            return Err(ConfigError::invalid(
                                &format!("{key_base}.{name}.dependencies"),
                                format!("dependency cycle: {}", cycle.join(" -> ")),
                            ));
                        }
                        Some(Colour::White) => {
                            colour.insert(dep.as_str(), Colour::Grey);
                            stack.push((dep.as_str(), 0));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(())
}
