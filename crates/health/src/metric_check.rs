//! Checks over pushed metrics (seed 001's P2P monitor, generalised): the latest value of every
//! matching series against thresholds. A threshold crossed toward `unhealthy_*` is unhealthy at
//! once; `degraded_*` degraded; no recent sample is a failure.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use blazar_config::MetricCheck;
use blazar_store::Store;
use blazar_tsdb::Matcher;

use crate::probe::{Observation, Verdict};

/// Most series one check looks at (a broad selector must not turn a check into a scan).
const MAX_SERIES: usize = 1000;

/// Evaluates `check` against the store's latest samples at `now_ms`.
pub fn evaluate(store: &Store, check: &MetricCheck, now_ms: i64) -> Observation {
    let start = Instant::now();
    let mut matchers = vec![Matcher::equal(
        blazar_model::METRIC_NAME_LABEL,
        check.name.as_str(),
    )];
    matchers.extend(
        check
            .labels
            .iter()
            .map(|(k, v)| Matcher::equal(k.as_str(), v.as_str())),
    );
    let series = store.head().select_series(&matchers);
    if series.is_empty() {
        return Observation::new(
            Verdict::Failed,
            start.elapsed(),
            format!("no series {}", selector(check)),
        );
    }
    let max_age_ms = i64::try_from(check.max_age.as_millis()).unwrap_or(i64::MAX);
    let mut worst: Option<Verdict> = None;
    let mut message = String::new();
    let mut newest_old: Option<i64> = None;
    for (r, labels) in series.iter().take(MAX_SERIES) {
        // A series with no recent sample has ended (a peer or instance went away); only when
        // every series is old does the check fail.
        let latest = store.head().latest(*r).filter(|s| !s.v.is_nan());
        let Some(s) = latest else { continue };
        if now_ms.saturating_sub(s.t) > max_age_ms {
            newest_old = Some(newest_old.map_or(s.t, |t| t.max(s.t)));
            continue;
        }
        let (verdict, why) = judge(check, s.v);
        if worst.is_none_or(|w| verdict > w) {
            worst = Some(verdict);
            message.clear();
            let _ = write!(message, "{labels}: {why}");
        }
    }
    let Some(worst) = worst else {
        let why = match newest_old {
            Some(t) => format!(
                "no sample of {} for {:?} (last {:?} ago)",
                selector(check),
                check.max_age,
                Duration::from_millis(u64::try_from(now_ms.saturating_sub(t)).unwrap_or(0))
            ),
            None => format!("no sample of {}", selector(check)),
        };
        return Observation::new(Verdict::Failed, start.elapsed(), why);
    };
    Observation::new(worst, start.elapsed(), crate::probe::cut_message(&message))
}

fn judge(c: &MetricCheck, v: f64) -> (Verdict, String) {
    let checks = [
        (
            c.unhealthy_below,
            v < c.unhealthy_below.unwrap_or(f64::NAN),
            Verdict::Unhealthy,
            "below",
        ),
        (
            c.unhealthy_above,
            v > c.unhealthy_above.unwrap_or(f64::NAN),
            Verdict::Unhealthy,
            "above",
        ),
        (
            c.degraded_below,
            v < c.degraded_below.unwrap_or(f64::NAN),
            Verdict::Degraded,
            "below",
        ),
        (
            c.degraded_above,
            v > c.degraded_above.unwrap_or(f64::NAN),
            Verdict::Degraded,
            "above",
        ),
    ];
    for (bound, crossed, verdict, side) in checks {
        if let (Some(b), true) = (bound, crossed) {
            return (verdict, format!("{v} is {side} {b}"));
        }
    }
    (Verdict::Healthy, format!("{v}"))
}

fn selector(c: &MetricCheck) -> String {
    if c.labels.is_empty() {
        return c.name.clone();
    }
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{}{{{}}}", c.name, labels.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> MetricCheck {
        MetricCheck {
            name: "p2p.peer.connections".into(),
            labels: vec![],
            degraded_below: Some(3.0),
            unhealthy_below: Some(1.0),
            degraded_above: None,
            unhealthy_above: Some(100.0),
            max_age: Duration::from_secs(30),
        }
    }

    #[test]
    fn thresholds_as_seed_001_sets_them() {
        let c = check();
        assert_eq!(judge(&c, 5.0).0, Verdict::Healthy);
        assert_eq!(judge(&c, 3.0).0, Verdict::Healthy);
        assert_eq!(judge(&c, 2.0).0, Verdict::Degraded);
        assert_eq!(judge(&c, 0.0).0, Verdict::Unhealthy);
        assert_eq!(judge(&c, 101.0).0, Verdict::Unhealthy);
        assert_eq!(judge(&c, 2.0).1, "2 is below 3");
    }
}
