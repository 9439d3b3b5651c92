//! The notification outbox: every notification is written to its own write-ahead log (the
//! same CRC-framed segments as the data WAL, in `DATA_DIR/outbox`) before delivery starts, and
//! marked done when delivered or given up. On start the log is replayed and what was not done
//! is delivered again, so a restart loses no notification. Each start compacts the log to the
//! pending notifications only, and so does a rotation, so it stays small.

use std::collections::BTreeMap;
use std::path::Path;

use blazar_wal::{FsyncPolicy, Wal, WalOptions};
use serde::{Deserialize, Serialize};

use crate::alert::Notification;

/// Segments are small: a notification is a few KiB and the log is compacted on rotation.
const SEGMENT_BYTES: u64 = 4 << 20;
/// Most notifications pending in the outbox; more are refused (and counted by the caller).
pub const MAX_PENDING: usize = 20_000;

const TAG_ENQUEUE: u8 = 1;
const TAG_DONE: u8 = 2;

/// A notification waiting for delivery to one channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub id: u64,
    pub channel: String,
    /// Unix milliseconds when it was first queued (deliveries expire from then).
    pub created_ms: i64,
    pub notification: serde_json::Value,
}

/// The outbox.
pub struct Outbox {
    wal: Wal,
    pending: BTreeMap<u64, Entry>,
    next_id: u64,
    last_sync: Option<std::time::Instant>,
}

/// Why the outbox failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox log: {0}")]
    Wal(String),
    #[error("outbox is full ({MAX_PENDING} notifications pending)")]
    Full,
}

impl Outbox {
    /// Replays `dir`, compacts it to what is pending, and opens it for appends.
    ///
    /// # Errors
    /// The directory cannot be read or written.
    pub fn open(dir: &Path) -> Result<(Self, Vec<Entry>), OutboxError> {
        let mut pending: BTreeMap<u64, Entry> = BTreeMap::new();
        let mut next_id = 1u64;
        let stats = Wal::replay(dir, 0, |_, rec| {
            match rec.split_first() {
                Some((&TAG_ENQUEUE, body)) => {
                    if let Ok(e) = serde_json::from_slice::<Entry>(body) {
                        next_id = next_id.max(e.id + 1);
                        pending.insert(e.id, e);
                    }
                }
                Some((&TAG_DONE, body)) => {
                    if let Ok(b) = <[u8; 8]>::try_from(body) {
                        pending.remove(&u64::from_le_bytes(b));
                    }
                }
                _ => {}
            }
            Ok::<(), std::convert::Infallible>(())
        })
        .map_err(|e| OutboxError::Wal(e.to_string()))?;
        let last_segment = stats.last_segment;
        let wal = Wal::open(
            WalOptions::new(dir)
                .with_segment_bytes(SEGMENT_BYTES)
                .with_fsync(FsyncPolicy::Interval(FsyncPolicy::DEFAULT_INTERVAL)),
        )
        .map_err(|e| OutboxError::Wal(e.to_string()))?;
        let mut outbox = Self {
            wal,
            pending,
            next_id,
            last_sync: None,
        };
        outbox.rewrite_pending()?;
        if let Some(n) = last_segment {
            outbox
                .wal
                .remove_segments_through(n)
                .map_err(|e| OutboxError::Wal(e.to_string()))?;
        }
        let replayed: Vec<Entry> = outbox.pending.values().cloned().collect();
        Ok((outbox, replayed))
    }

    /// Writes a notification for `channel` durably; returns its id.
    ///
    /// # Errors
    /// The outbox is full, or the log cannot be written.
    pub fn enqueue(
        &mut self,
        channel: &str,
        n: &Notification,
        created_ms: i64,
    ) -> Result<u64, OutboxError> {
        if self.pending.len() >= MAX_PENDING {
            return Err(OutboxError::Full);
        }
        let e = Entry {
            id: self.next_id,
            channel: channel.to_string(),
            created_ms,
            notification: serde_json::to_value(n).unwrap_or_default(),
        };
        self.append_entry(&e)?;
        self.next_id += 1;
        let id = e.id;
        self.pending.insert(id, e);
        self.maybe_compact()?;
        Ok(id)
    }

    /// Marks a notification delivered or given up.
    ///
    /// # Errors
    /// The log cannot be written.
    pub fn done(&mut self, id: u64) -> Result<(), OutboxError> {
        if self.pending.remove(&id).is_none() {
            return Ok(());
        }
        let mut rec = Vec::with_capacity(9);
        rec.push(TAG_DONE);
        rec.extend_from_slice(&id.to_le_bytes());
        self.wal
            .append(&rec)
            .map_err(|e| OutboxError::Wal(e.to_string()))?;
        self.sync_if_due()?;
        self.maybe_compact()
    }

    /// Notifications not yet done.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn append_entry(&mut self, e: &Entry) -> Result<(), OutboxError> {
        let mut rec = vec![TAG_ENQUEUE];
        rec.extend(serde_json::to_vec(e).unwrap_or_default());
        self.wal
            .append(&rec)
            .map_err(|e| OutboxError::Wal(e.to_string()))?;
        self.sync_if_due()
    }

    /// Records reach the OS at once (a `kill -9` loses nothing); they are fdatasync'd at most
    /// every 200 ms, like the data WAL's default, so a power loss can lose that window.
    fn sync_if_due(&mut self) -> Result<(), OutboxError> {
        if self.wal.needs_sync()
            && self
                .last_sync
                .is_none_or(|t| t.elapsed() >= FsyncPolicy::DEFAULT_INTERVAL)
        {
            self.wal
                .sync()
                .map_err(|e| OutboxError::Wal(e.to_string()))?;
            self.last_sync = Some(std::time::Instant::now());
        }
        Ok(())
    }

    /// After a rotation, rewrites what is pending into the new segment and drops the older
    /// ones.
    fn maybe_compact(&mut self) -> Result<(), OutboxError> {
        if self.wal.segments().len() <= 2 {
            return Ok(());
        }
        let old = self
            .wal
            .rotate()
            .map_err(|e| OutboxError::Wal(e.to_string()))?;
        self.rewrite_pending()?;
        self.wal
            .remove_segments_through(old)
            .map_err(|e| OutboxError::Wal(e.to_string()))?;
        Ok(())
    }

    fn rewrite_pending(&mut self) -> Result<(), OutboxError> {
        let entries: Vec<Entry> = self.pending.values().cloned().collect();
        for e in &entries {
            self.append_entry(e)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertState;

    fn n(key: &str) -> Notification {
        Notification {
            key: key.into(),
            group_key: "g".into(),
            status: AlertState::Firing,
            group_labels: BTreeMap::new(),
            alerts: Vec::new(),
            timestamp: String::new(),
        }
    }

    #[test]
    fn what_is_not_done_survives_a_reopen_and_the_log_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut o, replayed) = Outbox::open(dir.path()).unwrap();
            assert!(replayed.is_empty());
            let a = o.enqueue("hook", &n("k1"), 1).unwrap();
            let b = o.enqueue("hook", &n("k2"), 2).unwrap();
            o.enqueue("pager", &n("k3"), 3).unwrap();
            o.done(b).unwrap();
            assert_ne!(a, b);
        }
        let (mut o, replayed) = Outbox::open(dir.path()).unwrap();
        let keys: Vec<&str> = replayed
            .iter()
            .map(|e| e.notification["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["k1", "k3"]);
        let next = o.enqueue("hook", &n("k4"), 4).unwrap();
        assert!(replayed.iter().all(|e| e.id < next), "ids keep growing");
        for e in &replayed {
            o.done(e.id).unwrap();
        }
        drop(o);
        let (_, replayed) = Outbox::open(dir.path()).unwrap();
        assert_eq!(replayed.len(), 1);
        let segments = std::fs::read_dir(dir.path()).unwrap().count();
        assert!(segments <= 3, "compacted on open: {segments} files");
    }
}
