//! Loading: file (or embedded defaults) → env overrides → validation.

use std::path::{Path, PathBuf};

use crate::raw::RawConfig;
use crate::{env, Config, ConfigError};

/// Where the config came from, for logs and `check-config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// No file: embedded defaults.
    Defaults,
    /// This file.
    File(PathBuf),
}

/// Loads `path` if given, else `./blazar.yaml` if it exists, else embedded defaults; then applies
/// `BLAZAR_*` overrides from `vars` and validates.
///
/// # Errors
/// An unreadable file, bad YAML, an unknown key or a bad value; each names the key and line.
pub fn load(
    path: Option<&Path>,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(Config, Source), ConfigError> {
    let (text, source) = match path {
        Some(p) => (read(p)?, Source::File(p.to_path_buf())),
        None => {
            let p = Path::new("blazar.yaml");
            if p.exists() {
                (read(p)?, Source::File(p.to_path_buf()))
            } else {
                (String::new(), Source::Defaults)
            }
        }
    };
    let origin = match &source {
        Source::File(p) => p.display().to_string(),
        Source::Defaults => "defaults".to_string(),
    };
    Ok((load_str(&text, &origin, vars)?, source))
}

fn read(p: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
        path: p.display().to_string(),
        source,
    })
}

/// Parses and validates config text; `origin` names it in errors.
///
/// # Errors
/// As [`load`].
pub fn load_str(
    text: &str,
    origin: &str,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    // First pass straight from the text, so schema errors carry the file's line and column.
    let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Parse {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    let overrides = env::overrides(vars);
    let raw = if overrides.is_empty() {
        raw
    } else {
        let mut doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Parse {
                origin: origin.to_string(),
                message: e.to_string(),
            })?;
        env::apply(&mut doc, &overrides)?;
        serde_yaml_ng::from_value(doc).map_err(|e| ConfigError::Env {
            var: overrides
                .iter()
                .map(|o| o.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            message: e.to_string(),
        })?
    };
    Config::try_from(raw).map_err(|e| match e {
        ConfigError::Invalid { key, message } => match locate(text, &key) {
            Some(line) => ConfigError::InvalidAt {
                origin: origin.to_string(),
                line,
                key,
                message,
            },
            None => ConfigError::Invalid { key, message },
        },
        other => other,
    })
}

/// Finds the 1-based line of a key path (`storage.fsync`, `alert_rules[1].severity`) in YAML
/// text, best effort: each segment is searched after the previous one's line, deeper indented.
fn locate(text: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0usize;
    let mut min_indent = 0usize;
    for seg in key.split('.') {
        let (name, index) = match seg.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let (at, indent) = lines.iter().enumerate().skip(from).find_map(|(i, l)| {
            let indent = l.len() - l.trim_start().len();
            let body = l.trim_start().trim_start_matches("- ");
            let hit = indent >= min_indent
                && (body.starts_with(&format!("{name}:"))
                    || body.starts_with(&format!("\"{name}\":")));
            hit.then_some((i, indent))
        })?;
        from = at + 1;
        min_indent = indent + 1;
        if let Some(n) = index {
            // The n-th list item below the key.
            let item = lines
                .iter()
                .enumerate()
                .skip(from)
                .filter(|(_, l)| {
                    l.trim_start().starts_with("- ") && l.len() - l.trim_start().len() >= indent
                })
                .nth(n)?;
            from = item.0;
            min_indent = item.1.len() - item.1.trim_start().len();
        }
    }
    Some(from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FsyncMode;
    use std::time::Duration;

    fn no_env() -> std::iter::Empty<(String, String)> {
        std::iter::empty()
    }

    #[test]
    fn empty_text_gives_embedded_defaults() {
        let c = load_str("", "t", no_env()).unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9595");
        assert_eq!(c.otlp.grpc_listen.to_string(), "127.0.0.1:4317");
        assert_eq!(
            c.storage.fsync,
            FsyncMode::Interval(Duration::from_millis(200))
        );
        assert_eq!(c.storage.metrics.max_age, Duration::from_secs(86400));
        assert_eq!(c.host.metrics_interval, Duration::from_secs(5));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = load_str(
            "storage:\n  fsync: always\n  fsyncc: never\n",
            "f.yaml",
            no_env(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("fsyncc"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn bad_value_names_key_and_expected_form() {
        let err = load_str("storage:\n  fsync: sometimes\n", "f.yaml", no_env())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("storage.fsync") && err.contains("always, interval, never"),
            "{err}"
        );
        let err = load_str("tracing:\n  completion_quiet: soon\n", "f.yaml", no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("duration"), "{err}");
    }

    #[test]
    fn invalid_value_reports_its_line() {
        let text = "server:\n  listen: 127.0.0.1:1\nstorage:\n  fsync: sometimes\n";
        let err = load_str(text, "f.yaml", no_env()).unwrap_err().to_string();
        assert_eq!(err, "f.yaml: line 4: storage.fsync: expected one of always, interval, never, got \"sometimes\"");
        let text = "alert_rules:\n  - id: a\n    metric: m\n    condition: gt\n    severity: info\n  - id: b\n    metric: m\n    condition: gt\n    severity: loud\n";
        let err = load_str(text, "r.yaml", no_env()).unwrap_err().to_string();
        assert!(
            err.starts_with("r.yaml: line 9: alert_rules[1].severity:"),
            "{err}"
        );
        let err = load_str("sampling_rate: 2.5\n", "s.yaml", no_env())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("s.yaml: line 1: sampling_rate:"), "{err}");
    }

    #[test]
    fn flat_seed_block_loads() {
        let text = include_str!("../testdata/seed_flat.good.yaml");
        let c = load_str(text, "seed", no_env()).unwrap();
        assert_eq!(c.events.buffer_size, 1000);
        assert_eq!(c.events.sampling_rate, 0.5);
        assert_eq!(c.events.source_id, "isbl-telemetry");
        assert_eq!(c.stream.buffer_size, 2048);
        assert_eq!(c.tracing.sample_rate, 0.25);
        assert_eq!(c.alerting.rules.len(), 2);
        assert_eq!(c.alerting.rules[0].condition, crate::Condition::Lt);
        assert_eq!(c.alerting.rules[0].duration, Duration::from_secs(30));
        assert!(c.alerting.channels.iter().any(|ch| ch.name == "webhook"));
        assert_eq!(c.health.services.len(), 2);
        assert_eq!(c.health.unhealthy_timeout, Duration::from_secs(60));
        let api = &c.health.services[0];
        assert_eq!(api.name, "api");
        assert_eq!(api.criticality, crate::Criticality::Critical);
        assert_eq!(api.dependencies, vec!["db".to_string()]);
        assert_eq!(api.timeout, Duration::from_secs(5));
        assert_eq!(api.healthy_threshold, Duration::from_secs(30));
        assert!(
            matches!(&api.probe, Some(crate::ProbeConfig::Http { url, .. }) if url == "http://localhost:8081/health")
        );
        assert_eq!(c.storage.traces.max_age, Duration::from_secs(7200));
    }

    #[test]
    fn flat_and_section_conflict_is_an_error() {
        let err = load_str(
            "buffer_size: 10\nevents:\n  buffer_size: 20\n",
            "f",
            no_env(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("buffer_size"), "{err}");
    }

    #[test]
    fn env_overrides_file() {
        let vars = vec![
            ("BLAZAR_STORAGE__FSYNC".to_string(), "never".to_string()),
            ("BLAZAR_SAMPLING_RATE".to_string(), "0.1".to_string()),
            ("BLAZAR_URL".to_string(), "http://x".to_string()),
        ];
        let c = load_str("storage:\n  fsync: always\n", "f", vars.into_iter()).unwrap();
        assert_eq!(c.storage.fsync, FsyncMode::Never);
        assert_eq!(c.events.sampling_rate, 0.1);
    }

    #[test]
    fn env_with_unknown_key_is_an_error() {
        let vars = vec![("BLAZAR_NOPE".to_string(), "1".to_string())];
        let err = load_str("", "f", vars.into_iter()).unwrap_err().to_string();
        assert!(err.contains("BLAZAR_NOPE") && err.contains("nope"), "{err}");
    }

    #[test]
    fn unknown_dependency_is_an_error() {
        let err = load_str(
            "services:\n  api:\n    health_endpoint: http://x/\n    dependencies: [db]\n",
            "f",
            no_env(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("services.api.dependencies") && err.contains("db"),
            "{err}"
        );
    }

    #[test]
    fn dependency_cycle_is_an_error_naming_the_cycle() {
        let text = "health:\n  services:\n    a: {endpoint: \"tcp://h:1\", dependencies: [b]}\n    b: {endpoint: \"tcp://h:2\", dependencies: [c]}\n    c: {endpoint: \"tcp://h:3\", dependencies: [a]}\n    d: {endpoint: \"tcp://h:4\", dependencies: [a]}\n";
        let err = load_str(text, "f", no_env()).unwrap_err().to_string();
        assert!(err.contains("dependency cycle: a -> b -> c -> a"), "{err}");
        let err = load_str(
            "services:\n  a: {health_endpoint: \"tcp://h:1\", dependencies: [a]}\n",
            "f",
            no_env(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("itself"), "{err}");
        // A diamond is not a cycle.
        let ok = "services:\n  a: {health_endpoint: \"tcp://h:1\", dependencies: [b, c]}\n  b: {health_endpoint: \"tcp://h:2\", dependencies: [d]}\n  c: {health_endpoint: \"tcp://h:3\", dependencies: [d]}\n  d: {health_endpoint: \"tcp://h:4\"}\n";
        assert_eq!(
            load_str(ok, "f", no_env()).unwrap().health.services.len(),
            4
        );
    }

    #[test]
    fn check_kinds_are_typed_and_inferred() {
        use crate::ProbeConfig;
        let text = "health:\n  check_interval: 2s\n  services:\n    web: {endpoint: \"https://h/health\", method: head, expected_status: [200, 204], headers: {X-Token: t}, tls_verify: false}\n    cache: {health_endpoint: \"tcp://127.0.0.1:6379\"}\n    rpc: {health_endpoint: \"grpc://127.0.0.1:50051\", grpc_service: orders}\n    job: {command: [/bin/check, --fast], interval: 30s}\n    p2p: {p2p: {min_connections: 3, max_latency_threshold: 500ms}}\n    q: {metrics: [{name: queue.depth, labels: {queue: main}, degraded_above: 100, unhealthy_above: 1000}], process: worker}\n";
        let c = load_str(text, "f", no_env()).unwrap();
        let by = |n: &str| c.health.services.iter().find(|s| s.name == n).unwrap();
        assert_eq!(
            by("web").probe,
            Some(ProbeConfig::Http {
                url: "https://h/health".into(),
                method: "HEAD".into(),
                expected_status: vec![200, 204],
                headers: vec![("X-Token".into(), "t".into())],
                tls_verify: false,
            })
        );
        assert_eq!(
            by("cache").probe,
            Some(ProbeConfig::Tcp {
                addr: "127.0.0.1:6379".into()
            })
        );
        assert_eq!(
            by("rpc").probe,
            Some(ProbeConfig::Grpc {
                endpoint: "http://127.0.0.1:50051".into(),
                service: "orders".into()
            })
        );
        assert_eq!(
            by("job").probe,
            Some(ProbeConfig::Exec {
                program: "/bin/check".into(),
                args: vec!["--fast".into()]
            })
        );
        assert_eq!(by("job").interval, Duration::from_secs(30));
        assert_eq!(by("web").interval, Duration::from_secs(2));
        let p2p = &by("p2p").metric_checks;
        assert_eq!(p2p.len(), 2);
        assert_eq!(p2p[0].name, crate::P2P_CONNECTIONS_METRIC);
        assert_eq!(
            (p2p[0].degraded_below, p2p[0].unhealthy_below),
            (Some(3.0), Some(1.0))
        );
        assert_eq!(p2p[1].degraded_above, Some(500.0));
        assert_eq!(
            by("q").process,
            Some(crate::ProcessWatch::Name("worker".into()))
        );
        assert_eq!(
            by("q").metric_checks[0].labels,
            vec![("queue".into(), "main".into())]
        );
    }

    #[test]
    fn bad_checks_name_the_key() {
        for (text, want) in [
            (
                "services:\n  a: {check: ping, health_endpoint: x}\n",
                "services.a.check",
            ),
            (
                "services:\n  a: {health_endpoint: \"ftp://x\"}\n",
                "services.a.health_endpoint",
            ),
            (
                "services:\n  a: {health_endpoint: \"tcp://nohost\"}\n",
                "services.a.health_endpoint",
            ),
            ("services:\n  a: {check: exec}\n", "services.a.command"),
            ("services:\n  a: {}\n", "services.a.health_endpoint"),
            (
                "services:\n  a: {health_endpoint: \"http://x\", expected_status: [700]}\n",
                "services.a.expected_status",
            ),
            (
                "services:\n  a: {health_endpoint: \"http://x\", criticality_level: vital}\n",
                "services.a.criticality_level",
            ),
            (
                "services:\n  a: {metrics: [{name: m}]}\n",
                "services.a.metrics[0]",
            ),
            (
                "services:\n  a: {health_endpoint: \"http://x\", failure_threshold: 0}\n",
                "services.a.failure_threshold",
            ),
            (
                "check_interval: 5s\nhealth:\n  check_interval: 2s\n",
                "check_interval",
            ),
        ] {
            let err = load_str(text, "f", no_env()).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn alert_rules_and_channels_are_typed() {
        let text = "alerting:\n  group_wait: 0s\n  rules:\n    - id: down\n      metric: 'service.health.status{criticality=\"critical\"}'\n      condition: lt\n      threshold: 1\n      keep_firing_for: 1m\n      severity: critical\n      annotations: {summary: '{{ $labels.service }} is down'}\n      notification_channels: [hook, pd]\n    - id: gone\n      metric: heartbeat\n      condition: absent\n      duration: 2m\n      severity: warning\n  channels:\n    - {name: hook, type: webhook, config: {url: 'http://127.0.0.1:9/x', secret: s, timeout: 2s}}\n    - {name: pd, type: pagerduty, config: {routing_key: k}}\n    - {name: fix, type: exec, config: {command: [systemctl, restart, api], max_attempts: 2}}\n";
        let c = load_str(text, "a.yaml", no_env()).unwrap();
        let a = &c.alerting;
        assert_eq!(a.group_wait, Duration::ZERO);
        assert_eq!(a.rules[0].selector.metric, "service.health.status");
        assert_eq!(a.rules[0].selector.matchers.len(), 1);
        assert_eq!(a.rules[0].keep_firing_for, Duration::from_secs(60));
        assert_eq!(a.rules[1].condition, crate::Condition::Absent);
        assert_eq!(a.channels.len(), 4, "three configured plus log");
        assert!(
            matches!(&a.channels[1].kind, crate::ChannelKind::PagerDuty { url, .. } if url.contains("events.pagerduty.com"))
        );
    }

    #[test]
    fn bad_alerting_config_names_the_key() {
        for (text, want) in [
            ("alert_rules:\n  - {id: a, metric: 'm{x=}', condition: gt, severity: info}\n", "alert_rules[0].metric"),
            ("alert_rules:\n  - {id: a, metric: m, condition: above, severity: info}\n", "alert_rules[0].condition"),
            ("alert_rules:\n  - {id: a, metric: m, condition: gt, severity: info, notification_channels: [nope]}\n", "unknown channel \"nope\""),
            ("alert_rules:\n  - {id: a, metric: m, condition: gt, severity: info}\n  - {id: a, metric: m, condition: gt, severity: info}\n", "alert_rules[1].id"),
            ("notification_channels:\n  - {name: w, type: webhook, config: {}}\n", "notification_channels[0].config.url"),
            ("notification_channels:\n  - {name: w, type: webhook, config: {url: 'ftp://x'}}\n", "notification_channels[0].config.url"),
            ("notification_channels:\n  - {name: w, type: webhook, config: {url: 'http://x', sekret: y}}\n", "config.sekret"),
            ("notification_channels:\n  - {name: w, type: sms, config: {}}\n", "notification_channels[0].type"),
            ("notification_channels:\n  - {name: w, type: exec, config: {}}\n", "config.command"),
        ] {
            let err = load_str(text, "f", no_env()).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn trace_patterns_validate_and_name_the_entry() {
        let text = "tracing:\n  default_patterns: false\n  patterns:\n    - name: slow_db\n      severity: critical\n      service: db\n      span_name: \"db.*\"\n      span_min_duration: 200ms\n      attributes: {db.system: postgres, retries: 3}\n    - name: big\n      min_spans: 500\n";
        let c = load_str(text, "p.yaml", no_env()).unwrap();
        assert!(!c.tracing.default_patterns);
        let p = &c.tracing.patterns;
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].severity, crate::PatternSeverity::Critical);
        assert_eq!(p[0].span_min_duration, Some(Duration::from_millis(200)));
        assert_eq!(
            p[0].attributes,
            vec![
                ("db.system".to_string(), "postgres".to_string()),
                ("retries".to_string(), "3".to_string())
            ]
        );
        assert_eq!(p[1].severity, crate::PatternSeverity::Warning);
        assert_eq!(p[1].description, "trace matched pattern big");
        assert!(
            load_str("", "d", no_env())
                .unwrap()
                .tracing
                .default_patterns
        );

        let text = "tracing:\n  patterns:\n    - name: a\n      min_spans: 2\n    - name: b\n      min_spans: 2\n      severity: loud\n";
        let err = load_str(text, "p.yaml", no_env()).unwrap_err().to_string();
        assert_eq!(
            err,
            "p.yaml: line 7: tracing.patterns[1].severity: expected one of info, warning, critical, got \"loud\""
        );
        let err = load_str("tracing:\n  patterns:\n    - name: a\n", "p.yaml", no_env())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tracing.patterns[0].name: expected at least one condition"),
            "{err}"
        );
        let err = load_str(
            "tracing:\n  patterns:\n    - {name: a, min_spans: 1}\n    - {name: a, min_spans: 2}\n",
            "p.yaml",
            no_env(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("tracing.patterns[1].name") && err.contains("twice"),
            "{err}"
        );
        let err = load_str(
            "tracing:\n  patterns:\n    - {name: a, min_duration: soon}\n",
            "p.yaml",
            no_env(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 3") && err.contains("duration"), "{err}");
        let err = load_str(
            "tracing:\n  patterns:\n    - {name: a, attributes: {k: [1]}}\n",
            "p.yaml",
            no_env(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("tracing.patterns[0].attributes.k"), "{err}");
    }

    #[test]
    fn example_config_loads() {
        let text = include_str!("../../../config/blazar.example.yaml");
        load_str(text, "example", no_env()).unwrap();
    }
}
