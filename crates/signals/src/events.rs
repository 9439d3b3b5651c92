//! The event store (seed 002 events): arrival-ordered, sequence-numbered, bounded by count,
//! bytes and age, deduplicated by `event_id`. Sampling and type filtering happen before it.

use std::collections::{BTreeMap, HashMap};

use blazar_model::{Event, Glob, UnixNanos};

use crate::retention::{Retention, Ring};

/// Bounds of an [`EventStore`]; each is taken literally (see [`Retention`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventStoreOptions {
    /// Hard bound on stored events (seed 002's `buffer_size`).
    pub max_events: usize,
    /// Bound on the approximate bytes held.
    pub max_bytes: usize,
    /// Events whose timestamp is older than this at [`EventStore::retain`] time are dropped.
    pub max_age_ns: i64,
}

impl EventStoreOptions {
    /// Returns these bounds as the shared retention policy.
    pub fn retention(&self) -> Retention {
        Retention {
            max_age_ns: self.max_age_ns,
            max_bytes: self.max_bytes,
            max_items: self.max_events,
        }
    }
}

/// What [`EventStore::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// The event's sequence number; for a duplicate, the one already stored.
    pub seq: u64,
    /// Events dropped (oldest first) to stay within bounds; may include this one if it alone
    /// is over the byte bound.
    pub evicted: usize,
    /// Whether an event with the same `event_id` was already stored (nothing was inserted).
    pub duplicate: bool,
}

/// Filters for [`EventStore::query`]; every set filter must match.
#[derive(Debug, Clone)]
pub struct EventQuery {
    /// Glob over `event_type` (e.g. `user.*`).
    pub event_type: Option<Glob>,
    /// Exact `source`.
    pub source: Option<String>,
    /// Events with `timestamp_ns >= since_ns`.
    pub since_ns: Option<UnixNanos>,
    /// Events with `timestamp_ns <= until_ns`.
    pub until_ns: Option<UnixNanos>,
    /// Cursor: only events with a sequence number greater than this.
    pub after_seq: Option<u64>,
    /// At most this many results; `0` returns none. Defaults to no limit.
    pub limit: usize,
}

impl Default for EventQuery {
    fn default() -> Self {
        Self {
            event_type: None,
            source: None,
            since_ns: None,
            until_ns: None,
            after_seq: None,
            limit: usize::MAX,
        }
    }
}

impl EventQuery {
    fn matches(&self, event: &Event) -> bool {
        self.event_type
            .as_ref()
            .is_none_or(|g| g.matches(&event.event_type))
            && self.source.as_ref().is_none_or(|s| *s == event.source)
            && self.since_ns.is_none_or(|t| event.timestamp_ns >= t)
            && self.until_ns.is_none_or(|t| event.timestamp_ns <= t)
    }
}

#[derive(Debug)]
struct Stored {
    seq: u64,
    event: Event,
}

/// Events in server arrival order, each with a sequence number (starting at 1) that orders
/// queries and serves as a batch cursor; timestamps come from clients and are not assumed
/// to be ordered.
#[derive(Debug)]
pub struct EventStore {
    limits: Retention,
    ring: Ring<Stored>,
    next_seq: u64,
    by_id: HashMap<String, u64>,
    type_counts: BTreeMap<String, u64>,
}

// === impl EventStore ===

impl EventStore {
    /// Returns an empty store with these bounds.
    pub fn new(options: EventStoreOptions) -> Self {
        Self {
            limits: options.retention(),
            ring: Ring::default(),
            next_seq: 1,
            by_id: HashMap::new(),
            type_counts: BTreeMap::new(),
        }
    }

    /// Appends `event` with the next sequence number, then evicts oldest first while over the
    /// count or byte bound. An `event_id` already stored is ignored (`duplicate: true`), which
    /// keeps WAL replay idempotent.
    pub fn insert(&mut self, event: Event) -> Inserted {
        let seq = self.next_seq;
        self.insert_at(event, seq)
    }

    /// Inserts an event under a known sequence number (restoring a checkpoint, so cursors held
    /// by readers stay valid across a restart); later inserts continue above it. `seq` must be
    /// above every stored one.
    pub fn insert_with_seq(&mut self, event: Event, seq: u64) -> Inserted {
        let seq = seq.max(self.next_seq);
        self.insert_at(event, seq)
    }

    fn insert_at(&mut self, event: Event, seq: u64) -> Inserted {
        if let Some(seq) = self.by_id.get(&event.event_id) {
            return Inserted {
                seq: *seq,
                evicted: 0,
                duplicate: true,
            };
        }
        self.next_seq = seq.saturating_add(1);
        self.by_id.insert(event.event_id.clone(), seq);
        *self
            .type_counts
            .entry(event.event_type.clone())
            .or_insert(0) += 1;
        let bytes = event.approx_bytes();
        self.ring.push(Stored { seq, event }, bytes);
        let evicted = self.evict_over();
        Inserted {
            seq,
            evicted,
            duplicate: false,
        }
    }

    /// Returns matching events with their sequence numbers, oldest (lowest seq) first, at most
    /// `query.limit`. Read in batches by passing the last seq returned as `after_seq`.
    pub fn query(&self, query: &EventQuery) -> Vec<(u64, &Event)> {
        let from = match query.after_seq {
            Some(after) => self.ring.partition_point(|s| s.seq <= after),
            None => 0,
        };
        self.ring
            .iter_from(from)
            .filter(|s| query.matches(&s.event))
            .take(query.limit)
            .map(|s| (s.seq, &s.event))
            .collect()
    }

    /// Drops every event whose timestamp is older than `max_age_ns` at `now_ns`; returns how many.
    pub fn retain(&mut self, now_ns: UnixNanos) -> usize {
        let cutoff = self.limits.cutoff_ns(now_ns);
        let Self {
            ring,
            by_id,
            type_counts,
            ..
        } = self;
        ring.retain(
            |s| s.event.timestamp_ns >= cutoff,
            |s| forget(by_id, type_counts, s),
        )
    }

    /// Replaces the bounds (config reload) and evicts at once, oldest first, to meet the count
    /// and byte bounds; returns how many were evicted. A shorter age applies at the next
    /// [`EventStore::retain`].
    pub fn set_limits(&mut self, options: EventStoreOptions) -> usize {
        self.limits = options.retention();
        self.evict_over()
    }

    /// Returns the number of events held.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Returns whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.ring.len() == 0
    }

    /// Returns the approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.ring.bytes()
    }

    /// Iterates stored events with their sequence numbers, oldest first (for checkpoints).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &Event)> + '_ {
        self.ring.iter().map(|s| (s.seq, &s.event))
    }

    /// Returns how many events of each type are held now.
    pub fn type_counts(&self) -> &BTreeMap<String, u64> {
        &self.type_counts
    }

    fn evict_over(&mut self) -> usize {
        let Self {
            ring,
            by_id,
            type_counts,
            limits,
            ..
        } = self;
        ring.evict_over(limits, |s| forget(by_id, type_counts, s))
    }
}

/// Removes an evicted event from the id and type indexes.
fn forget(
    by_id: &mut HashMap<String, u64>,
    type_counts: &mut BTreeMap<String, u64>,
    stored: &Stored,
) {
    // Only drop the id if it still points at this event; ids are unique while stored, so this
    // is belt and braces against a future change to duplicate handling.
    if by_id.get(&stored.event.event_id) == Some(&stored.seq) {
        by_id.remove(&stored.event.event_id);
    }
    if let Some(n) = type_counts.get_mut(&stored.event.event_type) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            type_counts.remove(&stored.event.event_type);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opts(max_events: usize) -> EventStoreOptions {
        EventStoreOptions {
            max_events,
            max_bytes: usize::MAX,
            max_age_ns: i64::MAX,
        }
    }

    fn event(id: &str, event_type: &str, source: &str, ts: i64) -> Event {
        Event {
            event_id: id.to_string(),
            timestamp_ns: ts,
            event_type: event_type.to_string(),
            source: source.to_string(),
            data: serde_json::json!({"n": 1}),
            metadata: serde_json::Map::new(),
        }
    }

    fn ids(res: &[(u64, &Event)]) -> Vec<String> {
        res.iter().map(|(_, e)| e.event_id.clone()).collect()
    }

    #[test]
    fn query_is_in_arrival_order_not_timestamp_order() {
        let mut store = EventStore::new(opts(10));
        store.insert(event("a", "t", "s", 300));
        store.insert(event("b", "t", "s", 100));
        store.insert(event("c", "t", "s", 200));
        let res = store.query(&EventQuery::default());
        assert_eq!(ids(&res), ["a", "b", "c"]);
        assert_eq!(res.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn after_seq_reads_in_batches() {
        let mut store = EventStore::new(opts(100));
        for i in 0..7 {
            store.insert(event(&format!("e{i}"), "t", "s", i));
        }
        let mut cursor = None;
        let mut batches = Vec::new();
        loop {
            let batch = store.query(&EventQuery {
                after_seq: cursor,
                limit: 3,
                ..EventQuery::default()
            });
            let Some((last, _)) = batch.last() else { break };
            cursor = Some(*last);
            batches.push(ids(&batch));
        }
        assert_eq!(
            batches,
            [vec!["e0", "e1", "e2"], vec!["e3", "e4", "e5"], vec!["e6"]]
        );
    }

    #[test]
    fn glob_source_and_time_filters() {
        let mut store = EventStore::new(opts(100));
        store.insert(event("1", "user.login", "web", 10));
        store.insert(event("2", "user.logout", "web", 20));
        store.insert(event("3", "user.login", "cli", 30));
        store.insert(event("4", "system.boot", "web", 40));
        let q = |q: EventQuery| ids(&store.query(&q));
        assert_eq!(
            q(EventQuery {
                event_type: Some(Glob::new("user.*")),
                ..Default::default()
            }),
            ["1", "2", "3"]
        );
        assert_eq!(
            q(EventQuery {
                event_type: Some(Glob::new("user.*")),
                source: Some("web".into()),
                ..Default::default()
            }),
            ["1", "2"]
        );
        assert_eq!(
            q(EventQuery {
                since_ns: Some(20),
                until_ns: Some(30),
                ..Default::default()
            }),
            ["2", "3"]
        );
        assert!(q(EventQuery {
            limit: 0,
            ..Default::default()
        })
        .is_empty());
    }

    #[test]
    fn evicts_oldest_over_max_events_and_reports_it() {
        let mut store = EventStore::new(opts(2));
        assert_eq!(store.insert(event("a", "x", "s", 1)).evicted, 0);
        assert_eq!(store.insert(event("b", "y", "s", 2)).evicted, 0);
        let ins = store.insert(event("c", "y", "s", 3));
        assert_eq!(
            ins,
            Inserted {
                seq: 3,
                evicted: 1,
                duplicate: false
            }
        );
        assert_eq!(ids(&store.query(&EventQuery::default())), ["b", "c"]);
        assert_eq!(store.type_counts().get("x"), None);
        assert_eq!(store.type_counts().get("y"), Some(&2));
    }

    #[test]
    fn evicts_oldest_over_max_bytes() {
        let one = event("a", "t", "s", 1).approx_bytes();
        let mut store = EventStore::new(EventStoreOptions {
            max_events: 100,
            max_bytes: one * 2 + one / 2,
            max_age_ns: i64::MAX,
        });
        store.insert(event("a", "t", "s", 1));
        store.insert(event("b", "t", "s", 2));
        assert_eq!(store.insert(event("c", "t", "s", 3)).evicted, 1);
        assert_eq!(store.len(), 2);
        assert!(store.bytes() <= one * 2 + one / 2);
    }

    #[test]
    fn shrinking_limits_evicts_at_once() {
        let mut store = EventStore::new(opts(10));
        for i in 0..5 {
            store.insert(event(&i.to_string(), "t", "s", i));
        }
        assert_eq!(store.set_limits(opts(2)), 3);
        assert_eq!(ids(&store.iter().collect::<Vec<_>>()), ["3", "4"]);
    }

    #[test]
    fn duplicate_event_id_is_ignored_and_reported() {
        let mut store = EventStore::new(opts(10));
        let first = store.insert(event("same", "t", "s", 1));
        let again = store.insert(event("same", "t", "other", 2));
        assert_eq!(
            again,
            Inserted {
                seq: first.seq,
                evicted: 0,
                duplicate: true
            }
        );
        assert_eq!(store.len(), 1);
        assert_eq!(store.type_counts().get("t"), Some(&1));
    }

    #[test]
    fn evicted_event_id_may_be_inserted_again() {
        let mut store = EventStore::new(opts(1));
        store.insert(event("a", "t", "s", 1));
        store.insert(event("b", "t", "s", 2));
        assert!(!store.insert(event("a", "t", "s", 1)).duplicate);
    }

    #[test]
    fn retain_drops_events_older_than_max_age_anywhere() {
        let mut store = EventStore::new(EventStoreOptions {
            max_age_ns: 100,
            ..opts(10)
        });
        store.insert(event("new", "t", "s", 950));
        store.insert(event("old", "t", "s", 10));
        store.insert(event("edge", "t", "s", 900));
        assert_eq!(store.retain(1000), 1);
        assert_eq!(ids(&store.query(&EventQuery::default())), ["new", "edge"]);
        assert!(!store.insert(event("old", "t", "s", 10)).duplicate);
    }

    proptest! {
        #[test]
        fn never_over_max_events_and_seq_strictly_increases(
            max_events in 1usize..8,
            ops in proptest::collection::vec((0u8..12, 0i64..50, 0u8..3), 0..60),
            after in proptest::option::of(0u64..70),
            limit in 0usize..20,
        ) {
            let mut store = EventStore::new(opts(max_events));
            for (id, ts, ty) in ops {
                store.insert(event(&id.to_string(), &format!("type{ty}"), "s", ts));
                prop_assert!(store.len() <= max_events);
            }
            let res = store.query(&EventQuery { after_seq: after, limit, ..EventQuery::default() });
            prop_assert!(res.len() <= limit);
            prop_assert!(res.windows(2).all(|w| w[0].0 < w[1].0));
            prop_assert!(res.iter().all(|(seq, _)| after.is_none_or(|a| *seq > a)));
            let counted: u64 = store.type_counts().values().sum();
            prop_assert_eq!(counted, store.len() as u64);
        }
    }
}
