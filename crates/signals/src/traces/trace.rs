//! One stored trace: its spans plus running aggregates (start, end, open and error counts,
//! bytes, services and operations) so summaries and filters don't rescan every span.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use blazar_model::{Span, SpanId, SpanStatus, TraceId, UnixNanos};

use super::TraceSummary;

/// A span with the byte size it was charged at.
#[derive(Debug)]
struct Stored {
    span: Span,
    bytes: usize,
    /// Already handed to [`Trace::count_ended`] (derived metrics counted it); kept when the
    /// span is replaced, so a retried or re-sent span is not counted twice.
    counted: bool,
}

/// Service and operation names whose per-trace span count crossed zero in one change; the
/// store uses them to keep its postings in step without re-indexing the whole trace.
#[derive(Debug, Default)]
pub(super) struct KeyChanges {
    pub(super) gone_services: Vec<String>,
    pub(super) gone_operations: Vec<String>,
    pub(super) new_services: Vec<String>,
    pub(super) new_operations: Vec<String>,
}

/// The spans of one trace and their aggregates. Never empty while stored in the store.
#[derive(Debug)]
pub(super) struct Trace {
    spans: HashMap<SpanId, Stored>,
    /// Earliest span start; `i64::MAX` only transiently while empty.
    start_ns: UnixNanos,
    /// Latest end among ended spans.
    max_end_ns: Option<UnixNanos>,
    open: usize,
    errors: usize,
    bytes: usize,
    services: BTreeMap<String, usize>,
    operations: BTreeMap<String, usize>,
    /// Server time (`now_ns`) of the last insert or update; never moves backwards.
    pub(super) last_activity_ns: UnixNanos,
    /// Returned by `take_completed` and untouched since.
    pub(super) published: bool,
}

impl Trace {
    pub(super) fn new(now_ns: UnixNanos) -> Self {
        Self {
            spans: HashMap::new(),
            start_ns: i64::MAX,
            max_end_ns: None,
            open: 0,
            errors: 0,
            bytes: 0,
            services: BTreeMap::new(),
            operations: BTreeMap::new(),
            last_activity_ns: now_ns,
            published: false,
        }
    }

    /// Inserts `span`, replacing the one with the same id; returns whether it replaced one.
    pub(super) fn put(&mut self, span: Span, changes: &mut KeyChanges) -> bool {
        let old = self.spans.remove(&span.span_id);
        let replaced = old.is_some();
        if let Some(old) = &old {
            self.subtract(old, changes);
        }
        let stored = Stored {
            bytes: span.approx_bytes(),
            counted: old.as_ref().is_some_and(|o| o.counted),
            span,
        };
        self.add(&stored, changes);
        self.spans.insert(stored.span.span_id, stored);
        replaced
    }

    fn subtract(&mut self, old: &Stored, changes: &mut KeyChanges) {
        let span = &old.span;
        self.bytes = self.bytes.saturating_sub(old.bytes);
        if span.end_unix_nano.is_none() {
            self.open = self.open.saturating_sub(1);
        }
        if span.status == SpanStatus::Error {
            self.errors = self.errors.saturating_sub(1);
        }
        if decrement(&mut self.services, &span.service) {
            changes.gone_services.push(span.service.clone());
        }
        if decrement(&mut self.operations, &span.name) {
            changes.gone_operations.push(span.name.clone());
        }
        // Min/max can't be un-applied; rescan only when the removed span held one of them.
        if span.start_unix_nano <= self.start_ns
            || span
                .end_unix_nano
                .is_some_and(|e| Some(e) >= self.max_end_ns)
        {
            self.start_ns = self
                .spans
                .values()
                .map(|s| s.span.start_unix_nano)
                .min()
                .unwrap_or(i64::MAX);
            self.max_end_ns = self
                .spans
                .values()
                .filter_map(|s| s.span.end_unix_nano)
                .max();
        }
    }

    fn add(&mut self, stored: &Stored, changes: &mut KeyChanges) {
        let span = &stored.span;
        self.bytes = self.bytes.saturating_add(stored.bytes);
        if span.end_unix_nano.is_none() {
            self.open += 1;
        }
        if span.status == SpanStatus::Error {
            self.errors += 1;
        }
        if increment(&mut self.services, &span.service) {
            changes.new_services.push(span.service.clone());
        }
        if increment(&mut self.operations, &span.name) {
            changes.new_operations.push(span.name.clone());
        }
        self.start_ns = self.start_ns.min(span.start_unix_nano);
        self.max_end_ns = self.max_end_ns.max(span.end_unix_nano);
    }

    /// Calls `f` with each ended span not counted before, then marks it counted; returns how
    /// many it visited. Open spans are left for a later call (their duration is unknown).
    pub(super) fn count_ended(&mut self, mut f: impl FnMut(&Span)) -> usize {
        let mut n = 0;
        for s in self.spans.values_mut() {
            if !s.counted && s.span.end_unix_nano.is_some() {
                s.counted = true;
                f(&s.span);
                n += 1;
            }
        }
        n
    }

    pub(super) fn span(&self, id: SpanId) -> Option<&Span> {
        self.spans.get(&id).map(|s| &s.span)
    }

    pub(super) fn spans(&self) -> impl Iterator<Item = &Span> + '_ {
        self.spans.values().map(|s| &s.span)
    }

    /// Spans with whether each was counted in the derived metrics.
    pub(super) fn spans_counted(&self) -> impl Iterator<Item = (&Span, bool)> + '_ {
        self.spans.values().map(|s| (&s.span, s.counted))
    }

    /// Whether the trace completed at least once (it may be pending again after a late span).
    pub(super) fn ever_completed(&self) -> bool {
        self.published || self.spans.values().any(|s| s.counted)
    }

    /// Returns the spans sorted by start time (then span id, for a stable order).
    pub(super) fn sorted_spans(&self) -> Vec<&Span> {
        let mut spans: Vec<&Span> = self.spans().collect();
        spans.sort_by_key(|s| (s.start_unix_nano, s.span_id));
        spans
    }

    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(super) fn open(&self) -> usize {
        self.open
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn start_ns(&self) -> UnixNanos {
        self.start_ns
    }

    pub(super) fn error_count(&self) -> usize {
        self.errors
    }

    pub(super) fn services(&self) -> impl Iterator<Item = &String> + '_ {
        self.services.keys()
    }

    pub(super) fn operations(&self) -> impl Iterator<Item = &String> + '_ {
        self.operations.keys()
    }

    pub(super) fn has_service(&self, service: &str) -> bool {
        self.services.contains_key(service)
    }

    pub(super) fn has_operation(&self, name: &str) -> bool {
        self.operations.contains_key(name)
    }

    /// Returns the latest end, once every span has ended.
    pub(super) fn end_ns(&self) -> Option<UnixNanos> {
        if self.open > 0 {
            return None;
        }
        self.max_end_ns
    }

    /// Returns trace start to latest end, once every span has ended.
    pub(super) fn duration_ns(&self) -> Option<i64> {
        self.end_ns()
            .map(|end| end.saturating_sub(self.start_ns).max(0))
    }

    /// Returns the root: the earliest span with no parent or whose parent isn't in the trace;
    /// if parent links form a cycle, the earliest span.
    pub(super) fn root(&self) -> Option<&Span> {
        let is_root = |s: &Span| {
            s.parent_span_id
                .is_none_or(|p| !self.spans.contains_key(&p))
        };
        let earliest = |s: &&Span| (s.start_unix_nano, s.span_id);
        self.spans()
            .filter(|s| is_root(s))
            .min_by_key(earliest)
            .or_else(|| self.spans().min_by_key(earliest))
    }

    /// Returns whether the root span has ended.
    pub(super) fn is_root_ended(&self) -> bool {
        self.root().is_some_and(|r| r.end_unix_nano.is_some())
    }

    /// Returns whether any span has attribute (or resource attribute) `key` rendering as `value`.
    pub(super) fn has_tag(&self, key: &str, value: &str) -> bool {
        self.spans().any(|s| {
            s.attributes
                .get(key)
                .is_some_and(|v| render_value(v) == value)
                || s.resource
                    .get(key)
                    .is_some_and(|v| render_value(v) == value)
        })
    }

    pub(super) fn summary(&self, trace_id: TraceId) -> TraceSummary {
        let root = self.root();
        let status = if self.errors > 0 {
            SpanStatus::Error
        } else if self.open == 0 {
            SpanStatus::Ok
        } else {
            SpanStatus::Unset
        };
        TraceSummary {
            trace_id,
            root_service: root.map(|r| r.service.clone()).unwrap_or_default(),
            root_name: root.map(|r| r.name.clone()).unwrap_or_default(),
            start_ns: self.start_ns,
            end_ns: self.end_ns(),
            duration_ns: self.duration_ns(),
            span_count: self.spans.len(),
            error_count: self.errors,
            services: self.services.keys().cloned().collect(),
            status,
            complete: self.published,
            ever_completed: self.ever_completed(),
        }
    }
}

/// Renders an attribute value as tag filters compare it: strings without quotes, numbers and
/// booleans as text, anything else as compact JSON.
pub(super) fn render_value(value: &serde_json::Value) -> Cow<'_, str> {
    match value {
        serde_json::Value::String(s) => Cow::Borrowed(s),
        serde_json::Value::Bool(true) => Cow::Borrowed("true"),
        serde_json::Value::Bool(false) => Cow::Borrowed("false"),
        serde_json::Value::Null => Cow::Borrowed("null"),
        other => Cow::Owned(other.to_string()),
    }
}

/// Counts one more `key`; returns whether it was absent before.
fn increment(counts: &mut BTreeMap<String, usize>, key: &str) -> bool {
    match counts.get_mut(key) {
        Some(n) => {
            *n += 1;
            false
        }
        None => {
            counts.insert(key.to_string(), 1);
            true
        }
    }
}

/// Counts one less `key`; returns whether that was the last one (the key is removed).
fn decrement(counts: &mut BTreeMap<String, usize>, key: &str) -> bool {
    let Some(n) = counts.get_mut(key) else {
        return false;
    };
    *n = n.saturating_sub(1);
    if *n == 0 {
        counts.remove(key);
        return true;
    }
    false
}
