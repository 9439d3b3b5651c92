//! The pool as the server sees it after per-send rewrites: sizes, unique ids, and every metric
//! series moving forward in time and value.

use std::collections::{BTreeMap, HashMap, HashSet};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use prost::Message;

use super::*;
use crate::send::{next_base_ns, send_values};

fn spec(signal: Signal, batch: usize, pool: usize) -> Spec {
    Spec {
        signal,
        batch,
        services: 10,
        pool,
        seed: 7,
        start_ns: 1_700_000_000_000_000_000,
    }
}

/// Plays the sender loop over one share with a clock that never moves (the worst case for
/// time order), returning each send's decoded request.
fn sends<M: Message + Default>(share: &mut [Entry], sender: u64, n: u64) -> Vec<M> {
    let (mut base, mut traces, mut spans) = (0, 0, 0);
    let now = 1_800_000_000_000_000_000;
    let len = share.len() as u64;
    (0..n)
        .map(|seq| {
            let e = &mut share[(seq % len) as usize];
            base = next_base_ns(now, base);
            let v = send_values(sender, 42, seq, len, base, traces, spans);
            traces += e.patches.traces;
            spans += e.patches.spans;
            e.patches.apply(&mut e.body, &v);
            M::decode(e.body.as_slice()).unwrap()
        })
        .collect()
}

#[test]
fn trace_requests_hold_the_batch_and_ids_are_unique_across_sends_and_senders() {
    let mut pool = generate(&spec(Signal::Traces, 300, 4)).unwrap();
    assert!(pool.iter().all(|e| e.items == 300));
    let (a, b) = pool.split_at_mut(2);
    let mut reqs: Vec<ExportTraceServiceRequest> = sends(a, 0, 6);
    reqs.extend(sends::<ExportTraceServiceRequest>(b, 1, 6));
    let mut span_ids = HashSet::new();
    let mut trace_ids = HashSet::new();
    for req in &reqs {
        let spans: Vec<_> = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .collect();
        assert_eq!(spans.len(), 300);
        let by_id: HashMap<&[u8], _> = spans.iter().map(|s| (s.span_id.as_slice(), *s)).collect();
        let mut per_trace: HashMap<&[u8], usize> = HashMap::new();
        for s in &spans {
            assert_eq!((s.trace_id.len(), s.span_id.len()), (16, 8));
            assert_ne!(s.span_id, vec![0u8; 8]);
            assert!(span_ids.insert(s.span_id.clone()), "span id reused");
            *per_trace.entry(s.trace_id.as_slice()).or_default() += 1;
            assert!(s.start_time_unix_nano >= 1_800_000_000_000_000_000);
            assert!(s.end_time_unix_nano >= s.start_time_unix_nano);
            if !s.parent_span_id.is_empty() {
                let parent = by_id[s.parent_span_id.as_slice()];
                assert_eq!(parent.trace_id, s.trace_id, "parent in another trace");
                assert!(parent.start_time_unix_nano <= s.start_time_unix_nano);
            }
        }
        for t in per_trace.keys() {
            assert!(trace_ids.insert(t.to_vec()), "trace id reused");
        }
        assert!(per_trace.len() >= 300 / 11);
        assert!(spans.iter().filter(|s| s.parent_span_id.is_empty()).count() == per_trace.len());
        assert!(req.resource_spans.len() > 1, "one service only");
    }
}

type SeriesKey = (String, String, Vec<(String, String)>);

fn attrs(kvs: &[KeyValue]) -> Vec<(String, String)> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), format!("{:?}", kv.value)))
        .collect()
}

/// Returns every data point of `req` as (series, time, value), a histogram's value its count.
fn points(req: &ExportMetricsServiceRequest) -> Vec<(SeriesKey, u64, f64)> {
    let mut out = Vec::new();
    for rm in &req.resource_metrics {
        let res = format!("{:?}", rm.resource);
        for m in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
            let key = |a: &[KeyValue]| (res.clone(), m.name.clone(), attrs(a));
            let num = |v: &Option<number_data_point::Value>| match v {
                Some(number_data_point::Value::AsDouble(d)) => *d,
                Some(number_data_point::Value::AsInt(i)) => *i as f64,
                None => f64::NAN,
            };
            match &m.data {
                Some(Data::Gauge(g)) => out.extend(
                    g.data_points
                        .iter()
                        .map(|p| (key(&p.attributes), p.time_unix_nano, f64::NAN)),
                ),
                Some(Data::Sum(s)) => out.extend(
                    s.data_points
                        .iter()
                        .map(|p| (key(&p.attributes), p.time_unix_nano, num(&p.value))),
                ),
                Some(Data::Histogram(h)) => {
                    for p in &h.data_points {
                        assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
                        out.push((key(&p.attributes), p.time_unix_nano, p.count as f64));
                    }
                }
                _ => panic!("unexpected metric type"),
            }
        }
    }
    out
}

#[test]
fn metric_series_are_in_one_pooled_request_and_move_forward_every_send() {
    let mut pool = generate(&spec(Signal::Metrics, 100, 6)).unwrap();
    // No series in two pooled requests: senders own disjoint series.
    let mut seen = HashSet::new();
    for e in &pool {
        let req = ExportMetricsServiceRequest::decode(e.body.as_slice()).unwrap();
        let pts = points(&req);
        assert_eq!(pts.len(), 100);
        assert_eq!(e.items, 100);
        for (k, _, _) in pts {
            assert!(seen.insert(k), "series in two pooled requests");
        }
    }
    // Samples: 1 per gauge or sum point, 13 per histogram point (11 buckets, _sum, _count).
    let total: u64 = pool.iter().map(|e| e.samples).sum();
    let per_process: u64 = 1 + 12 + 20 + 2 + 10 * 13;
    assert_eq!(total, 600 / 45 * per_process + (600 % 45) as u64); // 600 % 45 = 15 gauges/sums

    let (a, _) = pool.split_at_mut(3);
    let mut last: BTreeMap<SeriesKey, (u64, f64)> = BTreeMap::new();
    for req in sends::<ExportMetricsServiceRequest>(a, 0, 12) {
        for (k, t, v) in points(&req) {
            if let Some((pt, pv)) = last.get(&k) {
                // blazar keeps milliseconds: strictly later at that resolution.
                assert!(t / 1_000_000 > pt / 1_000_000, "time did not move on");
                assert!(v.is_nan() || v > *pv, "cumulative value did not grow");
            }
            last.insert(k, (t, v));
        }
    }
    assert_eq!(last.len(), 300);
}

#[test]
fn log_requests_hold_the_batch_with_severities_and_trace_context() {
    let mut pool = generate(&spec(Signal::Logs, 512, 2)).unwrap();
    let mut previous_base = 0;
    let mut span_ids = HashSet::new();
    for req in sends::<ExportLogsServiceRequest>(&mut pool, 0, 4) {
        let records: Vec<_> = req
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .collect();
        assert_eq!(records.len(), 512);
        let first = records.iter().map(|r| r.time_unix_nano).min().unwrap();
        assert!(first > previous_base, "times did not move on");
        previous_base = first;
        let severities: HashSet<i32> = records.iter().map(|r| r.severity_number).collect();
        assert!(severities.len() >= 4);
        let traced: Vec<_> = records.iter().filter(|r| !r.trace_id.is_empty()).collect();
        assert!(traced.len() > 512 / 2 && traced.len() < 512);
        for r in traced {
            assert_eq!((r.trace_id.len(), r.span_id.len()), (16, 8));
            assert!(span_ids.insert(r.span_id.clone()));
        }
        assert!(records
            .iter()
            .all(|r| r.observed_time_unix_nano > r.time_unix_nano));
    }
}

/// Returns the items in an encoded request, counted by decoding it.
fn decoded_items(signal: Signal, body: &[u8]) -> usize {
    match signal {
        Signal::Traces => ExportTraceServiceRequest::decode(body)
            .unwrap()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum(),
        Signal::Metrics => points(&ExportMetricsServiceRequest::decode(body).unwrap()).len(),
        Signal::Logs => ExportLogsServiceRequest::decode(body)
            .unwrap()
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum(),
    }
}

#[test]
fn requests_are_as_large_as_asked() {
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        for batch in [1, 7, 512, 2000] {
            let pool = generate(&spec(signal, batch, 3)).unwrap();
            assert_eq!(pool.len(), 3);
            for e in &pool {
                assert_eq!(e.items, batch as u64);
                assert_eq!(
                    decoded_items(signal, &e.body),
                    batch,
                    "{signal:?} x {batch}"
                );
            }
        }
    }
}

#[test]
fn same_seed_gives_the_same_bytes() {
    let a = generate(&spec(Signal::Logs, 64, 2)).unwrap();
    let b = generate(&spec(Signal::Logs, 64, 2)).unwrap();
    assert_eq!(a[1].body, b[1].body);
}
