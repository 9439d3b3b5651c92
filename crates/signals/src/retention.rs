//! The one retention policy the three stores share (age, bytes, count), and the bounded
//! arrival-ordered queue that events and logs are kept in. Traces evict whole traces instead.

use std::collections::VecDeque;

use blazar_model::UnixNanos;

/// Bounds on a store: what is older, bigger or more numerous than this goes, oldest first.
///
/// Limits are taken literally (`max_items: 0` keeps nothing); use `i64::MAX` / `usize::MAX`
/// for "no bound", as [`Retention::UNBOUNDED`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Items older than this many nanoseconds (relative to `now_ns`) are dropped.
    pub max_age_ns: i64,
    /// Approximate heap bytes held (the model's `approx_bytes()`), summed over items.
    pub max_bytes: usize,
    /// Number of items held.
    pub max_items: usize,
}

impl Retention {
    /// A policy that never evicts.
    pub const UNBOUNDED: Self = Self {
        max_age_ns: i64::MAX,
        max_bytes: usize::MAX,
        max_items: usize::MAX,
    };

    /// Returns the oldest timestamp kept at `now_ns`: anything strictly before it has expired.
    pub fn cutoff_ns(&self, now_ns: UnixNanos) -> UnixNanos {
        now_ns.saturating_sub(self.max_age_ns.max(0))
    }

    /// Returns whether an item stamped `ts_ns` is older than `max_age_ns` at `now_ns`.
    pub fn is_expired(&self, ts_ns: UnixNanos, now_ns: UnixNanos) -> bool {
        ts_ns < self.cutoff_ns(now_ns)
    }

    /// Returns whether `items` items of `bytes` total bytes exceed the count or byte bound.
    pub fn is_over(&self, items: usize, bytes: usize) -> bool {
        items > self.max_items || bytes > self.max_bytes
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self::UNBOUNDED
    }
}

/// One queued item with the byte size it was charged at when pushed.
#[derive(Debug)]
struct Slot<T> {
    value: T,
    bytes: usize,
}

/// An arrival-ordered queue (oldest at the front) that keeps its byte total and evicts
/// from the front; `on_evict` sees every dropped item so callers can fix their indexes.
#[derive(Debug)]
pub(crate) struct Ring<T> {
    slots: VecDeque<Slot<T>>,
    bytes: usize,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Self {
            slots: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl<T> Ring<T> {
    /// Appends `value`, charging it `bytes`; does not evict (call [`Ring::evict_over`]).
    pub(crate) fn push(&mut self, value: T, bytes: usize) {
        self.bytes = self.bytes.saturating_add(bytes);
        self.slots.push_back(Slot { value, bytes });
    }

    /// Drops items from the front until the count and byte bounds hold; returns how many.
    pub(crate) fn evict_over(&mut self, limits: &Retention, mut on_evict: impl FnMut(&T)) -> usize {
        let mut evicted = 0;
        while limits.is_over(self.slots.len(), self.bytes) {
            let Some(slot) = self.slots.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(slot.bytes);
            on_evict(&slot.value);
            evicted += 1;
        }
        evicted
    }

    /// Drops every item for which `keep` is false, wherever it sits; returns how many.
    pub(crate) fn retain(
        &mut self,
        mut keep: impl FnMut(&T) -> bool,
        mut on_evict: impl FnMut(&T),
    ) -> usize {
        let before = self.slots.len();
        let mut freed = 0usize;
        self.slots.retain(|slot| {
            if keep(&slot.value) {
                true
            } else {
                freed = freed.saturating_add(slot.bytes);
                on_evict(&slot.value);
                false
            }
        });
        self.bytes = self.bytes.saturating_sub(freed);
        before - self.slots.len()
    }

    /// Returns the number of items held.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Returns the approximate bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Returns the index of the first item for which `pred` is false (items must be partitioned).
    pub(crate) fn partition_point(&self, mut pred: impl FnMut(&T) -> bool) -> usize {
        self.slots.partition_point(|slot| pred(&slot.value))
    }

    /// Iterates items oldest first, starting at position `from` (empty if past the end).
    pub(crate) fn iter_from(&self, from: usize) -> impl DoubleEndedIterator<Item = &T> + '_ {
        let from = from.min(self.slots.len());
        self.slots.range(from..).map(|slot| &slot.value)
    }

    /// Iterates items oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.slots.iter().map(|slot| &slot.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_items: usize, max_bytes: usize) -> Retention {
        Retention {
            max_items,
            max_bytes,
            ..Retention::UNBOUNDED
        }
    }

    #[test]
    fn evicts_front_until_within_count_and_bytes() {
        let mut ring = Ring::default();
        for i in 0..5 {
            ring.push(i, 10);
        }
        let mut seen = Vec::new();
        assert_eq!(
            ring.evict_over(&limits(3, usize::MAX), |v| seen.push(*v)),
            2
        );
        assert_eq!(seen, vec![0, 1]);
        assert_eq!(ring.evict_over(&limits(10, 15), |_| {}), 2);
        assert_eq!(ring.iter().copied().collect::<Vec<_>>(), vec![4]);
        assert_eq!(ring.bytes(), 10);
    }

    #[test]
    fn retain_keeps_byte_total() {
        let mut ring = Ring::default();
        for i in 0..6 {
            ring.push(i, i);
        }
        assert_eq!(ring.retain(|v| v % 2 == 0, |_| {}), 3);
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.bytes(), 2 + 4);
    }

    #[test]
    fn cutoff_saturates_and_ignores_negative_age() {
        let r = Retention {
            max_age_ns: 10,
            ..Retention::UNBOUNDED
        };
        assert!(r.is_expired(89, 100));
        assert!(!r.is_expired(90, 100));
        assert_eq!(Retention::UNBOUNDED.cutoff_ns(i64::MIN + 5), i64::MIN);
        let negative = Retention {
            max_age_ns: -5,
            ..Retention::UNBOUNDED
        };
        assert_eq!(negative.cutoff_ns(100), 100);
    }
}
