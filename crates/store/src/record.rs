//! WAL and checkpoint record encoding. One tag byte, then a payload: compact binary for the
//! metric hot path (series, samples, chunks, JSON-API points), JSON for spans, events and logs.
//! Byte format: docs/formats/records.md. Decoding never panics on hostile bytes.

#![deny(clippy::indexing_slicing)]

use blazar_model::{Event, Labels, LogRecord, MetricKind, Sample, Span, TraceId};
use blazar_tsdb::SeriesRef;

/// One decoded record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// A new series and its stable reference.
    Series(Vec<(SeriesRef, Labels)>),
    /// Samples of already-declared series.
    Samples(Vec<(SeriesRef, Sample)>),
    /// A native-API metric write, replayed through the same code as live.
    Point {
        labels: Labels,
        kind: MetricKind,
        value: f64,
        t: i64,
    },
    /// Metric family metadata.
    Metadata {
        name: String,
        kind: MetricKind,
        help: String,
    },
    /// Metric family metadata with unit and the producer's own name (whole-series writes).
    Family {
        name: String,
        kind: MetricKind,
        help: String,
        unit: String,
        original: Option<String>,
    },
    /// A completed trace dropped by tail sampling: replay removes what it holds so far.
    TraceDropped(TraceId),
    /// A trace completed and kept: replay marks it completed with its ended spans counted in
    /// the span metrics, so a restart neither re-announces nor re-counts it, while a trace
    /// still in its quiet period at a crash completes normally after the restart.
    TraceCompleted(TraceId),
    /// Encoded chunks of one series (checkpoints only).
    Chunks {
        r: SeriesRef,
        labels: Labels,
        chunks: Vec<Vec<u8>>,
    },
    /// Instrument state of a native-API metric (checkpoints only), JSON.
    Instrument(Vec<u8>),
    Event(Box<Event>),
    /// An event with its sequence number (checkpoints only).
    EventAt(u64, Box<Event>),
    Span(Box<Span>),
    Log(Box<LogRecord>),
}

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
const POINT: u8 = 3;
const METADATA: u8 = 4;
const CHUNKS: u8 = 5;
const INSTRUMENT: u8 = 6;
const FAMILY: u8 = 7;
const EVENT: u8 = 10;
const SPAN: u8 = 11;
const LOG: u8 = 12;
const EVENT_AT: u8 = 13;
const TRACE_DROPPED: u8 = 14;
const TRACE_COMPLETED: u8 = 15;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("record is truncated")]
    Truncated,
    #[error("unknown record type {0}")]
    UnknownType(u8),
    #[error("record field is invalid: {0}")]
    Invalid(String),
}

// === encoding ===

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_labels(out: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(out, labels.len() as u64);
    for (k, v) in labels.iter() {
        put_bytes(out, k.as_bytes());
        put_bytes(out, v.as_bytes());
    }
}

fn kind_byte(k: MetricKind) -> u8 {
    match k {
        MetricKind::Counter => 1,
        MetricKind::Gauge => 2,
        MetricKind::Histogram => 3,
        MetricKind::Summary => 4,
        MetricKind::Unknown => 0,
    }
}

fn byte_kind(b: u8) -> MetricKind {
    match b {
        1 => MetricKind::Counter,
        2 => MetricKind::Gauge,
        3 => MetricKind::Histogram,
        4 => MetricKind::Summary,
        _ => MetricKind::Unknown,
    }
}

pub(crate) fn encode_series(out: &mut Vec<u8>, series: &[(SeriesRef, Labels)]) {
    out.push(SERIES);
    put_uvarint(out, series.len() as u64);
    for (r, labels) in series {
        put_uvarint(out, r.0);
        put_labels(out, labels);
    }
}

pub(crate) fn encode_samples(out: &mut Vec<u8>, samples: &[(SeriesRef, Sample)]) {
    out.push(SAMPLES);
    put_uvarint(out, samples.len() as u64);
    for (r, s) in samples {
        put_uvarint(out, r.0);
        put_ivarint(out, s.t);
        out.extend_from_slice(&s.v.to_bits().to_le_bytes());
    }
}

pub(crate) fn encode_point(
    out: &mut Vec<u8>,
    labels: &Labels,
    kind: MetricKind,
    value: f64,
    t: i64,
) {
    out.push(POINT);
    out.push(kind_byte(kind));
    out.extend_from_slice(&value.to_bits().to_le_bytes());
    put_ivarint(out, t);
    put_labels(out, labels);
}

pub(crate) fn encode_metadata(out: &mut Vec<u8>, name: &str, kind: MetricKind, help: &str) {
    out.push(METADATA);
    out.push(kind_byte(kind));
    put_bytes(out, name.as_bytes());
    put_bytes(out, help.as_bytes());
}

pub(crate) fn encode_family(
    out: &mut Vec<u8>,
    name: &str,
    kind: MetricKind,
    help: &str,
    unit: &str,
    original: Option<&str>,
) {
    out.push(FAMILY);
    out.push(kind_byte(kind));
    put_bytes(out, name.as_bytes());
    put_bytes(out, help.as_bytes());
    put_bytes(out, unit.as_bytes());
    // An empty original is "none": a producer name is never empty.
    put_bytes(out, original.unwrap_or("").as_bytes());
}

pub(crate) fn encode_trace_dropped(out: &mut Vec<u8>, id: TraceId) {
    out.push(TRACE_DROPPED);
    out.extend_from_slice(&id.0);
}

pub(crate) fn encode_trace_completed(out: &mut Vec<u8>, id: TraceId) {
    out.push(TRACE_COMPLETED);
    out.extend_from_slice(&id.0);
}

pub(crate) fn encode_chunks(out: &mut Vec<u8>, r: SeriesRef, labels: &Labels, chunks: &[Vec<u8>]) {
    out.push(CHUNKS);
    put_uvarint(out, r.0);
    put_labels(out, labels);
    put_uvarint(out, chunks.len() as u64);
    for c in chunks {
        put_bytes(out, c);
    }
}

pub(crate) fn encode_instrument(out: &mut Vec<u8>, json: &[u8]) {
    out.push(INSTRUMENT);
    out.extend_from_slice(json);
}

pub(crate) fn encode_json<T: serde::Serialize>(out: &mut Vec<u8>, tag: JsonTag, value: &T) {
    out.push(match tag {
        JsonTag::Event => EVENT,
        JsonTag::Span => SPAN,
        JsonTag::Log => LOG,
    });
    // Serialising our own model types cannot fail (no maps with non-string keys).
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.clear();
    }
}

/// Encodes an event with its sequence number (checkpoints keep readers' cursors valid).
pub(crate) fn encode_event_at(out: &mut Vec<u8>, seq: u64, event: &Event) {
    out.push(EVENT_AT);
    put_uvarint(out, seq);
    if serde_json::to_writer(&mut *out, event).is_err() {
        out.clear();
    }
}

/// Which JSON-encoded record a value becomes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JsonTag {
    Event,
    Span,
    Log,
}

// === decoding ===

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (b, rest) = self.buf.split_first().ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(*b)
    }

    fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid("varint longer than 10 bytes".into()))
    }

    fn ivarint(&mut self) -> Result<i64, DecodeError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn f64(&mut self) -> Result<f64, DecodeError> {
        let (b, rest) = self
            .buf
            .split_first_chunk::<8>()
            .ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(f64::from_bits(u64::from_le_bytes(*b)))
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = usize::try_from(self.uvarint()?).map_err(|_| DecodeError::Truncated)?;
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (b, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(b)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| DecodeError::Invalid("string is not UTF-8".into()))
    }

    fn count(&mut self, min_item_bytes: usize) -> Result<usize, DecodeError> {
        let n = usize::try_from(self.uvarint()?).map_err(|_| DecodeError::Truncated)?;
        // A count that cannot fit in what is left is corrupt: don't allocate for it.
        if n.saturating_mul(min_item_bytes) > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(n)
    }

    fn labels(&mut self) -> Result<Labels, DecodeError> {
        let n = self.count(2)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            pairs.push((self.string()?, self.string()?));
        }
        Labels::try_from_pairs(pairs).map_err(|e| DecodeError::Invalid(e.to_string()))
    }
}

/// Decodes one record. A binary record must use its whole payload: trailing bytes mean the
/// writer and reader disagree on the format, which must not pass silently.
pub(crate) fn decode(buf: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader { buf };
    let rec = decode_body(&mut r)?;
    let binary = !matches!(
        rec,
        Record::Instrument(_)
            | Record::Event(_)
            | Record::EventAt(..)
            | Record::Span(_)
            | Record::Log(_)
    );
    if binary && !r.buf.is_empty() {
        return Err(DecodeError::Invalid(format!(
            "{} trailing bytes",
            r.buf.len()
        )));
    }
    Ok(rec)
}

fn decode_body(r: &mut Reader<'_>) -> Result<Record, DecodeError> {
    let tag = r.byte()?;
    let json = |b: &[u8]| -> Result<_, DecodeError> { Ok(b.to_vec()) };
    match tag {
        SERIES => {
            let n = r.count(2)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let sr = SeriesRef(r.uvarint()?);
                v.push((sr, r.labels()?));
            }
            Ok(Record::Series(v))
        }
        SAMPLES => {
            let n = r.count(10)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let sr = r.uvarint()?;
                let t = r.ivarint()?;
                let val = r.f64()?;
                v.push((SeriesRef(sr), Sample { t, v: val }));
            }
            Ok(Record::Samples(v))
        }
        POINT => {
            let kind = byte_kind(r.byte()?);
            let value = r.f64()?;
            let t = r.ivarint()?;
            Ok(Record::Point {
                labels: r.labels()?,
                kind,
                value,
                t,
            })
        }
        METADATA => {
            let kind = byte_kind(r.byte()?);
            Ok(Record::Metadata {
                kind,
                name: r.string()?,
                help: r.string()?,
            })
        }
        FAMILY => {
            let kind = byte_kind(r.byte()?);
            let name = r.string()?;
            let help = r.string()?;
            let unit = r.string()?;
            let original = Some(r.string()?).filter(|o| !o.is_empty());
            Ok(Record::Family {
                name,
                kind,
                help,
                unit,
                original,
            })
        }
        TRACE_DROPPED => {
            let (id, rest) = r
                .buf
                .split_first_chunk::<16>()
                .ok_or(DecodeError::Truncated)?;
            r.buf = rest;
            Ok(Record::TraceDropped(TraceId(*id)))
        }
        TRACE_COMPLETED => {
            let (id, rest) = r
                .buf
                .split_first_chunk::<16>()
                .ok_or(DecodeError::Truncated)?;
            r.buf = rest;
            Ok(Record::TraceCompleted(TraceId(*id)))
        }
        CHUNKS => {
            let sr = r.uvarint()?;
            let labels = r.labels()?;
            let n = r.count(1)?;
            let mut chunks = Vec::with_capacity(n);
            for _ in 0..n {
                chunks.push(r.bytes()?.to_vec());
            }
            Ok(Record::Chunks {
                r: SeriesRef(sr),
                labels,
                chunks,
            })
        }
        INSTRUMENT => Ok(Record::Instrument(json(r.buf)?)),
        EVENT => serde_json::from_slice(r.buf)
            .map(|e| Record::Event(Box::new(e)))
            .map_err(|e| DecodeError::Invalid(e.to_string())),
        SPAN => serde_json::from_slice(r.buf)
            .map(|s| Record::Span(Box::new(s)))
            .map_err(|e| DecodeError::Invalid(e.to_string())),
        EVENT_AT => {
            let seq = r.uvarint()?;
            serde_json::from_slice(r.buf)
                .map(|e| Record::EventAt(seq, Box::new(e)))
                .map_err(|e| DecodeError::Invalid(e.to_string()))
        }
        LOG => serde_json::from_slice(r.buf)
            .map(|l| Record::Log(Box::new(l)))
            .map_err(|e| DecodeError::Invalid(e.to_string())),
        other => Err(DecodeError::UnknownType(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazar_model::Limits;

    fn labels() -> Labels {
        Labels::for_metric("node_load1", [("instance", "a:9100")], &Limits::default()).unwrap()
    }

    #[test]
    fn binary_records_round_trip() {
        let mut b = Vec::new();
        let two = vec![
            (SeriesRef(7), labels()),
            (SeriesRef(8), labels().with_name_and("other", None)),
        ];
        encode_series(&mut b, &two);
        assert_eq!(decode(&b).unwrap(), Record::Series(two));
        // Two records concatenated are not one record.
        let mut twice = b.clone();
        twice.extend_from_slice(&b);
        assert!(decode(&twice).is_err());
        b.clear();
        let s = vec![
            (
                SeriesRef(7),
                Sample {
                    t: -5,
                    v: f64::INFINITY,
                },
            ),
            (
                SeriesRef(8),
                Sample {
                    t: 1_700_000_000_000,
                    v: 0.5,
                },
            ),
        ];
        encode_samples(&mut b, &s);
        assert_eq!(decode(&b).unwrap(), Record::Samples(s));
        b.clear();
        encode_point(&mut b, &labels(), MetricKind::Counter, 2.0, 99);
        assert_eq!(
            decode(&b).unwrap(),
            Record::Point {
                labels: labels(),
                kind: MetricKind::Counter,
                value: 2.0,
                t: 99
            }
        );
        b.clear();
        encode_family(
            &mut b,
            "orders_requests",
            MetricKind::Counter,
            "h",
            "1",
            Some("orders.requests"),
        );
        assert_eq!(
            decode(&b).unwrap(),
            Record::Family {
                name: "orders_requests".into(),
                kind: MetricKind::Counter,
                help: "h".into(),
                unit: "1".into(),
                original: Some("orders.requests".into()),
            }
        );
        b.clear();
        encode_family(&mut b, "up", MetricKind::Gauge, "", "", None);
        assert!(matches!(
            decode(&b).unwrap(),
            Record::Family { original: None, .. }
        ));
        b.clear();
        encode_trace_dropped(&mut b, TraceId([7; 16]));
        assert_eq!(decode(&b).unwrap(), Record::TraceDropped(TraceId([7; 16])));
        let mut b = Vec::new();
        encode_trace_completed(&mut b, TraceId([8; 16]));
        assert_eq!(
            decode(&b).unwrap(),
            Record::TraceCompleted(TraceId([8; 16]))
        );
        assert!(decode(&b[..10]).is_err());
        b.clear();
        encode_chunks(&mut b, SeriesRef(3), &labels(), &[vec![1, 2, 3], vec![]]);
        assert_eq!(
            decode(&b).unwrap(),
            Record::Chunks {
                r: SeriesRef(3),
                labels: labels(),
                chunks: vec![vec![1, 2, 3], vec![]]
            }
        );
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let mut b = Vec::new();
        encode_samples(
            &mut b,
            &[
                (SeriesRef(1), Sample { t: 1, v: 1.0 }),
                (SeriesRef(2), Sample { t: 2, v: 2.0 }),
            ],
        );
        for cut in 0..b.len() {
            assert!(decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[SAMPLES, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        assert_eq!(decode(&[99]), Err(DecodeError::UnknownType(99)));
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
