//! From alert changes to notifications, as Alertmanager groups them: alerts with the same
//! channels and `group_by` label values form a group; a new group waits `group_wait` to gather
//! its alerts, later changes (a new firing alert, a resolution) go out at most every
//! `group_interval`, and an unchanged firing group is repeated every `repeat_interval`. An alert
//! that fires again while already notified only updates the group: de-duplication.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use blazar_config::AlertingConfig;

use crate::alert::{Alert, AlertState, Notification};

/// Groups held at once; alerts for more groups are counted and dropped.
pub const MAX_GROUPS: usize = 10_000;
/// Alerts held per group.
pub const MAX_ALERTS_PER_GROUP: usize = 1_000;

/// Timing and grouping settings.
#[derive(Debug, Clone)]
pub struct Grouping {
    pub group_by: Vec<String>,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
}

impl Grouping {
    /// Takes the settings from config.
    pub fn from_config(c: &AlertingConfig) -> Self {
        Self {
            group_by: c.group_by.clone(),
            group_wait: c.group_wait,
            group_interval: c.group_interval,
            repeat_interval: c.repeat_interval,
        }
    }
}

#[derive(Debug)]
struct Group {
    grouping: Grouping,
    /// Every alert in it was muted at the last look: nothing is due until something changes.
    all_muted: bool,
    channels: Vec<String>,
    labels: BTreeMap<String, String>,
    /// Firing alerts, and resolved ones not yet notified.
    alerts: BTreeMap<String, Alert>,
    /// Firing alerts the channels have been told about.
    notified: HashSet<String>,
    created_ns: i64,
    last_sent_ns: Option<i64>,
    changed: bool,
    sequence: u64,
}

/// A notification for `channels`.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub channels: Vec<String>,
    pub notification: Notification,
}

/// The groups.
#[derive(Debug, Default)]
pub struct Dispatcher {
    groups: HashMap<String, Group>,
    /// Alerts dropped at the group bounds.
    pub dropped: u64,
}

impl Dispatcher {
    /// Takes one alert change for `channels` (already resolved to names; never empty).
    pub fn on_change(&mut self, alert: &Alert, channels: &[String], g: &Grouping, now_ns: i64) {
        if alert.state == AlertState::Pending {
            return;
        }
        let mut channels = channels.to_vec();
        channels.sort();
        channels.dedup();
        let labels: BTreeMap<String, String> = g
            .group_by
            .iter()
            .filter_map(|k| alert.labels.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        let key = group_key(&channels, &labels);
        if !self.groups.contains_key(&key) {
            if alert.state == AlertState::Resolved || self.groups.len() >= MAX_GROUPS {
                // A resolution for a group never notified has nothing to tell.
                if alert.state != AlertState::Resolved {
                    self.dropped += 1;
                }
                return;
            }
            self.groups.insert(
                key.clone(),
                Group {
                    grouping: g.clone(),
                    all_muted: false,
                    channels,
                    labels,
                    alerts: BTreeMap::new(),
                    notified: HashSet::new(),
                    created_ns: now_ns,
                    last_sent_ns: None,
                    changed: false,
                    sequence: 0,
                },
            );
        }
        let Some(group) = self.groups.get_mut(&key) else {
            return;
        };
        group.all_muted = false;
        match alert.state {
            AlertState::Firing => {
                if !group.alerts.contains_key(&alert.id)
                    && group.alerts.len() >= MAX_ALERTS_PER_GROUP
                {
                    self.dropped += 1;
                    return;
                }
                if !group.notified.contains(&alert.id) {
                    group.changed = true;
                }
                group.alerts.insert(alert.id.clone(), alert.clone());
            }
            AlertState::Resolved => {
                if group.notified.contains(&alert.id) {
                    group.alerts.insert(alert.id.clone(), alert.clone());
                    group.changed = true;
                } else {
                    // Fired and resolved between two notifications: nobody was told it fired.
                    group.alerts.remove(&alert.id);
                }
            }
            AlertState::Pending => {}
        }
    }

    /// Updates an alert's fields (acknowledgement, last value) in whichever group holds it,
    /// without making a change to notify.
    pub fn refresh(&mut self, alert: &Alert) {
        for g in self.groups.values_mut() {
            if let Some(a) = g.alerts.get_mut(&alert.id) {
                if a.state == alert.state {
                    *a = alert.clone();
                }
            }
        }
    }

    /// Returns the notifications due at `now_ns` and updates the groups as sent. Alerts for
    /// which `muted` says true (silenced, inhibited, folded under a dependency) are left out;
    /// a group whose every alert is muted waits, changed, until something changes.
    pub fn due(&mut self, now_ns: i64, muted: &dyn Fn(&Alert) -> bool) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for (key, group) in &mut self.groups {
            if group.alerts.is_empty() {
                group.changed = false;
                continue;
            }
            let wait = nanos(group.grouping.group_wait);
            let interval = nanos(group.grouping.group_interval);
            let repeat = nanos(group.grouping.repeat_interval);
            let visible: Vec<Alert> = group
                .alerts
                .values()
                .filter(|a| !muted(a))
                .cloned()
                .collect();
            if visible.is_empty() {
                // Resolutions of muted alerts have nobody to tell.
                group.alerts.retain(|_, a| a.state == AlertState::Firing);
                group.all_muted = true;
                continue;
            }
            // News: a visible alert firing that was not told yet, or a told one resolved. A
            // change that is only about muted alerts is no reason to send the others again.
            let news = visible.iter().any(|a| {
                a.state == AlertState::Resolved
                    || (a.state == AlertState::Firing && !group.notified.contains(&a.id))
            });
            let firing = visible.iter().any(|a| a.state == AlertState::Firing);
            let send = match group.last_sent_ns {
                None => news && now_ns.saturating_sub(group.created_ns) >= wait,
                Some(last) => {
                    (news && now_ns.saturating_sub(last) >= interval)
                        || (firing && now_ns.saturating_sub(last) >= repeat)
                }
            };
            // Changed but with nothing visible to tell: wait for a change (a silence ending wakes
            // the manager), not for a time.
            group.all_muted = group.changed && !news;
            if !send {
                continue;
            }
            group.sequence += 1;
            let told: HashSet<String> = visible
                .iter()
                .filter(|a| a.state == AlertState::Firing)
                .map(|a| a.id.clone())
                .collect();
            out.push(Outgoing {
                channels: group.channels.clone(),
                notification: Notification {
                    key: format!("{key}:{}", group.sequence),
                    group_key: key.clone(),
                    status: if firing {
                        AlertState::Firing
                    } else {
                        AlertState::Resolved
                    },
                    group_labels: group.labels.clone(),
                    alerts: visible,
                    timestamp: blazar_model::format_rfc3339_nanos(now_ns),
                },
            });
            group.last_sent_ns = Some(now_ns);
            group.alerts.retain(|_, a| a.state == AlertState::Firing);
            // Muted alerts told about before stay told (their resolution is news later).
            let still: HashSet<String> = group
                .notified
                .iter()
                .filter(|id| group.alerts.contains_key(*id))
                .cloned()
                .collect();
            group.notified = still.union(&told).cloned().collect();
            // Firing alerts still untold (muted now) are news for when they are unmuted.
            group.changed = group.alerts.keys().any(|id| !group.notified.contains(id));
            group.all_muted = group.changed;
        }
        // A group with nothing firing and nothing to tell is done.
        self.groups
            .retain(|_, gr| !gr.alerts.is_empty() || gr.changed);
        out
    }

    /// The earliest time a notification may become due.
    pub fn next_due(&self) -> Option<i64> {
        self.groups
            .values()
            .filter_map(|gr| {
                let g = &gr.grouping;
                let waiting = gr.changed && !gr.all_muted;
                match gr.last_sent_ns {
                    None if waiting => Some(gr.created_ns.saturating_add(nanos(g.group_wait))),
                    None => None,
                    Some(last) if waiting => Some(last.saturating_add(nanos(g.group_interval))),
                    Some(last) => Some(last.saturating_add(nanos(g.repeat_interval))),
                }
            })
            .min()
    }

    /// Number of groups held.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no group is held.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// `{channels}:{label=value,...}`, stable and readable.
fn group_key(channels: &[String], labels: &BTreeMap<String, String>) -> String {
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{}:{{{}}}", channels.join(","), l.join(","))
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn group_wait_gathers_then_dedups_then_resolves_then_repeats() {
        let g = grouping();
        let mut d = Dispatcher::default();
        let ch = vec!["hook".to_string()];
        d.on_change(&alert("a", "api", AlertState::Firing), &ch, &g, 0);
        d.on_change(&alert("b", "db", AlertState::Firing), &ch, &g, S / 2);
        assert!(d.due(S / 2, &|_| false).is_empty(), "still in group_wait");
        assert_eq!(d.next_due(), Some(S));
        let out = d.due(S, &|_| false);
        assert_eq!(out.len(), 1, "one notification for the group");
        assert_eq!(out[0].notification.alerts.len(), 2);
        assert_eq!(out[0].notification.status, AlertState::Firing);
        // The same alert firing again: nothing new to say.
        d.on_change(&alert("a", "api", AlertState::Firing), &ch, &g, 2 * S);
        assert!(d.due(20 * S, &|_| false).is_empty());
        // A resolution waits for group_interval, then goes out with what still fires.
        d.on_change(&alert("a", "api", AlertState::Resolved), &ch, &g, 21 * S);
        let out = d.due(21 * S, &|_| false);
        assert_eq!(out.len(), 1);
        let n = &out[0].notification;
        assert_eq!(n.resolved().count(), 1);
        assert_eq!(n.firing().count(), 1);
        assert_ne!(n.key, "");
        // Unchanged and still firing: repeated after repeat_interval.
        assert!(d.due(100 * S, &|_| false).is_empty());
        assert_eq!(d.due(121 * S, &|_| false).len(), 1);
    }

    #[test]
    fn fired_and_resolved_before_the_first_notification_says_nothing() {
        let g = grouping();
        let mut d = Dispatcher::default();
        let ch = vec!["hook".to_string()];
        d.on_change(&alert("a", "api", AlertState::Firing), &ch, &g, 0);
        d.on_change(&alert("a", "api", AlertState::Resolved), &ch, &g, S / 2);
        assert!(d.due(5 * S, &|_| false).is_empty());
        assert!(d.is_empty());
    }
}

#[cfg(test)]
mod muting {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn a_muted_alert_in_a_sent_group_goes_out_when_unmuted_and_causes_no_repeat() {
        let g = grouping();
        let mut d = Dispatcher::default();
        let ch = vec!["hook".to_string()];
        d.on_change(&alert("a", "api", AlertState::Firing), &ch, &g, 0);
        d.on_change(&alert("b", "db", AlertState::Firing), &ch, &g, 0);
        let b_muted = |a: &Alert| a.id == "b";
        let out = d.due(S, &b_muted);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].notification.alerts.len(), 1, "only a");
        assert!(
            d.due(50 * S, &b_muted).is_empty(),
            "nothing new visible: no resend of a"
        );
        assert_eq!(d.next_due(), Some(101 * S), "only the repeat is timed");
        let out = d.due(51 * S, &|_| false);
        assert_eq!(
            out.len(),
            1,
            "b once unmuted, without waiting for repeat_interval"
        );
        assert!(out[0].notification.alerts.iter().any(|a| a.id == "b"));
    }

    #[test]
    fn muted_alerts_wait_and_go_out_when_unmuted() {
        let g = grouping();
        let mut d = Dispatcher::default();
        let ch = vec!["hook".to_string()];
        d.on_change(&alert("a", "api", AlertState::Firing), &ch, &g, 0);
        assert!(d.due(5 * S, &|_| true).is_empty(), "silenced");
        assert_eq!(d.next_due(), None, "nothing due while all muted");
        let out = d.due(6 * S, &|_| false);
        assert_eq!(out.len(), 1, "the silence ended");
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use blazar_config::Severity;

    pub(super) const S: i64 = 1_000_000_000;

    pub(super) fn alert(id: &str, service: &str, state: AlertState) -> Alert {
        Alert {
            id: id.into(),
            rule_id: "r".into(),
            kind: "performance".into(),
            severity: Severity::Warning,
            service: Some(service.into()),
            message: format!("{service} slow"),
            labels: BTreeMap::from([
                ("alertname".to_string(), "Slow".to_string()),
                ("service".to_string(), service.to_string()),
            ]),
            annotations: BTreeMap::new(),
            value: 1.0,
            state,
            started_at: String::new(),
            fired_at: None,
            last_seen: String::new(),
            resolved_at: None,
            count: 1,
            acknowledged_by: None,
            acknowledged_at: None,
            started_ns: 0,
            fired_ns: None,
            last_seen_ns: 0,
            resolved_ns: None,
            last_true_ns: 0,
        }
    }

    pub(super) fn grouping() -> Grouping {
        Grouping {
            group_by: vec!["alertname".into()],
            group_wait: Duration::from_secs(1),
            group_interval: Duration::from_secs(10),
            repeat_interval: Duration::from_secs(100),
        }
    }
}
