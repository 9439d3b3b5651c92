//! Reads frames one at a time from a segment or checkpoint file, turning every way the bytes
//! can be wrong into [`Item::Corrupt`]. What to do about corruption is the caller's decision.

use std::io::{self, Read};

use crate::error::Corruption;
use crate::format::{
    decode_footer, decode_frame_header, decode_header, frame_crc, FileKind, FrameHeader,
    FOOTER_BODY_LEN, FRAME_HEADER_LEN, HEADER_LEN,
};

/// One step of a file scan.
#[derive(Debug)]
pub(crate) enum Item<'a> {
    /// A record whose frame starts at `offset` and whose CRC verified.
    Record { offset: u64, payload: &'a [u8] },
    /// A checkpoint footer starting at `offset`.
    Footer {
        offset: u64,
        records: u64,
        payload_bytes: u64,
    },
    /// The file ended exactly on a frame boundary.
    End,
    /// The bytes from `offset` on are unusable.
    Corrupt { offset: u64, reason: Corruption },
}

/// A forward-only frame reader that never reads past `file_len` and never allocates more than
/// the smaller of the remaining file and [`crate::MAX_RECORD_BYTES`].
pub(crate) struct FrameReader<R> {
    inner: R,
    offset: u64,
    file_len: u64,
    payload: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    /// Returns a reader over `inner`, which holds `file_len` bytes from its current position.
    pub(crate) fn new(inner: R, file_len: u64) -> Self {
        Self {
            inner,
            offset: 0,
            file_len,
            payload: Vec::new(),
        }
    }

    /// Returns the offset of the next unread byte.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads and checks the file header; returns its number. `Ok(Err(_))` means the header
    /// is unusable.
    pub(crate) fn read_header(
        &mut self,
        kind: FileKind,
        number: Option<u64>,
    ) -> io::Result<Result<u64, Corruption>> {
        let mut header = [0u8; HEADER_LEN];
        if !self.fill(&mut header)? {
            return Ok(Err(Corruption::TornHeader));
        }
        Ok(decode_header(header, kind, number))
    }

    /// Reads the next frame.
    pub(crate) fn next_item(&mut self) -> io::Result<Item<'_>> {
        let start = self.offset;
        if start >= self.file_len {
            return Ok(Item::End);
        }
        let mut frame_header = [0u8; FRAME_HEADER_LEN];
        if !self.fill(&mut frame_header)? {
            return Ok(corrupt(start, Corruption::TornFrame));
        }
        let (len, crc) = match decode_frame_header(frame_header) {
            Ok(FrameHeader::Record { len, crc }) => (len, crc),
            Ok(FrameHeader::Footer { crc }) => return self.footer(start, crc),
            Err(reason) => return Ok(corrupt(start, reason)),
        };
        // Check the length against what is left before allocating for it.
        if u64::from(len) > self.remaining() {
            return Ok(corrupt(start, Corruption::TornFrame));
        }
        let Ok(len_usize) = usize::try_from(len) else {
            return Ok(corrupt(start, Corruption::TooLong(len)));
        };
        let mut payload = std::mem::take(&mut self.payload);
        payload.clear();
        payload.resize(len_usize, 0);
        let complete = self.fill(&mut payload)?;
        self.payload = payload;
        if !complete {
            return Ok(corrupt(start, Corruption::TornFrame));
        }
        let [l0, l1, l2, l3, ..] = frame_header;
        if frame_crc([l0, l1, l2, l3], &self.payload) != crc {
            return Ok(corrupt(start, Corruption::CrcMismatch));
        }
        Ok(Item::Record {
            offset: start,
            payload: &self.payload,
        })
    }

    fn footer(&mut self, start: u64, crc: u32) -> io::Result<Item<'_>> {
        let mut body = [0u8; FOOTER_BODY_LEN];
        if !self.fill(&mut body)? {
            return Ok(corrupt(start, Corruption::TornFrame));
        }
        Ok(match decode_footer(crc, body) {
            Ok((records, payload_bytes)) => Item::Footer {
                offset: start,
                records,
                payload_bytes,
            },
            Err(reason) => corrupt(start, reason),
        })
    }

    fn remaining(&self) -> u64 {
        self.file_len.saturating_sub(self.offset)
    }

    /// Fills `buf` if the file has that many bytes left; returns `false` (a torn read) if not,
    /// including when the file shrank under us.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        let want = buf.len() as u64;
        if want > self.remaining() {
            return Ok(false);
        }
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.offset += want;
                Ok(true)
            }
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(err) => Err(err),
        }
    }
}

fn corrupt<'a>(offset: u64, reason: Corruption) -> Item<'a> {
    Item::Corrupt { offset, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{encode_footer, encode_frame, encode_header, MAX_RECORD_BYTES};

    fn file(records: &[&[u8]]) -> Vec<u8> {
        let mut buf = encode_header(FileKind::Segment, 1).to_vec();
        for r in records {
            encode_frame(&mut buf, r.len() as u32, r);
        }
        buf
    }

    fn scan(bytes: &[u8]) -> (Vec<Vec<u8>>, Option<(u64, Corruption)>) {
        let mut reader = FrameReader::new(bytes, bytes.len() as u64);
        if let Err(reason) = reader.read_header(FileKind::Segment, Some(1)).unwrap() {
            return (Vec::new(), Some((0, reason)));
        }
        let mut out = Vec::new();
        loop {
            match reader.next_item().unwrap() {
                Item::Record { payload, .. } => out.push(payload.to_vec()),
                Item::End => return (out, None),
                Item::Corrupt { offset, reason } => return (out, Some((offset, reason))),
                Item::Footer { .. } => panic!("no footer written"),
            }
        }
    }

    #[test]
    fn reads_records_in_order() {
        let bytes = file(&[b"one", b"", b"three"]);
        let (records, err) = scan(&bytes);
        assert_eq!(records, vec![b"one".to_vec(), vec![], b"three".to_vec()]);
        assert_eq!(err, None);
    }

    #[test]
    fn huge_length_in_short_file_is_torn_not_allocated() {
        let mut bytes = encode_header(FileKind::Segment, 1).to_vec();
        bytes.extend_from_slice(&MAX_RECORD_BYTES.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        let (records, err) = scan(&bytes);
        assert!(records.is_empty());
        assert_eq!(err, Some((16, Corruption::TornFrame)));
    }

    #[test]
    fn flipped_payload_bit_is_crc_mismatch() {
        let mut bytes = file(&[b"good", b"bad!"]);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        let (records, err) = scan(&bytes);
        assert_eq!(records, vec![b"good".to_vec()]);
        assert_eq!(err, Some((28, Corruption::CrcMismatch)));
    }

    #[test]
    fn footer_is_reported() {
        let mut bytes = file(&[b"x"]);
        encode_footer(&mut bytes, 1, 1);
        let mut reader = FrameReader::new(bytes.as_slice(), bytes.len() as u64);
        reader
            .read_header(FileKind::Segment, Some(1))
            .unwrap()
            .unwrap();
        assert!(matches!(reader.next_item().unwrap(), Item::Record { .. }));
        assert!(matches!(
            reader.next_item().unwrap(),
            Item::Footer {
                records: 1,
                payload_bytes: 1,
                ..
            }
        ));
        assert!(matches!(reader.next_item().unwrap(), Item::End));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic sweep; the proptest in `replay` covers structured damage.
        let mut state = 0x1234_5678u32;
        for len in 0..200 {
            let mut bytes = encode_header(FileKind::Segment, 1).to_vec();
            for _ in 0..len {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                bytes.push((state >> 24) as u8);
            }
            let _ = scan(&bytes);
        }
    }
}
