//! Reading segments back on start: [`Wal::replay`] and its recovery rules (truncate a torn
//! tail of the last segment, skip a damaged tail of an earlier one). Appending is `writer`.

use std::fs::{File, OpenOptions};
use std::io::BufReader;
use std::path::Path;

use tracing::{info, warn};

use crate::error::{Corruption, WalError};
use crate::format::FileKind;
use crate::layout::{list_segments, SegmentInfo};
use crate::reader::{FrameReader, Item};
use crate::writer::Wal;

const READ_BUFFER_BYTES: usize = 256 << 10;

/// What a replay read, and what it had to cut or skip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Segment files read (including empty and skipped ones).
    pub segments: u64,
    /// Records handed to the callback.
    pub records: u64,
    /// Payload bytes handed to the callback.
    pub payload_bytes: u64,
    /// Bytes cut off the last segment's torn or corrupt tail.
    pub truncated_bytes: u64,
    /// Bytes of earlier segments skipped as corrupt (left on disk).
    pub skipped_bytes: u64,
    /// Earlier segments in which bytes were skipped.
    pub corrupt_segments: u64,
    /// The highest segment number read, if any.
    pub last_segment: Option<u64>,
}

impl Wal {
    /// Replays every record of the segments in `dir` numbered `from_segment` or higher, in
    /// order, calling `f(segment, payload)` for each. Call it before [`Wal::open`]; after a
    /// checkpoint covering segment `N`, pass `N + 1`.
    ///
    /// Recovery, never a failed start: in the last segment, a torn or corrupt tail
    /// (incomplete frame, CRC mismatch, impossible length) is truncated in place to the end
    /// of the last good frame, with a warning. In an earlier segment, the rest of the segment
    /// from the bad frame on is skipped with a warning and counted in
    /// [`ReplayStats::skipped_bytes`]; a segment whose header is damaged is skipped whole.
    /// A missing or empty directory replays nothing.
    ///
    /// # Errors
    ///
    /// [`WalError::Apply`] as soon as `f` fails (nothing later is read);
    /// [`WalError::UnsupportedVersion`] for a segment from a newer format (untouched);
    /// [`WalError::ListDir`], [`WalError::OpenSegment`], [`WalError::Read`],
    /// [`WalError::Truncate`] for I/O failures.
    pub fn replay<E, F>(
        dir: impl AsRef<Path>,
        from_segment: u64,
        mut f: F,
    ) -> Result<ReplayStats, WalError<E>>
    where
        F: FnMut(u64, &[u8]) -> Result<(), E>,
    {
        let dir = dir.as_ref();
        let segments = list_segments(dir).map_err(WalError::widen)?;
        let last = segments.last().map(|s| s.number);
        let mut stats = ReplayStats::default();
        for segment in segments.iter().filter(|s| s.number >= from_segment) {
            replay_segment(segment, Some(segment.number) == last, &mut f, &mut stats)?;
            stats.segments += 1;
            stats.last_segment = Some(segment.number);
        }
        if stats.segments > 0 {
            info!(
                dir = %dir.display(),
                segments = stats.segments,
                records = stats.records,
                truncated_bytes = stats.truncated_bytes,
                skipped_bytes = stats.skipped_bytes,
                "replayed wal"
            );
        }
        Ok(stats)
    }
}

fn replay_segment<E, F>(
    segment: &SegmentInfo,
    is_last: bool,
    f: &mut F,
    stats: &mut ReplayStats,
) -> Result<(), WalError<E>>
where
    F: FnMut(u64, &[u8]) -> Result<(), E>,
{
    let number = segment.number;
    let open_err = |source| WalError::OpenSegment {
        segment: number,
        source,
    };
    let file = File::open(&segment.path).map_err(open_err)?;
    let file_len = file.metadata().map_err(open_err)?.len();
    let mut reader = FrameReader::new(BufReader::with_capacity(READ_BUFFER_BYTES, file), file_len);
    let read_err = |offset, source| WalError::Read {
        segment: number,
        offset,
        source,
    };
    if file_len == 0 {
        // Created, then the process died before the header was written.
        return Ok(());
    }
    match reader.read_header(FileKind::Segment, Some(number)) {
        Err(source) => return Err(read_err(0, source)),
        Ok(Ok(_)) => {}
        Ok(Err(Corruption::UnsupportedVersion(version))) => {
            return Err(WalError::UnsupportedVersion {
                segment: number,
                version,
            })
        }
        Ok(Err(Corruption::TornHeader)) => {
            return damaged(segment, is_last, file_len, 0, Corruption::TornHeader, stats)
        }
        Ok(Err(reason)) => {
            // Not a torn write but a foreign or damaged file: keep it for inspection. It is
            // never appended to, and goes when a checkpoint covers it.
            warn!(segment = number, bytes = file_len, reason = %reason, "skipping wal segment with a bad header");
            stats.skipped_bytes += file_len;
            stats.corrupt_segments += 1;
            return Ok(());
        }
    }
    loop {
        let at = reader.offset();
        match reader.next_item().map_err(|source| read_err(at, source))? {
            Item::Record { offset, payload } => {
                f(number, payload).map_err(|source| WalError::Apply {
                    segment: number,
                    offset,
                    source,
                })?;
                stats.records += 1;
                stats.payload_bytes += payload.len() as u64;
            }
            Item::End => return Ok(()),
            Item::Footer { offset, .. } => {
                return damaged(
                    segment,
                    is_last,
                    file_len,
                    offset,
                    Corruption::UnexpectedFooter,
                    stats,
                )
            }
            Item::Corrupt { offset, reason } => {
                return damaged(segment, is_last, file_len, offset, reason, stats)
            }
        }
    }
}

/// Applies the recovery rule to the bytes of `segment` from `offset` on.
fn damaged<E>(
    segment: &SegmentInfo,
    is_last: bool,
    file_len: u64,
    offset: u64,
    reason: Corruption,
    stats: &mut ReplayStats,
) -> Result<(), WalError<E>> {
    let bytes = file_len.saturating_sub(offset);
    if is_last {
        warn!(segment = segment.number, offset, bytes, reason = %reason, "truncating torn wal tail");
        let truncate_err = |source| WalError::Truncate {
            segment: segment.number,
            offset,
            source,
        };
        let file = OpenOptions::new()
            .write(true)
            .open(&segment.path)
            .map_err(truncate_err)?;
        file.set_len(offset).map_err(truncate_err)?;
        file.sync_data().map_err(truncate_err)?;
        stats.truncated_bytes += bytes;
    } else {
        warn!(segment = segment.number, offset, bytes, reason = %reason, "skipping corrupt wal segment tail");
        stats.skipped_bytes += bytes;
        stats.corrupt_segments += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
