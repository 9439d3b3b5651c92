//! Critical path and bottleneck of one trace (the algorithm Jaeger uses): from the root's end,
//! walk back through the last-finishing child that ended before the current point, descend,
//! and return to the parent at that child's start. Pure; works on a [`TraceView`].

use std::collections::{HashMap, HashSet};

use blazar_model::{Span, SpanId};
use blazar_signals::TraceView;
use serde::Serialize;

/// One span on the critical path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathSpan {
    pub span_id: SpanId,
    pub service: String,
    pub name: String,
    /// The span's duration minus the union of its children's intervals (clamped to the span).
    pub self_time_ms: f64,
    /// How much of the trace's end-to-end time this span accounts for on the critical path.
    pub on_path_ms: f64,
}

/// The span with the largest self time in the whole trace: where the work actually was. It
/// may lie off the critical path (asynchronous work that outlives the root request).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bottleneck {
    pub span_id: SpanId,
    pub service: String,
    pub name: String,
    /// Its duration minus the union of its children's intervals (children cut to the span,
    /// not to the root request).
    pub self_time_ms: f64,
    /// Its time on the critical path; 0 when off it.
    pub on_path_ms: f64,
}

/// A trace's critical path: spans in the order the path first reaches them in time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CriticalPath {
    pub spans: Vec<PathSpan>,
    /// The span with the largest self time (the earliest on a tie); `None` for an empty trace.
    pub bottleneck: Option<Bottleneck>,
}

/// A span's interval after clamping to its parent's, with its children.
#[derive(Debug)]
struct Node<'a> {
    span: &'a Span,
    start: i64,
    end: i64,
    children: Vec<usize>,
    /// Self time before any clamping to ancestors (for the bottleneck).
    raw_self: i64,
}

/// Returns the critical path of `view`.
///
/// The root is the earliest span with no parent in the trace; other such spans (orphans whose
/// parent is missing, extra roots) hang under it. A child's interval is clamped to its parent's
/// (children outliving their parent are cut at its end; those wholly outside are ignored). A
/// span still open is taken to run to the trace's last end.
pub fn critical_path(view: &TraceView) -> CriticalPath {
    let Some(tree) = Tree::build(&view.spans) else {
        return CriticalPath::default();
    };
    // Per span on the path: (earliest on-path instant, total on-path time).
    let mut on_path: HashMap<usize, (i64, i64)> = HashMap::new();
    let mut add = |i: usize, from: i64, to: i64| {
        if to < from {
            return;
        }
        let slot = on_path.entry(i).or_insert((from, 0));
        slot.0 = slot.0.min(from);
        slot.1 = slot.1.saturating_add(to - from);
    };
    let end_of = |i: usize| tree.nodes.get(i).map_or(i64::MIN, |n| n.end);
    let mut visited: HashSet<usize> = HashSet::from([tree.root]);
    let mut stack: Vec<(usize, i64)> = vec![(tree.root, end_of(tree.root))];
    while let Some(&(i, cursor)) = stack.last() {
        let Some(node) = tree.nodes.get(i) else {
            stack.pop();
            continue;
        };
        let last_child = node
            .children
            .iter()
            .copied()
            .filter(|c| !visited.contains(c) && end_of(*c) <= cursor)
            .max_by_key(|c| (end_of(*c), std::cmp::Reverse(*c)));
        match last_child {
            Some(c) => {
                let child_end = end_of(c);
                add(i, child_end, cursor);
                visited.insert(c);
                stack.push((c, child_end));
            }
            None => {
                add(i, node.start, cursor);
                stack.pop();
                if let Some(parent) = stack.last_mut() {
                    // Continue in the parent from before this child started.
                    parent.1 = node.start.min(parent.1);
                }
            }
        }
    }
    let mut order: Vec<(i64, usize, i64)> = on_path
        .into_iter()
        .map(|(i, (from, total))| (from, i, total))
        .collect();
    order.sort_unstable();
    let spans: Vec<PathSpan> = order
        .iter()
        .filter_map(|(_, i, total)| {
            let node = tree.nodes.get(*i)?;
            Some(PathSpan {
                span_id: node.span.span_id,
                service: node.span.service.clone(),
                name: node.span.name.clone(),
                self_time_ms: ms(tree.self_time(node)),
                on_path_ms: ms(*total),
            })
        })
        .collect();
    let on_path_of = |id: SpanId| {
        spans
            .iter()
            .find(|p| p.span_id == id)
            .map_or(0.0, |p| p.on_path_ms)
    };
    let bottleneck = tree
        .nodes
        .iter()
        .max_by(|a, b| {
            a.raw_self.cmp(&b.raw_self).then_with(|| {
                (b.span.start_unix_nano, b.span.span_id)
                    .cmp(&(a.span.start_unix_nano, a.span.span_id))
            })
        })
        .map(|n| Bottleneck {
            span_id: n.span.span_id,
            service: n.span.service.clone(),
            name: n.span.name.clone(),
            self_time_ms: ms(n.raw_self),
            on_path_ms: on_path_of(n.span.span_id),
        });
    CriticalPath { spans, bottleneck }
}

fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

/// The spans as a tree rooted at one root, intervals clamped top-down.
struct Tree<'a> {
    nodes: Vec<Node<'a>>,
    root: usize,
}

impl<'a> Tree<'a> {
    fn build(spans: &'a [Span]) -> Option<Self> {
        let trace_end = spans
            .iter()
            .map(|s| s.end_unix_nano.unwrap_or(s.start_unix_nano))
            .max()?;
        let index: HashMap<SpanId, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id, i))
            .collect();
        let parent_of = |s: &Span| {
            s.parent_span_id
                .and_then(|p| index.get(&p).copied())
                .filter(|p| spans.get(*p).is_some_and(|ps| ps.span_id != s.span_id))
        };
        let earliest = |i: &usize| spans.get(*i).map(|s| (s.start_unix_nano, s.span_id));
        let root = (0..spans.len())
            .filter(|i| spans.get(*i).is_some_and(|s| parent_of(s).is_none()))
            .min_by_key(earliest)
            .or_else(|| (0..spans.len()).min_by_key(earliest))?;
        let mut nodes: Vec<Node<'a>> = spans
            .iter()
            .map(|s| Node {
                span: s,
                start: s.start_unix_nano,
                end: s.end_unix_nano.unwrap_or(trace_end).max(s.start_unix_nano),
                children: Vec::new(),
                raw_self: 0,
            })
            .collect();
        for (i, s) in spans.iter().enumerate() {
            if i == root {
                continue;
            }
            let parent = parent_of(s).unwrap_or(root);
            if let Some(p) = nodes.get_mut(parent) {
                p.children.push(i);
            }
        }
        let mut tree = Self { nodes, root };
        let raw: Vec<i64> = tree.nodes.iter().map(|n| tree.self_time(n)).collect();
        for (n, r) in tree.nodes.iter_mut().zip(raw) {
            n.raw_self = r;
        }
        tree.clamp();
        Some(tree)
    }

    /// Clamps each reachable child's interval into its parent's, top-down from the root, and
    /// unlinks children wholly outside their parent. Parent-link cycles are cut by visiting
    /// each span once.
    fn clamp(&mut self) {
        let mut seen: HashSet<usize> = HashSet::from([self.root]);
        let mut todo = vec![self.root];
        while let Some(p) = todo.pop() {
            let Some(parent) = self.nodes.get(p) else {
                continue;
            };
            let (ps, pe) = (parent.start, parent.end);
            let children = parent.children.clone();
            let mut kept = Vec::with_capacity(children.len());
            for c in children {
                if !seen.insert(c) {
                    continue;
                }
                let Some(child) = self.nodes.get_mut(c) else {
                    continue;
                };
                let (cs, ce) = (child.start.max(ps), child.end.min(pe));
                if cs > ce {
                    continue;
                }
                child.start = cs;
                child.end = ce;
                kept.push(c);
                todo.push(c);
            }
            if let Some(parent) = self.nodes.get_mut(p) {
                parent.children = kept;
            }
        }
    }

    /// Returns the span's duration minus the union of its children's (clamped) intervals.
    fn self_time(&self, node: &Node<'_>) -> i64 {
        // Children cut to this span (already so once clamped; not yet for the raw self time).
        let mut intervals: Vec<(i64, i64)> = node
            .children
            .iter()
            .filter_map(|c| {
                self.nodes
                    .get(*c)
                    .map(|n| (n.start.max(node.start), n.end.min(node.end)))
            })
            .filter(|(s, e)| s <= e)
            .collect();
        intervals.sort_unstable();
        let mut covered = 0i64;
        let mut current: Option<(i64, i64)> = None;
        for (s, e) in intervals {
            match current {
                Some((cs, ce)) if s <= ce => current = Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    covered = covered.saturating_add(ce - cs);
                    current = Some((s, e));
                }
                None => current = Some((s, e)),
            }
        }
        if let Some((cs, ce)) = current {
            covered = covered.saturating_add(ce - cs);
        }
        (node.end - node.start).saturating_sub(covered).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{id, span, view};

    const MS: i64 = 1_000_000;

    /// `(span number, on_path_ms, self_time_ms)` in path order.
    fn summary(p: &CriticalPath) -> Vec<(u64, f64, f64)> {
        p.spans
            .iter()
            .map(|s| {
                let n = u64::from_be_bytes(s.span_id.0);
                (n, s.on_path_ms, s.self_time_ms)
            })
            .collect()
    }

    #[test]
    fn single_span_is_its_own_path_and_bottleneck() {
        let p = critical_path(&view(vec![span(1, None, "api", "GET /", 0, 10 * MS)]));
        assert_eq!(summary(&p), vec![(1, 10.0, 10.0)]);
        let b = p.bottleneck.unwrap();
        assert_eq!((b.span_id, b.self_time_ms), (id(1), 10.0));
        assert_eq!(b.service, "api");
    }

    #[test]
    fn empty_trace_has_no_path() {
        assert_eq!(critical_path(&view(Vec::new())), CriticalPath::default());
    }

    #[test]
    fn sequential_children_are_all_on_the_path() {
        // root 0..100: a 10..40, b 50..90 (b has a child c 60..70).
        let p = critical_path(&view(vec![
            span(1, None, "api", "root", 0, 100 * MS),
            span(2, Some(1), "db", "a", 10 * MS, 40 * MS),
            span(3, Some(1), "cache", "b", 50 * MS, 90 * MS),
            span(4, Some(3), "cache", "c", 60 * MS, 70 * MS),
        ]));
        assert_eq!(
            summary(&p),
            vec![
                (1, 30.0, 30.0), // 0..10, 40..50, 90..100
                (2, 30.0, 30.0),
                (3, 30.0, 30.0), // 50..60, 70..90
                (4, 10.0, 10.0),
            ]
        );
        let total: f64 = p.spans.iter().map(|s| s.on_path_ms).sum();
        assert_eq!(total, 100.0);
        // Ties go to the earliest on the path.
        assert_eq!(p.bottleneck.unwrap().span_id, id(1));
    }

    #[test]
    fn overlapping_children_follow_the_last_to_finish() {
        // root 0..100: a 10..60 overlaps b 50..90; a is not on the path.
        let p = critical_path(&view(vec![
            span(1, None, "api", "root", 0, 100 * MS),
            span(2, Some(1), "db", "a", 10 * MS, 60 * MS),
            span(3, Some(1), "db", "b", 50 * MS, 90 * MS),
        ]));
        assert_eq!(summary(&p), vec![(1, 60.0, 20.0), (3, 40.0, 40.0)]);
        // The bottleneck is the largest self time, even off the path: a's 50 ms of own work.
        let b = p.bottleneck.unwrap();
        assert_eq!(
            (b.span_id, b.on_path_ms, b.self_time_ms),
            (id(2), 0.0, 50.0)
        );
    }

    #[test]
    fn async_work_outliving_the_request_is_the_bottleneck_but_not_on_the_path() {
        // A 100 ms request publishes at 80 ms; the consumer then works for 10 s.
        let p = critical_path(&view(vec![
            span(1, None, "api", "root", 0, 100 * MS),
            span(2, Some(1), "api", "publish", 80 * MS, 90 * MS),
            span(3, Some(2), "worker", "process", 85 * MS, 10_085 * MS),
        ]));
        let on_path: f64 = p.spans.iter().map(|s| s.on_path_ms).sum();
        assert_eq!(on_path, 100.0);
        let b = p.bottleneck.unwrap();
        assert_eq!((b.span_id, b.self_time_ms), (id(3), 10_000.0));
        assert_eq!(b.service, "worker");
    }

    #[test]
    fn a_child_outliving_its_parent_is_clamped() {
        // root 0..100, a 0..50 whose child x 40..80 outlives it.
        let p = critical_path(&view(vec![
            span(1, None, "api", "root", 0, 100 * MS),
            span(2, Some(1), "worker", "a", 0, 50 * MS),
            span(3, Some(2), "queue", "x", 40 * MS, 80 * MS),
        ]));
        assert_eq!(
            summary(&p),
            vec![(1, 50.0, 50.0), (2, 40.0, 40.0), (3, 10.0, 10.0)]
        );
        assert_eq!(p.bottleneck.unwrap().span_id, id(1));
    }

    #[test]
    fn a_child_wholly_after_its_parent_is_ignored() {
        let p = critical_path(&view(vec![
            span(1, None, "api", "root", 0, 10 * MS),
            span(2, Some(1), "async", "later", 20 * MS, 30 * MS),
        ]));
        assert_eq!(summary(&p), vec![(1, 10.0, 10.0)]);
    }

    #[test]
    fn orphans_hang_under_the_root() {
        // Span 3's parent (9) never arrived; it is the last thing the root waited for.
        let p = critical_path(&view(vec![
            span(1, None, "api", "root", 0, 100 * MS),
            span(2, Some(1), "db", "a", 10 * MS, 30 * MS),
            span(3, Some(9), "mq", "orphan", 40 * MS, 95 * MS),
        ]));
        assert_eq!(
            summary(&p),
            vec![(1, 25.0, 25.0), (2, 20.0, 20.0), (3, 55.0, 55.0)]
        );
        let b = p.bottleneck.unwrap();
        assert_eq!((b.span_id, b.service.as_str()), (id(3), "mq"));
    }

    #[test]
    fn open_spans_run_to_the_trace_end_and_cycles_terminate() {
        let mut open = span(2, Some(1), "db", "open", 10 * MS, 0);
        open.end_unix_nano = None;
        let p = critical_path(&view(vec![span(1, None, "api", "root", 0, 50 * MS), open]));
        assert_eq!(summary(&p), vec![(1, 10.0, 10.0), (2, 40.0, 40.0)]);

        let cyclic = view(vec![
            span(1, Some(2), "a", "x", 0, 10 * MS),
            span(2, Some(1), "b", "y", 2 * MS, 8 * MS),
        ]);
        let p = critical_path(&cyclic);
        assert_eq!(summary(&p), vec![(1, 4.0, 4.0), (2, 6.0, 6.0)]);
    }

    #[test]
    fn zero_length_children_do_not_loop() {
        let p = critical_path(&view(vec![
            span(1, None, "api", "root", 0, 10 * MS),
            span(2, Some(1), "a", "instant", 10 * MS, 10 * MS),
            span(3, Some(1), "a", "instant", 5 * MS, 5 * MS),
        ]));
        let total: f64 = p.spans.iter().map(|s| s.on_path_ms).sum();
        assert_eq!(total, 10.0);
        assert_eq!(p.bottleneck.unwrap().span_id, id(1));
    }
}
