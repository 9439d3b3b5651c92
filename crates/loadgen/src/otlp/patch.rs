//! Rewrites ids, timestamps and cumulative values inside an already-encoded OTLP request, so a
//! pool of requests encoded once can be sent again and again as new data. Every rewritten
//! field has a fixed width on the wire (`fixed64`, `double`, `sfixed64`, 8- or 16-byte ids), so a
//! rewrite is an in-place overwrite at an offset found once by walking the encoding.
//!
//! The generator writes *placeholders* into those fields (a local index, a time offset, a base
//! value); [`Patches::apply`] turns them into real values for one send. Placeholders are never
//! zero, because proto3 leaves zero scalars off the wire.

use anyhow::anyhow;

/// What a patched field becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `fixed64` nanoseconds: the send's base time plus the placeholder offset.
    Time,
    /// 16-byte trace id: the run nonce, then the send's first trace number plus the placeholder.
    TraceId,
    /// 8-byte span id: the send's first span number plus the placeholder, mixed with the nonce.
    SpanId,
    /// `double` cumulative value: the placeholder times the send's growth factor.
    GrowF64,
    /// `fixed64`/`sfixed64` cumulative count: the placeholder times the growth factor.
    GrowU64,
}

/// One field to overwrite: where, how, and the placeholder the generator wrote there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patch {
    offset: usize,
    kind: Kind,
    placeholder: u64,
}

/// Values for one send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendValues {
    /// Added to every `Time` placeholder.
    pub(crate) base_ns: u64,
    /// High half of every trace id; its top bit is set, so no trace id is all zeros.
    pub(crate) nonce_hi: u64,
    /// Xored into every span id; its top bit is set, so no span id is zero.
    pub(crate) nonce_lo: u64,
    /// Trace number of local trace 0 in this send.
    pub(crate) first_trace: u64,
    /// Span number of local span 0 in this send.
    pub(crate) first_span: u64,
    /// Multiplies cumulative placeholders; grows by one per send of a series.
    pub(crate) growth: u64,
}

/// The rewritable fields of one encoded request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Patches {
    list: Vec<Patch>,
    /// Distinct local trace and span numbers used (largest placeholder + 1).
    pub(crate) traces: u64,
    pub(crate) spans: u64,
}

/// How the walker treats a field of a message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    /// An embedded message (or a repeated one), walked with its own schema.
    Msg(&'static Schema),
    /// A fixed 8-byte scalar to patch.
    Fixed(Kind),
    /// A packed repeated fixed 8-byte scalar; every element is patched.
    Packed(Kind),
    /// An id (`bytes` of 8 or 16).
    Id(Kind),
}

/// The fields of one message type that the walker looks at; others are skipped.
#[derive(Debug)]
pub(crate) struct Schema(pub(crate) &'static [(u32, Field)]);

impl Schema {
    fn get(&self, number: u32) -> Option<Field> {
        self.0.iter().find(|(n, _)| *n == number).map(|(_, f)| *f)
    }
}

/// Field numbers from `opentelemetry/proto/{collector,trace,metrics,logs}/v1/*.proto`.
pub(crate) mod schema {
    use super::{Field, Kind, Schema};

    pub(crate) static TRACES: Schema = Schema(&[(1, Field::Msg(&RESOURCE_SPANS))]);
    static RESOURCE_SPANS: Schema = Schema(&[(2, Field::Msg(&SCOPE_SPANS))]);
    static SCOPE_SPANS: Schema = Schema(&[(2, Field::Msg(&SPAN))]);
    static SPAN: Schema = Schema(&[
        (1, Field::Id(Kind::TraceId)),
        (2, Field::Id(Kind::SpanId)),
        (4, Field::Id(Kind::SpanId)), // parent_span_id
        (7, Field::Fixed(Kind::Time)),
        (8, Field::Fixed(Kind::Time)),
        (11, Field::Msg(&SPAN_EVENT)),
    ]);
    static SPAN_EVENT: Schema = Schema(&[(1, Field::Fixed(Kind::Time))]);

    pub(crate) static METRICS: Schema = Schema(&[(1, Field::Msg(&RESOURCE_METRICS))]);
    static RESOURCE_METRICS: Schema = Schema(&[(2, Field::Msg(&SCOPE_METRICS))]);
    static SCOPE_METRICS: Schema = Schema(&[(2, Field::Msg(&METRIC))]);
    static METRIC: Schema = Schema(&[
        (5, Field::Msg(&GAUGE)),
        (7, Field::Msg(&SUM)),
        (9, Field::Msg(&HISTOGRAM)),
    ]);
    static GAUGE: Schema = Schema(&[(1, Field::Msg(&GAUGE_POINT))]);
    // start_time_unix_nano (2) stays: a cumulative series keeps its start.
    static GAUGE_POINT: Schema = Schema(&[(3, Field::Fixed(Kind::Time))]);
    // Only monotonic cumulative sums are generated, so every sum point grows.
    static SUM: Schema = Schema(&[(1, Field::Msg(&SUM_POINT))]);
    static SUM_POINT: Schema = Schema(&[
        (3, Field::Fixed(Kind::Time)),
        (4, Field::Fixed(Kind::GrowF64)), // as_double
        (6, Field::Fixed(Kind::GrowU64)), // as_int
    ]);
    static HISTOGRAM: Schema = Schema(&[(1, Field::Msg(&HISTOGRAM_POINT))]);
    static HISTOGRAM_POINT: Schema = Schema(&[
        (3, Field::Fixed(Kind::Time)),
        (4, Field::Fixed(Kind::GrowU64)),  // count
        (5, Field::Fixed(Kind::GrowF64)),  // sum
        (6, Field::Packed(Kind::GrowU64)), // bucket_counts
    ]);

    pub(crate) static LOGS: Schema = Schema(&[(1, Field::Msg(&RESOURCE_LOGS))]);
    static RESOURCE_LOGS: Schema = Schema(&[(2, Field::Msg(&SCOPE_LOGS))]);
    static SCOPE_LOGS: Schema = Schema(&[(2, Field::Msg(&LOG_RECORD))]);
    static LOG_RECORD: Schema = Schema(&[
        (1, Field::Fixed(Kind::Time)),
        (11, Field::Fixed(Kind::Time)), // observed_time_unix_nano
        (9, Field::Id(Kind::TraceId)),
        (10, Field::Id(Kind::SpanId)),
    ]);
}

/// Only a generator bug gets here: the walker reads what prost wrote.
fn malformed(offset: usize) -> anyhow::Error {
    anyhow!("malformed protobuf at offset {offset}")
}

const WIRE_VARINT: u64 = 0;
const WIRE_FIXED64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_FIXED32: u64 = 5;

fn varint(buf: &[u8], pos: &mut usize) -> anyhow::Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or_else(|| malformed(*pos))?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(malformed(*pos))
}

fn read_u64_le(buf: &[u8], at: usize) -> anyhow::Result<u64> {
    buf.get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| malformed(at))
}

fn read_u64_be(buf: &[u8], at: usize) -> anyhow::Result<u64> {
    buf.get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| malformed(at))
}

impl Patches {
    /// Returns the patchable fields of `buf`, an encoded message of type `schema`.
    ///
    /// # Errors
    /// `buf` is not a well-formed encoding, or a schema field has the wrong wire type.
    pub(crate) fn find(buf: &[u8], schema: &Schema) -> anyhow::Result<Self> {
        let mut p = Patches::default();
        p.walk(buf, 0, buf.len(), schema)?;
        Ok(p)
    }

    fn push(&mut self, offset: usize, kind: Kind, placeholder: u64) {
        match kind {
            Kind::TraceId => self.traces = self.traces.max(placeholder + 1),
            Kind::SpanId => self.spans = self.spans.max(placeholder + 1),
            _ => {}
        }
        self.list.push(Patch {
            offset,
            kind,
            placeholder,
        });
    }

    fn walk(
        &mut self,
        buf: &[u8],
        mut pos: usize,
        end: usize,
        schema: &Schema,
    ) -> anyhow::Result<()> {
        while pos < end {
            let at = pos;
            let key = varint(buf, &mut pos)?;
            let number = u32::try_from(key >> 3).map_err(|_| malformed(at))?;
            let wire = key & 7;
            let field = schema.get(number);
            let unexpected =
                |expected: &str| anyhow!("field {number} at offset {at}: expected {expected}");
            match wire {
                WIRE_VARINT => {
                    varint(buf, &mut pos)?;
                }
                WIRE_FIXED64 => {
                    match field {
                        Some(Field::Fixed(kind)) => {
                            self.push(pos, kind, read_u64_le(buf, pos)?);
                        }
                        None => {}
                        Some(_) => return Err(unexpected("a fixed 8-byte scalar")),
                    }
                    pos += 8;
                }
                WIRE_FIXED32 => pos += 4,
                WIRE_LEN => {
                    let len =
                        usize::try_from(varint(buf, &mut pos)?).map_err(|_| malformed(pos))?;
                    let stop = pos
                        .checked_add(len)
                        .filter(|s| *s <= end)
                        .ok_or_else(|| malformed(pos))?;
                    match field {
                        Some(Field::Msg(inner)) => self.walk(buf, pos, stop, inner)?,
                        Some(Field::Packed(kind)) if len % 8 == 0 => {
                            for at in (pos..stop).step_by(8) {
                                self.push(at, kind, read_u64_le(buf, at)?);
                            }
                        }
                        // The local number sits in the id's last 8 bytes (big-endian).
                        Some(Field::Id(kind @ Kind::TraceId)) if len == 16 => {
                            self.push(pos, kind, read_u64_be(buf, pos + 8)?);
                        }
                        Some(Field::Id(kind @ Kind::SpanId)) if len == 8 => {
                            self.push(pos, kind, read_u64_be(buf, pos)?);
                        }
                        None => {}
                        Some(_) => return Err(unexpected("a message, packed scalars or an id")),
                    }
                    pos = stop;
                }
                _ => return Err(malformed(at)),
            }
        }
        if pos == end {
            Ok(())
        } else {
            Err(malformed(pos))
        }
    }

    /// Returns how many fields are rewritten per send.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Overwrites every patched field of `buf` (the encoding `find` walked) for one send.
    /// Placeholders are kept, so applying again with other values is a fresh rewrite.
    pub(crate) fn apply(&self, buf: &mut [u8], v: &SendValues) {
        for p in &self.list {
            let (bytes, len): ([u8; 16], usize) = match p.kind {
                Kind::Time => (wide(v.base_ns.wrapping_add(p.placeholder).to_le_bytes()), 8),
                Kind::TraceId => {
                    let mut id = [0u8; 16];
                    let (hi, lo) = id.split_at_mut(8);
                    hi.copy_from_slice(&v.nonce_hi.to_be_bytes());
                    lo.copy_from_slice(&v.first_trace.wrapping_add(p.placeholder).to_be_bytes());
                    (id, 16)
                }
                Kind::SpanId => {
                    let n = v.first_span.wrapping_add(p.placeholder) ^ v.nonce_lo;
                    (wide(n.to_be_bytes()), 8)
                }
                Kind::GrowF64 => {
                    let x = f64::from_bits(p.placeholder) * v.growth as f64;
                    (wide(x.to_bits().to_le_bytes()), 8)
                }
                Kind::GrowU64 => (
                    wide(p.placeholder.saturating_mul(v.growth).to_le_bytes()),
                    8,
                ),
            };
            if let (Some(dst), Some(src)) =
                (buf.get_mut(p.offset..p.offset + len), bytes.get(..len))
            {
                dst.copy_from_slice(src);
            }
        }
    }
}

fn wide(b: [u8; 8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    if let Some(dst) = out.get_mut(..8) {
        dst.copy_from_slice(&b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        metric::Data, number_data_point, HistogramDataPoint, Metric, NumberDataPoint,
        ResourceMetrics, ScopeMetrics, Sum,
    };
    use prost::Message;

    fn values(growth: u64) -> SendValues {
        SendValues {
            base_ns: 1_000_000_000,
            nonce_hi: 1 << 63,
            nonce_lo: 1 << 63,
            first_trace: 100,
            first_span: 200,
            growth,
        }
    }

    #[test]
    fn cumulative_fields_grow_and_start_time_stays() {
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        Metric {
                            name: "c".into(),
                            data: Some(Data::Sum(Sum {
                                data_points: vec![NumberDataPoint {
                                    start_time_unix_nano: 7,
                                    time_unix_nano: 5,
                                    value: Some(number_data_point::Value::AsInt(3)),
                                    ..Default::default()
                                }],
                                aggregation_temporality: 2,
                                is_monotonic: true,
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "h".into(),
                            data: Some(Data::Histogram(
                                opentelemetry_proto::tonic::metrics::v1::Histogram {
                                    data_points: vec![HistogramDataPoint {
                                        time_unix_nano: 5,
                                        count: 4,
                                        sum: Some(2.5),
                                        bucket_counts: vec![1, 3],
                                        explicit_bounds: vec![1.0],
                                        ..Default::default()
                                    }],
                                    aggregation_temporality: 2,
                                },
                            )),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let mut buf = req.encode_to_vec();
        let patches = Patches::find(&buf, &schema::METRICS).unwrap();
        assert_eq!(patches.len(), 2 + 5);
        patches.apply(&mut buf, &values(3));
        let got = ExportMetricsServiceRequest::decode(buf.as_slice()).unwrap();
        let metrics = &got.resource_metrics[0].scope_metrics[0].metrics;
        let Some(Data::Sum(s)) = &metrics[0].data else {
            panic!("not a sum")
        };
        assert_eq!(s.data_points[0].start_time_unix_nano, 7);
        assert_eq!(s.data_points[0].time_unix_nano, 1_000_000_005);
        assert_eq!(
            s.data_points[0].value,
            Some(number_data_point::Value::AsInt(9))
        );
        let Some(Data::Histogram(h)) = &metrics[1].data else {
            panic!("not a histogram")
        };
        let p = &h.data_points[0];
        assert_eq!(
            (p.count, p.sum, p.bucket_counts.clone()),
            (12, Some(7.5), vec![3, 9])
        );
        assert_eq!(p.explicit_bounds, vec![1.0]);
    }

    #[test]
    fn truncated_encoding_is_refused() {
        let buf = [0x0a, 0x05, 0x12];
        assert!(Patches::find(&buf, &schema::TRACES).is_err());
    }
}
