//! Everything the store holds in memory, and how replayed records are applied to it. Separate
//! from `Store` so replay can run before the WAL is opened for new writes (the WAL truncates a
//! torn tail only in its last segment).

use std::collections::HashMap;

use blazar_model::{Labels, MetricPoint, Sample};
use blazar_signals::{EventStore, LogStore, TraceStore};
use blazar_tsdb::{Head, HeadOptions, SeriesError, SeriesRef, SeriesSnapshot};
use parking_lot::RwLock;

use crate::catalog::{Catalog, Instrument};
use crate::record::{self, Record};
use crate::write_series::{merge_metadata, Families, FamilyMeta};
use crate::Settings;

/// The in-memory stores.
pub(crate) struct Memory {
    pub(crate) head: Head,
    pub(crate) catalog: RwLock<Catalog>,
    /// Metric family metadata by family name.
    pub(crate) metadata: RwLock<Families>,
    pub(crate) events: RwLock<EventStore>,
    pub(crate) traces: RwLock<TraceStore>,
    pub(crate) logs: RwLock<LogStore>,
    /// Replay only: WAL series refs that could not be recreated as themselves (the labels came
    /// back under a new ref after retention removed the series, or the ref was reused), mapped
    /// to the live ref their samples belong to.
    remap: parking_lot::Mutex<HashMap<SeriesRef, SeriesRef>>,
    /// Replay only: the last resource map seen, so consecutive spans and log records of one
    /// resource (one request's worth, logged together) share it again as they did live.
    replay_resource: parking_lot::Mutex<blazar_model::Resource>,
}

impl Memory {
    pub(crate) fn new(settings: &Settings) -> Self {
        Self {
            head: Head::new(HeadOptions::default()),
            catalog: RwLock::new(Catalog::default()),
            metadata: RwLock::new(HashMap::new()),
            events: RwLock::new(EventStore::new(settings.events)),
            traces: RwLock::new(TraceStore::new(settings.traces)),
            logs: RwLock::new(LogStore::new(settings.logs)),
            remap: parking_lot::Mutex::new(HashMap::new()),
            replay_resource: parking_lot::Mutex::new(blazar_model::Resource::default()),
        }
    }

    /// Resolves the series ref for `labels`, noting a new series in `created` (the caller
    /// logs them as one Series record before their samples).
    pub(crate) fn series_ref(
        &self,
        labels: &Labels,
        created: &mut Vec<(SeriesRef, Labels)>,
    ) -> SeriesRef {
        let (r, new) = self.head.get_or_create(labels);
        if new {
            created.push((r, labels.clone()));
        }
        r
    }

    /// Replays one native-API point through the same planning as a live write.
    fn replay_point(&self, p: MetricPoint) {
        let planned = self.catalog.read().plan(std::slice::from_ref(&p));
        if let Ok((planned, derived)) = planned {
            let mut scratch = Vec::new();
            let samples: Vec<(SeriesRef, Sample)> = derived
                .iter()
                .map(|(l, s)| (self.series_ref(l, &mut scratch), *s))
                .collect();
            self.head.append_batch(&samples);
            self.catalog.write().commit(planned);
        }
    }

    /// Applies one replayed record; returns false if it did not decode or apply.
    pub(crate) fn apply(&self, payload: &[u8]) -> bool {
        let rec = match record::decode(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable record");
                return false;
            }
        };
        match rec {
            Record::Series(series) => {
                let mut remap = self.remap.lock();
                for (r, labels) in series {
                    match self.head.create_with_ref(r, &labels) {
                        Ok(_) => {
                            remap.remove(&r);
                        }
                        Err(SeriesError::LabelsTaken { existing, .. }) => {
                            remap.insert(r, existing);
                        }
                        Err(SeriesError::RefTaken { .. }) => {
                            let (live, _) = self.head.get_or_create(&labels);
                            remap.insert(r, live);
                        }
                    }
                }
            }
            Record::Samples(mut s) => {
                let remap = self.remap.lock();
                if !remap.is_empty() {
                    for (r, _) in &mut s {
                        if let Some(live) = remap.get(r) {
                            *r = *live;
                        }
                    }
                }
                drop(remap);
                self.head.append_batch(&s);
            }
            Record::Point {
                labels,
                kind,
                value,
                t,
            } => self.replay_point(MetricPoint {
                labels,
                kind,
                value,
                t,
            }),
            Record::Metadata { name, kind, help } => {
                merge_metadata(&mut self.metadata.write(), &name, kind, &help);
            }
            Record::Family {
                name,
                kind,
                help,
                unit,
                original,
            } => {
                self.metadata.write().insert(
                    name,
                    FamilyMeta {
                        kind,
                        help,
                        unit,
                        original,
                    },
                );
            }
            Record::TraceCompleted(id) => {
                self.traces.write().mark_completed(id);
            }
            Record::TraceDropped(id) => {
                // Spans logged before the decision are removed with it; a span logged after
                // it starts a new trace entry, as it did live.
                self.traces.write().remove_trace(id);
            }
            Record::Chunks { r, labels, chunks } => {
                if let Err(e) = self.head.restore(SeriesSnapshot { r, labels, chunks }) {
                    tracing::warn!(error = %e, series = %r, "checkpointed chunk unreadable");
                    return false;
                }
            }
            Record::Instrument(json) => match serde_json::from_slice::<Instrument>(&json) {
                Ok(i) => self.catalog.write().restore(i),
                Err(_) => return false,
            },
            Record::Event(e) => {
                self.events.write().insert(*e);
            }
            Record::EventAt(seq, e) => {
                self.events.write().insert_with_seq(*e, seq);
            }
            Record::Span(mut s) => {
                self.share_resource(&mut s.resource);
                let at = s.end_unix_nano.unwrap_or(s.start_unix_nano);
                if self.traces.write().upsert_span(*s, at).is_err() {
                    return false;
                }
            }
            Record::Log(mut l) => {
                self.share_resource(&mut l.resource);
                self.logs.write().insert(*l);
            }
        }
        true
    }
}

impl Memory {
    /// Replaces `resource` with the previous record's map when equal (the WAL holds one copy
    /// per record; memory shares one per resource).
    fn share_resource(&self, resource: &mut blazar_model::Resource) {
        if resource.is_empty() {
            return;
        }
        let mut last = self.replay_resource.lock();
        if *last == *resource {
            *resource = last.clone();
        } else {
            *last = resource.clone();
        }
    }
}
