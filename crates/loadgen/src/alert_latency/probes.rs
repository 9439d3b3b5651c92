//! The probes' life cycle, pure (the caller passes the time): an idle probe is claimed by the
//! scheduler, its crossing sample is sent (value 1), the firing notification arrives (one
//! latency), the resolving sample is sent (value 0), and the resolved notification (after
//! `group_interval`) makes it idle again. A probe is reused only once blazar has closed its
//! notification group, so every crossing opens a fresh group and, with `group_wait: 0s`, is
//! notified in the pass that fires it.

use std::time::{Duration, Instant};

/// Latency records kept per figure; more are counted, not kept.
pub(crate) const MAX_RECORDS: usize = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    /// Chosen by the scheduler; its crossing sample is about to be sent.
    Claimed,
    /// The crossing sample left at `sent` (`sent_ns` in Unix time); waiting for the firing
    /// notification. `measured`: sent inside the measurement window.
    Firing {
        sent: Instant,
        sent_ns: i64,
        measured: bool,
    },
    /// The resolving sample was sent (or is about to be); waiting for the resolved
    /// notification.
    Resolving {
        since: Instant,
    },
}

/// What a firing notification for a probe meant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fired {
    /// The awaited one: `latency` after the crossing sample left (Unix ns `sent_ns`).
    Awaited {
        latency: Duration,
        sent_ns: i64,
        measured: bool,
    },
    /// Not awaited (a repeat, or after the probe timed out).
    Unexpected,
}

/// Every probe's state, and counts of what happened to them.
#[derive(Debug)]
pub(crate) struct Probes {
    states: Vec<State>,
    /// Each probe's last sample timestamp (Unix ms).
    last_ms: Vec<i64>,
    next: usize,
    /// Firing notifications never received within the timeout (measured crossings only).
    pub(crate) lost: u64,
    /// Probes whose resolved notification never came within the timeout.
    pub(crate) resolve_timeouts: u64,
}

impl Probes {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            states: vec![State::Idle; n],
            last_ms: vec![i64::MIN; n],
            next: 0,
            lost: 0,
            resolve_timeouts: 0,
        }
    }

    /// Claims the next idle probe in rotation, if any.
    pub(crate) fn claim(&mut self) -> Option<usize> {
        let n = self.states.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if let Some(s @ State::Idle) = self.states.get_mut(i) {
                *s = State::Claimed;
                self.next = (i + 1) % n;
                return Some(i);
            }
        }
        None
    }

    /// Returns the timestamp for probe `i`'s next sample: `now_ms`, or 1 ms after its last
    /// one if that is not older (every sample of a probe must be newer than the last to be
    /// stored).
    pub(crate) fn stamp(&mut self, i: usize, now_ms: i64) -> i64 {
        match self.last_ms.get_mut(i) {
            Some(last) => {
                *last = now_ms.max(last.saturating_add(1));
                *last
            }
            None => now_ms,
        }
    }

    /// Records that probe `i`'s crossing sample leaves now.
    pub(crate) fn sent(&mut self, i: usize, now: Instant, now_ns: i64, measured: bool) {
        if let Some(s @ State::Claimed) = self.states.get_mut(i) {
            *s = State::Firing {
                sent: now,
                sent_ns: now_ns,
                measured,
            };
        }
    }

    /// Takes a firing notification for probe `i` received at `now`; an awaited one moves the
    /// probe to resolving (the caller sends the resolving sample).
    pub(crate) fn fired(&mut self, i: usize, now: Instant) -> Fired {
        let Some(s) = self.states.get_mut(i) else {
            return Fired::Unexpected;
        };
        let State::Firing {
            sent,
            sent_ns,
            measured,
        } = *s
        else {
            return Fired::Unexpected;
        };
        *s = State::Resolving { since: now };
        Fired::Awaited {
            latency: now.saturating_duration_since(sent),
            sent_ns,
            measured,
        }
    }

    /// Takes a resolved notification for probe `i`: it is idle again. Returns whether it was
    /// awaited.
    pub(crate) fn resolved(&mut self, i: usize) -> bool {
        match self.states.get_mut(i) {
            Some(s @ State::Resolving { .. }) => {
                *s = State::Idle;
                true
            }
            _ => false,
        }
    }

    /// Gives up on notifications that did not come: a probe without its firing notification
    /// after `fire_timeout` moves to resolving (returned: the caller sends its resolving
    /// sample); one without its resolved notification after `resolve_timeout` becomes idle.
    pub(crate) fn expire(
        &mut self,
        now: Instant,
        fire_timeout: Duration,
        resolve_timeout: Duration,
    ) -> Vec<usize> {
        let mut resolve = Vec::new();
        for (i, s) in self.states.iter_mut().enumerate() {
            match *s {
                State::Firing { sent, measured, .. }
                    if now.saturating_duration_since(sent) >= fire_timeout =>
                {
                    if measured {
                        self.lost += 1;
                    }
                    *s = State::Resolving { since: now };
                    resolve.push(i);
                }
                State::Resolving { since }
                    if now.saturating_duration_since(since) >= resolve_timeout =>
                {
                    self.resolve_timeouts += 1;
                    *s = State::Idle;
                }
                _ => {}
            }
        }
        resolve
    }

    /// Whether probe `i` still waits for the firing notification of the crossing sent at `sent`.
    pub(crate) fn awaits_firing(&self, i: usize, sent: Instant) -> bool {
        matches!(self.states.get(i), Some(State::Firing { sent: t, .. }) if *t == sent)
    }

    /// Measured crossings still waiting for their firing notification.
    pub(crate) fn awaiting_measured(&self) -> usize {
        self.states
            .iter()
            .filter(|s| matches!(s, State::Firing { measured: true, .. }))
            .count()
    }

    /// Probes not idle.
    pub(crate) fn busy(&self) -> usize {
        self.states.iter().filter(|s| **s != State::Idle).count()
    }
}

/// Latencies in microseconds, at most [`MAX_RECORDS`].
#[derive(Debug, Default)]
pub(crate) struct Series {
    pub(crate) us: Vec<u64>,
    pub(crate) overflow: u64,
}

impl Series {
    pub(crate) fn push(&mut self, d: Duration) {
        self.push_us(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    pub(crate) fn push_us(&mut self, us: u64) {
        if self.us.len() < MAX_RECORDS {
            self.us.push(us);
        } else {
            self.overflow += 1;
        }
    }
}

/// What the measurement window recorded.
#[derive(Debug, Default)]
pub(crate) struct Records {
    /// Crossing sample sent → firing notification received.
    pub(crate) latency: Series,
    /// Crossing sample sent → its HTTP answer.
    pub(crate) ack: Series,
    /// Crossing sample sent → the notification's `timestamp` (blazar's engine pass).
    pub(crate) to_notification: Series,
    /// Notification `timestamp` → received (blazar's delivery path and the HTTP POST).
    pub(crate) delivery: Series,
    /// One POST to the tool's own receiver, timed next to every measured crossing.
    pub(crate) loopback: Series,
    /// Per crossing: sent (Unix ns), sent → received, → notification made, made → received
    /// (µs; the last two absent without a notification timestamp).
    pub(crate) crossings: Vec<(i64, u64, Option<u64>, Option<u64>)>,
    /// Per crossing: sent (Unix ns), sent → HTTP answer (µs).
    pub(crate) acks: Vec<(i64, u64)>,
    /// Firing notifications received before the crossing sample's HTTP answer.
    pub(crate) before_ack: u64,
}

impl Records {
    /// Writes one CSV line per crossing, its answer time joined by send time.
    pub(crate) fn crossings_csv(&self) -> String {
        use std::fmt::Write as _;
        let acks: std::collections::HashMap<i64, u64> = self.acks.iter().copied().collect();
        let mut out = String::from("sent_unix_ns,total_us,to_notification_us,delivery_us,ack_us\n");
        let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
        for (sent, total, made, delivered) in &self.crossings {
            let _ = writeln!(
                out,
                "{sent},{total},{},{},{}",
                opt(*made),
                opt(*delivered),
                opt(acks.get(sent).copied())
            );
        }
        out
    }

    /// Keeps one crossing's figures (bounded like the series).
    pub(crate) fn push_crossing(&mut self, row: (i64, u64, Option<u64>, Option<u64>)) {
        if self.crossings.len() < MAX_RECORDS {
            self.crossings.push(row);
        }
    }

    /// Keeps one crossing's answer time (bounded like the series).
    pub(crate) fn push_ack(&mut self, sent_ns: i64, ack_us: u64) {
        if self.acks.len() < MAX_RECORDS {
            self.acks.push((sent_ns, ack_us));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_probe_goes_round_and_is_reused_only_when_resolved() {
        let t0 = Instant::now();
        let mut p = Probes::new(2);
        assert_eq!(p.claim(), Some(0));
        assert_eq!(p.claim(), Some(1));
        assert_eq!(p.claim(), None, "both busy");
        p.sent(0, t0, 1_000, true);
        assert_eq!(p.awaiting_measured(), 1);
        assert!(p.awaits_firing(0, t0));
        assert!(!p.awaits_firing(1, t0));
        assert_eq!(
            p.fired(0, t0 + 3 * MS),
            Fired::Awaited {
                latency: 3 * MS,
                sent_ns: 1_000,
                measured: true
            }
        );
        assert!(!p.awaits_firing(0, t0));
        assert_eq!(p.fired(0, t0 + 4 * MS), Fired::Unexpected, "a repeat");
        assert_eq!(p.claim(), None, "still resolving");
        assert!(p.resolved(0));
        assert!(!p.resolved(0));
        assert_eq!(p.claim(), Some(0));
        assert_eq!(p.busy(), 2);
    }

    #[test]
    fn rotation_spreads_over_every_probe() {
        let mut p = Probes::new(3);
        assert_eq!(p.claim(), Some(0));
        p.sent(0, Instant::now(), 0, false);
        p.fired(0, Instant::now());
        p.resolved(0);
        assert_eq!(p.claim(), Some(1), "the next one, not the freed one");
        assert_eq!(p.claim(), Some(2));
        assert_eq!(p.claim(), Some(0));
    }

    #[test]
    fn lost_notifications_expire() {
        let t0 = Instant::now();
        let mut p = Probes::new(2);
        p.claim();
        p.claim();
        p.sent(0, t0, 0, true);
        p.sent(1, t0, 0, false);
        let timeout = 100 * MS;
        assert!(p.expire(t0 + 50 * MS, timeout, timeout).is_empty());
        assert_eq!(p.expire(t0 + timeout, timeout, timeout), vec![0, 1]);
        assert_eq!(p.lost, 1, "only measured crossings count");
        assert_eq!(p.awaiting_measured(), 0);
        assert!(p.expire(t0 + 150 * MS, timeout, timeout).is_empty());
        assert!(p.expire(t0 + 200 * MS, timeout, timeout).is_empty());
        assert_eq!(p.resolve_timeouts, 2);
        assert_eq!(p.busy(), 0);
    }

    #[test]
    fn stamps_of_a_probe_always_advance() {
        let mut p = Probes::new(2);
        assert_eq!(p.stamp(0, 100), 100);
        assert_eq!(p.stamp(0, 100), 101);
        assert_eq!(p.stamp(0, 99), 102);
        assert_eq!(p.stamp(0, 500), 500);
        assert_eq!(p.stamp(1, 100), 100, "per probe");
        assert_eq!(p.stamp(9, 7), 7);
    }

    #[test]
    fn crossings_join_their_answers() {
        let mut r = Records::default();
        r.push_crossing((10, 900, Some(400), Some(500)));
        r.push_crossing((20, 800, None, None));
        r.push_ack(10, 300);
        assert_eq!(
            r.crossings_csv(),
            "sent_unix_ns,total_us,to_notification_us,delivery_us,ack_us\n10,900,400,500,300\n20,800,,,\n"
        );
    }

    #[test]
    fn series_are_bounded() {
        let mut s = Series::default();
        for _ in 0..MAX_RECORDS + 3 {
            s.push_us(1);
        }
        assert_eq!(s.us.len(), MAX_RECORDS);
        assert_eq!(s.overflow, 3);
    }
}
