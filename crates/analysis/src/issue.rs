//! Findings: a trace that matched a pattern (seed 001's `PerformanceIssue`), the bounded ring
//! they are kept in, and the `anomaly` bus message for one.

use std::collections::{HashMap, VecDeque};

use blazar_bus::{Message, MessageKind};
use blazar_config::PatternSeverity;
use blazar_model::{format_rfc3339_nanos, TraceId, UnixNanos};
use blazar_signals::TraceView;
use serde::Serialize;

use crate::pattern::{trace_duration_ns, PatternSpec};

/// One trace matching one pattern. Serialises in seed 001's shape:
/// `{"trace_id","pattern","description","severity","timestamp","duration_ms","services"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceIssue {
    pub trace_id: TraceId,
    pub pattern: String,
    pub description: String,
    pub severity: PatternSeverity,
    /// The trace's start, RFC 3339.
    pub timestamp: String,
    /// The trace's length, earliest start to latest end.
    pub duration_ms: f64,
    /// The trace's services, sorted, unique.
    pub services: Vec<String>,
    /// The trace's start, unix nanoseconds (what `since` filters on).
    #[serde(skip)]
    pub start_ns: UnixNanos,
}

impl TraceIssue {
    /// Builds the finding for `view` matching `pattern`.
    pub fn new(view: &TraceView, pattern: &PatternSpec) -> Self {
        let start_ns = view.summary.start_ns;
        Self {
            trace_id: view.summary.trace_id,
            pattern: pattern.name.clone(),
            description: pattern.description.clone(),
            severity: pattern.severity,
            timestamp: format_rfc3339_nanos(start_ns),
            duration_ms: trace_duration_ns(view).unwrap_or(0) as f64 / 1e6,
            services: view.summary.services.clone(),
            start_ns,
        }
    }

    /// Returns the issue as JSON (seed 001's shape).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Returns the `anomaly` live message for `issue`, found at `now_ns`: `data` is the issue's
/// JSON, `service` its first service (for `?service=` stream filters).
pub fn issue_message(issue: &TraceIssue, now_ns: UnixNanos) -> Message {
    Message {
        kind: MessageKind::Anomaly,
        timestamp_ns: now_ns,
        service: issue.services.first().cloned(),
        data: issue.to_json(),
    }
}

/// The most recent issues, oldest evicted first; a trace analysed again replaces its issues.
#[derive(Debug)]
pub(crate) struct IssueRing {
    capacity: usize,
    issues: VecDeque<TraceIssue>,
    per_trace: HashMap<TraceId, usize>,
    evicted: u64,
}

impl IssueRing {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            issues: VecDeque::new(),
            per_trace: HashMap::new(),
            evicted: 0,
        }
    }

    /// Replaces the issues of `trace_id` with `found`; returns the patterns it did not have
    /// before (what is new to announce when a trace completes again after a late span).
    pub(crate) fn replace(&mut self, trace_id: TraceId, found: &[TraceIssue]) -> Vec<String> {
        let mut before: Vec<String> = Vec::new();
        if self.per_trace.remove(&trace_id).is_some() {
            // A trace completes again only when a late span arrived: rare, so a scan is fine.
            before = self
                .issues
                .iter()
                .filter(|i| i.trace_id == trace_id)
                .map(|i| i.pattern.clone())
                .collect();
            self.issues.retain(|i| i.trace_id != trace_id);
        }
        for issue in found {
            if self.issues.len() >= self.capacity {
                self.evict_oldest();
            }
            self.issues.push_back(issue.clone());
            *self.per_trace.entry(issue.trace_id).or_default() += 1;
        }
        found
            .iter()
            .filter(|i| !before.contains(&i.pattern))
            .map(|i| i.pattern.clone())
            .collect()
    }

    fn evict_oldest(&mut self) {
        let Some(old) = self.issues.pop_front() else {
            return;
        };
        self.evicted += 1;
        if let Some(n) = self.per_trace.get_mut(&old.trace_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_trace.remove(&old.trace_id);
            }
        }
    }

    /// Returns issues of traces starting at or after `since_ns`, of `pattern` if given, newest
    /// trace start first (one trace's in pattern order), at most `limit`.
    pub(crate) fn query(
        &self,
        since_ns: UnixNanos,
        pattern: Option<&str>,
        limit: usize,
    ) -> Vec<TraceIssue> {
        let mut out: Vec<&TraceIssue> = self
            .issues
            .iter()
            .filter(|i| i.start_ns >= since_ns && pattern.is_none_or(|p| i.pattern == p))
            .collect();
        // Stable: one trace's issues stay in pattern order.
        out.sort_by(|a, b| {
            b.start_ns
                .cmp(&a.start_ns)
                .then_with(|| a.trace_id.cmp(&b.trace_id))
        });
        out.into_iter().take(limit).cloned().collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.issues.len()
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }
}
