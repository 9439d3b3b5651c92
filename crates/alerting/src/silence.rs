//! Silences: label matchers with a start and an end; a firing alert they match is not notified
//! (and does not escalate) while they are active. Expired silences are kept a while for the
//! record, then dropped.

use std::collections::BTreeMap;

use blazar_config::selector::{LabelMatch, MatchOp};
use serde::Serialize;

/// Most silences held (active, pending and recently expired).
pub const MAX_SILENCES: usize = 10_000;
/// Expired silences are kept this long (ns) for `GET …/silences`.
const KEEP_EXPIRED_NS: i64 = 24 * 3600 * 1_000_000_000;

/// Where a silence is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

/// One silence.
#[derive(Debug, Clone, Serialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<LabelMatch>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
    pub state: SilenceState,
    #[serde(skip)]
    pub starts_ns: i64,
    #[serde(skip)]
    pub ends_ns: i64,
    #[serde(skip)]
    regexes: Vec<Option<regex::Regex>>,
}

impl Silence {
    /// Builds a silence; regex matchers are compiled here (anchored).
    ///
    /// # Errors
    /// A matcher's regex that does not compile, naming it.
    pub fn new(
        id: String,
        matchers: Vec<LabelMatch>,
        starts_ns: i64,
        ends_ns: i64,
        created_by: String,
        comment: String,
    ) -> Result<Self, String> {
        let regexes = matchers
            .iter()
            .map(|m| match m.op {
                MatchOp::Regex | MatchOp::NotRegex => {
                    regex::Regex::new(&format!("^(?:{})$", m.value))
                        .map(Some)
                        .map_err(|e| format!("bad regex for {}: {e}", m.name))
                }
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            id,
            matchers,
            starts_at: blazar_model::format_rfc3339_nanos(starts_ns),
            ends_at: blazar_model::format_rfc3339_nanos(ends_ns),
            created_by,
            comment,
            state: SilenceState::Pending,
            starts_ns,
            ends_ns,
            regexes,
        })
    }

    fn state_at(&self, now_ns: i64) -> SilenceState {
        if now_ns >= self.ends_ns {
            SilenceState::Expired
        } else if now_ns < self.starts_ns {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    /// Whether every matcher holds for `labels` (a missing label matches as `""`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().zip(&self.regexes).all(|(m, re)| {
            let v = labels.get(&m.name).map_or("", String::as_str);
            match (m.op, re) {
                (MatchOp::Equal, _) => v == m.value,
                (MatchOp::NotEqual, _) => v != m.value,
                (MatchOp::Regex, Some(r)) => r.is_match(v),
                (MatchOp::NotRegex, Some(r)) => !r.is_match(v),
                _ => false,
            }
        })
    }
}

/// All silences.
#[derive(Debug, Default)]
pub struct Silences {
    list: Vec<Silence>,
}

impl Silences {
    /// Adds a silence (expired ones older than a day are dropped first).
    ///
    /// # Errors
    /// Too many silences that have not expired.
    pub fn add(&mut self, s: Silence, now_ns: i64) -> Result<Silence, String> {
        self.prune(now_ns);
        if self.list.len() >= MAX_SILENCES {
            return Err(format!(
                "{MAX_SILENCES} silences are held; expire some first"
            ));
        }
        let mut s = s;
        s.state = s.state_at(now_ns);
        self.list.push(s.clone());
        Ok(s)
    }

    /// Ends a silence now; returns it, or `None` for an unknown id.
    pub fn expire(&mut self, id: &str, now_ns: i64) -> Option<Silence> {
        let s = self.list.iter_mut().find(|s| s.id == id)?;
        if s.ends_ns > now_ns {
            s.ends_ns = now_ns;
            s.ends_at = blazar_model::format_rfc3339_nanos(now_ns);
        }
        s.state = SilenceState::Expired;
        Some(s.clone())
    }

    /// Every silence with its state now, newest first.
    pub fn list(&mut self, now_ns: i64) -> Vec<Silence> {
        self.prune(now_ns);
        let mut v: Vec<Silence> = self
            .list
            .iter()
            .map(|s| Silence {
                state: s.state_at(now_ns),
                ..s.clone()
            })
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.starts_ns));
        v
    }

    /// The ids of active silences matching `labels`.
    pub fn silencing(&self, labels: &BTreeMap<String, String>, now_ns: i64) -> Vec<String> {
        self.list
            .iter()
            .filter(|s| s.state_at(now_ns) == SilenceState::Active && s.matches(labels))
            .map(|s| s.id.clone())
            .collect()
    }

    /// The earliest start or end still to come (a change of what is silenced).
    pub fn next_change(&self, now_ns: i64) -> Option<i64> {
        self.list
            .iter()
            .flat_map(|s| [s.starts_ns, s.ends_ns])
            .filter(|t| *t > now_ns)
            .min()
    }

    fn prune(&mut self, now_ns: i64) {
        self.list
            .retain(|s| now_ns.saturating_sub(s.ends_ns) < KEEP_EXPIRED_NS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, op: MatchOp, value: &str) -> LabelMatch {
        LabelMatch {
            name: name.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn matches_within_its_window() {
        let mut all = Silences::default();
        let s = Silence::new(
            "s1".into(),
            vec![
                m("service", MatchOp::Equal, "api"),
                m("alertname", MatchOp::Regex, "High.*"),
            ],
            10,
            20,
            "ops".into(),
            "deploy".into(),
        )
        .unwrap();
        all.add(s, 5).unwrap();
        let labels = BTreeMap::from([
            ("service".to_string(), "api".to_string()),
            ("alertname".to_string(), "HighCPU".to_string()),
        ]);
        assert!(all.silencing(&labels, 5).is_empty(), "pending");
        assert_eq!(all.silencing(&labels, 15), vec!["s1".to_string()]);
        assert!(all.silencing(&labels, 20).is_empty(), "expired");
        let other = BTreeMap::from([("service".to_string(), "db".to_string())]);
        assert!(all.silencing(&other, 15).is_empty());
        assert_eq!(all.next_change(12), Some(20));
        all.expire("s1", 12);
        assert!(all.silencing(&labels, 15).is_empty());
        assert_eq!(all.list(13)[0].state, SilenceState::Expired);
    }
}
