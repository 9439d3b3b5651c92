//! The byte format shared by segments and checkpoints: file header, record frame and
//! checkpoint footer (specified in `docs/formats/wal.md`). Pure encode/decode; no I/O.

use crate::error::Corruption;

/// The format version byte written in every file header; readers reject other versions.
pub const FORMAT_VERSION: u8 = 1;

/// The largest payload a record may carry (64 MiB). A length field above it is corruption,
/// so a damaged length never makes replay allocate more than this.
pub const MAX_RECORD_BYTES: u32 = 64 << 20;

pub(crate) const MAGIC: [u8; 4] = *b"BZWL";
pub(crate) const HEADER_LEN: usize = 16;
pub(crate) const FRAME_HEADER_LEN: usize = 8;
/// A length field no record can have (it is above [`MAX_RECORD_BYTES`]) marks the footer.
pub(crate) const FOOTER_MARKER: u32 = u32::MAX;
pub(crate) const FOOTER_BODY_LEN: usize = 16;

/// Which kind of file a header opens; a segment is never mistaken for a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Segment = 1,
    Checkpoint = 2,
}

/// Returns the 16-byte header: magic, version, kind, two zero bytes, the file's number (LE).
pub(crate) fn encode_header(kind: FileKind, number: u64) -> [u8; HEADER_LEN] {
    let [m0, m1, m2, m3] = MAGIC;
    let [n0, n1, n2, n3, n4, n5, n6, n7] = number.to_le_bytes();
    [
        m0,
        m1,
        m2,
        m3,
        FORMAT_VERSION,
        kind as u8,
        0,
        0,
        n0,
        n1,
        n2,
        n3,
        n4,
        n5,
        n6,
        n7,
    ]
}

/// Checks a header against the expected kind and, if known, the number in the file name;
/// returns the header's number.
pub(crate) fn decode_header(
    header: [u8; HEADER_LEN],
    kind: FileKind,
    expected_number: Option<u64>,
) -> Result<u64, Corruption> {
    let [m0, m1, m2, m3, version, found_kind, _r0, _r1, n0, n1, n2, n3, n4, n5, n6, n7] = header;
    if [m0, m1, m2, m3] != MAGIC {
        return Err(Corruption::BadMagic);
    }
    if version != FORMAT_VERSION {
        return Err(Corruption::UnsupportedVersion(version));
    }
    if found_kind != kind as u8 {
        return Err(Corruption::WrongKind(found_kind));
    }
    let found = u64::from_le_bytes([n0, n1, n2, n3, n4, n5, n6, n7]);
    match expected_number {
        Some(expected) if expected != found => Err(Corruption::NumberMismatch { expected, found }),
        _ => Ok(found),
    }
}

/// Returns the payload length as a frame length, or `None` if it exceeds [`MAX_RECORD_BYTES`].
pub(crate) fn record_len(payload: &[u8]) -> Option<u32> {
    u32::try_from(payload.len())
        .ok()
        .filter(|&len| len <= MAX_RECORD_BYTES)
}

/// Returns the frame CRC: CRC-32 (IEEE) over the four length bytes, then the payload.
/// Covering the length means a zero-filled region (len 0, crc 0) never decodes as a record.
pub(crate) fn frame_crc(len_field: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len_field);
    hasher.update(payload);
    hasher.finalize()
}

/// Appends one record frame to `buf`. `len` must come from [`record_len`] of `payload`.
pub(crate) fn encode_frame(buf: &mut Vec<u8>, len: u32, payload: &[u8]) {
    debug_assert_eq!(Some(len), record_len(payload));
    let len_field = len.to_le_bytes();
    buf.extend_from_slice(&len_field);
    buf.extend_from_slice(&frame_crc(len_field, payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

/// A decoded 8-byte frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameHeader {
    Record { len: u32, crc: u32 },
    Footer { crc: u32 },
}

/// Decodes a frame header; a length above the limit (other than the footer marker) is corrupt.
pub(crate) fn decode_frame_header(
    bytes: [u8; FRAME_HEADER_LEN],
) -> Result<FrameHeader, Corruption> {
    let [l0, l1, l2, l3, c0, c1, c2, c3] = bytes;
    let len = u32::from_le_bytes([l0, l1, l2, l3]);
    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
    match len {
        FOOTER_MARKER => Ok(FrameHeader::Footer { crc }),
        len if len > MAX_RECORD_BYTES => Err(Corruption::TooLong(len)),
        len => Ok(FrameHeader::Record { len, crc }),
    }
}

/// Appends the checkpoint footer: marker, CRC, record count, payload byte count.
pub(crate) fn encode_footer(buf: &mut Vec<u8>, records: u64, payload_bytes: u64) {
    let body = footer_body(records, payload_bytes);
    let marker = FOOTER_MARKER.to_le_bytes();
    buf.extend_from_slice(&marker);
    buf.extend_from_slice(&frame_crc(marker, &body).to_le_bytes());
    buf.extend_from_slice(&body);
}

fn footer_body(records: u64, payload_bytes: u64) -> [u8; FOOTER_BODY_LEN] {
    let [r0, r1, r2, r3, r4, r5, r6, r7] = records.to_le_bytes();
    let [b0, b1, b2, b3, b4, b5, b6, b7] = payload_bytes.to_le_bytes();
    [
        r0, r1, r2, r3, r4, r5, r6, r7, b0, b1, b2, b3, b4, b5, b6, b7,
    ]
}

/// Decodes a footer body whose frame header carried `crc`; returns (records, payload bytes).
pub(crate) fn decode_footer(
    crc: u32,
    body: [u8; FOOTER_BODY_LEN],
) -> Result<(u64, u64), Corruption> {
    if frame_crc(FOOTER_MARKER.to_le_bytes(), &body) != crc {
        return Err(Corruption::CrcMismatch);
    }
    let [r0, r1, r2, r3, r4, r5, r6, r7, b0, b1, b2, b3, b4, b5, b6, b7] = body;
    Ok((
        u64::from_le_bytes([r0, r1, r2, r3, r4, r5, r6, r7]),
        u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_mismatches() {
        let header = encode_header(FileKind::Segment, 42);
        assert_eq!(decode_header(header, FileKind::Segment, Some(42)), Ok(42));
        assert_eq!(decode_header(header, FileKind::Segment, None), Ok(42));
        assert_eq!(
            decode_header(header, FileKind::Checkpoint, Some(42)),
            Err(Corruption::WrongKind(1))
        );
        assert_eq!(
            decode_header(header, FileKind::Segment, Some(7)),
            Err(Corruption::NumberMismatch {
                expected: 7,
                found: 42
            })
        );
        let mut bad = header;
        bad[4] = 9;
        assert_eq!(
            decode_header(bad, FileKind::Segment, Some(42)),
            Err(Corruption::UnsupportedVersion(9))
        );
        bad[0] = b'X';
        assert_eq!(
            decode_header(bad, FileKind::Segment, Some(42)),
            Err(Corruption::BadMagic)
        );
    }

    #[test]
    fn frame_encodes_length_crc_payload() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, 3, b"abc");
        assert_eq!(buf.len(), 11);
        assert_eq!(&buf[..4], &3u32.to_le_bytes());
        let header: [u8; 8] = buf[..8].try_into().unwrap();
        let FrameHeader::Record { len, crc } = decode_frame_header(header).unwrap() else {
            panic!("expected a record header");
        };
        assert_eq!(len, 3);
        assert_eq!(crc, frame_crc(3u32.to_le_bytes(), b"abc"));
    }

    #[test]
    fn zeroed_frame_header_does_not_verify() {
        // A zero-filled tail (len 0, crc 0) must not look like an empty record.
        assert_ne!(frame_crc([0; 4], &[]), 0);
    }

    #[test]
    fn oversized_length_is_corrupt() {
        let mut header = [0u8; 8];
        header[..4].copy_from_slice(&(MAX_RECORD_BYTES + 1).to_le_bytes());
        assert_eq!(
            decode_frame_header(header),
            Err(Corruption::TooLong(MAX_RECORD_BYTES + 1))
        );
    }

    #[test]
    fn footer_round_trips_and_checks_crc() {
        let mut buf = Vec::new();
        encode_footer(&mut buf, 5, 500);
        let header: [u8; 8] = buf[..8].try_into().unwrap();
        let FrameHeader::Footer { crc } = decode_frame_header(header).unwrap() else {
            panic!("expected a footer");
        };
        let mut body: [u8; 16] = buf[8..].try_into().unwrap();
        assert_eq!(decode_footer(crc, body), Ok((5, 500)));
        body[0] ^= 1;
        assert_eq!(decode_footer(crc, body), Err(Corruption::CrcMismatch));
    }
}
