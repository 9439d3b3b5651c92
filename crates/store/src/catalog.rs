//! Native-API instruments (seed 003/004 metrics): the state behind counters that add, gauges
//! that set, histograms and summaries that observe, and the samples each write derives.
//! Pure: the store calls `plan` under its write lock, persists, then `commit`s.

use std::collections::{BTreeMap, HashMap, VecDeque};

use blazar_model::{Labels, MetricKind, MetricPoint, Sample};
use serde::{Deserialize, Serialize};

/// Prometheus's default histogram buckets (seconds-oriented, as most latency histograms are).
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Quantiles a summary publishes.
pub const SUMMARY_QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];
/// Observations a summary's sliding window keeps.
pub(crate) const SUMMARY_WINDOW: usize = 1024;

/// The current state of one instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum InstrumentState {
    Counter {
        value: f64,
    },
    Gauge {
        value: f64,
    },
    Histogram {
        bounds: Vec<f64>,
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
    Summary {
        window: VecDeque<f64>,
        sum: f64,
        count: u64,
    },
}

impl InstrumentState {
    fn new(kind: MetricKind) -> Self {
        match kind {
            MetricKind::Counter => Self::Counter { value: 0.0 },
            MetricKind::Histogram => Self::Histogram {
                bounds: DEFAULT_BUCKETS.to_vec(),
                counts: vec![0; DEFAULT_BUCKETS.len() + 1],
                sum: 0.0,
                count: 0,
            },
            MetricKind::Summary => Self::Summary {
                window: VecDeque::new(),
                sum: 0.0,
                count: 0,
            },
            MetricKind::Gauge | MetricKind::Unknown => Self::Gauge { value: 0.0 },
        }
    }

    fn apply(&mut self, v: f64) {
        match self {
            Self::Counter { value } => *value += v,
            Self::Gauge { value } => *value = v,
            Self::Histogram {
                bounds,
                counts,
                sum,
                count,
            } => {
                let i = bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len());
                if let Some(c) = counts.get_mut(i) {
                    *c += 1;
                }
                *sum += v;
                *count += 1;
            }
            Self::Summary { window, sum, count } => {
                if window.len() == SUMMARY_WINDOW {
                    window.pop_front();
                }
                window.push_back(v);
                *sum += v;
                *count += 1;
            }
        }
    }

    /// Returns whether every running total is finite (a total that overflowed to ±Inf could
    /// not be checkpointed as JSON).
    fn is_finite(&self) -> bool {
        match self {
            Self::Counter { value } | Self::Gauge { value } => value.is_finite(),
            Self::Histogram { sum, .. } | Self::Summary { sum, .. } => sum.is_finite(),
        }
    }

    /// Returns quantile `q` of a summary's window (nearest rank), or `None` for other kinds.
    pub fn quantiles(&self) -> Option<Vec<(f64, f64)>> {
        let Self::Summary { window, .. } = self else {
            return None;
        };
        let mut sorted: Vec<f64> = window.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        Some(
            SUMMARY_QUANTILES
                .iter()
                .map(|q| {
                    let idx = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
                    (*q, sorted.get(idx).copied().unwrap_or(f64::NAN))
                })
                .collect(),
        )
    }

    /// Returns cumulative bucket counts `(le, count)` of a histogram, `+Inf` last.
    pub fn cumulative_buckets(&self) -> Option<Vec<(f64, u64)>> {
        let Self::Histogram { bounds, counts, .. } = self else {
            return None;
        };
        let mut acc = 0u64;
        Some(
            bounds
                .iter()
                .copied()
                .chain(std::iter::once(f64::INFINITY))
                .zip(counts.iter())
                .map(|(le, c)| {
                    acc += c;
                    (le, acc)
                })
                .collect(),
        )
    }
}

/// One instrument as listed by `GET /api/v1/telemetry/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instrument {
    pub labels: Labels,
    pub kind: MetricKind,
    pub state: InstrumentState,
    /// Milliseconds of the last write.
    pub updated_ms: i64,
}

/// Why a point cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum PointError {
    #[error("type: metric {name:?} is a {existing}, got {got}")]
    KindConflict {
        name: String,
        existing: &'static str,
        got: &'static str,
    },
    #[error("value: {value} would make {name:?} leave the finite range")]
    Overflow { name: String, value: f64 },
}

/// Samples one write derives, keyed by series labels.
pub(crate) type Derived = Vec<(Labels, Sample)>;

/// Every native-API instrument, and the kind each metric name was first written as.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    instruments: HashMap<Labels, Instrument>,
    kinds: HashMap<String, MetricKind>,
}

impl Catalog {
    /// Works out the new states and derived samples for `points` without changing anything.
    ///
    /// # Errors
    /// A kind conflicting with the name's first kind, or a timestamp older than the last write.
    pub(crate) fn plan(
        &self,
        points: &[MetricPoint],
    ) -> Result<(Vec<Instrument>, Derived), (usize, PointError)> {
        let mut next: HashMap<&Labels, Instrument> = HashMap::new();
        let mut kinds: HashMap<&str, MetricKind> = HashMap::new();
        let mut derived = Vec::new();
        for (i, p) in points.iter().enumerate() {
            let name = p.labels.name();
            let existing = kinds
                .get(name)
                .copied()
                .or_else(|| self.kinds.get(name).copied());
            if let Some(k) = existing {
                if k != p.kind {
                    return Err((
                        i,
                        PointError::KindConflict {
                            name: name.to_string(),
                            existing: k.as_str(),
                            got: p.kind.as_str(),
                        },
                    ));
                }
            }
            kinds.insert(name, p.kind);
            let mut inst = match next
                .remove(&p.labels)
                .or_else(|| self.instruments.get(&p.labels).cloned())
            {
                Some(inst) => inst,
                None => Instrument {
                    labels: p.labels.clone(),
                    kind: p.kind,
                    state: InstrumentState::new(p.kind),
                    updated_ms: i64::MIN,
                },
            };
            // Two writes in one millisecond stay two samples: the later is stamped 1 ms on.
            // Writes apply in arrival order. A point not newer than the series' last sample
            // (several writes in one millisecond, or requests reaching the lock slightly out
            // of order) updates the state but adds no sample: the next newer write carries the
            // cumulative value, as a scrape would.
            inst.state.apply(p.value);
            if !inst.state.is_finite() {
                return Err((
                    i,
                    PointError::Overflow {
                        name: name.to_string(),
                        value: p.value,
                    },
                ));
            }
            if p.t > inst.updated_ms {
                inst.updated_ms = p.t;
                derive(&inst, p.t, &mut derived);
            }
            next.insert(&p.labels, inst);
        }
        Ok((next.into_values().collect(), derived))
    }

    /// Stores planned states.
    pub(crate) fn commit(&mut self, planned: Vec<Instrument>) {
        for inst in planned {
            self.kinds
                .entry(inst.labels.name().to_string())
                .or_insert(inst.kind);
            self.instruments.insert(inst.labels.clone(), inst);
        }
    }

    /// Restores one instrument from a checkpoint.
    pub(crate) fn restore(&mut self, inst: Instrument) {
        self.commit(vec![inst]);
    }

    /// Returns instruments whose name satisfies `pred`, sorted by labels.
    pub(crate) fn list(&self, pred: impl Fn(&str) -> bool) -> Vec<&Instrument> {
        let mut v: Vec<&Instrument> = self
            .instruments
            .values()
            .filter(|i| pred(i.labels.name()))
            .collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// Returns every instrument (for checkpoints).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.instruments.values()
    }

    /// Returns the series names instruments write, so listings don't show them twice.
    pub(crate) fn owned_names(&self) -> BTreeMap<String, MetricKind> {
        let mut out = BTreeMap::new();
        for (name, kind) in &self.kinds {
            for suffix in derived_suffixes(*kind) {
                out.insert(format!("{name}{suffix}"), *kind);
            }
        }
        out
    }
}

fn derived_suffixes(kind: MetricKind) -> &'static [&'static str] {
    match kind {
        MetricKind::Histogram => &["_bucket", "_sum", "_count"],
        MetricKind::Summary => &["", "_sum", "_count"],
        _ => &[""],
    }
}

/// Formats a bucket bound as Prometheus does (`0.005`, `1`, `+Inf`).
pub fn format_le(le: f64) -> String {
    if le.is_infinite() {
        "+Inf".to_string()
    } else {
        format!("{le}")
    }
}

fn derive(inst: &Instrument, t: i64, out: &mut Derived) {
    let l = &inst.labels;
    let name = l.name();
    match &inst.state {
        InstrumentState::Counter { value } | InstrumentState::Gauge { value } => {
            out.push((l.clone(), Sample { t, v: *value }))
        }
        InstrumentState::Histogram { sum, count, .. } => {
            for (le, c) in inst.state.cumulative_buckets().unwrap_or_default() {
                out.push((
                    l.with_name_and(&format!("{name}_bucket"), Some(("le", &format_le(le)))),
                    Sample { t, v: c as f64 },
                ));
            }
            out.push((
                l.with_name_and(&format!("{name}_sum"), None),
                Sample { t, v: *sum },
            ));
            out.push((
                l.with_name_and(&format!("{name}_count"), None),
                Sample {
                    t,
                    v: *count as f64,
                },
            ));
        }
        InstrumentState::Summary { sum, count, .. } => {
            for (q, v) in inst.state.quantiles().unwrap_or_default() {
                out.push((
                    l.with_name_and(name, Some(("quantile", &format!("{q}")))),
                    Sample { t, v },
                ));
            }
            out.push((
                l.with_name_and(&format!("{name}_sum"), None),
                Sample { t, v: *sum },
            ));
            out.push((
                l.with_name_and(&format!("{name}_count"), None),
                Sample {
                    t,
                    v: *count as f64,
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazar_model::Limits;

    fn point(name: &str, kind: MetricKind, value: f64, t: i64) -> MetricPoint {
        MetricPoint {
            labels: Labels::for_metric(name, [("k", "v")], &Limits::default()).unwrap(),
            kind,
            value,
            t,
        }
    }

    #[test]
    fn counter_adds_and_gauge_sets() {
        let mut c = Catalog::default();
        let (planned, derived) = c
            .plan(&[
                point("c", MetricKind::Counter, 2.0, 10),
                point("c", MetricKind::Counter, 3.0, 20),
                point("g", MetricKind::Gauge, 7.0, 10),
            ])
            .unwrap();
        c.commit(planned);
        let vals: Vec<f64> = derived.iter().map(|(_, s)| s.v).collect();
        assert_eq!(vals, [2.0, 5.0, 7.0]);
        let (_, d) = c.plan(&[point("c", MetricKind::Counter, 1.0, 30)]).unwrap();
        assert_eq!(d[0].1.v, 6.0);
    }

    #[test]
    fn same_millisecond_writes_update_state_and_add_one_sample() {
        let c = Catalog::default();
        let (_, d) = c
            .plan(&[
                point("c", MetricKind::Counter, 1.0, 10),
                point("c", MetricKind::Counter, 1.0, 10),
                point("c", MetricKind::Counter, 1.0, 5),
                point("c", MetricKind::Counter, 1.0, 11),
            ])
            .unwrap();
        let samples: Vec<(i64, f64)> = d.iter().map(|(_, s)| (s.t, s.v)).collect();
        assert_eq!(samples, [(10, 1.0), (11, 4.0)]);
    }

    #[test]
    fn histogram_derives_buckets_sum_and_count() {
        let c = Catalog::default();
        let (_, d) = c
            .plan(&[point("lat", MetricKind::Histogram, 0.234, 10)])
            .unwrap();
        assert_eq!(d.len(), DEFAULT_BUCKETS.len() + 1 + 2);
        let le_025 = d.iter().find(|(l, _)| l.get("le") == Some("0.25")).unwrap();
        assert_eq!(le_025.1.v, 1.0);
        let le_01 = d.iter().find(|(l, _)| l.get("le") == Some("0.1")).unwrap();
        assert_eq!(le_01.1.v, 0.0);
        assert!(d.iter().any(|(l, s)| l.name() == "lat_sum" && s.v == 0.234));
        assert!(d.iter().any(|(l, _)| l.get("le") == Some("+Inf")));
    }

    #[test]
    fn summary_quantiles_over_window() {
        let c = Catalog::default();
        let pts: Vec<_> = (1..=100)
            .map(|i| point("s", MetricKind::Summary, f64::from(i), i64::from(i)))
            .collect();
        let (planned, _) = c.plan(&pts).unwrap();
        let q = planned[0].state.quantiles().unwrap();
        assert_eq!(q, vec![(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)]);
    }

    #[test]
    fn a_total_that_would_overflow_is_rejected() {
        let c = Catalog::default();
        let err = c
            .plan(&[
                point("big", MetricKind::Counter, 1e308, 1),
                point("big", MetricKind::Counter, 1e308, 2),
            ])
            .unwrap_err();
        assert_eq!(err.0, 1);
        assert!(err.1.to_string().starts_with("value:"), "{}", err.1);
    }

    #[test]
    fn kind_conflict_is_rejected() {
        let mut c = Catalog::default();
        let (p, _) = c.plan(&[point("x", MetricKind::Counter, 1.0, 1)]).unwrap();
        c.commit(p);
        let err = c
            .plan(&[point("x", MetricKind::Gauge, 1.0, 2)])
            .unwrap_err();
        assert_eq!(
            err.1.to_string(),
            "type: metric \"x\" is a counter, got gauge"
        );
    }
}
