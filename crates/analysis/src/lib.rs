//! blazar-analysis: what completed traces tell us. Performance patterns (seed 001's
//! `TraceAnalyzer`, configurable), the issues they found (a bounded ring), each trace's critical
//! path and bottleneck, and the service dependency graph. Clock-free: callers pass `now_ns`.

mod graph;
mod issue;
mod path;
mod pattern;
#[cfg(test)]
mod testutil;

use std::sync::Arc;

use blazar_config::Config;
use blazar_model::UnixNanos;
use blazar_signals::TraceView;
use parking_lot::{Mutex, RwLock};

pub use blazar_config::PatternSeverity;
pub use graph::{GraphLimits, ServiceEdge, ServiceGraph, ServiceNode};
pub use issue::{issue_message, TraceIssue};
pub use path::{critical_path, Bottleneck, CriticalPath, PathSpan};
pub use pattern::{
    default_patterns, patterns_from_config, Conditions, PatternSpec, CASCADING_FAILURES,
    P2P_DISCOVERY_TIMEOUT, SLOW_SERVICE_CALL,
};

/// Issues kept by default (the oldest is evicted past this).
pub const DEFAULT_ISSUE_CAPACITY: usize = 10_000;

/// Counts of what an [`Analysis`] holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AnalysisStats {
    /// Patterns in use.
    pub patterns: usize,
    /// Issues held.
    pub issues: usize,
    /// Issues evicted to stay within capacity.
    pub issues_evicted: u64,
}

/// The trace analyzer: shared (`Arc`) between the completion task, which feeds it, and the API,
/// which reads it. Every method takes `&self`; locks are held only for the call.
#[derive(Debug)]
pub struct Analysis {
    patterns: RwLock<Arc<Vec<PatternSpec>>>,
    issues: Mutex<issue::IssueRing>,
    graph: Mutex<graph::Graph>,
}

impl Analysis {
    /// Returns an analyzer with `patterns` that keeps at most `capacity` issues.
    pub fn new(patterns: Vec<PatternSpec>, capacity: usize) -> Self {
        Self::with_limits(patterns, capacity, GraphLimits::default())
    }

    /// As [`Analysis::new`], with explicit service-graph bounds.
    pub fn with_limits(patterns: Vec<PatternSpec>, capacity: usize, limits: GraphLimits) -> Self {
        Self {
            patterns: RwLock::new(Arc::new(patterns)),
            issues: Mutex::new(issue::IssueRing::new(capacity)),
            graph: Mutex::new(graph::Graph::new(limits)),
        }
    }

    /// Returns an analyzer with the patterns `config` asks for (`tracing.default_patterns`,
    /// `tracing.patterns`) and the default capacity.
    pub fn from_config(config: &Config) -> Self {
        Self::new(
            patterns_from_config(&config.tracing),
            DEFAULT_ISSUE_CAPACITY,
        )
    }

    /// Replaces the patterns (config reload); issues already found are kept.
    pub fn set_patterns(&self, patterns: Vec<PatternSpec>) {
        *self.patterns.write() = Arc::new(patterns);
    }

    /// Applies a reloaded config: the patterns it asks for replace the current ones.
    pub fn reload(&self, config: &Config) {
        self.set_patterns(patterns_from_config(&config.tracing));
    }

    /// Returns the patterns in use.
    pub fn patterns(&self) -> Arc<Vec<PatternSpec>> {
        self.patterns.read().clone()
    }

    /// Returns the issues `view` has, one per matching pattern, in pattern order. Stores nothing.
    pub fn analyze(&self, view: &TraceView) -> Vec<TraceIssue> {
        let patterns = self.patterns();
        patterns
            .iter()
            .filter(|p| p.matches(view))
            .map(|p| TraceIssue::new(view, p))
            .collect()
    }

    /// Analyses traces that just completed: stores their issues (replacing earlier issues of
    /// the same trace, evicting the oldest past capacity), adds their spans to the service
    /// graph (`now_ns`, when they completed, is the edges' `last_seen`), and returns the issues
    /// that are new — a trace completing again after a late span returns only patterns it did
    /// not match before — for publishing as `anomaly` messages ([`issue_message`]).
    pub fn on_completed(&self, views: &[TraceView], now_ns: UnixNanos) -> Vec<TraceIssue> {
        let found: Vec<(blazar_model::TraceId, Vec<TraceIssue>)> = views
            .iter()
            .map(|v| (v.summary.trace_id, self.analyze(v)))
            .collect();
        let mut new = Vec::new();
        {
            let mut ring = self.issues.lock();
            for (trace_id, issues) in found {
                let fresh = ring.replace(trace_id, &issues);
                new.extend(issues.into_iter().filter(|i| fresh.contains(&i.pattern)));
            }
        }
        {
            let mut graph = self.graph.lock();
            for v in views {
                graph.add(v, Some(now_ns));
            }
        }
        new
    }

    /// Rebuilds issues and the service graph from traces already stored (at startup, so a
    /// restart keeps them); `last_seen` is taken from span end times, as there is no completion
    /// time. Traces completed later are not counted twice in the graph.
    pub fn rebuild<I>(&self, views: I)
    where
        I: IntoIterator,
        I::Item: std::borrow::Borrow<TraceView>,
    {
        use std::borrow::Borrow;
        for v in views {
            let v: &TraceView = v.borrow();
            let issues = self.analyze(v);
            let _ = self.issues.lock().replace(v.summary.trace_id, &issues);
            self.graph.lock().add(v, None);
        }
    }

    /// Returns stored issues of traces starting at or after `since_ns`, of `pattern` if given,
    /// newest trace start first, at most `limit`.
    pub fn issues(
        &self,
        since_ns: UnixNanos,
        pattern: Option<&str>,
        limit: usize,
    ) -> Vec<TraceIssue> {
        self.issues.lock().query(since_ns, pattern, limit)
    }

    /// Returns the service dependency graph.
    pub fn graph(&self) -> ServiceGraph {
        self.graph.lock().snapshot()
    }

    /// Returns counts of what is held.
    pub fn stats(&self) -> AnalysisStats {
        let ring = self.issues.lock();
        AnalysisStats {
            patterns: self.patterns.read().len(),
            issues: ring.len(),
            issues_evicted: ring.evicted(),
        }
    }
}

#[cfg(test)]
mod tests;
