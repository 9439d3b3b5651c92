//! The log store: records in arrival order, bounded by count, bytes and age, with
//! service/severity/text/trace filters. Parsing `level=` names and durations is the API's job.

use blazar_model::{LogRecord, Severity, TraceId, UnixNanos};

use crate::retention::{Retention, Ring};

/// Bounds of a [`LogStore`]; each is taken literally (see [`Retention`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStoreOptions {
    /// Records whose timestamp is older than this at [`LogStore::retain`] time are dropped.
    pub max_age_ns: i64,
    /// Bound on the approximate bytes held.
    pub max_bytes: usize,
    /// Bound on the number of records held.
    pub max_records: usize,
}

impl LogStoreOptions {
    /// Returns these bounds as the shared retention policy.
    pub fn retention(&self) -> Retention {
        Retention {
            max_age_ns: self.max_age_ns,
            max_bytes: self.max_bytes,
            max_items: self.max_records,
        }
    }
}

/// Filters for [`LogStore::query`]; every set filter must match.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// Exact service name.
    pub service: Option<String>,
    /// Records at this severity or above.
    pub min_severity: Option<Severity>,
    /// Case-insensitive substring of the body.
    pub text: Option<String>,
    /// Records correlated with this trace.
    pub trace_id: Option<TraceId>,
    /// Records with `timestamp_ns >= since_ns`.
    pub since_ns: Option<UnixNanos>,
    /// At most this many (the newest); `0` returns none. Defaults to no limit.
    pub limit: usize,
}

impl Default for LogQuery {
    fn default() -> Self {
        Self {
            service: None,
            min_severity: None,
            text: None,
            trace_id: None,
            since_ns: None,
            limit: usize::MAX,
        }
    }
}

/// A [`LogQuery`] with its text needle lowercased once.
struct Matcher<'q> {
    query: &'q LogQuery,
    needle: Option<String>,
}

impl<'q> Matcher<'q> {
    fn new(query: &'q LogQuery) -> Self {
        Self {
            query,
            needle: query.text.as_ref().map(|t| t.to_lowercase()),
        }
    }

    fn matches(&self, r: &LogRecord) -> bool {
        let q = self.query;
        q.service.as_ref().is_none_or(|s| *s == r.service)
            && q.min_severity.is_none_or(|s| r.severity >= s)
            && q.trace_id.is_none_or(|t| r.trace_id == Some(t))
            && q.since_ns.is_none_or(|t| r.timestamp_ns >= t)
            && self
                .needle
                .as_ref()
                .is_none_or(|n| contains_ignore_case(&r.body, n))
    }
}

/// Returns whether `haystack` contains `needle_lower` (already lowercased), ignoring case.
fn contains_ignore_case(haystack: &str, needle_lower: &str) -> bool {
    if needle_lower.is_ascii() {
        // Fast path without allocating: ASCII needles can only match ASCII bytes, and
        // comparing byte windows never splits a match across a multi-byte character.
        let n = needle_lower.as_bytes();
        n.is_empty()
            || haystack
                .as_bytes()
                .windows(n.len())
                .any(|w| w.eq_ignore_ascii_case(n))
    } else {
        haystack.to_lowercase().contains(needle_lower)
    }
}

/// Log records in arrival order (oldest first).
#[derive(Debug)]
pub struct LogStore {
    limits: Retention,
    ring: Ring<LogRecord>,
}

// === impl LogStore ===

impl LogStore {
    /// Returns an empty store with these bounds.
    pub fn new(options: LogStoreOptions) -> Self {
        Self {
            limits: options.retention(),
            ring: Ring::default(),
        }
    }

    /// Appends `record`, then evicts oldest first while over the count or byte bound; returns
    /// how many were evicted (this record too, if it alone is over the byte bound).
    pub fn insert(&mut self, record: LogRecord) -> usize {
        let bytes = record.approx_bytes();
        self.ring.push(record, bytes);
        self.ring.evict_over(&self.limits, |_| {})
    }

    /// Returns the newest (latest arrived) `query.limit` matching records, in ascending
    /// timestamp order (arrival order among equal timestamps).
    pub fn query(&self, query: &LogQuery) -> Vec<&LogRecord> {
        let matcher = Matcher::new(query);
        let mut out: Vec<&LogRecord> = self
            .ring
            .iter()
            .rev()
            .filter(|r| matcher.matches(r))
            .take(query.limit)
            .collect();
        out.reverse();
        // Stable: arrival order is kept among records with the same timestamp.
        out.sort_by_key(|r| r.timestamp_ns);
        out
    }

    /// Drops every record whose timestamp is older than `max_age_ns` at `now_ns`; returns how many.
    pub fn retain(&mut self, now_ns: UnixNanos) -> usize {
        let cutoff = self.limits.cutoff_ns(now_ns);
        self.ring.retain(|r| r.timestamp_ns >= cutoff, |_| {})
    }

    /// Replaces the bounds (config reload) and evicts at once, oldest first, to meet the count
    /// and byte bounds; returns how many were evicted. A shorter age applies at the next
    /// [`LogStore::retain`].
    pub fn set_limits(&mut self, options: LogStoreOptions) -> usize {
        self.limits = options.retention();
        self.ring.evict_over(&self.limits, |_| {})
    }

    /// Returns the number of records held.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Returns whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.ring.len() == 0
    }

    /// Returns the approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.ring.bytes()
    }

    /// Iterates records oldest first (for checkpoints).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogRecord> + '_ {
        self.ring.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn opts(max_records: usize) -> LogStoreOptions {
        LogStoreOptions {
            max_age_ns: i64::MAX,
            max_bytes: usize::MAX,
            max_records,
        }
    }

    fn rec(ts: i64, severity: Severity, service: &str, body: &str) -> LogRecord {
        LogRecord {
            timestamp_ns: ts,
            severity,
            body: body.to_string(),
            service: service.to_string(),
            attributes: BTreeMap::new(),
            trace_id: None,
            span_id: None,
            ..LogRecord::default()
        }
    }

    fn bodies(res: &[&LogRecord]) -> Vec<String> {
        res.iter().map(|r| r.body.clone()).collect()
    }

    fn store() -> LogStore {
        let mut s = LogStore::new(opts(100));
        s.insert(rec(1, Severity::Debug, "api", "cache miss"));
        s.insert(rec(2, Severity::Warn, "api", "Slow Query took 2s"));
        s.insert(rec(3, Severity::Error, "db", "connection refused"));
        s.insert(rec(4, Severity::Info, "api", "request done"));
        s.insert(rec(
            5,
            Severity::Fatal,
            "api",
            "out of memory: QUERY buffer",
        ));
        s
    }

    #[test]
    fn severity_is_a_minimum() {
        let s = store();
        let res = s.query(&LogQuery {
            min_severity: Some(Severity::Warn),
            ..Default::default()
        });
        assert_eq!(
            bodies(&res),
            [
                "Slow Query took 2s",
                "connection refused",
                "out of memory: QUERY buffer"
            ]
        );
    }

    #[test]
    fn text_is_case_insensitive_substring() {
        let s = store();
        let res = s.query(&LogQuery {
            text: Some("query".into()),
            ..Default::default()
        });
        assert_eq!(
            bodies(&res),
            ["Slow Query took 2s", "out of memory: QUERY buffer"]
        );
        let mut u = LogStore::new(opts(10));
        u.insert(rec(1, Severity::Info, "x", "Ärger im Büro"));
        assert_eq!(
            u.query(&LogQuery {
                text: Some("BÜRO".into()),
                ..Default::default()
            })
            .len(),
            1
        );
    }

    #[test]
    fn service_trace_and_since_filters() {
        let mut s = store();
        let trace: TraceId = "5b8efff798038103d269b633813fc60c".parse().unwrap();
        s.insert(LogRecord {
            trace_id: Some(trace),
            ..rec(6, Severity::Info, "db", "in trace")
        });
        assert_eq!(
            s.query(&LogQuery {
                service: Some("db".into()),
                ..Default::default()
            })
            .len(),
            2
        );
        assert_eq!(
            bodies(&s.query(&LogQuery {
                trace_id: Some(trace),
                ..Default::default()
            })),
            ["in trace"]
        );
        assert_eq!(
            s.query(&LogQuery {
                since_ns: Some(4),
                ..Default::default()
            })
            .len(),
            3
        );
    }

    #[test]
    fn limit_keeps_newest_in_ascending_time_order() {
        let mut s = LogStore::new(opts(10));
        s.insert(rec(10, Severity::Info, "a", "first"));
        s.insert(rec(30, Severity::Info, "a", "third"));
        s.insert(rec(20, Severity::Info, "a", "second-late"));
        let res = s.query(&LogQuery {
            limit: 2,
            ..Default::default()
        });
        assert_eq!(bodies(&res), ["second-late", "third"]);
    }

    #[test]
    fn evicts_oldest_by_count_and_bytes() {
        let mut s = LogStore::new(opts(2));
        assert_eq!(s.insert(rec(1, Severity::Info, "a", "1")), 0);
        assert_eq!(s.insert(rec(2, Severity::Info, "a", "2")), 0);
        assert_eq!(s.insert(rec(3, Severity::Info, "a", "3")), 1);
        assert_eq!(bodies(&s.iter().collect::<Vec<_>>()), ["2", "3"]);
        let one = rec(3, Severity::Info, "a", "3").approx_bytes();
        assert_eq!(
            s.set_limits(LogStoreOptions {
                max_bytes: one,
                ..opts(10)
            }),
            1
        );
        assert_eq!(s.bytes(), one);
    }

    #[test]
    fn retain_drops_by_age() {
        let mut s = store();
        s.set_limits(LogStoreOptions {
            max_age_ns: 2,
            ..opts(100)
        });
        assert_eq!(s.retain(5), 2);
        assert_eq!(s.len(), 3);
    }
}
