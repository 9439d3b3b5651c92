//! The trace store's secondary indexes, each an ordered set of `(time, trace id)` keys so
//! list queries walk newest first and stop at their limit instead of scanning every trace.

use std::collections::{BTreeSet, HashMap};

use blazar_model::{TraceId, UnixNanos};

/// `(time, trace)`: the time is the trace start or its last activity, depending on the set.
pub(super) type Key = (UnixNanos, TraceId);

/// Postings from a name (service, operation) to the traces containing it, keyed by trace start.
pub(super) type Postings = HashMap<String, BTreeSet<Key>>;

const MIN_ID: TraceId = TraceId([0; 16]);
const MAX_ID: TraceId = TraceId([0xff; 16]);

#[derive(Debug, Default)]
pub(super) struct Index {
    /// Every trace by start.
    pub(super) by_start: BTreeSet<Key>,
    /// Every trace by last activity: age retention and byte eviction go oldest first here.
    pub(super) by_activity: BTreeSet<Key>,
    /// Unpublished traces by last activity: candidates for `take_completed`.
    pub(super) pending: BTreeSet<Key>,
    pub(super) by_service: Postings,
    pub(super) by_operation: Postings,
}

pub(super) fn add_posting(postings: &mut Postings, name: &str, key: Key) {
    match postings.get_mut(name) {
        Some(set) => {
            set.insert(key);
        }
        None => {
            postings.insert(name.to_string(), BTreeSet::from([key]));
        }
    }
}

/// Removes `key` under `name` (a no-op if absent) and drops the name once it has no traces.
pub(super) fn remove_posting(postings: &mut Postings, name: &str, key: Key) {
    if let Some(set) = postings.get_mut(name) {
        set.remove(&key);
        if set.is_empty() {
            postings.remove(name);
        }
    }
}

/// Returns the keys of `set` whose time lies in `[lo, hi]`, newest first.
pub(super) fn newest_first(
    set: &BTreeSet<Key>,
    lo: UnixNanos,
    hi: UnixNanos,
) -> impl Iterator<Item = &Key> + '_ {
    // BTreeSet::range panics on an inverted range; an empty result is the right answer.
    let range = (lo <= hi).then(|| set.range((lo, MIN_ID)..=(hi, MAX_ID)));
    range.into_iter().flatten().rev()
}
