//! The trace store: spans grouped into traces, indexed by trace, span, service, operation,
//! start time and activity; summaries, completion detection, retention by activity age and
//! bytes. Trace pattern analysis lives in `blazar-analyze`; WAL and locking in the caller.

mod index;
mod trace;

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use blazar_model::{ErrorKind, Span, SpanId, SpanStatus, TraceId, UnixNanos};
use serde::Serialize;

use crate::retention::Retention;
use index::{add_posting, newest_first, remove_posting, Index};
use trace::{KeyChanges, Trace};

/// Bounds of a [`TraceStore`]; each is taken literally (see [`Retention`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceStoreOptions {
    /// Traces with no span activity for longer than this are dropped by [`TraceStore::retain`].
    pub max_age_ns: i64,
    /// Bound on the approximate bytes held; whole traces go, least recently active first.
    pub max_bytes: usize,
    /// A trace holding this many spans accepts no new span ids ([`TraceStoreError::TraceTooLong`]).
    pub max_spans_per_trace: usize,
}

impl TraceStoreOptions {
    /// Returns the age and byte bounds as the shared retention policy (no count bound).
    pub fn retention(&self) -> Retention {
        Retention {
            max_age_ns: self.max_age_ns,
            max_bytes: self.max_bytes,
            max_items: usize::MAX,
        }
    }
}

/// Why a span could not be stored or updated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceStoreError {
    /// The trace already holds `max_spans_per_trace` spans and this span id is new.
    #[error("trace {trace_id} already holds the maximum of {max} spans")]
    TraceTooLong {
        /// The trace that is full.
        trace_id: TraceId,
        /// The configured `max_spans_per_trace`.
        max: usize,
    },
    /// No stored span has this id (never sent, or evicted).
    #[error("span {span_id} is not stored")]
    UnknownSpan {
        /// The id asked for.
        span_id: SpanId,
    },
    /// The span id is already stored under another trace.
    #[error("span {span_id} of trace {trace_id} is already stored in trace {stored_trace_id}")]
    SpanIdConflict {
        /// The id sent twice.
        span_id: SpanId,
        /// The trace the new span claims.
        trace_id: TraceId,
        /// The trace the stored span belongs to.
        stored_trace_id: TraceId,
    },
}

impl TraceStoreError {
    /// Returns the category this error maps to (HTTP status, retryability).
    pub fn kind(&self) -> ErrorKind {
        match self {
            // Retrying can't help until the trace is evicted, so not `Overloaded`.
            Self::TraceTooLong { .. } => ErrorKind::InvalidInput,
            Self::UnknownSpan { .. } => ErrorKind::NotFound,
            Self::SpanIdConflict { .. } => ErrorKind::Conflict,
        }
    }
}

/// What was dropped to stay within bounds (count them as `blazar_dropped_total{reason}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Whole traces dropped.
    pub traces: usize,
    /// Spans those traces held.
    pub spans: usize,
}

impl Evicted {
    /// Returns whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.traces == 0 && self.spans == 0
    }
}

/// What [`TraceStore::upsert_span`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    /// Whether a stored span with the same id was replaced.
    pub replaced: bool,
    /// Traces dropped, least recently active first, to meet the byte bound; this span's
    /// trace too if it alone is over the bound.
    pub evicted: Evicted,
}

/// A trace at a glance, as lists, `trace_completed` messages and analysis see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceSummary {
    /// The trace.
    pub trace_id: TraceId,
    /// Service of the root span: the earliest span with no parent or a parent not in the trace.
    pub root_service: String,
    /// Name (operation) of the root span.
    pub root_name: String,
    /// Earliest span start, unix nanoseconds.
    pub start_ns: UnixNanos,
    /// Latest span end; `None` while any span is open.
    pub end_ns: Option<UnixNanos>,
    /// `end_ns - start_ns`; `None` while any span is open.
    pub duration_ns: Option<i64>,
    /// Spans stored.
    pub span_count: usize,
    /// Spans with status `Error`.
    pub error_count: usize,
    /// Services of its spans, sorted, unique.
    pub services: Vec<String>,
    /// `Error` if any span failed, else `Ok` once every span ended, else `Unset`.
    pub status: SpanStatus,
    /// Whether [`TraceStore::take_completed`] has returned it with no span activity since.
    pub complete: bool,
    /// Whether it completed at least once, even if a late span made it pending again.
    #[serde(skip)]
    pub ever_completed: bool,
}

/// One trace in full.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceView {
    /// Its summary.
    pub summary: TraceSummary,
    /// Every span, sorted by start time (then span id).
    pub spans: Vec<Span>,
}

/// Counts of what a [`TraceStore`] holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TraceStoreStats {
    /// Traces held.
    pub traces: usize,
    /// Spans held.
    pub spans: usize,
    /// Spans not yet ended.
    pub open_spans: usize,
    /// Approximate bytes held.
    pub bytes: usize,
}

/// One trace as a checkpoint writes it (see [`TraceStore::checkpoint_traces`]).
#[derive(Debug, Clone)]
pub struct CheckpointTrace {
    pub trace_id: TraceId,
    /// Spans already counted in the derived metrics.
    pub counted: Vec<Span>,
    /// Whether the trace completed at least once.
    pub completed: bool,
    /// Spans not counted yet.
    pub rest: Vec<Span>,
}

/// Filters for [`TraceStore::query`]; every set filter must match.
#[derive(Debug, Clone)]
pub struct TraceQuery {
    /// Some span has this service.
    pub service: Option<String>,
    /// Some span has this name.
    pub operation: Option<String>,
    /// For each `(KEY, VALUE)`, some span has attribute or resource attribute KEY whose value,
    /// rendered as text (strings unquoted, numbers and booleans as text), equals VALUE.
    pub tags: Vec<(String, String)>,
    /// Only traces with at least one error span.
    pub errors_only: bool,
    /// Only ended traces at least this long.
    pub min_duration_ns: Option<i64>,
    /// Only traces starting at or after this.
    pub start_ns: Option<UnixNanos>,
    /// Only traces starting at or before this.
    pub end_ns: Option<UnixNanos>,
    /// At most this many (newest by start); `0` returns none. Defaults to no limit.
    pub limit: usize,
}

impl Default for TraceQuery {
    fn default() -> Self {
        Self {
            service: None,
            operation: None,
            tags: Vec::new(),
            errors_only: false,
            min_duration_ns: None,
            start_ns: None,
            end_ns: None,
            limit: usize::MAX,
        }
    }
}

impl TraceQuery {
    fn matches(&self, trace: &Trace) -> bool {
        self.service.as_ref().is_none_or(|s| trace.has_service(s))
            && self
                .operation
                .as_ref()
                .is_none_or(|o| trace.has_operation(o))
            && (!self.errors_only || trace.error_count() > 0)
            && self
                .min_duration_ns
                .is_none_or(|min| trace.duration_ns().is_some_and(|d| d >= min))
            && self.tags.iter().all(|(k, v)| trace.has_tag(k, v))
    }
}

/// Spans grouped by trace, with indexes for lookups, lists and completion.
///
/// Time: span timestamps come from clients and only order spans and filter lists; age
/// retention, byte eviction and completion use the server's `now_ns` passed to each call
/// (a trace's *activity* is the latest `now_ns` of an insert or update of one of its spans).
#[derive(Debug)]
pub struct TraceStore {
    options: TraceStoreOptions,
    traces: HashMap<TraceId, Trace>,
    span_trace: HashMap<SpanId, TraceId>,
    index: Index,
    stats: TraceStoreStats,
}

// === impl TraceStore ===

impl TraceStore {
    /// Returns an empty store with these bounds.
    pub fn new(options: TraceStoreOptions) -> Self {
        Self {
            options,
            traces: HashMap::new(),
            span_trace: HashMap::new(),
            index: Index::default(),
            stats: TraceStoreStats::default(),
        }
    }

    /// Inserts `span`, or replaces the stored span with the same id (a seed 004 span being
    /// finished, an OTLP retry), records activity at `now_ns`, then evicts least recently
    /// active traces while over the byte bound.
    ///
    /// # Errors
    /// [`TraceStoreError::TraceTooLong`] if the span id is new and its trace is full;
    /// [`TraceStoreError::SpanIdConflict`] if the span id is stored under another trace.
    pub fn upsert_span(
        &mut self,
        span: Span,
        now_ns: UnixNanos,
    ) -> Result<Upserted, TraceStoreError> {
        let (trace_id, span_id) = (span.trace_id, span.span_id);
        match self.span_trace.get(&span_id) {
            Some(stored) if *stored != trace_id => {
                return Err(TraceStoreError::SpanIdConflict {
                    span_id,
                    trace_id,
                    stored_trace_id: *stored,
                });
            }
            Some(_) => {}
            None => {
                let len = self.traces.get(&trace_id).map_or(0, Trace::len);
                if len >= self.options.max_spans_per_trace {
                    return Err(TraceStoreError::TraceTooLong {
                        trace_id,
                        max: self.options.max_spans_per_trace,
                    });
                }
            }
        }
        let replaced = self.put(span, now_ns);
        Ok(Upserted {
            replaced,
            evicted: self.evict_over_bytes(),
        })
    }

    /// Returns the stored span with this id.
    pub fn span(&self, span_id: SpanId) -> Option<&Span> {
        let trace_id = self.span_trace.get(&span_id)?;
        self.traces.get(trace_id)?.span(span_id)
    }

    /// Applies `f` to the stored span (add tags or logs, finish it), records activity at
    /// `now_ns` and re-indexes it; changes `f` makes to `trace_id` or `span_id` are undone.
    /// Returns what was evicted if the span grew the store over its byte bound.
    ///
    /// # Errors
    /// [`TraceStoreError::UnknownSpan`] if no span with this id is stored.
    pub fn update_span(
        &mut self,
        span_id: SpanId,
        now_ns: UnixNanos,
        f: impl FnOnce(&mut Span),
    ) -> Result<Evicted, TraceStoreError> {
        let unknown = TraceStoreError::UnknownSpan { span_id };
        let trace_id = *self
            .span_trace
            .get(&span_id)
            .ok_or_else(|| unknown.clone())?;
        let mut span = self
            .traces
            .get(&trace_id)
            .and_then(|t| t.span(span_id))
            .cloned()
            .ok_or(unknown)?;
        f(&mut span);
        span.trace_id = trace_id;
        span.span_id = span_id;
        self.put(span, now_ns);
        Ok(self.evict_over_bytes())
    }

    /// Returns how many spans the trace holds (0 for an unknown trace), without copying them.
    pub fn span_count(&self, trace_id: TraceId) -> usize {
        self.traces.get(&trace_id).map_or(0, Trace::len)
    }

    /// Returns every span of the trace, sorted by start time, with its summary.
    pub fn trace(&self, trace_id: TraceId) -> Option<TraceView> {
        let trace = self.traces.get(&trace_id)?;
        Some(TraceView {
            summary: trace.summary(trace_id),
            spans: trace.sorted_spans().into_iter().cloned().collect(),
        })
    }

    /// Returns the summaries of matching traces, newest start first, at most `query.limit`.
    /// Walks the smallest applicable index (service, operation or start time) newest first.
    pub fn query(&self, query: &TraceQuery) -> Vec<TraceSummary> {
        if query.limit == 0 {
            return Vec::new();
        }
        let mut source = &self.index.by_start;
        for (postings, name) in [
            (&self.index.by_service, &query.service),
            (&self.index.by_operation, &query.operation),
        ] {
            if let Some(name) = name {
                match postings.get(name) {
                    Some(set) if set.len() < source.len() => source = set,
                    Some(_) => {}
                    None => return Vec::new(),
                }
            }
        }
        let lo = query.start_ns.unwrap_or(i64::MIN);
        let hi = query.end_ns.unwrap_or(i64::MAX);
        newest_first(source, lo, hi)
            .filter_map(|(_, id)| Some((*id, self.traces.get(id)?)))
            .filter(|(_, trace)| query.matches(trace))
            .take(query.limit)
            .map(|(id, trace)| trace.summary(id))
            .collect()
    }

    /// Returns, once each, the traces whose root span has ended and that have had no span
    /// activity for `quiet_ns` (activity at or before `now_ns - quiet_ns`), least recently
    /// active first, and marks them published (`complete: true`).
    ///
    /// A span inserted into or updated in a published trace makes it pending again: it is
    /// returned a second time after a new quiet period (with the late span included).
    pub fn take_completed(&mut self, now_ns: UnixNanos, quiet_ns: i64) -> Vec<TraceSummary> {
        let threshold = now_ns.saturating_sub(quiet_ns.max(0));
        let ready: Vec<(UnixNanos, TraceId)> = self
            .index
            .pending
            .iter()
            .take_while(|(activity, _)| *activity <= threshold)
            .filter(|(_, id)| self.traces.get(id).is_some_and(Trace::is_root_ended))
            .copied()
            .collect();
        let mut out = Vec::with_capacity(ready.len());
        for key in ready {
            self.index.pending.remove(&key);
            if let Some(trace) = self.traces.get_mut(&key.1) {
                trace.published = true;
                out.push(trace.summary(key.1));
            }
        }
        out
    }

    /// Calls `f` with each ended span of the trace that no earlier call visited, and marks
    /// it counted; returns how many spans it visited (0 for an unknown trace). Derived
    /// metrics (span RED metrics) use it so a trace that completes again after a late span
    /// counts only the new spans. The mark survives the span being replaced (a retry), but
    /// not a restart by itself: replay restores it from the store's `TraceCompleted` records
    /// ([`TraceStore::mark_completed`]).
    pub fn count_ended_spans(&mut self, trace_id: TraceId, f: impl FnMut(&Span)) -> usize {
        self.traces
            .get_mut(&trace_id)
            .map_or(0, |t| t.count_ended(f))
    }

    /// Marks the trace completed as [`TraceStore::take_completed`] would, with its ended spans
    /// counted (replay of a completion logged before a restart); false for an unknown trace.
    pub fn mark_completed(&mut self, trace_id: TraceId) -> bool {
        let Some(trace) = self.traces.get_mut(&trace_id) else {
            return false;
        };
        self.index
            .pending
            .remove(&(trace.last_activity_ns, trace_id));
        trace.published = true;
        trace.count_ended(|_| {});
        true
    }

    /// Returns every trace as a checkpoint needs it to come back as it is: the spans counted in
    /// the derived metrics, whether it ever completed, and the spans not counted yet (late
    /// spans of a trace pending again, or a trace that never completed). Replaying counted
    /// spans, then a completion mark, then the rest rebuilds both the marks and the pending state.
    pub fn checkpoint_traces(&self) -> Vec<CheckpointTrace> {
        self.index
            .by_activity
            .iter()
            .filter_map(|(_, id)| Some((*id, self.traces.get(id)?)))
            .map(|(id, t)| {
                let (counted, rest): (Vec<_>, Vec<_>) = t.spans_counted().partition(|(_, c)| *c);
                CheckpointTrace {
                    trace_id: id,
                    counted: counted.into_iter().map(|(s, _)| s.clone()).collect(),
                    completed: t.ever_completed(),
                    rest: rest.into_iter().map(|(s, _)| s.clone()).collect(),
                }
            })
            .collect()
    }

    /// Removes the whole trace (a tail-sampling decision) from the store and every index;
    /// returns what went. A span of it arriving later starts a new trace entry.
    pub fn remove_trace(&mut self, trace_id: TraceId) -> Evicted {
        if !self.traces.contains_key(&trace_id) {
            return Evicted::default();
        }
        Evicted {
            traces: 1,
            spans: self.evict(trace_id),
        }
    }

    /// Drops traces with no span activity for longer than `max_age_ns` at `now_ns` (the
    /// activity clock, not span timestamps, so client clock skew can't expire fresh data), then
    /// least recently active traces while over the byte bound.
    pub fn retain(&mut self, now_ns: UnixNanos) -> Evicted {
        let cutoff = self.options.retention().cutoff_ns(now_ns);
        let mut evicted = Evicted::default();
        while let Some(&(activity, id)) = self.index.by_activity.first() {
            if activity >= cutoff {
                break;
            }
            evicted.traces += 1;
            evicted.spans += self.evict(id);
        }
        let over = self.evict_over_bytes();
        Evicted {
            traces: evicted.traces + over.traces,
            spans: evicted.spans + over.spans,
        }
    }

    /// Replaces the bounds (config reload) and evicts at once to meet the byte bound. A
    /// shorter age applies at the next [`TraceStore::retain`]; traces already over a smaller
    /// `max_spans_per_trace` keep their spans but accept no new ones.
    pub fn set_limits(&mut self, options: TraceStoreOptions) -> Evicted {
        self.options = options;
        self.evict_over_bytes()
    }

    /// Returns counts of what is held.
    pub fn stats(&self) -> TraceStoreStats {
        self.stats
    }

    /// Iterates every stored span (for checkpoints): traces least recently active first, so
    /// re-inserting in this order reproduces the eviction order.
    pub fn iter_spans(&self) -> impl Iterator<Item = &Span> + '_ {
        self.index
            .by_activity
            .iter()
            .filter_map(|(_, id)| self.traces.get(id))
            .flat_map(Trace::spans)
    }

    /// Stores `span` (checked by the caller) and keeps every index and count in step.
    fn put(&mut self, span: Span, now_ns: UnixNanos) -> bool {
        let (trace_id, span_id) = (span.trace_id, span.span_id);
        let Self {
            traces,
            span_trace,
            index,
            stats,
            ..
        } = self;
        let (trace, old) = match traces.entry(trace_id) {
            Entry::Occupied(e) => {
                let t = e.into_mut();
                let old = (t.start_ns(), t.last_activity_ns, t.published);
                (t, Some(old))
            }
            Entry::Vacant(e) => {
                stats.traces += 1;
                (e.insert(Trace::new(now_ns)), None)
            }
        };

        let before = (trace.len(), trace.open(), trace.bytes());
        let mut changes = KeyChanges::default();
        let replaced = trace.put(span, &mut changes);
        stats.spans = (stats.spans + trace.len()).saturating_sub(before.0);
        stats.open_spans = (stats.open_spans + trace.open()).saturating_sub(before.1);
        stats.bytes = (stats.bytes + trace.bytes()).saturating_sub(before.2);
        span_trace.insert(span_id, trace_id);

        // Activity: any change re-arms completion.
        if let Some((_, activity, published)) = old {
            index.by_activity.remove(&(activity, trace_id));
            if !published {
                index.pending.remove(&(activity, trace_id));
            }
            trace.last_activity_ns = activity.max(now_ns);
        }
        trace.published = false;
        index.by_activity.insert((trace.last_activity_ns, trace_id));
        index.pending.insert((trace.last_activity_ns, trace_id));

        // Start-keyed sets. Names whose last span went are unindexed at the old start; if the
        // start moved, every remaining name is re-keyed, else only new names are added.
        let old_start = old.map(|(start, ..)| start);
        let start = trace.start_ns();
        if let Some(os) = old_start {
            for name in &changes.gone_services {
                remove_posting(&mut index.by_service, name, (os, trace_id));
            }
            for name in &changes.gone_operations {
                remove_posting(&mut index.by_operation, name, (os, trace_id));
            }
        }
        if old_start == Some(start) {
            for name in &changes.new_services {
                add_posting(&mut index.by_service, name, (start, trace_id));
            }
            for name in &changes.new_operations {
                add_posting(&mut index.by_operation, name, (start, trace_id));
            }
        } else {
            if let Some(os) = old_start {
                index.by_start.remove(&(os, trace_id));
            }
            index.by_start.insert((start, trace_id));
            rekey(
                &mut index.by_service,
                trace.services(),
                old_start,
                (start, trace_id),
            );
            rekey(
                &mut index.by_operation,
                trace.operations(),
                old_start,
                (start, trace_id),
            );
        }
        replaced
    }

    /// Drops least recently active traces while over the byte bound.
    fn evict_over_bytes(&mut self) -> Evicted {
        let mut evicted = Evicted::default();
        while self.stats.bytes > self.options.max_bytes {
            let Some(&(_, id)) = self.index.by_activity.first() else {
                break;
            };
            evicted.traces += 1;
            evicted.spans += self.evict(id);
        }
        evicted
    }

    /// Removes one trace from the store and every index; returns how many spans it held.
    fn evict(&mut self, trace_id: TraceId) -> usize {
        let Some(trace) = self.traces.remove(&trace_id) else {
            // Indexed but not stored would be a bug; unindex so eviction loops still progress.
            self.index.by_activity.retain(|(_, id)| *id != trace_id);
            return 0;
        };
        let (start, activity) = (trace.start_ns(), trace.last_activity_ns);
        let index = &mut self.index;
        index.by_start.remove(&(start, trace_id));
        index.by_activity.remove(&(activity, trace_id));
        index.pending.remove(&(activity, trace_id));
        for name in trace.services() {
            remove_posting(&mut index.by_service, name, (start, trace_id));
        }
        for name in trace.operations() {
            remove_posting(&mut index.by_operation, name, (start, trace_id));
        }
        for span in trace.spans() {
            self.span_trace.remove(&span.span_id);
        }
        let stats = &mut self.stats;
        stats.traces = stats.traces.saturating_sub(1);
        stats.spans = stats.spans.saturating_sub(trace.len());
        stats.open_spans = stats.open_spans.saturating_sub(trace.open());
        stats.bytes = stats.bytes.saturating_sub(trace.bytes());
        trace.len()
    }
}

/// Moves each of `names` from `old_start` (if it was indexed) to the new key.
fn rekey<'a>(
    postings: &mut index::Postings,
    names: impl Iterator<Item = &'a String>,
    old_start: Option<UnixNanos>,
    key: index::Key,
) {
    for name in names {
        if let Some(os) = old_start {
            remove_posting(postings, name, (os, key.1));
        }
        add_posting(postings, name, key);
    }
}

#[cfg(test)]
mod tests;
