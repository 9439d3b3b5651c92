//! Which endpoint behaves how, where it lives, and the blazar config that checks them all.
//! Pure: the listening and closed ports come in, text goes out.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// How one endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 200 `{"status":"healthy"}` at once.
    Ok,
    /// 200 `{"status":"healthy"}` after `--slow-ms`.
    Slow,
    /// 503 at once (blazar: degraded).
    Degraded,
    /// Points at a closed port: the connect is refused.
    Refuse,
    /// Answers only after `--hang-ms`, far past the check's timeout.
    Hang,
}

impl Kind {
    /// Every kind, in the order the counters use.
    pub(crate) const ALL: [Kind; 5] = [
        Kind::Ok,
        Kind::Slow,
        Kind::Degraded,
        Kind::Refuse,
        Kind::Hang,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Ok => "ok",
            Kind::Slow => "slow",
            Kind::Degraded => "degraded",
            Kind::Refuse => "refuse",
            Kind::Hang => "hang",
        }
    }

    /// The status blazar should settle on once failures outlast `unhealthy_timeout`.
    pub(crate) fn expected_status(self) -> &'static str {
        match self {
            Kind::Ok | Kind::Slow => "healthy",
            Kind::Degraded => "degraded",
            Kind::Refuse | Kind::Hang => "unhealthy",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Kind::Ok => 0,
            Kind::Slow => 1,
            Kind::Degraded => 2,
            Kind::Refuse => 3,
            Kind::Hang => 4,
        }
    }
}

/// Percent of endpoints of each misbehaving kind; the rest are `Ok`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mix {
    pub(crate) slow: u32,
    pub(crate) degraded: u32,
    pub(crate) refuse: u32,
    pub(crate) hang: u32,
}

/// Assigns a kind to each of `n` endpoints: exact counts (rounded) per kind, positions shuffled
/// by `seed` so no kind clusters on a few ports.
pub(crate) fn kinds(n: usize, mix: Mix, seed: u64) -> anyhow::Result<Vec<Kind>> {
    let total = mix.slow + mix.degraded + mix.refuse + mix.hang;
    if total > 100 {
        bail!("slow, degraded, refuse and hang percentages add up to {total}, more than 100");
    }
    let count = |pct: u32| (n * pct as usize + 50) / 100;
    let mut out = Vec::with_capacity(n);
    for (kind, pct) in [
        (Kind::Slow, mix.slow),
        (Kind::Degraded, mix.degraded),
        (Kind::Refuse, mix.refuse),
        (Kind::Hang, mix.hang),
    ] {
        let room = n - out.len();
        out.extend(std::iter::repeat_n(kind, count(pct).min(room)));
    }
    out.resize(n, Kind::Ok);
    out.shuffle(&mut StdRng::seed_from_u64(seed));
    Ok(out)
}

/// The URL of endpoint `i`: on a listening port, or on a closed one when it should be refused.
pub(crate) fn url(i: usize, kind: Kind, listening: &[u16], closed: &[u16]) -> Option<String> {
    let ports = if kind == Kind::Refuse {
        closed
    } else {
        listening
    };
    let port = ports.get(i % ports.len().max(1))?;
    Some(format!("http://127.0.0.1:{port}/health/{i}"))
}

/// The name blazar knows endpoint `i` by: `svc-0042`, zero-padded to the widest index.
pub(crate) fn service_name(i: usize, n: usize) -> String {
    let width = n.saturating_sub(1).to_string().len().max(4);
    format!("svc-{i:0width$}")
}

/// How blazar checks the endpoints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checks {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) unhealthy_timeout: Duration,
}

/// Writes a blazar config whose `health.services` lists every endpoint.
pub(crate) fn config_yaml(
    kinds: &[Kind],
    listening: &[u16],
    closed: &[u16],
    checks: Checks,
) -> anyhow::Result<String> {
    let mut out = String::with_capacity(kinds.len() * 96 + 256);
    let mut counts = [0usize; Kind::ALL.len()];
    for k in kinds {
        if let Some(c) = counts.get_mut(k.index()) {
            *c += 1;
        }
    }
    let mix: Vec<String> = Kind::ALL
        .iter()
        .zip(counts)
        .map(|(k, c)| format!("{} {c}", k.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "# Written by blazar-health-targets: {} endpoints on {} ports ({}).",
        kinds.len(),
        listening.len(),
        mix.join(", ")
    );
    let _ = writeln!(
        out,
        "health:\n  check_interval: {}\n  unhealthy_timeout: {}\n  services:",
        human(checks.interval),
        human(checks.unhealthy_timeout)
    );
    let timeout = human(checks.timeout);
    for (i, kind) in kinds.iter().enumerate() {
        let url = url(i, *kind, listening, closed).context("no port to point an endpoint at")?;
        let _ = writeln!(
            out,
            "    {}: {{health_endpoint: \"{url}\", timeout: {timeout}}}",
            service_name(i, kinds.len())
        );
    }
    Ok(out)
}

/// Writes `{"svc-0000": "ok", ...}`: what each service is and what status it should reach.
pub(crate) fn manifest(kinds: &[Kind]) -> serde_json::Value {
    let services: serde_json::Map<String, serde_json::Value> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            (
                service_name(i, kinds.len()),
                serde_json::json!({"kind": k.as_str(), "expect": k.expected_status()}),
            )
        })
        .collect();
    serde_json::json!({ "services": services })
}

/// Parses `500ms`, `1s`, `1.5s`, `2m`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{s:?}: expected a unit (ms, s, m)"))?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number before the unit"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// Formats a duration the way blazar's config reads it, in whole milliseconds.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(slow: u32, degraded: u32, refuse: u32, hang: u32) -> Mix {
        Mix {
            slow,
            degraded,
            refuse,
            hang,
        }
    }

    #[test]
    fn kinds_have_exact_counts() {
        let k = kinds(2000, mix(10, 2, 5, 5), 1).unwrap();
        let count = |kind| k.iter().filter(|x| **x == kind).count();
        assert_eq!(count(Kind::Slow), 200);
        assert_eq!(count(Kind::Degraded), 40);
        assert_eq!(count(Kind::Refuse), 100);
        assert_eq!(count(Kind::Hang), 100);
        assert_eq!(count(Kind::Ok), 1560);
        // Shuffled: the first hundred are not all one kind.
        assert!(k.iter().take(100).any(|x| *x == Kind::Ok));
        assert!(k.iter().take(100).any(|x| *x != Kind::Ok));
        assert_eq!(k, kinds(2000, mix(10, 2, 5, 5), 1).unwrap());
    }

    #[test]
    fn too_many_percent_is_refused() {
        assert!(kinds(10, mix(50, 0, 30, 30), 1).is_err());
        assert_eq!(kinds(3, mix(0, 0, 0, 100), 1).unwrap(), vec![Kind::Hang; 3]);
    }

    #[test]
    fn config_lists_every_endpoint_on_the_right_ports() {
        let k = [Kind::Ok, Kind::Refuse, Kind::Hang];
        let checks = Checks {
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            unhealthy_timeout: Duration::from_secs(10),
        };
        let yaml = config_yaml(&k, &[8001, 8002], &[9001], checks).unwrap();
        assert!(
            yaml.contains("  check_interval: 1s\n  unhealthy_timeout: 10s\n"),
            "{yaml}"
        );
        assert!(yaml.contains(
            "    svc-0000: {health_endpoint: \"http://127.0.0.1:8001/health/0\", timeout: 500ms}\n"
        ));
        assert!(yaml.contains("svc-0001: {health_endpoint: \"http://127.0.0.1:9001/health/1\""));
        assert!(yaml.contains("svc-0002: {health_endpoint: \"http://127.0.0.1:8001/health/2\""));
        assert!(yaml.starts_with("# Written by blazar-health-targets: 3 endpoints on 2 ports"));
    }

    #[test]
    fn names_are_padded_to_the_widest() {
        assert_eq!(service_name(7, 2000), "svc-0007");
        assert_eq!(service_name(7, 20_000), "svc-00007");
        assert_eq!(service_name(7, 10), "svc-0007");
    }

    #[test]
    fn durations_round_trip() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5h").is_err());
        assert_eq!(human(Duration::from_millis(1500)), "1500ms");
        assert_eq!(human(Duration::from_secs(10)), "10s");
    }
}
