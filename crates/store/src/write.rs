//! Write paths. Each one: validate and plan under the WAL lock, append to the WAL, apply in
//! memory, release, then publish. A WAL failure returns before memory changes, so a refused
//! write leaves no trace and an acknowledged one survives a crash.

use std::sync::atomic::Ordering;

use blazar_bus::{Message, MessageKind};
use blazar_ingest::json_http::{SpanFinish, SpanLog, SpanStart};
use blazar_ingest::remote_write::borrowed::{self, BorrowedRequest};
use blazar_model::{
    Event, LogRecord, MetricPoint, Sample, Span, SpanEvent, SpanId, SpanStatus, TraceId,
};
use blazar_tsdb::SeriesRef;
use rand::Rng;
use serde_json::{json, Value};

use crate::record::{self, JsonTag};
use crate::{DropReason, RejectReason, Signal, Store, StoreError};

/// What happened to a batch of events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EventsOutcome {
    pub received: usize,
    pub accepted: usize,
    pub sampled_out: usize,
    pub filtered: usize,
    pub disabled: usize,
    /// Older events evicted to make room (buffer_size or byte budget).
    pub evicted: usize,
}

/// What happened to a remote_write request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteOutcome {
    pub samples: usize,
    pub appended: usize,
    pub out_of_order: usize,
    pub duplicate: usize,
}

impl Store {
    pub(crate) fn wal_append(
        &self,
        wal: &mut blazar_wal::Wal,
        records: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let bytes: usize = refs.iter().map(|r| r.len() + 8).sum();
        match wal.append_batch(&refs) {
            Ok(_) => {
                self.metrics.wal_bytes.inc_by(bytes as u64);
                self.metrics.wal_records.inc_by(refs.len() as u64);
                if matches!(wal.options().fsync, blazar_wal::FsyncPolicy::Always) {
                    // The WAL synced before returning.
                    self.metrics.wal_fsyncs.inc();
                }
                if !self.wal_healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!("wal writes recovered");
                }
                Ok(())
            }
            Err(e @ blazar_wal::WalError::RecordTooLarge { .. }) => Err(StoreError::invalid(
                "body",
                format!("too large for one write-ahead log record: {e}"),
            )),
            Err(e) => {
                if self.wal_healthy.swap(false, Ordering::Relaxed) {
                    tracing::error!(error = %e, "wal write failed; refusing writes until it recovers");
                }
                *self.last_wal_error.lock() = Some(e.to_string());
                Err(StoreError::Wal(e))
            }
        }
    }

    /// Removes series created for a write the WAL refused: they hold no samples, and keeping
    /// them would let a later write log samples for a series the WAL never declared.
    pub(crate) fn forget(&self, created: &[(SeriesRef, blazar_model::Labels)]) {
        if !created.is_empty() {
            let refs: Vec<SeriesRef> = created.iter().map(|(r, _)| *r).collect();
            self.mem.head.remove_empty(&refs);
        }
    }

    /// Writes native-API metric points (seed 003/004): counters add, gauges set, histograms
    /// and summaries observe. All or nothing.
    ///
    /// # Errors
    /// A kind conflict or stale timestamp (names the item), or a WAL failure.
    pub fn write_points(&self, points: Vec<MetricPoint>) -> Result<usize, StoreError> {
        self.metrics.received(Signal::Metrics, points.len() as u64);
        let mut wal = self.wal.lock();
        let (planned, derived) = self.mem.catalog.read().plan(&points).map_err(|(i, e)| {
            self.metrics
                .rejected(Signal::Metrics, RejectReason::Invalid, 1);
            let msg = e.to_string();
            let (field, message) = msg.split_once(": ").unwrap_or(("body", msg.as_str()));
            let field = if points.len() > 1 {
                format!("[{i}].{field}")
            } else {
                field.to_string()
            };
            StoreError::invalid(field, message)
        })?;
        let mut records = Vec::with_capacity(points.len() + 1);
        let mut new_series = Vec::new();
        let mut samples: Vec<(SeriesRef, Sample)> = Vec::with_capacity(derived.len());
        let max_series = self.settings.read().limits.max_series;
        for (labels, s) in &derived {
            if self.mem.head.series_count() >= max_series && self.mem.head.lookup(labels).is_none()
            {
                self.forget(&new_series);
                self.metrics
                    .rejected(Signal::Metrics, RejectReason::Overloaded, 1);
                return Err(StoreError::Overloaded(format!(
                    "limits.max_series: {max_series} series are held; {labels} would be a new one"
                )));
            }
            let r = self.mem.series_ref(labels, &mut new_series);
            samples.push((r, *s));
        }
        for p in &points {
            let mut b = Vec::with_capacity(64);
            record::encode_point(&mut b, &p.labels, p.kind, p.value, p.t);
            records.push(b);
        }
        if !new_series.is_empty() {
            // Informational for points (replay re-derives them), but keeps refs stable.
            let mut b = Vec::new();
            record::encode_series(&mut b, &new_series);
            records.insert(0, b);
        }
        if let Err(e) = self.wal_append(&mut wal, &records) {
            self.forget(&new_series);
            return Err(e);
        }
        self.mem.head.append_batch(&samples);
        self.mem.catalog.write().commit(planned);
        drop(wal);
        if let Some(obs) = self.observer() {
            for (labels, s) in &derived {
                if obs.wants(labels.name()) {
                    obs.observe(labels, *s);
                }
            }
        }
        self.metrics.ingested(Signal::Metrics, points.len() as u64);
        if self.bus.has_subscribers() {
            for p in &points {
                self.bus.publish(metric_message(p));
            }
        }
        Ok(points.len())
    }

    /// Writes a parsed remote_write request (validated by the parser). Samples older than
    /// their series' latest are dropped and counted (as Prometheus does); the rest are stored.
    /// Existing series are found from the borrowed labels; only new ones allocate.
    ///
    /// # Errors
    /// A WAL failure.
    pub fn write_remote(&self, req: &BorrowedRequest<'_>) -> Result<RemoteOutcome, StoreError> {
        let n = req.samples.len();
        self.metrics.received(Signal::Metrics, n as u64);
        let mut wal = self.wal.lock();
        let mut new_series = Vec::new();
        let mut samples = Vec::with_capacity(n);
        let limits = self.settings.read().limits;
        let max_series = limits.max_series;
        let mut over_limit = 0usize;
        for (i, s) in req.series.iter().enumerate() {
            // A series without samples (exemplar- or histogram-only) creates nothing.
            if req.samples_of(s).is_empty() {
                continue;
            }
            let pairs = req.labels(s);
            let r = match self.mem.head.lookup_pairs(pairs) {
                Some(r) => r,
                None if self.mem.head.series_count() >= max_series => {
                    // Existing series keep flowing; a sender must not retry the whole batch.
                    over_limit += req.samples_of(s).len();
                    continue;
                }
                None => {
                    let labels = borrowed::check_limits(pairs, &limits).and_then(|()| {
                        blazar_model::Labels::try_from_pairs(pairs.iter().copied())
                            .map_err(|e| e.to_string())
                    });
                    match labels {
                        Ok(labels) => self.mem.series_ref(&labels, &mut new_series),
                        Err(e) => {
                            self.forget(&new_series);
                            return Err(StoreError::invalid(format!("timeseries[{i}].labels"), e));
                        }
                    }
                }
            };
            samples.extend(req.samples_of(s).iter().map(|x| (r, *x)));
        }
        if over_limit > 0 {
            self.metrics
                .dropped(Signal::Metrics, DropReason::SeriesLimit, over_limit as u64);
            tracing::debug!(
                samples = over_limit,
                max_series,
                "dropped samples of new series over limits.max_series"
            );
        }
        let mut records = Vec::with_capacity(2 + req.metadata.len());
        if !new_series.is_empty() {
            let mut b = Vec::with_capacity(new_series.len() * 128);
            record::encode_series(&mut b, &new_series);
            records.push(b);
        }
        // Bounded records: a huge request is several records in one append, never one
        // record over the WAL's limit.
        for part in samples.chunks(SAMPLES_PER_RECORD) {
            let mut b = Vec::with_capacity(part.len() * 12 + 8);
            record::encode_samples(&mut b, part);
            records.push(b);
        }
        let new_meta: Vec<_> = {
            let meta = self.mem.metadata.read();
            // Bounded like series: no more families than series allowed, help text capped.
            let mut room = max_series.saturating_sub(meta.len());
            let mut out = Vec::new();
            for m @ (name, kind, help) in &req.metadata {
                if name.len() > 256
                    || help.len() > MAX_HELP_BYTES
                    || meta
                        .get(name)
                        .is_some_and(|held| held.kind == *kind && held.help == *help)
                {
                    continue;
                }
                if !meta.contains_key(name) {
                    if room == 0 {
                        continue;
                    }
                    room -= 1;
                }
                out.push(m);
            }
            out
        };
        for (name, kind, help) in &new_meta {
            let mut b = Vec::new();
            record::encode_metadata(&mut b, name, *kind, help);
            records.push(b);
        }
        if let Err(e) = self.wal_append(&mut wal, &records) {
            self.forget(&new_series);
            return Err(e);
        }
        let stats = self.mem.head.append_batch(&samples);
        if !new_meta.is_empty() {
            let mut meta = self.mem.metadata.write();
            for (name, kind, help) in new_meta {
                crate::write_series::merge_metadata(&mut meta, name, *kind, help);
            }
        }
        drop(wal);
        let out = RemoteOutcome {
            samples: n,
            appended: stats.appended,
            out_of_order: stats.out_of_order,
            duplicate: stats.duplicate,
        };
        self.metrics.ingested(Signal::Metrics, out.appended as u64);
        self.metrics.dropped(
            Signal::Metrics,
            DropReason::OutOfOrder,
            out.out_of_order as u64,
        );
        self.metrics
            .dropped(Signal::Metrics, DropReason::Duplicate, out.duplicate as u64);
        if let Some(obs) = self.observer() {
            observe_remote(&*obs, req);
        }
        if self.bus.has_subscribers() {
            self.publish_remote(req);
        }
        Ok(out)
    }

    /// Publishes the newest sample of each series of a remote_write request as `metric_update`,
    /// at most `REMOTE_UPDATES_PER_REQUEST` per request: a live view, not a copy of the ingest
    /// firehose (a shard sends thousands of series a request).
    fn publish_remote(&self, req: &BorrowedRequest<'_>) {
        let meta = self.mem.metadata.read();
        for s in req.series.iter().take(REMOTE_UPDATES_PER_REQUEST) {
            let Some(last) = req.samples_of(s).last() else {
                continue;
            };
            let pairs = req.labels(s);
            let name = pairs
                .iter()
                .find(|(k, _)| *k == blazar_model::METRIC_NAME_LABEL)
                .map_or("", |(_, v)| *v);
            let tags: serde_json::Map<String, Value> = pairs
                .iter()
                .filter(|(k, _)| *k != blazar_model::METRIC_NAME_LABEL)
                .map(|(k, v)| ((*k).to_string(), json!(v)))
                .collect();
            let kind =
                crate::write_series::family_of(&meta, name).map_or("unknown", |m| m.kind.as_str());
            let ts = last.t.saturating_mul(blazar_model::NANOS_PER_MILLI);
            self.bus.publish(Message {
                kind: MessageKind::MetricUpdate,
                timestamp_ns: ts,
                service: pairs.iter().find(|(k, _)| *k == "service" || *k == "job").map(|(_, v)| (*v).to_string()),
                data: json!({
                    "name": name,
                    "type": kind,
                    "value": if last.v.is_finite() { json!(last.v) } else { json!(last.v.to_string()) },
                    "tags": tags,
                    "timestamp": blazar_model::format_rfc3339_nanos(ts),
                }),
            });
        }
    }

    /// Writes events through seed 002's collector rules: `enabled`, `event_types`, `sampling_rate`.
    ///
    /// # Errors
    /// A WAL failure.
    pub fn write_events(&self, events: Vec<Event>) -> Result<EventsOutcome, StoreError> {
        let settings = self.settings.read().clone();
        let mut out = EventsOutcome {
            received: events.len(),
            ..EventsOutcome::default()
        };
        self.metrics.received(Signal::Events, events.len() as u64);
        let mut keep = Vec::with_capacity(events.len());
        let mut rng = rand::thread_rng();
        {
            let mut types = self.event_types.lock();
            for e in events {
                let c = type_counts(&mut types, &e.event_type);
                c.received += 1;
                if !settings.events_enabled {
                    out.disabled += 1;
                    c.dropped += 1;
                } else if !settings.event_types.is_empty()
                    && !settings
                        .event_types
                        .iter()
                        .any(|g| g.matches(&e.event_type))
                {
                    out.filtered += 1;
                    c.dropped += 1;
                } else if settings.sampling_rate < 1.0 && rng.gen::<f64>() >= settings.sampling_rate
                {
                    out.sampled_out += 1;
                    c.sampled_out += 1;
                } else {
                    c.accepted += 1;
                    keep.push(e);
                }
            }
        }
        self.metrics
            .dropped(Signal::Events, DropReason::Disabled, out.disabled as u64);
        self.metrics
            .dropped(Signal::Events, DropReason::Filtered, out.filtered as u64);
        self.metrics.dropped(
            Signal::Events,
            DropReason::SampledOut,
            out.sampled_out as u64,
        );
        if keep.is_empty() {
            return Ok(out);
        }
        let records: Vec<Vec<u8>> = keep
            .iter()
            .map(|e| {
                let mut b = Vec::with_capacity(256);
                record::encode_json(&mut b, JsonTag::Event, e);
                b
            })
            .collect();
        let mut wal = self.wal.lock();
        self.wal_append(&mut wal, &records)?;
        {
            let mut store = self.mem.events.write();
            for e in &keep {
                out.evicted += store.insert(e.clone()).evicted;
            }
        }
        drop(wal);
        out.accepted = keep.len();
        self.metrics.ingested(Signal::Events, keep.len() as u64);
        self.metrics
            .dropped(Signal::Events, DropReason::BufferFull, out.evicted as u64);
        if self.bus.has_subscribers() {
            for e in keep {
                self.bus.publish(Message {
                    kind: MessageKind::Event,
                    timestamp_ns: e.timestamp_ns,
                    service: Some(e.source.clone()),
                    data: crate::query::event_json(&e, None),
                });
            }
        }
        Ok(out)
    }

    /// Writes log records.
    ///
    /// # Errors
    /// A WAL failure.
    pub fn write_logs(&self, logs: Vec<LogRecord>) -> Result<usize, StoreError> {
        self.metrics.received(Signal::Logs, logs.len() as u64);
        let records: Vec<Vec<u8>> = logs
            .iter()
            .map(|l| {
                let mut b = Vec::with_capacity(256);
                record::encode_json(&mut b, JsonTag::Log, l);
                b
            })
            .collect();
        let mut wal = self.wal.lock();
        self.wal_append(&mut wal, &records)?;
        let mut evicted = 0;
        {
            let mut store = self.mem.logs.write();
            for l in &logs {
                evicted += store.insert(l.clone());
            }
        }
        drop(wal);
        self.metrics.ingested(Signal::Logs, logs.len() as u64);
        self.metrics
            .dropped(Signal::Logs, DropReason::MemoryBudget, evicted as u64);
        if self.bus.has_subscribers() {
            for l in logs {
                self.bus.publish(Message {
                    kind: MessageKind::Log,
                    timestamp_ns: l.timestamp_ns,
                    service: Some(l.service.clone()),
                    data: serde_json::to_value(&l).unwrap_or(Value::Null),
                });
            }
        }
        Ok(records.len())
    }

    /// Writes whole spans (OTLP, or any receiver with finished spans); replaces same-id spans.
    ///
    /// # Errors
    /// A trace over `max_trace_length` (names the span), or a WAL failure.
    pub fn write_spans(&self, spans: Vec<Span>, now_ns: i64) -> Result<usize, StoreError> {
        let n = spans.len();
        self.metrics.received(Signal::Spans, n as u64);
        let mut wal = self.wal.lock();
        self.persist_spans(&mut wal, spans, now_ns, false)?;
        drop(wal);
        Ok(n)
    }

    /// Like [`Store::write_spans`], but spans that would take their trace past
    /// `max_trace_length` are refused alone (OTLP's partial success) and the rest stored.
    /// Returns the refusals as `(index in spans, reason)`.
    ///
    /// # Errors
    /// A WAL failure.
    pub fn write_spans_partial(
        &self,
        spans: Vec<Span>,
        now_ns: i64,
    ) -> Result<Vec<(usize, String)>, StoreError> {
        self.metrics.received(Signal::Spans, spans.len() as u64);
        let mut wal = self.wal.lock();
        self.persist_spans(&mut wal, spans, now_ns, true)
    }

    /// Checks the trace-length bound, then appends and applies. With `partial`, spans over the
    /// bound are left out and returned; without, the first one fails the whole batch.
    fn persist_spans(
        &self,
        wal: &mut blazar_wal::Wal,
        mut spans: Vec<Span>,
        now_ns: i64,
        partial: bool,
    ) -> Result<Vec<(usize, String)>, StoreError> {
        // Check the trace-length bound before the WAL sees anything, counting the batch's own
        // new spans too (several new spans of one trace may arrive together).
        let mut refused: Vec<(usize, String)> = Vec::new();
        {
            let traces = self.mem.traces.read();
            let max = self.settings.read().traces.max_spans_per_trace;
            let mut counts: std::collections::HashMap<TraceId, usize> =
                std::collections::HashMap::new();
            let mut seen: std::collections::HashSet<SpanId> = std::collections::HashSet::new();
            for (i, s) in spans.iter().enumerate() {
                // A replacement of a stored span, or a repeat of one accepted in this batch,
                // adds nothing; a repeat of a refused one is checked (and refused) again.
                if traces.span(s.span_id).is_some() || seen.contains(&s.span_id) {
                    continue;
                }
                let count = counts
                    .entry(s.trace_id)
                    .or_insert_with(|| traces.span_count(s.trace_id));
                if *count >= max {
                    self.metrics
                        .rejected(Signal::Spans, RejectReason::Invalid, 1);
                    let reason = format!(
                        "trace {} already holds the maximum of {max} spans (tracing.max_trace_length)",
                        s.trace_id
                    );
                    if !partial {
                        return Err(StoreError::invalid(format!("spans[{i}]"), reason));
                    }
                    refused.push((i, reason));
                    continue;
                }
                seen.insert(s.span_id);
                *count += 1;
            }
        }
        if !refused.is_empty() {
            let mut i = 0;
            let mut next = refused.iter().map(|(j, _)| *j).peekable();
            spans.retain(|_| {
                let keep = next.peek() != Some(&i);
                if !keep {
                    next.next();
                }
                i += 1;
                keep
            });
        }
        let records: Vec<Vec<u8>> = spans
            .iter()
            .map(|s| {
                let mut b = Vec::with_capacity(512);
                record::encode_json(&mut b, JsonTag::Span, s);
                b
            })
            .collect();
        self.wal_append(wal, &records)?;
        let mut evicted = 0;
        let n = spans.len();
        {
            let mut traces = self.mem.traces.write();
            for s in spans {
                match traces.upsert_span(s, now_ns) {
                    Ok(u) => evicted += u.evicted.spans,
                    Err(e) => tracing::warn!(error = %e, "span not stored after wal append"),
                }
            }
        }
        self.metrics.ingested(Signal::Spans, n as u64);
        self.metrics
            .dropped(Signal::Spans, DropReason::MemoryBudget, evicted as u64);
        Ok(refused)
    }

    /// Seed 004: opens a span; returns its ids.
    ///
    /// # Errors
    /// A full trace, or a WAL failure.
    pub fn start_span(&self, req: SpanStart, now_ns: i64) -> Result<(SpanId, TraceId), StoreError> {
        self.metrics.received(Signal::Spans, 1);
        let mut rng = rand::thread_rng();
        let span_id = SpanId::random(|| rng.gen());
        let mut wal = self.wal.lock();
        let (trace_id, parent) = match req.parent_trace_id {
            Some(t) => {
                let parent = req.parent_span_id.or_else(|| {
                    // Seed 004 passes only a trace id: hang the span under that trace's root.
                    self.mem.traces.read().trace(t).and_then(|v| {
                        v.spans
                            .iter()
                            .find(|s| s.parent_span_id.is_none())
                            .map(|s| s.span_id)
                    })
                });
                (t, parent)
            }
            None => (TraceId::random(|| rng.gen()), None),
        };
        let service = req
            .service
            .clone()
            .or_else(|| {
                req.tags
                    .get("service.name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .or_else(|| {
                req.tags
                    .get("plugin_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| UNKNOWN_SERVICE.to_string());
        let span = Span {
            trace_id,
            span_id,
            parent_span_id: parent,
            name: req.name,
            service,
            kind: Default::default(),
            start_unix_nano: req.start_ns,
            end_unix_nano: None,
            status: SpanStatus::Unset,
            status_message: None,
            attributes: req.tags.into_iter().collect(),
            events: Vec::new(),
            resource: Default::default(),
            links: Vec::new(),
            scope: None,
            trace_state: None,
        };
        self.persist_spans(&mut wal, vec![span], now_ns, false)?;
        Ok((span_id, trace_id))
    }

    /// Applies `f` to an open span and persists the result.
    /// Applies `f` to an open span and persists the result; `log`, when given, is appended in
    /// the same WAL batch and stored with it, so a span log is all or nothing.
    fn update_open_span(
        &self,
        id: SpanId,
        now_ns: i64,
        f: impl FnOnce(&mut Span) -> Result<(), StoreError>,
        log: Option<&dyn Fn(&Span) -> LogRecord>,
    ) -> Result<Span, StoreError> {
        let mut wal = self.wal.lock();
        let mut span = match self.mem.traces.read().span(id) {
            Some(s) => s.clone(),
            None => {
                self.metrics
                    .rejected(Signal::Spans, RejectReason::NotFound, 1);
                return Err(StoreError::NotFound {
                    field: "span_id".into(),
                    message: format!(
                        "no open span {id}; create it with POST /api/v1/telemetry/traces/spans"
                    ),
                });
            }
        };
        if span.end_unix_nano.is_some() {
            self.metrics
                .rejected(Signal::Spans, RejectReason::Conflict, 1);
            return Err(StoreError::Conflict {
                field: "span_id".into(),
                message: format!("span {id} is already finished"),
            });
        }
        f(&mut span).inspect_err(|_| {
            self.metrics
                .rejected(Signal::Spans, RejectReason::Invalid, 1)
        })?;
        let mut records = Vec::with_capacity(2);
        let mut b = Vec::with_capacity(512);
        record::encode_json(&mut b, JsonTag::Span, &span);
        records.push(b);
        let log = log.map(|make| make(&span));
        if let Some(l) = &log {
            let mut b = Vec::with_capacity(256);
            record::encode_json(&mut b, JsonTag::Log, l);
            records.push(b);
        }
        self.wal_append(&mut wal, &records)?;
        if self
            .mem
            .traces
            .write()
            .upsert_span(span.clone(), now_ns)
            .is_err()
        {
            tracing::warn!(span = %id, "span update not applied");
        }
        if let Some(l) = log {
            self.metrics.received(Signal::Logs, 1);
            let evicted = self.mem.logs.write().insert(l);
            self.metrics.ingested(Signal::Logs, 1);
            self.metrics
                .dropped(Signal::Logs, DropReason::MemoryBudget, evicted as u64);
        }
        Ok(span)
    }

    /// Seed 004: adds tags to an open span.
    ///
    /// # Errors
    /// Unknown span (404), finished span (409), WAL failure.
    pub fn tag_span(
        &self,
        id: SpanId,
        tags: std::collections::BTreeMap<String, Value>,
        now_ns: i64,
    ) -> Result<(), StoreError> {
        self.update_open_span(
            id,
            now_ns,
            |s| {
                let new_keys = tags
                    .keys()
                    .filter(|k| !s.attributes.contains_key(*k))
                    .count();
                if s.attributes.len() + new_keys > MAX_SPAN_ATTRIBUTES {
                    return Err(StoreError::invalid(
                        "body",
                        format!("span {id} would hold more than {MAX_SPAN_ATTRIBUTES} tags"),
                    ));
                }
                if s.service == UNKNOWN_SERVICE {
                    if let Some(p) = tags
                        .get("service.name")
                        .or_else(|| tags.get("plugin_id"))
                        .and_then(Value::as_str)
                    {
                        s.service = p.to_string();
                    }
                }
                s.attributes.extend(tags);
                Ok(())
            },
            None,
        )
        .map(|_| ())
    }

    /// Seed 004: adds a log to an open span (kept as a span event and as a log record).
    ///
    /// # Errors
    /// Unknown span (404), finished span (409), WAL failure.
    pub fn log_span(&self, id: SpanId, log: SpanLog, now_ns: i64) -> Result<(), StoreError> {
        let record = |span: &Span| LogRecord {
            timestamp_ns: log.time_ns,
            severity: log.level,
            body: log.message.clone(),
            service: span.service.clone(),
            attributes: Default::default(),
            trace_id: Some(span.trace_id),
            span_id: Some(span.span_id),
            ..LogRecord::default()
        };
        self.update_open_span(
            id,
            now_ns,
            |s| {
                // Each update rewrites the whole span into the WAL: bound what one span holds.
                if s.events.len() >= MAX_SPAN_EVENTS {
                    return Err(StoreError::invalid(
                        "span_id",
                        format!("span {id} already holds the maximum of {MAX_SPAN_EVENTS} logs"),
                    ));
                }
                s.events.push(SpanEvent {
                    time_unix_nano: log.time_ns,
                    name: log.message.clone(),
                    attributes: [("level".to_string(), json!(log.level.as_str()))]
                        .into_iter()
                        .collect(),
                });
                Ok(())
            },
            Some(&record),
        )
        .map(|_| ())
    }

    /// Seed 004: finishes an open span.
    ///
    /// # Errors
    /// Unknown span (404), already finished (409), WAL failure.
    pub fn finish_span(&self, id: SpanId, fin: SpanFinish, now_ns: i64) -> Result<(), StoreError> {
        self.update_open_span(
            id,
            now_ns,
            |s| {
                s.end_unix_nano = Some(fin.end_ns.max(s.start_unix_nano));
                s.status = fin.status;
                Ok(())
            },
            None,
        )
        .map(|_| ())
    }
}

/// Most logs (events) on one seed-004 span, and most tags.
const MAX_SPAN_EVENTS: usize = 256;
const MAX_SPAN_ATTRIBUTES: usize = 256;

/// Most `metric_update` messages one remote_write request publishes.
pub(crate) const REMOTE_UPDATES_PER_REQUEST: usize = 1000;

/// Longest metric help text kept from remote_write metadata.
pub(crate) const MAX_HELP_BYTES: usize = 4096;

/// Most samples in one WAL record (about 3 MiB).
pub(crate) const SAMPLES_PER_RECORD: usize = 256 * 1024;

/// Service of a seed-004 span that named none (yet).
pub(crate) const UNKNOWN_SERVICE: &str = "unknown";

fn type_counts<'a>(
    types: &'a mut std::collections::BTreeMap<String, crate::query::TypeCounts>,
    t: &str,
) -> &'a mut crate::query::TypeCounts {
    // Bounded: past this many distinct types, the rest are counted together.
    const MAX_TYPES: usize = 1000;
    let key = if types.len() >= MAX_TYPES && !types.contains_key(t) {
        "_other"
    } else {
        t
    };
    types.entry(key.to_string()).or_default()
}

fn metric_message(p: &MetricPoint) -> Message {
    let tags: serde_json::Map<String, Value> = p
        .labels
        .tags()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    Message {
        kind: MessageKind::MetricUpdate,
        timestamp_ns: p.t.saturating_mul(blazar_model::NANOS_PER_MILLI),
        service: p.labels.get("service").map(str::to_string),
        data: json!({
            "name": p.labels.name(),
            "type": p.kind.as_str(),
            "value": p.value,
            "tags": tags,
            "timestamp": blazar_model::format_rfc3339_nanos(p.t.saturating_mul(blazar_model::NANOS_PER_MILLI)),
        }),
    }
}

/// Tells `obs` of the newest sample of each wanted series of a remote_write request; labels
/// are built only for those.
fn observe_remote(obs: &dyn crate::SampleObserver, req: &BorrowedRequest<'_>) {
    for s in &req.series {
        let Some(last) = req.samples_of(s).last() else {
            continue;
        };
        let pairs = req.labels(s);
        let name = pairs
            .iter()
            .find(|(k, _)| *k == blazar_model::METRIC_NAME_LABEL)
            .map_or("", |(_, v)| *v);
        if !obs.wants(name) {
            continue;
        }
        if let Ok(labels) = blazar_model::Labels::try_from_pairs(pairs.iter().copied()) {
            obs.observe(
                &labels,
                blazar_model::Sample {
                    t: last.t,
                    v: last.v,
                },
            );
        }
    }
}
