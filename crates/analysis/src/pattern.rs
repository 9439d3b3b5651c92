//! Performance patterns: what a completed trace is checked against (seed 001's
//! `PerformancePattern`), as data so they can come from config. Matching only; no storage.

use std::borrow::Cow;
use std::time::Duration;

use blazar_config::{PatternSeverity, TracePatternConfig, TracingConfig};
use blazar_model::{Glob, Span, SpanStatus};
use blazar_signals::TraceView;

/// The name of seed 001's "trace longer than 5s" pattern.
pub const SLOW_SERVICE_CALL: &str = "slow_service_call";
/// The name of seed 001's "`p2p.discovery` span longer than 30s" pattern.
pub const P2P_DISCOVERY_TIMEOUT: &str = "p2p_discovery_timeout";
/// The name of seed 001's "3 or more error spans" pattern.
pub const CASCADING_FAILURES: &str = "cascading_failures";

/// What must hold of a trace for a pattern to match; every condition set must hold, and a
/// pattern with none set never matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// The trace (earliest start to latest end) is longer than this.
    pub min_duration: Option<Duration>,
    /// Some span's name matches this glob and, if `span_min_duration` is set, that same span
    /// is longer than it.
    pub span_name: Option<Glob>,
    /// Some span (matching `span_name`, if set) is longer than this.
    pub span_min_duration: Option<Duration>,
    /// For each `(KEY, VALUE)`, some span has attribute or resource attribute KEY whose value,
    /// rendered as text, equals VALUE.
    pub attributes: Vec<(String, String)>,
    /// At least this many spans have status error.
    pub min_error_spans: Option<usize>,
    /// At least this many spans.
    pub min_spans: Option<usize>,
    /// Some span belongs to this service.
    pub service: Option<String>,
}

/// A named performance pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternSpec {
    pub name: String,
    pub description: String,
    pub severity: PatternSeverity,
    pub conditions: Conditions,
}

impl PatternSpec {
    /// Builds a pattern from its validated config form.
    pub fn from_config(c: &TracePatternConfig) -> Self {
        Self {
            name: c.name.clone(),
            description: c.description.clone(),
            severity: c.severity,
            conditions: Conditions {
                min_duration: c.min_duration,
                span_name: c.span_name.as_deref().map(Glob::new),
                span_min_duration: c.span_min_duration,
                attributes: c.attributes.clone(),
                min_error_spans: c.min_error_spans,
                min_spans: c.min_spans,
                service: c.service.clone(),
            },
        }
    }

    /// Returns whether `view` matches every condition.
    pub fn matches(&self, view: &TraceView) -> bool {
        self.conditions.matches(view)
    }
}

/// Returns seed 001's three default patterns.
pub fn default_patterns() -> Vec<PatternSpec> {
    vec![
        PatternSpec {
            name: SLOW_SERVICE_CALL.into(),
            description: "Service call took longer than expected".into(),
            severity: PatternSeverity::Warning,
            conditions: Conditions {
                min_duration: Some(Duration::from_secs(5)),
                ..Conditions::default()
            },
        },
        PatternSpec {
            name: P2P_DISCOVERY_TIMEOUT.into(),
            description: "P2P peer discovery took too long".into(),
            severity: PatternSeverity::Warning,
            conditions: Conditions {
                span_name: Some(Glob::new("*p2p.discovery*")),
                span_min_duration: Some(Duration::from_secs(30)),
                ..Conditions::default()
            },
        },
        PatternSpec {
            name: CASCADING_FAILURES.into(),
            description: "Multiple services failing in sequence".into(),
            severity: PatternSeverity::Critical,
            conditions: Conditions {
                min_error_spans: Some(3),
                ..Conditions::default()
            },
        },
    ]
}

/// Returns the patterns `tracing` asks for: the built-ins (unless `default_patterns: false`),
/// a configured pattern with a built-in's name replacing it, then the other configured ones.
pub fn patterns_from_config(tracing: &TracingConfig) -> Vec<PatternSpec> {
    let configured: Vec<PatternSpec> = tracing
        .patterns
        .iter()
        .map(PatternSpec::from_config)
        .collect();
    let mut out: Vec<PatternSpec> = Vec::new();
    if tracing.default_patterns {
        out.extend(
            default_patterns()
                .into_iter()
                .filter(|d| !configured.iter().any(|c| c.name == d.name)),
        );
    }
    out.extend(configured);
    out
}

// === impl Conditions ===

impl Conditions {
    /// Returns whether no condition is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn matches(&self, view: &TraceView) -> bool {
        if self.is_empty() {
            return false;
        }
        let spans = &view.spans;
        self.min_duration
            .is_none_or(|min| trace_duration_ns(view).is_some_and(|d| d > nanos(min)))
            && self.min_spans.is_none_or(|n| spans.len() >= n)
            && self.min_error_spans.is_none_or(|n| {
                spans
                    .iter()
                    .filter(|s| s.status == SpanStatus::Error)
                    .count()
                    >= n
            })
            && self
                .service
                .as_ref()
                .is_none_or(|svc| spans.iter().any(|s| &s.service == svc))
            && (self.span_name.is_none() && self.span_min_duration.is_none()
                || spans.iter().any(|s| self.span_matches(s)))
            && self
                .attributes
                .iter()
                .all(|(k, v)| spans.iter().any(|s| has_attribute(s, k, v)))
    }

    fn span_matches(&self, span: &Span) -> bool {
        self.span_name
            .as_ref()
            .is_none_or(|g| g.matches(&span.name))
            && self
                .span_min_duration
                .is_none_or(|min| span.duration_nanos().is_some_and(|d| d > nanos(min)))
    }
}

/// Returns the trace's length: earliest span start to latest span end (ended spans only), or
/// `None` when no span has ended. Unlike the summary's duration it exists while a late child is
/// still open, so a completed trace is always measured.
pub(crate) fn trace_duration_ns(view: &TraceView) -> Option<i64> {
    if let Some(d) = view.summary.duration_ns {
        return Some(d);
    }
    let start = view.spans.iter().map(|s| s.start_unix_nano).min()?;
    let end = view.spans.iter().filter_map(|s| s.end_unix_nano).max()?;
    Some(end.saturating_sub(start).max(0))
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn has_attribute(span: &Span, key: &str, value: &str) -> bool {
    span.attributes.get(key).is_some_and(|v| render(v) == value)
        || span.resource.get(key).is_some_and(|v| render(v) == value)
}

/// Renders an attribute value as the trace list's `tag.KEY=VALUE` filter compares it.
fn render(value: &serde_json::Value) -> Cow<'_, str> {
    match value {
        serde_json::Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{span, view};

    const S: i64 = 1_000_000_000;

    fn matching(patterns: &[PatternSpec], v: &TraceView) -> Vec<String> {
        patterns
            .iter()
            .filter(|p| p.matches(v))
            .map(|p| p.name.clone())
            .collect()
    }

    #[test]
    fn slow_trace_matches_slow_service_call_only_past_five_seconds() {
        let d = default_patterns();
        let fast = view(vec![span(1, None, "api", "GET /", 0, 5 * S)]);
        assert!(matching(&d, &fast).is_empty());
        let slow = view(vec![span(1, None, "api", "GET /", 0, 5 * S + 1)]);
        assert_eq!(matching(&d, &slow), vec![SLOW_SERVICE_CALL]);
    }

    #[test]
    fn long_p2p_discovery_span_matches_by_substring() {
        let d = default_patterns();
        let v = view(vec![
            span(1, None, "node", "sync", 0, 2 * S),
            span(2, Some(1), "node", "net.p2p.discovery.find", S, S + 31 * S),
        ]);
        let names = matching(&d, &v);
        assert!(
            names.contains(&P2P_DISCOVERY_TIMEOUT.to_string()),
            "{names:?}"
        );
        let short = view(vec![span(2, None, "node", "p2p.discovery", 0, 29 * S)]);
        assert!(!matching(&d, &short).contains(&P2P_DISCOVERY_TIMEOUT.to_string()));
        // The long span and the matching name must be the same span.
        let split = view(vec![
            span(1, None, "node", "other", 0, 40 * S),
            span(2, Some(1), "node", "p2p.discovery", 0, S),
        ]);
        assert!(!matching(&d, &split).contains(&P2P_DISCOVERY_TIMEOUT.to_string()));
    }

    #[test]
    fn three_error_spans_are_cascading_failures() {
        let d = default_patterns();
        let mut spans = vec![
            span(1, None, "a", "x", 0, 10),
            span(2, Some(1), "b", "y", 1, 9),
            span(3, Some(2), "c", "z", 2, 8),
        ];
        for s in spans.iter_mut().skip(1) {
            s.status = SpanStatus::Error;
        }
        assert!(matching(&d, &view(spans.clone())).is_empty());
        if let Some(s) = spans.first_mut() {
            s.status = SpanStatus::Error;
        }
        assert_eq!(matching(&d, &view(spans)), vec![CASCADING_FAILURES]);
    }

    #[test]
    fn configured_conditions_all_must_hold() {
        let mut root = span(1, None, "checkout", "POST /buy", 0, 2 * S);
        std::sync::Arc::make_mut(&mut root.resource).insert("deployment".into(), "prod".into());
        let mut db = span(2, Some(1), "db", "db.query", S / 10, S / 2);
        db.attributes.insert("retries".into(), 3.into());
        let v = view(vec![root, db]);
        let p = |c: Conditions| PatternSpec {
            name: "p".into(),
            description: String::new(),
            severity: PatternSeverity::Info,
            conditions: c,
        };
        let all = Conditions {
            min_duration: Some(Duration::from_secs(1)),
            span_name: Some(Glob::new("db.*")),
            span_min_duration: Some(Duration::from_millis(300)),
            attributes: vec![
                ("retries".into(), "3".into()),
                ("deployment".into(), "prod".into()),
            ],
            min_error_spans: Some(0),
            min_spans: Some(2),
            service: Some("db".into()),
        };
        assert!(p(all.clone()).matches(&v));
        for broken in [
            Conditions {
                min_duration: Some(Duration::from_secs(2)),
                ..all.clone()
            },
            Conditions {
                span_min_duration: Some(Duration::from_millis(400)),
                ..all.clone()
            },
            Conditions {
                span_name: Some(Glob::new("http.*")),
                ..all.clone()
            },
            Conditions {
                attributes: vec![("retries".into(), "4".into())],
                ..all.clone()
            },
            Conditions {
                min_error_spans: Some(1),
                ..all.clone()
            },
            Conditions {
                min_spans: Some(3),
                ..all.clone()
            },
            Conditions {
                service: Some("cache".into()),
                ..all.clone()
            },
        ] {
            assert!(!p(broken.clone()).matches(&v), "{broken:?}");
        }
        assert!(!p(Conditions::default()).matches(&v));
    }

    #[test]
    fn config_patterns_replace_or_extend_the_defaults() {
        let mut t = blazar_config::Config::default().tracing;
        assert_eq!(patterns_from_config(&t), default_patterns());
        t.patterns = vec![
            TracePatternConfig {
                name: CASCADING_FAILURES.into(),
                description: "two errors".into(),
                severity: PatternSeverity::Info,
                min_duration: None,
                span_name: None,
                span_min_duration: None,
                attributes: Vec::new(),
                min_error_spans: Some(2),
                min_spans: None,
                service: None,
            },
            TracePatternConfig {
                name: "many_spans".into(),
                description: "big".into(),
                severity: PatternSeverity::Info,
                min_duration: None,
                span_name: Some("x*".into()),
                span_min_duration: None,
                attributes: Vec::new(),
                min_error_spans: None,
                min_spans: Some(100),
                service: None,
            },
        ];
        let names: Vec<String> = patterns_from_config(&t)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(
            names,
            vec![
                SLOW_SERVICE_CALL,
                P2P_DISCOVERY_TIMEOUT,
                CASCADING_FAILURES,
                "many_spans"
            ]
        );
        t.default_patterns = false;
        assert_eq!(patterns_from_config(&t).len(), 2);
    }
}
