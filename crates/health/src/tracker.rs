//! One service's status over time: seed 001's rules plus consecutive-result thresholds, so a
//! flapping service moves once and then waits to be confirmed, rather than storming.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use crate::probe::{Observation, Verdict};
use crate::HealthStatus;

/// The rules a tracker applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Consecutive results needed to move to a better status.
    pub success_threshold: u32,
    /// Consecutive results needed to move to a worse status.
    pub failure_threshold: u32,
    /// A better status must also have been seen for this long.
    pub healthy_threshold: Duration,
    /// Failures are degraded until they have lasted this long, then unhealthy.
    pub unhealthy_timeout: Duration,
    /// Transitions kept.
    pub history: usize,
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub from: HealthStatus,
    pub to: HealthStatus,
    /// Unix nanoseconds.
    #[serde(skip)]
    pub at_ns: i64,
    /// RFC 3339.
    pub at: String,
    pub message: String,
}

/// A run of results on one side of the current status (all better, or all worse), not yet
/// long enough to move it. Degraded and unhealthy alternating are both worse than healthy, so
/// they count toward one move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    better: bool,
    count: u32,
    since_ns: i64,
}

/// One service's state.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    pub status: HealthStatus,
    pending: Option<Pending>,
    /// Start of the current run of failures.
    failing_since_ns: Option<i64>,
    /// Failed checks in a row (seed 001's `error_count`).
    pub error_count: u64,
    pub checks_total: u64,
    pub failures_total: u64,
    pub last_check_ns: Option<i64>,
    /// Last check that passed (healthy or degraded).
    pub last_seen_ns: Option<i64>,
    pub last_change_ns: Option<i64>,
    pub response_time: Option<Duration>,
    pub message: String,
    pub transitions: VecDeque<Transition>,
}

impl Tracker {
    /// Applies one check's result at `now_ns`; returns the transition it caused, if any.
    pub fn observe(&mut self, obs: &Observation, now_ns: i64, rules: &Rules) -> Option<Transition> {
        self.checks_total += 1;
        self.last_check_ns = Some(now_ns);
        self.response_time = Some(obs.elapsed);
        self.message.clone_from(&obs.message);
        let candidate = match obs.verdict {
            Verdict::Healthy | Verdict::Degraded => {
                self.failing_since_ns = None;
                self.error_count = 0;
                self.last_seen_ns = Some(now_ns);
                if obs.verdict == Verdict::Healthy {
                    HealthStatus::Healthy
                } else {
                    HealthStatus::Degraded
                }
            }
            Verdict::Unhealthy | Verdict::Failed => {
                self.error_count += 1;
                self.failures_total += 1;
                let since = *self.failing_since_ns.get_or_insert(now_ns);
                let lasted = u64::try_from(now_ns.saturating_sub(since)).unwrap_or(0);
                let timed_out = Duration::from_nanos(lasted) >= rules.unhealthy_timeout;
                if obs.verdict == Verdict::Unhealthy || timed_out {
                    HealthStatus::Unhealthy
                } else {
                    HealthStatus::Degraded
                }
            }
        };
        if candidate == self.status {
            self.pending = None;
            return None;
        }
        // The first result decides at once: there is nothing to flap from.
        if self.status != HealthStatus::Unknown {
            let better = candidate.severity() < self.status.severity();
            let pending = match self.pending {
                Some(p) if p.better == better => Pending {
                    count: p.count.saturating_add(1),
                    ..p
                },
                _ => Pending {
                    better,
                    count: 1,
                    since_ns: now_ns,
                },
            };
            self.pending = Some(pending);
            let confirmed = if better {
                let held = u64::try_from(now_ns.saturating_sub(pending.since_ns)).unwrap_or(0);
                pending.count >= rules.success_threshold
                    && Duration::from_nanos(held) >= rules.healthy_threshold
            } else {
                pending.count >= rules.failure_threshold
            };
            if !confirmed {
                return None;
            }
        }
        self.pending = None;
        let t = Transition {
            from: self.status,
            to: candidate,
            at_ns: now_ns,
            at: blazar_model::format_rfc3339_nanos(now_ns),
            message: self.message.clone(),
        };
        self.status = candidate;
        self.last_change_ns = Some(now_ns);
        self.transitions.push_back(t.clone());
        while self.transitions.len() > rules.history.max(1) {
            self.transitions.pop_front();
        }
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn rules(success: u32, failure: u32) -> Rules {
        Rules {
            success_threshold: success,
            failure_threshold: failure,
            healthy_threshold: Duration::ZERO,
            unhealthy_timeout: Duration::from_secs(30),
            history: 10,
        }
    }

    fn obs(v: Verdict) -> Observation {
        Observation::new(v, Duration::from_millis(3), format!("{v:?}"))
    }

    /// Feeds verdicts one second apart; returns the status after each.
    fn run(t: &mut Tracker, r: &Rules, vs: &[Verdict]) -> Vec<HealthStatus> {
        let start = t.last_check_ns.map_or(0, |n| n + S);
        vs.iter()
            .enumerate()
            .map(|(i, v)| {
                t.observe(&obs(*v), start + i as i64 * S, r);
                t.status
            })
            .collect()
    }

    use HealthStatus::{Degraded as D, Healthy as H, Unhealthy as U, Unknown};
    use Verdict::{Degraded as VD, Failed as F, Healthy as VH, Unhealthy as VU};

    #[test]
    fn unknown_until_the_first_check_which_decides_at_once() {
        let mut t = Tracker::default();
        assert_eq!(t.status, Unknown);
        assert_eq!(run(&mut t, &rules(3, 3), &[VD]), vec![D]);
        let tr = t.transitions.back().unwrap();
        assert_eq!((tr.from, tr.to), (Unknown, D));
    }

    #[test]
    fn failures_are_degraded_then_unhealthy_after_the_timeout() {
        let mut t = Tracker::default();
        let r = Rules {
            unhealthy_timeout: Duration::from_secs(3),
            ..rules(1, 1)
        };
        // 0 s healthy; failures from 1 s; 4 s is 3 s into the failures.
        let got = run(&mut t, &r, &[VH, F, F, F, F, F]);
        assert_eq!(got, vec![H, D, D, D, U, U]);
        assert_eq!(t.error_count, 5);
        assert_eq!(t.failures_total, 5);
        // One pass resets the run.
        assert_eq!(run(&mut t, &r, &[VH, F]), vec![H, D]);
        assert_eq!(t.error_count, 1);
    }

    #[test]
    fn a_service_that_says_unhealthy_is_unhealthy_at_once() {
        let mut t = Tracker::default();
        assert_eq!(run(&mut t, &rules(1, 1), &[VH, VU]), vec![H, U]);
    }

    #[test]
    fn thresholds_damp_flapping() {
        let mut t = Tracker::default();
        let r = rules(2, 2);
        let got = run(&mut t, &r, &[VH, F, VH, F, VH, F, VH]);
        assert_eq!(
            got,
            vec![H; 7],
            "alternating results never confirm a change"
        );
        assert_eq!(t.transitions.len(), 1);
        assert_eq!(run(&mut t, &r, &[F, F]), vec![H, D]);
        assert_eq!(run(&mut t, &r, &[VH, F, VH, VH]), vec![D, D, D, H]);
    }

    #[test]
    fn worse_results_of_different_kinds_count_together() {
        let mut t = Tracker::default();
        let r = rules(2, 2);
        // 503 alternating with {"status":"unhealthy"}: every result is worse than healthy.
        assert_eq!(run(&mut t, &r, &[VH, VD, VU]), vec![H, H, U]);
        // Recovering through degraded and healthy alternating: both better than unhealthy.
        assert_eq!(run(&mut t, &r, &[VD, VH]), vec![U, H]);
    }

    #[test]
    fn recovery_waits_for_healthy_threshold() {
        let mut t = Tracker::default();
        let r = Rules {
            healthy_threshold: Duration::from_secs(2),
            ..rules(1, 1)
        };
        assert_eq!(run(&mut t, &r, &[F, VH, VH, VH]), vec![D, D, D, H]);
    }

    #[test]
    fn history_is_bounded_and_ordered() {
        let mut t = Tracker::default();
        let r = Rules {
            history: 3,
            ..rules(1, 1)
        };
        run(&mut t, &r, &[VH, VD, VH, VD, VH]);
        let to: Vec<_> = t.transitions.iter().map(|x| x.to).collect();
        assert_eq!(to, vec![H, D, H]);
        assert!(t
            .transitions
            .iter()
            .zip(t.transitions.iter().skip(1))
            .all(|(a, b)| a.at_ns < b.at_ns));
    }
}
