//! Gorilla-style chunk: up to 65,535 samples of one series, compressed and appendable.
//! Owns the encoding and its validation; the head decides when a chunk is full.
//! Format: `docs/formats/chunk.md`.
#![deny(clippy::indexing_slicing)]

mod bits;
mod codec;
#[cfg(test)]
mod tests;

use blazar_model::Sample;

use bits::{BitReader, BitWriter};
use codec::{Corrupt, Hints, State};

/// The format version written in the first byte of every chunk.
pub const CHUNK_VERSION: u8 = 1;
/// Bytes before the bit stream: version and a little-endian `u16` sample count.
pub(crate) const HEADER_LEN: usize = 3;
/// Most samples one chunk can hold (the header's count is a `u16`).
pub const MAX_SAMPLES: usize = u16::MAX as usize;

/// Why a chunk could not be decoded or appended to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The bytes are shorter than the header.
    #[error("chunk of {len} bytes is shorter than its {HEADER_LEN}-byte header")]
    Truncated {
        /// Length of the bytes given.
        len: usize,
    },
    /// The version byte is not one this build reads.
    #[error("chunk version {version} is not supported (expected {CHUNK_VERSION})")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// The bit stream does not decode to the number of samples the header claims.
    #[error("chunk is corrupt at sample {sample}: {reason}")]
    Corrupt {
        /// Index of the sample being decoded.
        sample: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// Data follows the last sample.
    #[error("chunk has {extra} bits after its last sample")]
    TrailingData {
        /// Bits after the last sample, padding included if not zero.
        extra: usize,
    },
    /// An append would exceed [`MAX_SAMPLES`].
    #[error("chunk already holds {MAX_SAMPLES} samples")]
    Full,
    /// An append went back in time.
    #[error("sample at {got} ms is older than the chunk's last sample at {last} ms")]
    OutOfOrder {
        /// The chunk's last timestamp.
        last: i64,
        /// The timestamp appended.
        got: i64,
    },
}

impl ChunkError {
    /// Returns the category of this error.
    pub fn kind(&self) -> blazar_model::ErrorKind {
        match self {
            Self::OutOfOrder { .. } => blazar_model::ErrorKind::InvalidInput,
            Self::Full => blazar_model::ErrorKind::Conflict,
            _ => blazar_model::ErrorKind::Internal,
        }
    }
}

/// An appendable compressed chunk: delta-of-delta timestamps, values as decimal residuals
/// or XORs. Every instance holds valid bytes: built by appends or checked by [`Self::from_bytes`].
#[derive(Debug, Clone)]
pub struct XorChunk {
    w: BitWriter,
    /// `None` while empty; otherwise the state after the last sample.
    st: Option<State>,
    hints: Hints,
    count: u16,
    min_t: i64,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    /// Returns an empty chunk.
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(32);
        buf.extend_from_slice(&[CHUNK_VERSION, 0, 0]);
        Self {
            w: BitWriter::from_bytes(buf),
            st: None,
            hints: Hints::default(),
            count: 0,
            min_t: 0,
        }
    }

    /// Appends a sample; timestamps may repeat but not go back.
    ///
    /// # Errors
    /// [`ChunkError::OutOfOrder`] if `t` is before the last timestamp, [`ChunkError::Full`] at
    /// [`MAX_SAMPLES`]. The chunk is unchanged on error.
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), ChunkError> {
        if self.count == u16::MAX {
            return Err(ChunkError::Full);
        }
        match &mut self.st {
            None => {
                self.st = Some(codec::encode_first(&mut self.w, t, v));
                self.min_t = t;
            }
            Some(st) => {
                if t < st.t {
                    return Err(ChunkError::OutOfOrder { last: st.t, got: t });
                }
                codec::encode_next(&mut self.w, st, &mut self.hints, t, v);
            }
        }
        self.count += 1;
        if let Some(c) = self.w.bytes_mut().get_mut(1..HEADER_LEN) {
            c.copy_from_slice(&self.count.to_le_bytes());
        }
        Ok(())
    }

    /// Returns the number of samples.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Returns whether the chunk holds no samples.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Returns the first timestamp, `None` when empty.
    pub fn min_time(&self) -> Option<i64> {
        self.st.map(|_| self.min_t)
    }

    /// Returns the last timestamp, `None` when empty.
    pub fn max_time(&self) -> Option<i64> {
        self.st.map(|st| st.t)
    }

    /// Returns the last sample, `None` when empty.
    pub fn last(&self) -> Option<Sample> {
        self.st.map(|st| Sample {
            t: st.t,
            v: f64::from_bits(st.v),
        })
    }

    /// Returns the encoded chunk: a 3-byte header (version, sample count) and the bit stream.
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Returns the heap bytes held by the buffer (its capacity).
    pub fn capacity_bytes(&self) -> usize {
        self.w.capacity()
    }

    /// Returns the encoded bytes, consuming the chunk.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_bytes()
    }

    /// Decodes and checks `bytes`; the result can be appended to like the chunk that wrote them.
    ///
    /// # Errors
    /// Anything that does not decode to exactly the header's sample count: a short header,
    /// another version, a corrupt stream, trailing data or non-zero padding.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, ChunkError> {
        let count = header_count(&bytes)?;
        let mut r = BitReader::new(&bytes, HEADER_LEN * 8);
        let mut st: Option<State> = None;
        let mut min_t = 0;
        for i in 0..count {
            let corrupt = |c: Corrupt| ChunkError::Corrupt {
                sample: usize::from(i),
                reason: c.as_str(),
            };
            match &mut st {
                None => {
                    let s = codec::decode_first(&mut r).map_err(corrupt)?;
                    min_t = s.t;
                    st = Some(s);
                }
                Some(s) => codec::decode_next(&mut r, s).map_err(corrupt)?,
            }
        }
        let end = r.pos();
        let total = bytes.len() * 8;
        let padding = (8 - end % 8) % 8;
        // Padding bits are read as a number to check they are zero.
        let pad_ok = r.read_bits(padding as u32) == Some(0);
        if end + padding != total || !pad_ok {
            return Err(ChunkError::TrailingData {
                extra: total.saturating_sub(end),
            });
        }
        Ok(Self {
            w: BitWriter::resume(bytes, padding as u32),
            st,
            hints: Hints::default(),
            count,
            min_t,
        })
    }

    /// Returns an iterator over the samples in time order.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::new(self.w.bytes())
    }
}

impl<'a> IntoIterator for &'a XorChunk {
    type Item = Sample;
    type IntoIter = ChunkIter<'a>;
    fn into_iter(self) -> ChunkIter<'a> {
        self.iter()
    }
}

fn header_count(bytes: &[u8]) -> Result<u16, ChunkError> {
    let header: [u8; HEADER_LEN] = bytes
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(ChunkError::Truncated { len: bytes.len() })?;
    let [version, lo, hi] = header;
    if version != CHUNK_VERSION {
        return Err(ChunkError::UnsupportedVersion { version });
    }
    Ok(u16::from_le_bytes([lo, hi]))
}

/// Returns the sample count in the header of encoded chunk `bytes`, 0 if there is no header.
pub(crate) fn count_of(bytes: &[u8]) -> usize {
    header_count(bytes).map_or(0, usize::from)
}

/// Iterates the samples of an encoded chunk.
///
/// Chunks are checked when built, so the iterator yields every sample; on bytes that do not
/// decode (possible only through [`ChunkIter::new`] on unchecked bytes) it stops early
/// instead of panicking, and [`ChunkIter::is_corrupt`] tells.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    r: BitReader<'a>,
    st: Option<State>,
    remaining: u16,
    corrupt: bool,
}

impl<'a> ChunkIter<'a> {
    /// Returns an iterator over encoded chunk `bytes` (as from [`XorChunk::bytes`]).
    pub fn new(bytes: &'a [u8]) -> Self {
        let (remaining, corrupt) = match header_count(bytes) {
            Ok(n) => (n, false),
            Err(_) => (0, true),
        };
        Self {
            r: BitReader::new(bytes, HEADER_LEN * 8),
            st: None,
            remaining,
            corrupt,
        }
    }

    /// Returns whether decoding stopped on corrupt bytes.
    pub fn is_corrupt(&self) -> bool {
        self.corrupt
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        if self.remaining == 0 {
            return None;
        }
        let res = match &mut self.st {
            None => codec::decode_first(&mut self.r).map(|s| self.st = Some(s)),
            Some(st) => codec::decode_next(&mut self.r, st),
        };
        match (res, self.st) {
            (Ok(()), Some(st)) => {
                self.remaining -= 1;
                Some(Sample {
                    t: st.t,
                    v: f64::from_bits(st.v),
                })
            }
            _ => {
                self.remaining = 0;
                self.corrupt = true;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}
