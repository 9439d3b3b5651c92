//! The rule engine: one alert instance per rule and matching series, identified by a stable
//! fingerprint. A sample that crosses a threshold moves its instance at once (inactive →
//! pending, or straight to firing when `duration` is 0); a full evaluation over the latest
//! values (on a timer, and at the next `duration` deadline) covers pending → firing, absence,
//! series that went away, and resolution. Pure: the caller passes time and reads the store.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use blazar_config::{AlertingConfig, Condition};
use blazar_model::{Labels, Sample, NANOS_PER_MILLI};
use blazar_tsdb::Head;
use serde::Serialize;

use crate::alert::{Alert, AlertState};
use crate::rule::{health_rules, render, trace_rules, Rule};

/// A series whose latest sample is older than this no longer counts (Prometheus's lookback).
pub const STALE_AFTER: Duration = Duration::from_secs(5 * 60);
/// Resolved alerts kept for `GET …/alerts?state=resolved`.
pub const RESOLVED_KEPT: usize = 10_000;
/// Most alert instances one rule may hold (a rule over a high-cardinality metric must not grow
/// memory without bound).
pub const MAX_INSTANCES_PER_RULE: usize = 10_000;

/// One series' result in a full evaluation: fingerprint, alert labels, value, whether it holds.
type Eval = (String, BTreeMap<String, String>, Option<f64>, bool);

/// What happened to an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub rule: usize,
    /// The alert after the change (its state says which change).
    pub alert: Alert,
    /// A pending alert whose condition stopped holding before it fired (no notification).
    pub cancelled: bool,
}

/// A rule's evaluation record, for `GET …/rules`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleHealth {
    pub last_evaluation: Option<String>,
    pub evaluation_time_ms: f64,
    pub last_error: Option<String>,
    pub evaluations: u64,
    /// Instances dropped at [`MAX_INSTANCES_PER_RULE`].
    pub dropped_instances: u64,
}

/// All rules and their alert instances.
pub struct Engine {
    pub rules: Vec<Rule>,
    by_metric: HashMap<String, Vec<usize>>,
    /// Pending and firing alerts by id.
    active: HashMap<String, Alert>,
    /// Active alert ids per rule.
    per_rule: Vec<HashSet<String>>,
    resolved: VecDeque<Alert>,
    pub health: Vec<RuleHealth>,
    /// For `increase` rules: each series' previous value, by alert fingerprint.
    previous: HashMap<String, f64>,
}

/// Most previous values kept for `increase` rules; past it the map starts over (a rise is then
/// missed once per series, never invented).
const MAX_PREVIOUS: usize = 100_000;

impl Engine {
    /// Builds the engine for `config` (plus the built-in health rules when enabled); rules that
    /// do not compile are skipped and reported.
    pub fn new(config: &AlertingConfig) -> (Self, Vec<String>) {
        let mut errors = Vec::new();
        let mut builtin = if config.health_alerts {
            health_rules()
        } else {
            Vec::new()
        };
        if config.trace_alerts {
            builtin.extend(trace_rules());
        }
        let mut rules = Vec::new();
        for (r, is_builtin) in config
            .rules
            .iter()
            .cloned()
            .map(|r| (r, false))
            .chain(builtin.into_iter().map(|r| (r, true)))
        {
            let id = r.id.clone();
            match Rule::compile(r, is_builtin) {
                Ok(rule) => rules.push(rule),
                Err(e) => errors.push(format!("rule {id}: {e}")),
            }
        }
        let mut by_metric: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            by_metric
                .entry(r.config.selector.metric.clone())
                .or_default()
                .push(i);
        }
        let n = rules.len();
        (
            Self {
                rules,
                by_metric,
                active: HashMap::new(),
                per_rule: vec![HashSet::new(); n],
                resolved: VecDeque::new(),
                health: vec![RuleHealth::default(); n],
                previous: HashMap::new(),
            },
            errors,
        )
    }

    /// Carries alerts over from a previous engine (a reload): active alerts of rules that
    /// still exist with the same id keep their state and history.
    pub fn adopt(&mut self, old: Engine) {
        let index: HashMap<&str, usize> = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.config.id.as_str(), i))
            .collect();
        for (id, alert) in old.active {
            if let Some(&i) = index.get(alert.rule_id.as_str()) {
                if let Some(set) = self.per_rule.get_mut(i) {
                    set.insert(id.clone());
                }
                self.active.insert(id, alert);
            }
        }
        self.resolved = old.resolved;
    }

    /// Metric names some rule selects (what the store's observer asks for).
    pub fn metric_names(&self) -> HashSet<String> {
        self.by_metric.keys().cloned().collect()
    }

    /// Applies one stored sample of a selected series; returns the changes it caused.
    pub fn observe(&mut self, labels: &Labels, sample: Sample, now_ns: i64) -> Vec<Change> {
        let mut out = Vec::new();
        let Some(rules) = self.by_metric.get(labels.name()).cloned() else {
            return out;
        };
        for i in rules {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            if !rule.selects(labels) {
                continue;
            }
            if rule.config.condition == Condition::Absent {
                // A sample arrived: whatever was absent is not.
                let fp = absent_fingerprint(rule);
                if self.active.contains_key(&fp) {
                    self.step(i, fp, absent_labels(rule), None, false, now_ns, &mut out);
                }
                continue;
            }
            let value = (!sample.v.is_nan()).then_some(sample.v);
            let fp = fingerprint(&rule.config.id, labels);
            let increase = rule.config.condition == Condition::Increase;
            let holds = if increase {
                // A sample arriving now: a new series counts from zero.
                let prev = self.previous.get(&fp).copied().unwrap_or(0.0);
                value.is_some_and(|v| v > prev + rule.config.threshold)
            } else {
                value.is_some_and(|v| rule.config.condition.holds(v, rule.config.threshold))
            };
            let l = alert_labels(rule, labels);
            if increase {
                if let Some(v) = value {
                    self.remember(fp.clone(), v);
                }
            }
            self.step(i, fp, l, value, holds, now_ns, &mut out);
        }
        out
    }

    /// Evaluates every rule over the latest values in `head`.
    pub fn evaluate(&mut self, head: &Head, now_ns: i64) -> Vec<Change> {
        let mut out = Vec::new();
        let now_ms = now_ns / NANOS_PER_MILLI;
        for i in 0..self.rules.len() {
            let start = std::time::Instant::now();
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            let series = head.select_series(&rule.matchers);
            if rule.config.condition == Condition::Absent {
                let window = millis(rule.absent_after());
                let present = series.iter().any(|(r, _)| {
                    head.latest(*r)
                        .is_some_and(|s| !s.v.is_nan() && now_ms.saturating_sub(s.t) <= window)
                });
                let fp = absent_fingerprint(rule);
                let labels = absent_labels(rule);
                self.step(i, fp, labels, None, !present, now_ns, &mut out);
            } else {
                let stale = millis(STALE_AFTER);
                let mut seen = HashSet::new();
                let increase = rule.config.condition == Condition::Increase;
                let threshold = rule.config.threshold;
                let evals: Vec<Eval> = series
                    .iter()
                    .map(|(r, labels)| {
                        let value = head
                            .latest(*r)
                            .filter(|s| !s.v.is_nan() && now_ms.saturating_sub(s.t) <= stale)
                            .map(|s| s.v);
                        let fp = fingerprint(&rule.config.id, labels);
                        let holds = if increase {
                            // Only a rise against a value already seen: after a restart the
                            // replayed counters are not news.
                            let prev = self.previous.get(&fp).copied();
                            value.zip(prev).is_some_and(|(v, p)| v > p + threshold)
                        } else {
                            value.is_some_and(|v| rule.config.condition.holds(v, threshold))
                        };
                        (fp, alert_labels(rule, labels), value, holds)
                    })
                    .collect();
                if increase {
                    for (fp, _, value, _) in &evals {
                        if let Some(v) = value {
                            self.remember(fp.clone(), *v);
                        }
                    }
                }
                for (fp, labels, value, holds) in evals {
                    seen.insert(fp.clone());
                    self.step(i, fp, labels, value, holds, now_ns, &mut out);
                }
                // Series that went away: their alerts no longer hold.
                let gone: Vec<String> = self
                    .per_rule
                    .get(i)
                    .map(|s| s.iter().filter(|fp| !seen.contains(*fp)).cloned().collect())
                    .unwrap_or_default();
                for fp in gone {
                    if let Some(labels) = self.active.get(&fp).map(|a| a.labels.clone()) {
                        self.step(i, fp, labels, None, false, now_ns, &mut out);
                    }
                }
            }
            if let Some(h) = self.health.get_mut(i) {
                h.evaluations += 1;
                h.last_evaluation = Some(blazar_model::format_rfc3339_nanos(now_ns));
                h.evaluation_time_ms = start.elapsed().as_secs_f64() * 1000.0;
            }
        }
        out
    }

    /// Fires pending alerts whose `duration` has passed at `now_ns`. A pending alert is still
    /// active only while every result since it started held (one that did not cancelled it),
    /// so reaching the deadline is enough.
    pub fn promote_due(&mut self, now_ns: i64) -> Vec<Change> {
        let mut out = Vec::new();
        let now = blazar_model::format_rfc3339_nanos(now_ns);
        for (i, rule) in self.rules.iter().enumerate() {
            let duration = nanos(rule.config.duration);
            for fp in self.per_rule.get(i).into_iter().flatten() {
                let Some(a) = self.active.get_mut(fp) else {
                    continue;
                };
                if a.state == AlertState::Pending && now_ns.saturating_sub(a.started_ns) >= duration
                {
                    a.state = AlertState::Firing;
                    a.fired_ns = Some(now_ns);
                    a.fired_at = Some(now.clone());
                    out.push(Change {
                        rule: i,
                        alert: a.clone(),
                        cancelled: false,
                    });
                }
            }
        }
        out
    }

    /// The earliest time a pending alert may fire. (A kept-firing alert resolves at the next
    /// full evaluation after `keep_firing_for`: only an evaluation knows the condition no longer
    /// holds, so its deadline is not one to wake for.)
    pub fn next_deadline(&self) -> Option<i64> {
        self.active
            .values()
            .filter(|a| a.state == AlertState::Pending)
            .filter_map(|a| {
                let rule = self.rules.iter().find(|r| r.config.id == a.rule_id)?;
                Some(a.started_ns.saturating_add(nanos(rule.config.duration)))
            })
            .min()
    }

    /// Moves one instance according to whether its condition `holds` now.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        i: usize,
        fp: String,
        labels: BTreeMap<String, String>,
        value: Option<f64>,
        holds: bool,
        now_ns: i64,
        out: &mut Vec<Change>,
    ) {
        let Some(rule) = self.rules.get(i) else {
            return;
        };
        let duration = if rule.config.condition == Condition::Absent {
            0
        } else {
            nanos(rule.config.duration)
        };
        let keep = nanos(rule.config.keep_firing_for);
        let now = blazar_model::format_rfc3339_nanos(now_ns);
        if holds {
            let alert = match self.active.get_mut(&fp) {
                Some(a) => a,
                None => {
                    let count = self.per_rule.get(i).map_or(0, HashSet::len);
                    if count >= MAX_INSTANCES_PER_RULE {
                        if let Some(h) = self.health.get_mut(i) {
                            h.dropped_instances += 1;
                        }
                        return;
                    }
                    let a = new_alert(rule, fp.clone(), labels, value.unwrap_or(0.0), now_ns);
                    if let Some(set) = self.per_rule.get_mut(i) {
                        set.insert(fp.clone());
                    }
                    let fires = duration == 0;
                    self.active.insert(fp.clone(), a);
                    let Some(a) = self.active.get_mut(&fp) else {
                        return;
                    };
                    if !fires {
                        out.push(Change {
                            rule: i,
                            alert: a.clone(),
                            cancelled: false,
                        });
                        return;
                    }
                    a
                }
            };
            alert.last_seen_ns = now_ns;
            alert.last_seen.clone_from(&now);
            alert.last_true_ns = now_ns;
            if let Some(v) = value {
                alert.value = v;
            }
            alert.count += 1;
            if alert.state == AlertState::Pending
                && now_ns.saturating_sub(alert.started_ns) >= duration
            {
                alert.state = AlertState::Firing;
                alert.fired_ns = Some(now_ns);
                alert.fired_at = Some(now.clone());
                out.push(Change {
                    rule: i,
                    alert: alert.clone(),
                    cancelled: false,
                });
            }
            return;
        }
        let Some(alert) = self.active.get_mut(&fp) else {
            return;
        };
        if let Some(v) = value {
            alert.value = v;
        }
        match alert.state {
            AlertState::Pending => {
                let mut a = alert.clone();
                self.remove(i, &fp);
                a.resolved_ns = Some(now_ns);
                a.resolved_at = Some(now);
                out.push(Change {
                    rule: i,
                    alert: a,
                    cancelled: true,
                });
            }
            AlertState::Firing => {
                if keep > 0 && now_ns.saturating_sub(alert.last_true_ns) < keep {
                    return;
                }
                alert.state = AlertState::Resolved;
                alert.resolved_ns = Some(now_ns);
                alert.resolved_at = Some(now);
                let a = alert.clone();
                self.remove(i, &fp);
                self.resolved.push_back(a.clone());
                while self.resolved.len() > RESOLVED_KEPT {
                    self.resolved.pop_front();
                }
                out.push(Change {
                    rule: i,
                    alert: a,
                    cancelled: false,
                });
            }
            AlertState::Resolved => {}
        }
    }

    fn remember(&mut self, fp: String, v: f64) {
        if self.previous.len() >= MAX_PREVIOUS && !self.previous.contains_key(&fp) {
            self.previous.clear();
        }
        self.previous.insert(fp, v);
    }

    fn remove(&mut self, i: usize, fp: &str) {
        self.active.remove(fp);
        if let Some(set) = self.per_rule.get_mut(i) {
            set.remove(fp);
        }
    }

    /// Acknowledges an active alert; returns it, or `None` when no active alert has that id.
    pub fn ack(&mut self, id: &str, by: &str, now_ns: i64) -> Option<Alert> {
        let a = self.active.get_mut(id)?;
        a.acknowledged_by = Some(by.to_string());
        a.acknowledged_at = Some(blazar_model::format_rfc3339_nanos(now_ns));
        Some(a.clone())
    }

    /// Active alerts (pending and firing), newest first.
    pub fn active(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self.active.values().cloned().collect();
        v.sort_by(|a, b| b.started_ns.cmp(&a.started_ns).then(a.id.cmp(&b.id)));
        v
    }

    /// Resolved alerts since `since_ns`, newest first.
    pub fn resolved_since(&self, since_ns: i64) -> Vec<Alert> {
        self.resolved
            .iter()
            .rev()
            .filter(|a| a.resolved_ns.unwrap_or(0) >= since_ns)
            .cloned()
            .collect()
    }

    /// One alert by id, active or resolved.
    pub fn get(&self, id: &str) -> Option<Alert> {
        self.active
            .get(id)
            .cloned()
            .or_else(|| self.resolved.iter().rev().find(|a| a.id == id).cloned())
    }

    /// Active alerts of rule `i`.
    pub fn active_of(&self, i: usize) -> Vec<Alert> {
        self.per_rule
            .get(i)
            .into_iter()
            .flatten()
            .filter_map(|fp| self.active.get(fp).cloned())
            .collect()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// FNV-1a over the rule id and the series labels (sorted), as 16 hex digits: the same rule and
/// series always give the same id, across restarts and machines.
pub fn fingerprint(rule_id: &str, labels: &Labels) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |b: &[u8]| {
        for x in b {
            h ^= u64::from(*x);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(rule_id.as_bytes());
    for (k, v) in labels.iter() {
        feed(&[0]);
        feed(k.as_bytes());
        feed(&[0xff]);
        feed(v.as_bytes());
    }
    format!("{h:016x}")
}

fn absent_fingerprint(rule: &Rule) -> String {
    let l = Labels::try_from_pairs(
        absent_labels(rule)
            .into_iter()
            .filter(|(k, _)| k != "alertname" && k != "severity"),
    )
    .unwrap_or_default();
    fingerprint(&rule.config.id, &l)
}

/// An absent alert's labels: the selector's equality matchers (as Prometheus's `absent()`
/// keeps them) and the rule's labels.
fn absent_labels(rule: &Rule) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = rule
        .config
        .selector
        .matchers
        .iter()
        .filter(|m| m.op == blazar_config::selector::MatchOp::Equal)
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    finish_labels(rule, &mut l);
    l
}

fn alert_labels(rule: &Rule, series: &Labels) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = series
        .tags()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    finish_labels(rule, &mut l);
    l
}

fn finish_labels(rule: &Rule, l: &mut BTreeMap<String, String>) {
    for (k, v) in &rule.config.labels {
        l.insert(k.clone(), v.clone());
    }
    l.insert("alertname".into(), rule.config.name.clone());
    l.insert("severity".into(), rule.config.severity.as_str().into());
}

fn new_alert(
    rule: &Rule,
    id: String,
    labels: BTreeMap<String, String>,
    value: f64,
    now_ns: i64,
) -> Alert {
    let annotations: BTreeMap<String, String> = rule
        .config
        .annotations
        .iter()
        .map(|(k, t)| (k.clone(), render(t, &labels, value)))
        .collect();
    let message = annotations
        .get("summary")
        .or_else(|| annotations.get("description"))
        .cloned()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            let d = if rule.config.description.is_empty() {
                rule.config.name.clone()
            } else {
                rule.config.description.clone()
            };
            match labels.get("service") {
                Some(s) => format!("{d} ({s})"),
                None => d,
            }
        });
    let now = blazar_model::format_rfc3339_nanos(now_ns);
    Alert {
        id,
        rule_id: rule.config.id.clone(),
        kind: rule.kind.clone(),
        severity: rule.config.severity,
        service: labels.get("service").or_else(|| labels.get("job")).cloned(),
        message,
        labels,
        annotations,
        value,
        state: AlertState::Pending,
        started_at: now.clone(),
        fired_at: None,
        last_seen: now,
        resolved_at: None,
        count: 0,
        acknowledged_by: None,
        acknowledged_at: None,
        started_ns: now_ns,
        fired_ns: None,
        last_seen_ns: now_ns,
        resolved_ns: None,
        last_true_ns: now_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazar_config::{load_str, AlertingConfig};

    const S: i64 = 1_000_000_000;

    fn config(rules: &str) -> AlertingConfig {
        load_str(
            &format!("alerting:\n  health_alerts: false\n  rules:\n{rules}"),
            "t",
            std::iter::empty(),
        )
        .unwrap()
        .alerting
    }

    fn cpu(host: &str) -> Labels {
        Labels::try_from_pairs([("__name__", "cpu"), ("host", host)]).unwrap()
    }

    fn states(changes: &[Change]) -> Vec<(AlertState, bool)> {
        changes
            .iter()
            .map(|c| (c.alert.state, c.cancelled))
            .collect()
    }

    #[test]
    fn a_crossing_sample_fires_at_once_with_no_duration_and_resolves() {
        let (mut e, _) = Engine::new(&config(
            "    - {id: hot, metric: cpu, condition: gt, threshold: 90, severity: critical}\n",
        ));
        assert!(e.observe(&cpu("a"), Sample { t: 0, v: 50.0 }, S).is_empty());
        let c = e.observe(&cpu("a"), Sample { t: 1, v: 95.0 }, 2 * S);
        assert_eq!(states(&c), [(AlertState::Firing, false)]);
        let a = &c[0].alert;
        assert_eq!(a.labels["host"], "a");
        assert_eq!(a.labels["alertname"], "hot");
        assert_eq!(a.labels["severity"], "critical");
        assert!(!a.labels.contains_key("__name__"));
        assert_eq!(a.value, 95.0);
        // Re-triggered: the same alert, counted, no change.
        assert!(e
            .observe(&cpu("a"), Sample { t: 2, v: 97.0 }, 3 * S)
            .is_empty());
        assert_eq!(e.active()[0].count, 2);
        assert_eq!(e.active()[0].id, a.id, "stable fingerprint");
        // Another series is another alert.
        assert_eq!(
            e.observe(&cpu("b"), Sample { t: 2, v: 99.0 }, 3 * S).len(),
            1
        );
        let c = e.observe(&cpu("a"), Sample { t: 3, v: 10.0 }, 4 * S);
        assert_eq!(states(&c), [(AlertState::Resolved, false)]);
        assert_eq!(e.resolved_since(0).len(), 1);
        assert_eq!(e.active().len(), 1);
    }

    #[test]
    fn duration_keeps_it_pending_and_flapping_never_fires() {
        let (mut e, _) = Engine::new(&config("    - {id: hot, metric: cpu, condition: gt, threshold: 90, duration: 10s, severity: warning}\n"));
        let c = e.observe(&cpu("a"), Sample { t: 0, v: 95.0 }, S);
        assert_eq!(states(&c), [(AlertState::Pending, false)]);
        assert_eq!(e.next_deadline(), Some(11 * S));
        assert!(e.promote_due(5 * S).is_empty());
        // Dips below within the duration: cancelled, never fired.
        let c = e.observe(&cpu("a"), Sample { t: 1, v: 10.0 }, 6 * S);
        assert_eq!(states(&c), [(AlertState::Pending, true)]);
        assert!(e.promote_due(20 * S).is_empty());
        // Holds for the whole duration: fires at the deadline.
        e.observe(&cpu("a"), Sample { t: 2, v: 95.0 }, 30 * S);
        let c = e.promote_due(40 * S);
        assert_eq!(states(&c), [(AlertState::Firing, false)]);
    }

    #[test]
    fn keep_firing_for_holds_a_resolution_back() {
        let (mut e, _) = Engine::new(&config("    - {id: hot, metric: cpu, condition: gt, threshold: 90, keep_firing_for: 5s, severity: warning}\n"));
        e.observe(&cpu("a"), Sample { t: 0, v: 95.0 }, S);
        assert!(e
            .observe(&cpu("a"), Sample { t: 1, v: 10.0 }, 2 * S)
            .is_empty());
        assert_eq!(e.active()[0].state, AlertState::Firing);
        let c = e.observe(&cpu("a"), Sample { t: 2, v: 10.0 }, 7 * S);
        assert_eq!(states(&c), [(AlertState::Resolved, false)]);
    }

    #[test]
    fn increase_fires_on_a_rise_and_keeps_firing_for_a_while() {
        let (mut e, _) = Engine::new(&config("    - {id: new_issue, metric: issues_total, condition: increase, keep_firing_for: 10s, severity: warning}\n"));
        let l =
            Labels::try_from_pairs([("__name__", "issues_total"), ("pattern", "slow")]).unwrap();
        let c = e.observe(&l, Sample { t: 0, v: 1.0 }, S);
        assert_eq!(
            states(&c),
            [(AlertState::Firing, false)],
            "a new counter counted something"
        );
        assert!(
            e.observe(&l, Sample { t: 1, v: 1.0 }, 2 * S).is_empty(),
            "no rise, kept firing"
        );
        let c = e.observe(&l, Sample { t: 2, v: 1.0 }, 20 * S);
        assert_eq!(states(&c), [(AlertState::Resolved, false)]);
        assert_eq!(
            states(&e.observe(&l, Sample { t: 3, v: 3.0 }, 21 * S)),
            [(AlertState::Firing, false)]
        );
    }

    #[test]
    fn matchers_select_series() {
        let (mut e, _) = Engine::new(&config("    - {id: hot, metric: 'cpu{host=~\"a.*\",host!=\"ab\"}', condition: gt, threshold: 1, severity: info}\n"));
        assert_eq!(e.observe(&cpu("a1"), Sample { t: 0, v: 5.0 }, S).len(), 1);
        assert!(e.observe(&cpu("ab"), Sample { t: 0, v: 5.0 }, S).is_empty());
        assert!(e.observe(&cpu("b"), Sample { t: 0, v: 5.0 }, S).is_empty());
        let other = Labels::try_from_pairs([("__name__", "mem"), ("host", "a1")]).unwrap();
        assert!(e.observe(&other, Sample { t: 0, v: 5.0 }, S).is_empty());
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        assert_eq!(fingerprint("r", &cpu("a")), fingerprint("r", &cpu("a")));
        assert_ne!(fingerprint("r", &cpu("a")), fingerprint("r", &cpu("b")));
        assert_ne!(fingerprint("r", &cpu("a")), fingerprint("q", &cpu("a")));
        assert_eq!(fingerprint("r", &cpu("a")).len(), 16);
    }
}
