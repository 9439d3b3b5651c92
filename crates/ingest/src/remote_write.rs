//! Prometheus remote_write 1.0 in: snappy-compressed protobuf `WriteRequest` → validated series.
//! Pure: the API layer reads the body and answers; a bad body is a 400 that senders never retry.

pub mod borrowed;
pub mod proto;

use blazar_model::{Labels, Limits, MetricKind, Sample, METRIC_NAME_LABEL};
use prost::Message;

use crate::InputError;

/// One decoded series with its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// A decoded request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    pub series: Vec<Series>,
    /// Metric family metadata (name, kind, help) when the sender includes it.
    pub metadata: Vec<(String, MetricKind, String)>,
}

impl Decoded {
    /// Returns the number of samples.
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}

/// Decompresses and decodes a remote_write body.
///
/// # Errors
/// Bad snappy, a decompressed size over `max_bytes`, bad protobuf, or an invalid series (the
/// field names the series index and label).
pub fn decode(body: &[u8], max_bytes: usize, limits: &Limits) -> Result<Decoded, InputError> {
    let raw = decompress(body, max_bytes)?;
    let req = proto::WriteRequest::decode(raw.as_slice())
        .map_err(|e| InputError::new("body", format!("not a remote_write WriteRequest: {e}")))?;
    translate(req, limits)
}

fn translate(req: proto::WriteRequest, limits: &Limits) -> Result<Decoded, InputError> {
    let mut out = Decoded {
        series: Vec::with_capacity(req.timeseries.len()),
        metadata: Vec::new(),
    };
    for (i, ts) in req.timeseries.into_iter().enumerate() {
        let field = |f: &str| format!("timeseries[{i}].{f}");
        if ts.labels.iter().all(|l| l.name != METRIC_NAME_LABEL) {
            return Err(InputError::new(field("labels"), "missing __name__"));
        }
        let labels = Labels::try_from_pairs(ts.labels.into_iter().map(|l| (l.name, l.value)))
            .map_err(|e| InputError::new(field("labels"), e.to_string()))?;
        labels
            .validate(limits)
            .map_err(|e| InputError::new(field("labels"), e.to_string()))?;
        let samples = ts
            .samples
            .into_iter()
            .map(|s| Sample {
                t: s.timestamp,
                v: s.value,
            })
            .collect();
        out.series.push(Series { labels, samples });
    }
    for m in req.metadata {
        let kind = match proto::MetricType::try_from(m.r#type).unwrap_or(proto::MetricType::Unknown)
        {
            proto::MetricType::Counter => MetricKind::Counter,
            proto::MetricType::Gauge => MetricKind::Gauge,
            proto::MetricType::Histogram | proto::MetricType::Gaugehistogram => {
                MetricKind::Histogram
            }
            proto::MetricType::Summary => MetricKind::Summary,
            _ => MetricKind::Unknown,
        };
        out.metadata.push((m.metric_family_name, kind, m.help));
    }
    Ok(out)
}

/// Decompresses a snappy block body, refusing one that would exceed `max_bytes`.
///
/// # Errors
/// Not snappy, or too large once decompressed.
pub fn decompress(body: &[u8], max_bytes: usize) -> Result<Vec<u8>, InputError> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| InputError::new("body", format!("not snappy-compressed: {e}")))?;
    if len > max_bytes {
        return Err(InputError::new(
            "body",
            format!("decompresses to {len} bytes, more than the limit of {max_bytes}"),
        ));
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| InputError::new("body", format!("not snappy-compressed: {e}")))
}

/// Encodes a request (for tests, benches and the load tool).
pub fn encode(req: &proto::WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::proto::{Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest};
    use super::{decode, encode, Limits, MetricKind};

    fn req() -> WriteRequest {
        WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "node_cpu_seconds_total".into(),
                    },
                    Label {
                        name: "cpu".into(),
                        value: "0".into(),
                    },
                ],
                samples: vec![
                    Sample {
                        value: 1.5,
                        timestamp: 1000,
                    },
                    Sample {
                        value: 2.5,
                        timestamp: 16000,
                    },
                ],
            }],
            metadata: vec![MetricMetadata {
                r#type: MetricType::Counter as i32,
                metric_family_name: "node_cpu_seconds_total".into(),
                help: "h".into(),
                unit: String::new(),
            }],
        }
    }

    #[test]
    fn round_trips_a_request() {
        let d = decode(&encode(&req()), 1 << 20, &Limits::default()).unwrap();
        assert_eq!(d.series[0].labels.get("cpu"), Some("0"));
        assert_eq!(d.sample_count(), 2);
        assert_eq!(d.metadata[0].1, MetricKind::Counter);
    }

    #[test]
    fn garbage_is_rejected_with_a_reason() {
        assert!(decode(b"hello", 1 << 20, &Limits::default())
            .unwrap_err()
            .to_string()
            .starts_with("body:"));
        let bad = snap::raw::Encoder::new()
            .compress_vec(&[0xff, 0xff, 0xff])
            .unwrap();
        assert!(decode(&bad, 1 << 20, &Limits::default())
            .unwrap_err()
            .to_string()
            .contains("WriteRequest"));
        assert!(decode(&encode(&req()), 10, &Limits::default())
            .unwrap_err()
            .to_string()
            .contains("limit"));
    }

    #[test]
    fn series_without_name_is_rejected() {
        let mut r = req();
        r.timeseries[0].labels.remove(0);
        let e = decode(&encode(&r), 1 << 20, &Limits::default()).unwrap_err();
        assert_eq!(e.to_string(), "timeseries[0].labels: missing __name__");
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode(&bytes, 1 << 20, &Limits::default());
            let compressed = snap::raw::Encoder::new().compress_vec(&bytes).unwrap();
            let _ = decode(&compressed, 1 << 20, &Limits::default());
        }
    }
}
