//! Rules as the engine runs them: the config plus compiled matchers, and the built-in rules over
//! the health monitor's `service.health.status`.

use std::collections::BTreeMap;
use std::time::Duration;

use blazar_config::selector::{self, MatchOp};
use blazar_config::{AlertRule, Condition, Severity};
use blazar_model::Labels;
use blazar_tsdb::Matcher;

/// A rule ready to evaluate.
#[derive(Debug, Clone)]
pub struct Rule {
    pub config: AlertRule,
    /// `__name__` first, then the selector's matchers.
    pub matchers: Vec<Matcher>,
    /// Seed 001's alert type for alerts of this rule.
    pub kind: String,
    pub builtin: bool,
}

impl Rule {
    /// Compiles `config`'s selector.
    ///
    /// # Errors
    /// A regex that does not compile (config validation already refuses those).
    pub fn compile(config: AlertRule, builtin: bool) -> Result<Self, String> {
        let mut matchers = vec![Matcher::equal(
            blazar_model::METRIC_NAME_LABEL,
            config.selector.metric.as_str(),
        )];
        for m in &config.selector.matchers {
            matchers.push(match m.op {
                MatchOp::Equal => Matcher::equal(m.name.as_str(), m.value.as_str()),
                MatchOp::NotEqual => Matcher::not_equal(m.name.as_str(), m.value.as_str()),
                MatchOp::Regex => {
                    Matcher::regex(m.name.as_str(), &m.value).map_err(|e| e.to_string())?
                }
                MatchOp::NotRegex => {
                    Matcher::not_regex(m.name.as_str(), &m.value).map_err(|e| e.to_string())?
                }
            });
        }
        let kind = config.labels.get("type").cloned().unwrap_or_else(|| {
            let m = config.selector.metric.as_str();
            if m.starts_with("service.health") {
                "service_health"
            } else if m.starts_with("system.") {
                "resource"
            } else if m.starts_with("p2p.") {
                "p2p_network"
            } else {
                "performance"
            }
            .to_string()
        });
        Ok(Self {
            config,
            matchers,
            kind,
            builtin,
        })
    }

    /// Whether a series with `labels` is selected (a missing label matches as `""`).
    pub fn selects(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches(labels.get(m.name()).unwrap_or("")))
    }

    /// For `absent`: how long without a sample counts as absent.
    pub fn absent_after(&self) -> Duration {
        if self.config.duration.is_zero() {
            Duration::from_secs(60)
        } else {
            self.config.duration
        }
    }
}

/// Seed 001's health alerts as rules over the health monitor's gauge: a critical service
/// unhealthy pages (critical); any other unhealthy service, or a degraded critical one, warns;
/// other degraded services inform. A status change ends the old status series, which
/// resolves the alert.
pub fn health_rules() -> Vec<AlertRule> {
    let rule =
        |id: &str, name: &str, metric: &str, threshold: f64, severity: Severity, what: &str| {
            let selector = selector::parse(metric).unwrap_or_else(|_| selector::Selector {
                metric: "service.health.status".into(),
                matchers: Vec::new(),
            });
            AlertRule {
                id: id.to_string(),
                name: name.to_string(),
                description: format!("Service is {what}"),
                metric: metric.to_string(),
                selector,
                condition: Condition::Eq,
                threshold,
                duration: Duration::ZERO,
                keep_firing_for: Duration::ZERO,
                severity,
                labels: BTreeMap::new(),
                annotations: BTreeMap::from([(
                    "summary".to_string(),
                    format!("Service {{{{ $labels.service }}}} is {what}"),
                )]),
                channels: Vec::new(),
            }
        };
    vec![
        rule(
            "service_unhealthy_critical",
            "ServiceDown",
            r#"service.health.status{status="unhealthy",criticality="critical"}"#,
            0.0,
            Severity::Critical,
            "unhealthy",
        ),
        rule(
            "service_unhealthy",
            "ServiceUnhealthy",
            r#"service.health.status{status="unhealthy",criticality!="critical"}"#,
            0.0,
            Severity::Warning,
            "unhealthy",
        ),
        rule(
            "service_degraded_critical",
            "ServiceDegraded",
            r#"service.health.status{status="degraded",criticality="critical"}"#,
            0.5,
            Severity::Warning,
            "degraded",
        ),
        rule(
            "service_degraded",
            "ServiceDegraded",
            r#"service.health.status{status="degraded",criticality!="critical"}"#,
            0.5,
            Severity::Info,
            "degraded",
        ),
    ]
}

/// Trace analysis findings as alerts: a rise of `trace_issues_total` (counted per pattern,
/// severity and root service when a completed trace matches a pattern) fires, and keeps firing
/// for 5 minutes after the last new finding.
pub fn trace_rules() -> Vec<AlertRule> {
    let rule = |id: &str, sev: &str, severity: Severity| {
        let metric = format!(r#"trace_issues_total{{severity="{sev}"}}"#);
        AlertRule {
            id: id.to_string(),
            name: "TraceIssue".to_string(),
            description: "A completed trace matched a performance pattern".to_string(),
            selector: selector::parse(&metric).unwrap_or_else(|_| selector::Selector {
                metric: "trace_issues_total".into(),
                matchers: Vec::new(),
            }),
            metric,
            condition: Condition::Increase,
            threshold: 0.0,
            duration: Duration::ZERO,
            keep_firing_for: Duration::from_secs(300),
            severity,
            labels: BTreeMap::from([("type".to_string(), "performance".to_string())]),
            annotations: BTreeMap::from([(
                "summary".to_string(),
                "Trace pattern {{ $labels.pattern }} in {{ $labels.service }}".to_string(),
            )]),
            channels: Vec::new(),
        }
    };
    vec![
        rule("trace_issue_critical", "critical", Severity::Critical),
        rule("trace_issue_warning", "warning", Severity::Warning),
    ]
}

/// Renders `{{ $labels.NAME }}`, `{{ $value }}` and `{{ $labels }}`-free text; unknown
/// placeholders stay as written so a typo is visible rather than silently empty.
pub fn render(template: &str, labels: &BTreeMap<String, String>, value: f64) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find("}}") else {
            out.push_str(rest.get(start..).unwrap_or_default());
            return out;
        };
        let expr = after.get(..end).unwrap_or_default().trim();
        match expr {
            "$value" => out.push_str(&format_value(value)),
            e => match e.strip_prefix("$labels.") {
                Some(name) => out.push_str(labels.get(name).map_or("", String::as_str)),
                None => {
                    out.push_str("{{");
                    out.push_str(after.get(..end).unwrap_or_default());
                    out.push_str("}}");
                }
            },
        }
        rest = after.get(end + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_labels_and_value() {
        let labels = BTreeMap::from([("service".to_string(), "api".to_string())]);
        assert_eq!(
            render("{{ $labels.service }} at {{$value}}%", &labels, 93.5),
            "api at 93.5%"
        );
        assert_eq!(render("{{ $value }}", &labels, 3.0), "3");
        assert_eq!(render("{{ $labels.nope }}!", &labels, 0.0), "!");
        assert_eq!(render("{{ $oops }} {{", &labels, 0.0), "{{ $oops }} {{");
    }

    #[test]
    fn health_rules_compile_and_select_by_status() {
        let rules: Vec<Rule> = health_rules()
            .into_iter()
            .map(|r| Rule::compile(r, true).unwrap())
            .collect();
        let labels = Labels::try_from_pairs([
            ("__name__", "service.health.status"),
            ("service", "api"),
            ("status", "unhealthy"),
            ("criticality", "critical"),
        ])
        .unwrap();
        let hits: Vec<&str> = rules
            .iter()
            .filter(|r| r.selects(&labels))
            .map(|r| r.config.id.as_str())
            .collect();
        assert_eq!(hits, ["service_unhealthy_critical"]);
        assert_eq!(rules[0].kind, "service_health");
    }
}
