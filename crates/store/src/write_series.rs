//! Whole-series writes (`SeriesBatch`: OTLP metrics, span metrics): WAL first (new series,
//! absolute samples, family records), then the head and family metadata, then `metric_update`.
//! Delta samples are resolved to absolute values under the WAL lock, so replay needs no state.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use blazar_bus::{Message, MessageKind};
use blazar_model::{
    Labels, Limits, MetricKind, Sample, SampleMode, SeriesBatch, METRIC_NAME_LABEL, NANOS_PER_MILLI,
};
use blazar_tsdb::{AppendStats, SeriesRef};
use serde_json::{json, Value};

use crate::record;
use crate::write::{MAX_HELP_BYTES, REMOTE_UPDATES_PER_REQUEST, SAMPLES_PER_RECORD};
use crate::{DropReason, RejectReason, Signal, Store, StoreError};

/// What happened to a [`SeriesBatch`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesOutcome {
    /// Samples stored (a repeat of a series' newest sample counts as stored).
    pub samples: usize,
    /// Samples dropped as stale: older than their series' latest, or at its timestamp with
    /// another value.
    pub out_of_order: usize,
    /// Samples of new series dropped because `limits.max_series` series are held.
    pub over_series_limit: usize,
}

/// What the store keeps about one metric family (`# TYPE`, `# HELP`, unit, producer name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FamilyMeta {
    pub(crate) kind: MetricKind,
    pub(crate) help: String,
    /// UCUM unit as the producer sent it; empty when none.
    pub(crate) unit: String,
    /// The producer's own name (e.g. `orders.requests`) when it differs from the family's.
    pub(crate) original: Option<String>,
}

impl FamilyMeta {
    /// Returns metadata with only kind and help (remote_write metadata).
    pub(crate) fn new(kind: MetricKind, help: String) -> Self {
        Self {
            kind,
            help,
            unit: String::new(),
            original: None,
        }
    }
}

/// Family metadata by family name.
pub(crate) type Families = HashMap<String, FamilyMeta>;

/// Applies remote_write-style metadata (kind and help): unit and original name, which only
/// whole-series writes carry, are kept.
pub(crate) fn merge_metadata(meta: &mut Families, name: &str, kind: MetricKind, help: &str) {
    match meta.get_mut(name) {
        Some(m) => {
            m.kind = kind;
            help.clone_into(&mut m.help);
        }
        None => {
            meta.insert(name.to_string(), FamilyMeta::new(kind, help.to_string()));
        }
    }
}

/// Suffixes a family's series may carry beyond the family name (Prometheus and OpenMetrics
/// conventions: counters' `_total`, histograms' and summaries' `_bucket`, `_sum`, `_count`).
pub(crate) const FAMILY_SUFFIXES: [&str; 5] = ["_total", "_bucket", "_sum", "_count", "_created"];

/// Returns the family a series name belongs to: the name itself, else the name less one of
/// [`FAMILY_SUFFIXES`] (so `x_bucket`, `x_sum`, `x_count` map to histogram family `x`).
pub(crate) fn family_of<'a>(meta: &'a Families, name: &str) -> Option<&'a FamilyMeta> {
    meta.get(name).or_else(|| {
        FAMILY_SUFFIXES
            .iter()
            .filter_map(|s| name.strip_suffix(s))
            .find_map(|base| meta.get(base))
    })
}

/// Longest family name, unit and original name kept.
const MAX_FAMILY_NAME_BYTES: usize = 256;
const MAX_UNIT_BYTES: usize = 64;

/// A whole-series write worked out under the WAL lock, before the WAL sees it.
#[derive(Debug, Default)]
pub(crate) struct SeriesPlan {
    pub(crate) new_series: Vec<(SeriesRef, Labels)>,
    samples: Vec<(SeriesRef, Sample)>,
    families: Vec<(String, FamilyMeta)>,
    pub(crate) records: Vec<Vec<u8>>,
    over_limit: usize,
    /// Delta samples dropped before the WAL (stale, or a non-finite total).
    stale: usize,
    invalid: usize,
    /// Index into `batch.series` and the newest resolved sample, for `metric_update`.
    newest: Vec<(usize, Sample)>,
}

/// The last resolved sample of a delta series, and where it sits in `SeriesPlan::samples`
/// when it came from this batch (a second delta at that timestamp is merged into it).
#[derive(Debug, Clone, Copy)]
struct Running {
    last: Sample,
    index: Option<usize>,
}

impl Store {
    /// Writes whole series (OTLP metrics): new series, bounded sample records and family
    /// records go to the WAL, then to memory, then newest samples are published as
    /// `metric_update` (at most 1000 per call). `SampleMode::Delta` samples are added to the
    /// series' latest stored value (0 for a new series) and a running total within the batch,
    /// so the WAL and the head hold cumulative values; a delta older than the series' latest is
    /// dropped as stale, and one at its timestamp is stamped 1 ms later (as the native API
    /// does). Samples of new series past `limits.max_series` are dropped and counted.
    ///
    /// # Errors
    /// Labels of a new series over the limits (names `series[i].labels`; nothing is written),
    /// or a WAL failure.
    pub fn write_series(&self, batch: &SeriesBatch) -> Result<SeriesOutcome, StoreError> {
        let n = batch.sample_count();
        self.metrics.received(Signal::Metrics, n as u64);
        let limits = self.settings.read().limits;
        let mut wal = self.wal.lock();
        let plan = self.plan_series(batch, &limits).inspect_err(|_| {
            self.metrics
                .rejected(Signal::Metrics, RejectReason::Invalid, 1);
        })?;
        if let Err(e) = self.wal_append(&mut wal, &plan.records) {
            self.forget(&plan.new_series);
            return Err(e);
        }
        let stats = self.commit_series(&plan);
        drop(wal);
        if let Some(obs) = self.observer() {
            for (i, last) in &plan.newest {
                if let Some(w) = batch.series.get(*i) {
                    if obs.wants(w.labels.name()) {
                        obs.observe(&w.labels, *last);
                    }
                }
            }
        }
        let out = self.count_series(&plan, stats, true);
        if self.bus.has_subscribers() {
            self.publish_series(batch, &plan);
        }
        Ok(out)
    }

    /// Works out series refs, absolute samples, family changes and WAL records for `batch`.
    /// The caller holds the WAL lock (delta resolution reads the head's latest values) and
    /// either appends `records` and calls [`Store::commit_series`], or calls `forget`.
    pub(crate) fn plan_series(
        &self,
        batch: &SeriesBatch,
        limits: &Limits,
    ) -> Result<SeriesPlan, StoreError> {
        let mut plan = SeriesPlan::default();
        let head = &self.mem.head;
        let mut running: HashMap<SeriesRef, Running> = HashMap::new();
        for (i, w) in batch.series.iter().enumerate() {
            if w.samples.is_empty() {
                continue;
            }
            let r = match head.lookup(&w.labels) {
                Some(r) => r,
                None if head.series_count() >= limits.max_series => {
                    // Existing series keep flowing; a sender must not retry the whole batch.
                    plan.over_limit += w.samples.len();
                    continue;
                }
                None => match w.labels.validate(limits) {
                    Ok(()) => self.mem.series_ref(&w.labels, &mut plan.new_series),
                    Err(e) => {
                        self.forget(&plan.new_series);
                        return Err(StoreError::invalid(
                            format!("series[{i}].labels"),
                            e.to_string(),
                        ));
                    }
                },
            };
            match w.mode {
                SampleMode::Absolute => {
                    plan.samples.extend(w.samples.iter().map(|s| (r, *s)));
                    if let Some(last) = w.samples.last() {
                        plan.newest.push((i, *last));
                    }
                }
                SampleMode::Delta => {
                    let mut cur = match running.entry(r) {
                        Entry::Occupied(e) => Some(*e.get()),
                        Entry::Vacant(_) => {
                            head.latest(r).map(|last| Running { last, index: None })
                        }
                    };
                    for s in &w.samples {
                        cur = self.resolve_delta(&mut plan, r, cur, *s);
                    }
                    if let Some(c) = cur {
                        running.insert(r, c);
                        plan.newest.push((i, c.last));
                    }
                }
            }
        }
        if plan.over_limit > 0 {
            tracing::debug!(
                samples = plan.over_limit,
                max_series = limits.max_series,
                "dropped samples of new series over limits.max_series"
            );
        }
        plan.families = self.new_families(batch, limits.max_series);
        self.encode_plan(&mut plan);
        Ok(plan)
    }

    /// Adds one delta sample to `cur` (the series' last value); returns the new last value.
    fn resolve_delta(
        &self,
        plan: &mut SeriesPlan,
        r: SeriesRef,
        cur: Option<Running>,
        s: Sample,
    ) -> Option<Running> {
        if let Some(c) = cur {
            if s.t < c.last.t {
                plan.stale += 1;
                return cur;
            }
        }
        // A non-finite latest (a Prometheus stale marker) restarts the total, as a reset does.
        let base = cur.map_or(0.0, |c| if c.last.v.is_finite() { c.last.v } else { 0.0 });
        let v = base + s.v;
        if !v.is_finite() {
            plan.invalid += 1;
            return cur;
        }
        match cur {
            Some(Running {
                last,
                index: Some(idx),
            }) if s.t == last.t => {
                // Two deltas at one timestamp in this batch: one sample carries both.
                if let Some(p) = plan.samples.get_mut(idx) {
                    p.1.v = v;
                }
                Some(Running {
                    last: Sample { t: last.t, v },
                    index: Some(idx),
                })
            }
            Some(Running { last, index: None }) if s.t == last.t => {
                let t = last.t.saturating_add(1);
                Some(self.push_resolved(plan, r, Sample { t, v }))
            }
            _ => Some(self.push_resolved(plan, r, Sample { t: s.t, v })),
        }
    }

    fn push_resolved(&self, plan: &mut SeriesPlan, r: SeriesRef, s: Sample) -> Running {
        plan.samples.push((r, s));
        Running {
            last: s,
            index: Some(plan.samples.len() - 1),
        }
    }

    /// Returns the batch's family metadata that changes what is held, bounded like
    /// remote_write metadata: no more families than `max_series`, long strings skipped.
    fn new_families(&self, batch: &SeriesBatch, max_series: usize) -> Vec<(String, FamilyMeta)> {
        let meta = self.mem.metadata.read();
        let mut room = max_series.saturating_sub(meta.len());
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for f in &batch.families {
            let original = f
                .original
                .as_ref()
                .filter(|o| **o != f.name && !o.is_empty());
            if f.name.is_empty()
                || f.name.len() > MAX_FAMILY_NAME_BYTES
                || f.help.len() > MAX_HELP_BYTES
                || f.unit.len() > MAX_UNIT_BYTES
                || original.is_some_and(|o| o.len() > MAX_FAMILY_NAME_BYTES)
                || !seen.insert(f.name.as_str())
            {
                continue;
            }
            let m = FamilyMeta {
                kind: f.kind,
                help: f.help.clone(),
                unit: f.unit.clone(),
                original: original.cloned(),
            };
            match meta.get(&f.name) {
                Some(held) if *held == m => continue,
                Some(_) => {}
                None if room == 0 => continue,
                None => room -= 1,
            }
            out.push((f.name.clone(), m));
        }
        out
    }

    fn encode_plan(&self, plan: &mut SeriesPlan) {
        if !plan.new_series.is_empty() {
            let mut b = Vec::with_capacity(plan.new_series.len() * 128);
            record::encode_series(&mut b, &plan.new_series);
            plan.records.push(b);
        }
        // Bounded records: a huge batch is several records in one append.
        for part in plan.samples.chunks(SAMPLES_PER_RECORD) {
            let mut b = Vec::with_capacity(part.len() * 12 + 8);
            record::encode_samples(&mut b, part);
            plan.records.push(b);
        }
        for (name, m) in &plan.families {
            let mut b = Vec::with_capacity(64 + m.help.len());
            record::encode_family(
                &mut b,
                name,
                m.kind,
                &m.help,
                &m.unit,
                m.original.as_deref(),
            );
            plan.records.push(b);
        }
    }

    /// Applies a planned write whose records the WAL accepted.
    pub(crate) fn commit_series(&self, plan: &SeriesPlan) -> AppendStats {
        let stats = self.mem.head.append_batch(&plan.samples);
        if !plan.families.is_empty() {
            let mut meta = self.mem.metadata.write();
            for (name, m) in &plan.families {
                meta.insert(name.clone(), m.clone());
            }
        }
        stats
    }

    /// Counts a committed write in the self-metrics (`received` only for external writes,
    /// which counted it on arrival) and returns its outcome.
    pub(crate) fn count_series(
        &self,
        plan: &SeriesPlan,
        stats: AppendStats,
        external: bool,
    ) -> SeriesOutcome {
        let out = SeriesOutcome {
            samples: stats.appended,
            out_of_order: plan.stale + stats.out_of_order + stats.duplicate,
            over_series_limit: plan.over_limit,
        };
        let m = &self.metrics;
        if external {
            m.ingested(Signal::Metrics, out.samples as u64);
        }
        m.dropped(
            Signal::Metrics,
            DropReason::OutOfOrder,
            (plan.stale + stats.out_of_order) as u64,
        );
        m.dropped(
            Signal::Metrics,
            DropReason::Duplicate,
            stats.duplicate as u64,
        );
        m.dropped(
            Signal::Metrics,
            DropReason::SeriesLimit,
            plan.over_limit as u64,
        );
        m.rejected(Signal::Metrics, RejectReason::Invalid, plan.invalid as u64);
        out
    }

    /// Publishes the newest sample of each written series as `metric_update`, at most
    /// `REMOTE_UPDATES_PER_REQUEST` per call (a live view, not the ingest firehose).
    fn publish_series(&self, batch: &SeriesBatch, plan: &SeriesPlan) {
        let meta = self.mem.metadata.read();
        for (i, last) in plan.newest.iter().take(REMOTE_UPDATES_PER_REQUEST) {
            let Some(w) = batch.series.get(*i) else {
                continue;
            };
            let name = w.labels.name();
            let tags: serde_json::Map<String, Value> = w
                .labels
                .iter()
                .filter(|(k, _)| *k != METRIC_NAME_LABEL)
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            let kind = family_of(&meta, name).map_or(MetricKind::Unknown, |m| m.kind);
            let ts = last.t.saturating_mul(NANOS_PER_MILLI);
            self.bus.publish(Message {
                kind: MessageKind::MetricUpdate,
                timestamp_ns: ts,
                service: w
                    .labels
                    .get("service")
                    .or_else(|| w.labels.get("job"))
                    .map(str::to_string),
                data: json!({
                    "name": name,
                    "type": kind.as_str(),
                    "value": if last.v.is_finite() { json!(last.v) } else { json!(last.v.to_string()) },
                    "tags": tags,
                    "timestamp": blazar_model::format_rfc3339_nanos(ts),
                }),
            });
        }
    }
}

#[cfg(test)]
mod tests;
