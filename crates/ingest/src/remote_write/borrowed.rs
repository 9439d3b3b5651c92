//! The hot path: a `WriteRequest` parsed straight from the decompressed buffer, with label
//! names and values borrowed from it. A Prometheus shard sends one sample per series, so
//! allocating ~20 strings per sample (as generated protobuf code does) dominated ingest cost;
//! here a request costs a few `Vec`s, and only new series allocate their labels.
//! Unknown fields (exemplars, native histograms, future additions) are skipped.

#![deny(clippy::indexing_slicing)]

use std::ops::Range;

use blazar_model::{validate_pairs, Limits, MetricKind, Sample, METRIC_NAME_LABEL};

use crate::InputError;

/// One series of a borrowed request: ranges into `pairs` and `samples`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesSpan {
    pub labels: Range<usize>,
    pub samples: Range<usize>,
}

/// A parsed request whose strings point into the decompressed body.
#[derive(Debug, Default, PartialEq)]
pub struct BorrowedRequest<'a> {
    /// Every series' labels, each series' run sorted by name, empty values dropped.
    pub pairs: Vec<(&'a str, &'a str)>,
    pub samples: Vec<Sample>,
    pub series: Vec<SeriesSpan>,
    pub metadata: Vec<(String, MetricKind, String)>,
}

impl<'a> BorrowedRequest<'a> {
    /// Returns the labels of one series.
    pub fn labels(&self, s: &SeriesSpan) -> &[(&'a str, &'a str)] {
        self.pairs.get(s.labels.clone()).unwrap_or_default()
    }

    /// Returns the samples of one series.
    pub fn samples_of(&self, s: &SeriesSpan) -> &[Sample] {
        self.samples.get(s.samples.clone()).unwrap_or_default()
    }
}

struct Wire<'a> {
    buf: &'a [u8],
}

enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

impl<'a> Wire<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (b, rest) = self.buf.split_first()?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if *b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// Reads the next field, or `Ok(None)` at the end.
    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, &'static str> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint().ok_or("truncated field key")?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint().ok_or("truncated varint")?),
            1 => {
                let (b, rest) = self
                    .buf
                    .split_first_chunk::<8>()
                    .ok_or("truncated fixed64")?;
                self.buf = rest;
                Field::Fixed64(u64::from_le_bytes(*b))
            }
            2 => {
                let len = usize::try_from(self.varint().ok_or("truncated length")?)
                    .map_err(|_| "length too large")?;
                if len > self.buf.len() {
                    return Err("length runs past the end of the message");
                }
                let (b, rest) = self.buf.split_at(len);
                self.buf = rest;
                Field::Bytes(b)
            }
            5 => {
                let (_, rest) = self
                    .buf
                    .split_first_chunk::<4>()
                    .ok_or("truncated fixed32")?;
                self.buf = rest;
                Field::Fixed32
            }
            _ => return Err("unsupported wire type"),
        };
        Ok(Some((key >> 3, field)))
    }
}

fn utf8<'a>(b: &'a [u8], what: &str) -> Result<&'a str, String> {
    std::str::from_utf8(b).map_err(|_| format!("{what} is not UTF-8"))
}

/// Most samples one request may carry (Prometheus sends 2,000–10,000); bounds the memory a
/// single request can make us allocate.
pub const MAX_SAMPLES_PER_REQUEST: usize = 1_000_000;

/// Parses a decompressed remote_write body and checks every series' structure (`__name__`
/// present, label names unique); size limits are left to [`check_limits`] for new series.
///
/// # Errors
/// Malformed protobuf (`body: ...`) or an invalid series (`timeseries[i].labels: ...`).
pub fn parse(buf: &[u8]) -> Result<BorrowedRequest<'_>, InputError> {
    let bad = |m: &str| InputError::new("body", format!("not a remote_write WriteRequest: {m}"));
    let mut out = BorrowedRequest::default();
    let mut w = Wire { buf };
    while let Some((num, field)) = w.next().map_err(bad)? {
        match (num, field) {
            (1, Field::Bytes(ts)) => {
                let i = out.series.len();
                if out.samples.len() > MAX_SAMPLES_PER_REQUEST
                    || out.pairs.len() > MAX_SAMPLES_PER_REQUEST
                {
                    return Err(InputError::new(
                        "body",
                        format!("more than {MAX_SAMPLES_PER_REQUEST} samples or labels in one request; send smaller batches"),
                    ));
                }
                parse_series(ts, &mut out)
                    .map_err(|m| InputError::new(format!("timeseries[{i}]"), m))?;
                let span = out.series.last().cloned().unwrap_or(SeriesSpan {
                    labels: 0..0,
                    samples: 0..0,
                });
                check_series(&mut out.pairs, &span)
                    .map_err(|m| InputError::new(format!("timeseries[{i}].labels"), m))?;
            }
            (3, Field::Bytes(md)) => out.metadata.push(parse_metadata(md).map_err(|m| bad(&m))?),
            (1 | 3, _) => return Err(bad("field has the wrong wire type")),
            _ => {}
        }
    }
    Ok(out)
}

fn parse_series<'a>(buf: &'a [u8], out: &mut BorrowedRequest<'a>) -> Result<(), String> {
    let labels_start = out.pairs.len();
    let samples_start = out.samples.len();
    let mut w = Wire { buf };
    while let Some((num, field)) = w.next()? {
        match (num, field) {
            (1, Field::Bytes(l)) => {
                let (mut name, mut value) = ("", "");
                let mut lw = Wire { buf: l };
                while let Some((n, f)) = lw.next()? {
                    match (n, f) {
                        (1, Field::Bytes(b)) => name = utf8(b, "label name")?,
                        (2, Field::Bytes(b)) => value = utf8(b, "label value")?,
                        (1 | 2, _) => return Err("label field has the wrong wire type".into()),
                        _ => {}
                    }
                }
                // As Prometheus: a label with an empty value is the same as no label.
                if !value.is_empty() {
                    out.pairs.push((name, value));
                }
            }
            (2, Field::Bytes(s)) => {
                let (mut v, mut t) = (0.0f64, 0i64);
                let mut sw = Wire { buf: s };
                while let Some((n, f)) = sw.next()? {
                    match (n, f) {
                        (1, Field::Fixed64(bits)) => v = f64::from_bits(bits),
                        (2, Field::Varint(x)) => t = x as i64,
                        (1 | 2, _) => return Err("sample field has the wrong wire type".into()),
                        _ => {}
                    }
                }
                out.samples.push(Sample { t, v });
            }
            (1 | 2, _) => return Err("field has the wrong wire type".into()),
            _ => {}
        }
    }
    out.series.push(SeriesSpan {
        labels: labels_start..out.pairs.len(),
        samples: samples_start..out.samples.len(),
    });
    Ok(())
}

fn check_series(pairs: &mut [(&str, &str)], span: &SeriesSpan) -> Result<(), String> {
    let labels = pairs
        .get_mut(span.labels.clone())
        .ok_or("label range out of bounds")?;
    if !labels.is_sorted_by(|a, b| a.0 < b.0) {
        labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    for w in labels.windows(2) {
        if let [a, b] = w {
            if a.0 == b.0 {
                return Err(format!("label {:?} given twice", a.0));
            }
        }
    }
    if !labels.iter().any(|(k, _)| *k == METRIC_NAME_LABEL) {
        return Err("missing __name__".into());
    }
    Ok(())
}

/// Checks a series' labels against the size limits. Separate from parsing: only a series that
/// does not exist yet needs it (an existing one passed when it was created), and most series in
/// a remote_write request exist.
///
/// # Errors
/// The first limit exceeded, naming the label.
pub fn check_limits(labels: &[(&str, &str)], limits: &Limits) -> Result<(), String> {
    validate_pairs(labels.iter().copied(), labels.len(), limits).map_err(|e| e.to_string())
}

fn parse_metadata(buf: &[u8]) -> Result<(String, MetricKind, String), String> {
    let (mut kind, mut name, mut help) = (MetricKind::Unknown, String::new(), String::new());
    let mut w = Wire { buf };
    while let Some((n, f)) = w.next()? {
        match (n, f) {
            (1, Field::Varint(t)) => {
                kind = match t {
                    1 => MetricKind::Counter,
                    2 => MetricKind::Gauge,
                    3 | 4 => MetricKind::Histogram,
                    5 => MetricKind::Summary,
                    _ => MetricKind::Unknown,
                }
            }
            (2, Field::Bytes(b)) => name = utf8(b, "metric family name")?.to_string(),
            (4, Field::Bytes(b)) => help = utf8(b, "help")?.to_string(),
            _ => {}
        }
    }
    Ok((name, kind, help))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::proto::{Label, Sample as PSample, TimeSeries, WriteRequest};
    use prost::Message;

    fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| Label {
                    name: (*n).into(),
                    value: (*v).into(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|(t, v)| PSample {
                    value: *v,
                    timestamp: *t,
                })
                .collect(),
        }
    }

    #[test]
    fn agrees_with_the_generated_decoder() {
        let req = WriteRequest {
            timeseries: vec![
                ts(
                    &[("__name__", "up"), ("job", "node"), ("instance", "a:1")],
                    &[(1000, 1.0), (2000, f64::NAN)],
                ),
                ts(
                    &[("zone", ""), ("__name__", "load"), ("cpu", "0")],
                    &[(-5, -0.5)],
                ),
            ],
            metadata: vec![],
        };
        let raw = req.encode_to_vec();
        let b = parse(&raw).unwrap();
        let owned = crate::remote_write::decode(
            &crate::remote_write::encode(&req),
            1 << 20,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(b.series.len(), owned.series.len());
        for (s, o) in b.series.iter().zip(&owned.series) {
            let borrowed: Vec<(&str, &str)> = b.labels(s).to_vec();
            let owned_pairs: Vec<(&str, &str)> = o.labels.iter().collect();
            assert_eq!(borrowed, owned_pairs);
            let bs = b.samples_of(s);
            assert_eq!(bs.len(), o.samples.len());
            for (x, y) in bs.iter().zip(&o.samples) {
                assert_eq!((x.t, x.v.to_bits()), (y.t, y.v.to_bits()));
            }
        }
    }

    #[test]
    fn invalid_series_name_their_index() {
        let req = WriteRequest {
            timeseries: vec![ts(&[("__name__", "a")], &[]), ts(&[("job", "x")], &[])],
            metadata: vec![],
        };
        let e = parse(&req.encode_to_vec()).unwrap_err();
        assert_eq!(e.to_string(), "timeseries[1].labels: missing __name__");
        let req = WriteRequest {
            timeseries: vec![ts(&[("__name__", "a"), ("k", "1"), ("k", "2")], &[])],
            metadata: vec![],
        };
        let e = parse(&req.encode_to_vec()).unwrap_err();
        assert!(e.to_string().contains("given twice"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_matches_prost_on_what_both_accept(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let mine = parse(&bytes);
            let theirs = crate::remote_write::proto::WriteRequest::decode(bytes.as_slice());
            if let (Ok(m), Ok(t)) = (mine, theirs) {
                proptest::prop_assert_eq!(m.samples.len(), t.timeseries.iter().map(|s| s.samples.len()).sum::<usize>());
            }
        }
    }
}
