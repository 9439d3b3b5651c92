//! The service dependency graph: per `(caller, callee)` edge, from parent→child span pairs whose
//! services differ, calls, errors and the callee span's latency (log-bucket histogram), and per
//! service its span counts. Bounded: least recently seen edges and services are evicted, and a
//! span counted once is not counted again when its trace completes a second time.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use blazar_model::{format_rfc3339_nanos, Span, SpanId, SpanStatus, UnixNanos};
use blazar_signals::TraceView;
use serde::Serialize;

/// Histogram sub-buckets per power of two: a bucket spans a factor of 2^(1/8) ≈ 1.09, so a
/// percentile read at the bucket's geometric middle is within about 4.5%.
const SUB_BUCKETS: f64 = 8.0;

/// Bounds of a [`Graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphLimits {
    /// Most edges kept; the least recently seen goes first.
    pub max_edges: usize,
    /// Most services kept; the least recently seen goes first.
    pub max_services: usize,
    /// Span ids remembered as already counted (oldest forgotten first).
    pub max_counted_spans: usize,
}

impl Default for GraphLimits {
    fn default() -> Self {
        Self {
            max_edges: 10_000,
            max_services: 10_000,
            max_counted_spans: 200_000,
        }
    }
}

/// One service in [`ServiceGraph`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceNode {
    pub name: String,
    /// Spans of this service counted.
    pub spans: u64,
    /// Those with status error.
    pub errors: u64,
    pub error_rate: f64,
    /// Calls it made to other services (sum of its outgoing edges).
    pub calls_out: u64,
    /// Calls other services made to it (sum of its incoming edges).
    pub calls_in: u64,
    /// When a span of it was last counted (RFC 3339; server time, or the span's end for traces
    /// counted at startup).
    pub last_seen: String,
}

/// One `caller → callee` edge in [`ServiceGraph`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEdge {
    pub caller: String,
    pub callee: String,
    /// Child spans of `callee` under a parent span of `caller`.
    pub calls: u64,
    /// Those whose status is error.
    pub errors: u64,
    pub error_rate: f64,
    /// Callee span duration percentiles, milliseconds (histogram estimates).
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// When a call was last counted (as [`ServiceNode::last_seen`]).
    pub last_seen: String,
}

/// The dependency graph as the API returns it: services by name, edges by caller then callee.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceGraph {
    pub services: Vec<ServiceNode>,
    pub edges: Vec<ServiceEdge>,
}

#[derive(Debug, Default)]
struct EdgeStats {
    calls: u64,
    errors: u64,
    /// Bucket index → count; sparse since one edge's latencies cluster.
    buckets: BTreeMap<i32, u64>,
    last_seen: UnixNanos,
}

#[derive(Debug, Default)]
struct ServiceStats {
    spans: u64,
    errors: u64,
    last_seen: UnixNanos,
}

/// The graph's running state.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    limits: GraphLimits,
    edges: HashMap<(String, String), EdgeStats>,
    services: HashMap<String, ServiceStats>,
    counted: HashSet<SpanId>,
    counted_order: VecDeque<SpanId>,
}

impl Graph {
    pub(crate) fn new(limits: GraphLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Counts the spans of `view` not counted before, seen at `now_ns` (server time) or, when
    /// `None`, at each span's end.
    pub(crate) fn add(&mut self, view: &TraceView, now_ns: Option<UnixNanos>) {
        let by_id: HashMap<SpanId, &Span> = view.spans.iter().map(|s| (s.span_id, s)).collect();
        for span in &view.spans {
            // Open spans are counted once they end (their trace completes again then).
            let Some(end) = span.end_unix_nano else {
                continue;
            };
            let seen = now_ns.unwrap_or(end);
            if !self.remember(span.span_id) {
                continue;
            }
            let error = span.status == SpanStatus::Error;
            self.count_service(&span.service, error, seen);
            let Some(parent) = span.parent_span_id.and_then(|p| by_id.get(&p)) else {
                continue;
            };
            if parent.service == span.service {
                continue;
            }
            let duration = span.duration_nanos().unwrap_or(0);
            self.count_edge(&parent.service, &span.service, error, duration, seen);
        }
    }

    /// Marks `id` counted; returns false if it already was.
    fn remember(&mut self, id: SpanId) -> bool {
        if !self.counted.insert(id) {
            return false;
        }
        self.counted_order.push_back(id);
        while self.counted_order.len() > self.limits.max_counted_spans {
            if let Some(old) = self.counted_order.pop_front() {
                self.counted.remove(&old);
            }
        }
        true
    }

    fn count_service(&mut self, name: &str, error: bool, seen: UnixNanos) {
        if !self.services.contains_key(name) {
            evict_oldest(&mut self.services, self.limits.max_services, |s| {
                s.last_seen
            });
        }
        let s = self.services.entry(name.to_string()).or_default();
        s.spans += 1;
        s.errors += u64::from(error);
        s.last_seen = s.last_seen.max(seen);
    }

    fn count_edge(
        &mut self,
        caller: &str,
        callee: &str,
        error: bool,
        duration_ns: i64,
        seen: UnixNanos,
    ) {
        let key = (caller.to_string(), callee.to_string());
        if !self.edges.contains_key(&key) {
            evict_oldest(&mut self.edges, self.limits.max_edges, |e| e.last_seen);
        }
        let e = self.edges.entry(key).or_default();
        e.calls += 1;
        e.errors += u64::from(error);
        *e.buckets.entry(bucket(duration_ns)).or_default() += 1;
        e.last_seen = e.last_seen.max(seen);
    }

    /// Returns the graph as the API shows it.
    pub(crate) fn snapshot(&self) -> ServiceGraph {
        let mut calls_out: HashMap<&str, u64> = HashMap::new();
        let mut calls_in: HashMap<&str, u64> = HashMap::new();
        let mut edges: Vec<ServiceEdge> = self
            .edges
            .iter()
            .map(|((caller, callee), e)| {
                *calls_out.entry(caller).or_default() += e.calls;
                *calls_in.entry(callee).or_default() += e.calls;
                ServiceEdge {
                    caller: caller.clone(),
                    callee: callee.clone(),
                    calls: e.calls,
                    errors: e.errors,
                    error_rate: rate(e.errors, e.calls),
                    p50_ms: percentile(&e.buckets, e.calls, 0.50),
                    p95_ms: percentile(&e.buckets, e.calls, 0.95),
                    p99_ms: percentile(&e.buckets, e.calls, 0.99),
                    last_seen: format_rfc3339_nanos(e.last_seen),
                }
            })
            .collect();
        edges.sort_by(|a, b| (&a.caller, &a.callee).cmp(&(&b.caller, &b.callee)));
        let mut services: Vec<ServiceNode> = self
            .services
            .iter()
            .map(|(name, s)| ServiceNode {
                name: name.clone(),
                spans: s.spans,
                errors: s.errors,
                error_rate: rate(s.errors, s.spans),
                calls_out: calls_out.get(name.as_str()).copied().unwrap_or(0),
                calls_in: calls_in.get(name.as_str()).copied().unwrap_or(0),
                last_seen: format_rfc3339_nanos(s.last_seen),
            })
            .collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        ServiceGraph { services, edges }
    }
}

/// Makes room for one more entry: drops the least recently seen while at the bound.
fn evict_oldest<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    seen: impl Fn(&V) -> UnixNanos,
) {
    while !map.is_empty() && map.len() >= max.max(1) {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| seen(v))
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        map.remove(&oldest);
    }
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Returns the histogram bucket of a duration: `floor(log2(µs) * 8)`, sub-microsecond in one.
fn bucket(duration_ns: i64) -> i32 {
    let us = duration_ns as f64 / 1e3;
    if us < 1.0 {
        return -1;
    }
    (us.log2() * SUB_BUCKETS).floor() as i32
}

/// Returns the `q` quantile in milliseconds: the geometric middle of the bucket holding it.
fn percentile(buckets: &BTreeMap<i32, u64>, total: u64, q: f64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0u64;
    for (b, n) in buckets {
        seen += n;
        if seen >= rank {
            if *b < 0 {
                return 0.0;
            }
            let lo = 2f64.powf(f64::from(*b) / SUB_BUCKETS);
            let hi = 2f64.powf(f64::from(*b + 1) / SUB_BUCKETS);
            return (lo * hi).sqrt() / 1e3;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{span, view};

    const MS: i64 = 1_000_000;

    fn graph(views: &[TraceView]) -> ServiceGraph {
        let mut g = Graph::new(GraphLimits::default());
        for v in views {
            g.add(v, None);
        }
        g.snapshot()
    }

    #[test]
    fn cross_service_pairs_become_edges() {
        let mut db_err = span(4, Some(2), "db", "query", 20 * MS, 30 * MS);
        db_err.status = SpanStatus::Error;
        let v = view(vec![
            span(1, None, "api", "GET /", 0, 100 * MS),
            span(2, Some(1), "orders", "list", 10 * MS, 90 * MS),
            span(3, Some(2), "orders", "local", 12 * MS, 15 * MS),
            db_err,
            span(5, Some(2), "db", "query", 40 * MS, 50 * MS),
        ]);
        let g = graph(&[v]);
        let edges: Vec<(&str, &str, u64, u64)> = g
            .edges
            .iter()
            .map(|e| (e.caller.as_str(), e.callee.as_str(), e.calls, e.errors))
            .collect();
        assert_eq!(edges, vec![("api", "orders", 1, 0), ("orders", "db", 2, 1)]);
        let db = g.edges.iter().find(|e| e.callee == "db").unwrap();
        assert_eq!(db.error_rate, 0.5);
        assert!((db.p50_ms - 10.0).abs() / 10.0 < 0.05, "{}", db.p50_ms);
        let names: Vec<&str> = g.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["api", "db", "orders"]);
        let orders = g.services.iter().find(|s| s.name == "orders").unwrap();
        assert_eq!((orders.spans, orders.calls_in, orders.calls_out), (2, 1, 2));
        assert_eq!(orders.last_seen, format_rfc3339_nanos(90 * MS));
    }

    #[test]
    fn percentiles_follow_the_distribution() {
        let mut spans = vec![span(1, None, "a", "root", 0, 10_000 * MS)];
        for i in 0..100u8 {
            let d = if i < 90 { 10 * MS } else { 1000 * MS };
            spans.push(span(u64::from(i) + 2, Some(1), "b", "call", 0, d));
        }
        let g = graph(&[view(spans)]);
        let e = g.edges.first().unwrap();
        assert_eq!(e.calls, 100);
        assert!((e.p50_ms - 10.0).abs() < 0.5, "{}", e.p50_ms);
        assert!((e.p95_ms - 1000.0).abs() < 50.0, "{}", e.p95_ms);
        assert!((e.p99_ms - 1000.0).abs() < 50.0, "{}", e.p99_ms);
    }

    #[test]
    fn a_trace_completed_twice_is_counted_once() {
        let v = view(vec![
            span(1, None, "api", "GET /", 0, 100 * MS),
            span(2, Some(1), "db", "q", 10 * MS, 20 * MS),
        ]);
        let mut late = v.clone();
        late.spans
            .push(span(3, Some(1), "db", "q", 30 * MS, 40 * MS));
        let g = graph(&[v, late]);
        assert_eq!(g.edges.first().unwrap().calls, 2);
        assert_eq!(g.services.iter().map(|s| s.spans).sum::<u64>(), 3);
    }

    #[test]
    fn edges_are_bounded_least_recently_seen_first() {
        let mut g = Graph::new(GraphLimits {
            max_edges: 2,
            max_services: 100,
            max_counted_spans: 100,
        });
        for (i, callee) in ["b", "c", "d"].iter().enumerate() {
            let base = i as u64 * 10;
            let t = i as i64 * 1000 * MS;
            g.add(
                &view(vec![
                    span(base + 1, None, "a", "root", t, t + 10 * MS),
                    span(base + 2, Some(base + 1), callee, "x", t, t + 5 * MS),
                ]),
                Some(t),
            );
        }
        let s = g.snapshot();
        let callees: Vec<&str> = s.edges.iter().map(|e| e.callee.as_str()).collect();
        assert_eq!(callees, vec!["c", "d"]);
    }

    #[test]
    fn counted_span_memory_is_bounded() {
        let mut g = Graph::new(GraphLimits {
            max_edges: 10,
            max_services: 10,
            max_counted_spans: 3,
        });
        let spans: Vec<Span> = (1..=10).map(|i| span(i, None, "a", "x", 0, 1)).collect();
        g.add(&view(spans), None);
        assert_eq!(g.counted.len(), 3);
        assert_eq!(g.counted_order.len(), 3);
    }

    #[test]
    fn buckets_are_monotonic() {
        let mut last = i32::MIN;
        for ns in [0, 999, 1_000, 1_500, 10_000, 1_000_000, 60_000_000_000] {
            let b = bucket(ns);
            assert!(b >= last);
            last = b;
        }
    }
}
