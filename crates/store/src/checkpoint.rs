//! Checkpoints and upkeep: snapshot memory so restart replays only recent WAL, retention by
//! age and bytes, WAL fsync on an interval, and trace completion. Callers (server tasks) pass
//! `now`; nothing here reads a clock except to time itself.

use blazar_bus::{Message, MessageKind};
use blazar_wal::CheckpointWriter;

use blazar_signals::TraceView;

use crate::record::{self, JsonTag};
use crate::sampling::TailSampler;
use crate::write_series::SeriesPlan;
use crate::{DropReason, Signal, Store, StoreError};

/// Memory copied under the WAL lock, encoded after it is released.
struct Snapshot {
    series: Vec<blazar_tsdb::SeriesSnapshot>,
    metadata: Vec<(String, crate::write_series::FamilyMeta)>,
    instruments: Vec<crate::catalog::Instrument>,
    events: Vec<(u64, blazar_model::Event)>,
    traces: Vec<blazar_signals::CheckpointTrace>,
    logs: Vec<blazar_model::LogRecord>,
}

/// What one checkpoint wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckpointStats {
    pub covers_segment: u64,
    pub records: u64,
    pub segments_removed: usize,
}

impl Store {
    /// Writes a checkpoint of everything in memory and deletes the WAL segments it covers;
    /// `None` when nothing was written since this process's last checkpoint.
    /// Writers are paused only while memory is copied, not while the file is written.
    ///
    /// # Errors
    /// Rotating the WAL or writing the checkpoint failed; the old checkpoint and segments stay.
    pub fn checkpoint(&self) -> Result<Option<CheckpointStats>, StoreError> {
        // Under the WAL lock only: close the segment and copy memory (chunks are already
        // compressed). Encoding and writing happen after writers resume.
        let (covers, written, snap) = {
            let mut wal = self.wal.lock();
            // Nothing written since this process's last checkpoint: it would be identical.
            let written = wal.stats().records_total;
            if *self.last_checkpoint_records.lock() == Some(written) {
                return Ok(None);
            }
            // Everything up to `covers` is in memory now; later writes go to the next segment.
            let covers = wal.rotate().map_err(StoreError::Wal)?;
            let snap = Snapshot {
                series: self.mem.head.snapshot(),
                metadata: self
                    .mem
                    .metadata
                    .read()
                    .iter()
                    .map(|(n, m)| (n.clone(), m.clone()))
                    .collect(),
                instruments: self.mem.catalog.read().iter().cloned().collect(),
                events: self
                    .mem
                    .events
                    .read()
                    .iter()
                    .map(|(seq, e)| (seq, e.clone()))
                    .collect(),
                traces: self.mem.traces.read().checkpoint_traces(),
                logs: self.mem.logs.read().iter().cloned().collect(),
            };
            (covers, written, snap)
        };
        let mut w = CheckpointWriter::create(&self.wal_dir, covers).map_err(StoreError::Wal)?;
        let mut n = 0u64;
        let mut b = Vec::with_capacity(4096);
        let mut put = |b: &mut Vec<u8>| -> Result<(), StoreError> {
            n += 1;
            w.append(b).map_err(StoreError::Wal)?;
            b.clear();
            Ok(())
        };
        for s in &snap.series {
            record::encode_chunks(&mut b, s.r, &s.labels, &s.chunks);
            put(&mut b)?;
        }
        for (name, m) in &snap.metadata {
            record::encode_family(
                &mut b,
                name,
                m.kind,
                &m.help,
                &m.unit,
                m.original.as_deref(),
            );
            put(&mut b)?;
        }
        for inst in &snap.instruments {
            if let Ok(json) = serde_json::to_vec(inst) {
                record::encode_instrument(&mut b, &json);
                put(&mut b)?;
            }
        }
        for (seq, e) in &snap.events {
            record::encode_event_at(&mut b, *seq, e);
            put(&mut b)?;
        }
        // Per trace: counted spans, the completion mark, then spans not counted yet.
        for t in &snap.traces {
            for s in &t.counted {
                record::encode_json(&mut b, JsonTag::Span, s);
                put(&mut b)?;
            }
            if t.completed {
                record::encode_trace_completed(&mut b, t.trace_id);
                put(&mut b)?;
            }
            for s in &t.rest {
                record::encode_json(&mut b, JsonTag::Span, s);
                put(&mut b)?;
            }
        }
        for l in &snap.logs {
            record::encode_json(&mut b, JsonTag::Log, l);
            put(&mut b)?;
        }
        w.finish().map_err(StoreError::Wal)?;
        let removed = self
            .wal
            .lock()
            .remove_segments_through(covers)
            .map_err(StoreError::Wal)?;
        // Only a checkpoint that made it to disk counts; a failed one is retried next time.
        *self.last_checkpoint_records.lock() = Some(written);
        self.metrics.checkpoints.inc();
        tracing::info!(
            covers_segment = covers,
            records = n,
            segments_removed = removed,
            "checkpoint written"
        );
        Ok(Some(CheckpointStats {
            covers_segment: covers,
            records: n,
            segments_removed: removed,
        }))
    }

    /// Flushes the WAL to stable storage if anything was written since the last flush.
    ///
    /// # Errors
    /// The fsync failed.
    pub fn sync_wal(&self) -> Result<(), StoreError> {
        // Take the sync out of the WAL and run it unlocked: writers carry on during the
        // fdatasync instead of waiting for it.
        let Some(sync) = self.wal.lock().detach_sync().map_err(StoreError::Wal)? else {
            return Ok(());
        };
        if let Err(e) = sync.run() {
            self.wal.lock().sync_failed();
            return Err(StoreError::Wal(e));
        }
        self.metrics.wal_fsyncs.inc();
        Ok(())
    }

    /// Drops data past its retention or byte budget, oldest first; counts what went.
    pub fn enforce_retention(&self, now_ns: i64) {
        let s = self.settings.read().clone();
        let now_ms = now_ns / blazar_model::NANOS_PER_MILLI;
        // Under the WAL lock: truncation may remove a series that a writer has just created
        // but not yet appended to, so writers and truncation must not interleave.
        let wal = self.wal.lock();
        let t = self
            .mem
            .head
            .truncate_before(now_ms.saturating_sub(s.metrics_max_age_ms));
        self.metrics.dropped(
            Signal::Metrics,
            DropReason::Retention,
            t.samples_removed as u64,
        );
        let b = self.mem.head.evict_oldest_chunks(s.metrics_max_bytes);
        drop(wal);
        self.metrics.dropped(
            Signal::Metrics,
            DropReason::MemoryBudget,
            b.samples_removed as u64,
        );
        let n = self.mem.events.write().retain(now_ns);
        self.metrics
            .dropped(Signal::Events, DropReason::Retention, n as u64);
        let n = self.mem.logs.write().retain(now_ns);
        self.metrics
            .dropped(Signal::Logs, DropReason::Retention, n as u64);
        let e = self.mem.traces.write().retain(now_ns);
        self.metrics
            .dropped(Signal::Spans, DropReason::Retention, e.spans as u64);
    }

    /// Completes traces whose root ended and that went quiet: derives span RED metrics from
    /// their spans not counted before (every span counts, kept or not), applies tail sampling,
    /// removes dropped traces (a WAL record says so, so replay drops them too) and publishes
    /// `trace_completed` for kept ones. Returns the kept traces in full, for analysis.
    ///
    /// A span arriving after its trace was dropped starts a new trace entry, which completes
    /// and is sampled on its own (the rate gives it the same answer; an error or a long span
    /// may keep the fragment). If the WAL refuses the write, nothing is dropped (every trace
    /// is kept) and that pass's span metrics are lost (logged).
    pub fn complete_traces(&self, now_ns: i64) -> Vec<TraceView> {
        let quiet = self.settings.read().completion_quiet_ns;
        self.complete_traces_after(now_ns, quiet)
    }

    /// At shutdown: completes every trace whose root has ended without waiting for the quiet
    /// period, so traces still in it are sampled and counted in span metrics before the
    /// process stops (a restart treats every replayed root-ended trace as completed).
    pub fn complete_traces_now(&self, now_ns: i64) -> Vec<TraceView> {
        self.complete_traces_after(now_ns, 0)
    }

    fn complete_traces_after(&self, now_ns: i64, quiet: i64) -> Vec<TraceView> {
        let (sampler, limits) = {
            let s = self.settings.read();
            (TailSampler::from_settings(&s), s.limits)
        };
        // Under the WAL lock: the drop records and the removal must not interleave with a
        // span write, or replay would disagree with memory.
        let mut wal = self.wal.lock();
        let done = self.mem.traces.write().take_completed(now_ns, quiet);
        if done.is_empty() {
            return Vec::new();
        }
        let mut dropped = Vec::new();
        let mut kept = Vec::with_capacity(done.len());
        let mut unmetered = 0usize;
        let batch = {
            let mut traces = self.mem.traces.write();
            let mut sm = self.span_metrics.lock();
            for t in done {
                traces.count_ended_spans(t.trace_id, |span| {
                    if !sm.observe(span, &limits) {
                        unmetered += 1;
                    }
                });
                if sampler.keeps(&t) {
                    kept.push(t);
                } else {
                    dropped.push(t);
                }
            }
            let (batch, skipped) = sm.take_batch(now_ns / blazar_model::NANOS_PER_MILLI, &limits);
            unmetered += skipped;
            batch
        };
        if unmetered > 0 {
            self.metrics
                .dropped(Signal::Metrics, DropReason::SeriesLimit, unmetered as u64);
            tracing::debug!(
                spans = unmetered,
                max_label_sets = crate::span_metrics::MAX_LABEL_SETS,
                "span metrics not recorded for spans past the label-set bound"
            );
        }
        let mut plan = match self.plan_series(&batch, &limits) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "span metrics not recorded");
                SeriesPlan::default()
            }
        };
        let mut records = std::mem::take(&mut plan.records);
        for t in &dropped {
            let mut b = Vec::with_capacity(17);
            record::encode_trace_dropped(&mut b, t.trace_id);
            records.push(b);
        }
        for t in &kept {
            let mut b = Vec::with_capacity(17);
            record::encode_trace_completed(&mut b, t.trace_id);
            records.push(b);
        }
        match self.wal_append(&mut wal, &records) {
            Ok(()) => {
                let stats = self.commit_series(&plan);
                self.count_series(&plan, stats, false);
                let mut traces = self.mem.traces.write();
                let mut spans = 0usize;
                for t in &dropped {
                    spans += traces.remove_trace(t.trace_id).spans;
                }
                drop(traces);
                self.metrics
                    .dropped(Signal::Spans, DropReason::SampledOut, spans as u64);
                self.metrics.traces_sampled_out.inc_by(dropped.len() as u64);
            }
            Err(e) => {
                self.forget(&plan.new_series);
                tracing::warn!(error = %e, traces = dropped.len(), "tail sampling skipped: wal write failed; keeping every completed trace");
                kept.append(&mut dropped);
            }
        }
        // Writers wait on the WAL lock: copy the kept traces after releasing it (a span arriving
        // meanwhile just shows up in the view and makes its trace pending again).
        drop(wal);
        let views: Vec<TraceView> = {
            let traces = self.mem.traces.read();
            kept.iter()
                .filter_map(|t| traces.trace(t.trace_id))
                .collect()
        };
        for v in &views {
            self.bus.publish(Message {
                kind: MessageKind::TraceCompleted,
                timestamp_ns: now_ns,
                service: Some(v.summary.root_service.clone()),
                data: crate::query::summary_json(&v.summary),
            });
        }
        views
    }

    /// Applies reloaded settings; shrinking bounds evicts at once. Data is kept.
    pub fn reload(&self, new: crate::Settings) {
        let ev = self.mem.events.write().set_limits(new.events);
        self.metrics
            .dropped(Signal::Events, DropReason::BufferFull, ev as u64);
        let lg = self.mem.logs.write().set_limits(new.logs);
        self.metrics
            .dropped(Signal::Logs, DropReason::MemoryBudget, lg as u64);
        let tr = self.mem.traces.write().set_limits(new.traces);
        self.metrics
            .dropped(Signal::Spans, DropReason::MemoryBudget, tr.spans as u64);
        let mut cur = self.settings.write();
        // The WAL location and format cannot change under a running store.
        let keep = (cur.data_dir.clone(), cur.fsync, cur.segment_bytes);
        *cur = new;
        (cur.data_dir, cur.fsync, cur.segment_bytes) = keep;
    }
}
