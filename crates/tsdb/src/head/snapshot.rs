//! Snapshots for checkpoints: each series with its encoded chunks, a byte form for one
//! series, and restoring a head from them. Files and framing belong to `blazar-store`.
//! Format: `docs/formats/chunk.md`.
#![deny(clippy::indexing_slicing)]

use blazar_model::{Labels, Sample};

use super::series::SealedChunk;
use super::{Head, SeriesError, SeriesRef};
use crate::chunk::{ChunkError, XorChunk};

/// The version byte that opens an encoded [`SeriesSnapshot`].
pub const SNAPSHOT_VERSION: u8 = 1;

/// One series as a checkpoint holds it: ref, labels and encoded chunks in time order, the
/// open chunk last.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSnapshot {
    /// The series ref, kept across restore.
    pub r: SeriesRef,
    /// The series labels.
    pub labels: Labels,
    /// Encoded chunks ([`XorChunk::bytes`]), oldest first.
    pub chunks: Vec<Vec<u8>>,
}

/// Why a snapshot could not be decoded or restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes end before the snapshot does.
    #[error("series snapshot is truncated at byte {offset}")]
    Truncated {
        /// Where the data ran out.
        offset: usize,
    },
    /// The version byte is not one this build reads.
    #[error("series snapshot version {version} is not supported (expected {SNAPSHOT_VERSION})")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// The CRC does not match the contents.
    #[error("series snapshot checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// CRC stored in the snapshot.
        stored: u32,
        /// CRC of the bytes read.
        computed: u32,
    },
    /// A field is malformed.
    #[error("series snapshot is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// Where the field starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A chunk does not decode.
    #[error("series {r}: chunk {index} is invalid")]
    Chunk {
        /// The series ref.
        r: SeriesRef,
        /// Index of the chunk in the snapshot.
        index: usize,
        /// What was wrong.
        #[source]
        source: ChunkError,
    },
    /// Chunks overlap or are out of time order.
    #[error("series {r}: chunk {index} starts at {start} ms, not after the previous chunk's end at {prev_end} ms")]
    ChunkOrder {
        /// The series ref.
        r: SeriesRef,
        /// Index of the chunk in the snapshot.
        index: usize,
        /// Its first timestamp.
        start: i64,
        /// The previous chunk's last timestamp.
        prev_end: i64,
    },
    /// The series cannot be created with this ref.
    #[error("restoring series snapshot")]
    Series(#[from] SeriesError),
    /// The series already holds samples.
    #[error("series {r} already holds samples")]
    NotEmpty {
        /// The series ref.
        r: SeriesRef,
    },
}

impl SnapshotError {
    /// Returns the category of this error.
    pub fn kind(&self) -> blazar_model::ErrorKind {
        match self {
            Self::Series(_) | Self::NotEmpty { .. } => blazar_model::ErrorKind::Conflict,
            _ => blazar_model::ErrorKind::Internal,
        }
    }
}

// === byte form ===

impl SeriesSnapshot {
    /// Returns the byte form: version, ref, labels, chunks, CRC-32 (see `docs/formats/chunk.md`).
    pub fn encode(&self) -> Vec<u8> {
        let chunk_bytes: usize = self.chunks.iter().map(|c| c.len() + 3).sum();
        let label_bytes: usize = self.labels.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
        let mut out = Vec::with_capacity(1 + 10 + 5 + label_bytes + 5 + chunk_bytes + 4);
        out.push(SNAPSHOT_VERSION);
        put_uvarint(&mut out, self.r.0);
        put_uvarint(&mut out, self.labels.len() as u64);
        for (k, v) in self.labels.iter() {
            put_bytes(&mut out, k.as_bytes());
            put_bytes(&mut out, v.as_bytes());
        }
        put_uvarint(&mut out, self.chunks.len() as u64);
        for c in &self.chunks {
            put_bytes(&mut out, c);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses the byte form. Chunks are not decoded here; [`Head::restore`] checks them.
    ///
    /// # Errors
    /// A short input, another version, a CRC mismatch, a malformed field (bad varint, label
    /// not UTF-8, empty or repeated label) or bytes after the snapshot.
    pub fn decode(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let body_len = bytes.len().checked_sub(4).ok_or(SnapshotError::Truncated {
            offset: bytes.len(),
        })?;
        let (body, crc) = bytes.split_at(body_len);
        let stored = crc
            .try_into()
            .map(u32::from_le_bytes)
            .map_err(|_| SnapshotError::Truncated { offset: 0 })?;
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(SnapshotError::Checksum { stored, computed });
        }
        let mut d = Decoder { buf: body, pos: 0 };
        let version = d.byte()?;
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::UnsupportedVersion { version });
        }
        let r = SeriesRef(d.uvarint()?);
        let n_labels = d.count()?;
        let mut pairs = Vec::with_capacity(n_labels);
        for _ in 0..n_labels {
            let at = d.pos;
            let name = d.string()?;
            let value = d.string()?;
            if value.is_empty() {
                return Err(SnapshotError::Corrupt {
                    offset: at,
                    reason: "empty label value",
                });
            }
            pairs.push((name, value));
        }
        let labels_at = d.pos;
        let labels = Labels::try_from_pairs(pairs).map_err(|_| SnapshotError::Corrupt {
            offset: labels_at,
            reason: "label given twice",
        })?;
        let n_chunks = d.count()?;
        let mut chunks = Vec::with_capacity(n_chunks);
        for _ in 0..n_chunks {
            chunks.push(d.bytes()?.to_vec());
        }
        if d.pos != body.len() {
            return Err(SnapshotError::Corrupt {
                offset: d.pos,
                reason: "bytes after the last chunk",
            });
        }
        Ok(Self { r, labels, chunks })
    }
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn byte(&mut self) -> Result<u8, SnapshotError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(SnapshotError::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn uvarint(&mut self) -> Result<u64, SnapshotError> {
        let start = self.pos;
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                break;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(SnapshotError::Corrupt {
            offset: start,
            reason: "varint overflows 64 bits",
        })
    }

    /// Reads a count of items, each at least one byte, so it cannot exceed what is left.
    fn count(&mut self) -> Result<usize, SnapshotError> {
        let start = self.pos;
        let n = self.uvarint()?;
        let left = self.buf.len().saturating_sub(self.pos);
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= left)
            .ok_or(SnapshotError::Corrupt {
                offset: start,
                reason: "count exceeds the bytes left",
            })
    }

    fn bytes(&mut self) -> Result<&'a [u8], SnapshotError> {
        let start = self.pos;
        let len = self.count()?;
        let end = self
            .pos
            .checked_add(len)
            .ok_or(SnapshotError::Truncated { offset: start })?;
        let b = self
            .buf
            .get(self.pos..end)
            .ok_or(SnapshotError::Truncated { offset: start })?;
        self.pos = end;
        Ok(b)
    }

    fn string(&mut self) -> Result<String, SnapshotError> {
        let start = self.pos;
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| SnapshotError::Corrupt {
            offset: start,
            reason: "label is not UTF-8",
        })
    }
}

// === impl Head ===

impl Head {
    /// Returns every series with its encoded chunks (the open one included), sorted by ref.
    /// Each series is copied under its own lock, so the snapshot is consistent per series.
    pub fn snapshot(&self) -> Vec<SeriesSnapshot> {
        let mut out: Vec<SeriesSnapshot> = self
            .all_series()
            .into_iter()
            .map(|(r, s)| {
                let data = s.data.lock();
                let mut chunks: Vec<Vec<u8>> =
                    data.sealed.iter().map(|c| c.bytes.to_vec()).collect();
                if !data.open.is_empty() {
                    chunks.push(data.open.bytes().to_vec());
                }
                SeriesSnapshot {
                    r,
                    labels: s.labels.clone(),
                    chunks,
                }
            })
            .collect();
        out.sort_unstable_by_key(|s| s.r);
        out
    }

    /// Restores one series from a snapshot; appends then continue after its newest sample.
    /// The series may exist already with the same ref and labels as long as it is empty.
    ///
    /// # Errors
    /// A chunk that does not decode, chunks out of order, a ref or labels taken by another
    /// series, or a series that already has samples. Nothing is changed on error, except
    /// that the series may have been created (empty).
    pub fn restore(&self, snap: SeriesSnapshot) -> Result<(), SnapshotError> {
        let r = snap.r;
        let mut chunks = Vec::with_capacity(snap.chunks.len());
        let mut prev_end: Option<i64> = None;
        for (index, bytes) in snap.chunks.into_iter().enumerate() {
            let c = XorChunk::from_bytes(bytes).map_err(|source| SnapshotError::Chunk {
                r,
                index,
                source,
            })?;
            let (Some(start), Some(end)) = (c.min_time(), c.max_time()) else {
                continue;
            };
            if let Some(prev_end) = prev_end.filter(|p| start <= *p) {
                return Err(SnapshotError::ChunkOrder {
                    r,
                    index,
                    start,
                    prev_end,
                });
            }
            prev_end = Some(end);
            chunks.push(c);
        }
        self.create_with_ref(r, &snap.labels)?;
        let series = self
            .series(r)
            .ok_or(SnapshotError::Series(SeriesError::RefTaken { r }))?;
        let mut data = series.data.lock();
        if !data.is_empty() {
            return Err(SnapshotError::NotEmpty { r });
        }
        let mut last: Option<Sample> = None;
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            last = c.last().or(last);
            if i + 1 == n && c.len() < self.chunk_samples {
                data.open = c;
            } else if let (Some(min_t), Some(max_t)) = (c.min_time(), c.max_time()) {
                data.sealed.push(SealedChunk {
                    min_t,
                    max_t,
                    bytes: c.into_bytes().into_boxed_slice(),
                });
            }
        }
        data.last = last;
        Ok(())
    }
}
