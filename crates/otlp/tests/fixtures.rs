//! Every captured OTLP request in `tests/fixtures/otlp/` (Python SDK, four encodings each) is
//! decoded and mapped, and the result checked against `manifest.json`, exhaustively.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed test

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use blazar_model::{Limits, LogRecord, SampleMode, SeriesBatch, Severity, Span};
use blazar_otlp::{
    decode_logs, decode_metrics, decode_traces, gunzip, map_logs, map_metrics, map_traces, Encoding,
};
use serde_json::{json, Value};

const NOW_NS: i64 = 1_900_000_000_000_000_000;
const MAX_BODY: usize = 16 << 20;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/otlp")
}

fn manifest() -> Value {
    serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).unwrap()).unwrap()
}

/// The four captures of one content: (file name, body ready to decode, encoding).
fn bodies(content: &str) -> Vec<(String, Vec<u8>, Encoding)> {
    ["pb", "pb.gz", "json", "grpc.pb"]
        .iter()
        .map(|ext| {
            let name = format!("{content}.{ext}");
            let raw = std::fs::read(dir().join(&name)).unwrap();
            match *ext {
                "pb.gz" => (name, gunzip(&raw, MAX_BODY).unwrap(), Encoding::Protobuf),
                "json" => (name, raw, Encoding::Json),
                _ => (name, raw, Encoding::Protobuf),
            }
        })
        .collect()
}

/// The JSON value blazar should hold for a manifest `{"type","value"}` attribute.
fn expected_value(a: &Value) -> Value {
    let v = a["value"].clone();
    match a["type"].as_str().unwrap() {
        "bytes" => {
            let raw = hex::decode(v.as_str().unwrap()).unwrap();
            Value::String(base64::engine::general_purpose::STANDARD.encode(raw))
        }
        _ => v,
    }
}

/// Compares attributes with their types: an int must stay an integer, a double a float.
fn assert_attrs(what: &str, got: &BTreeMap<String, Value>, want: &Value) {
    let want = want.as_object().unwrap();
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: attribute count; got {got:?}"
    );
    for (k, a) in want {
        let g = got
            .get(k)
            .unwrap_or_else(|| panic!("{what}: missing attribute {k}"));
        let w = expected_value(a);
        assert_eq!(g, &w, "{what}: attribute {k}");
        match a["type"].as_str().unwrap() {
            "int" => assert!(g.is_i64() || g.is_u64(), "{what}: {k} should be an integer"),
            "double" => assert!(g.is_f64(), "{what}: {k} should be a float"),
            "array<int>" => assert!(
                g.as_array().unwrap().iter().all(Value::is_i64),
                "{what}: {k}"
            ),
            "array<double>" => {
                assert!(
                    g.as_array().unwrap().iter().all(Value::is_f64),
                    "{what}: {k}"
                )
            }
            _ => {}
        }
    }
}

fn ns_at(m: &Value, offset_ms: &Value) -> i64 {
    m["base_time_unix_nano"].as_i64().unwrap() + (offset_ms.as_f64().unwrap() * 1e6).round() as i64
}

// === traces ===

#[test]
fn traces_decode_equally_in_all_four_encodings() {
    let decoded: Vec<_> = bodies("traces")
        .into_iter()
        .map(|(n, b, e)| (n, decode_traces(&b, e).unwrap()))
        .collect();
    for (n, d) in &decoded[1..] {
        assert_eq!(d, &decoded[0].1, "{n} differs from traces.pb");
    }
    let mapped: Vec<_> = decoded
        .into_iter()
        .map(|(_, d)| map_traces(d, NOW_NS).items)
        .collect();
    assert!(mapped.iter().all(|m| m == &mapped[0]));
}

#[test]
fn traces_map_to_manifest_content() {
    let m = manifest();
    let want = &m["expected"]["traces"];
    for (name, body, enc) in bodies("traces") {
        let out = map_traces(decode_traces(&body, enc).unwrap(), NOW_NS);
        assert_eq!(out.rejected, 0, "{name}: {:?}", out.errors);
        check_spans(&name, &m, want, &out.items);
    }
}

fn check_spans(file: &str, m: &Value, want: &Value, spans: &[Span]) {
    assert_eq!(
        spans.len() as u64,
        want["span_count"].as_u64().unwrap(),
        "{file}"
    );
    let mut per_service: BTreeMap<&str, u64> = BTreeMap::new();
    for s in spans {
        *per_service.entry(&s.service).or_default() += 1;
    }
    for (svc, n) in want["spans_per_service"].as_object().unwrap() {
        assert_eq!(
            per_service.get(svc.as_str()).copied(),
            n.as_u64(),
            "{file}: {svc}"
        );
    }
    let resources: BTreeMap<&str, &Value> = want["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["service"].as_str().unwrap(), r))
        .collect();
    let ws = want["spans"].as_array().unwrap();
    for (s, w) in spans.iter().zip(ws) {
        let what = format!("{file}: span {}", w["name"]);
        assert_eq!(s.name, w["name"].as_str().unwrap(), "{what}");
        assert_eq!(s.service, w["service"].as_str().unwrap(), "{what}");
        let res = resources[s.service.as_str()];
        assert_attrs(
            &format!("{what} resource"),
            &s.resource,
            &res["resource_attributes"],
        );
        let scope = &res["scopes"][0]["scope"];
        let sc = s.scope.as_ref().unwrap();
        assert_eq!(sc.name, w["scope"].as_str().unwrap(), "{what}");
        assert_eq!(sc.name, scope["name"].as_str().unwrap(), "{what}");
        assert_eq!(sc.version, scope["version"].as_str().unwrap(), "{what}");
        assert_eq!(
            s.trace_id.to_string(),
            w["trace_id"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            s.span_id.to_string(),
            w["span_id"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            s.parent_span_id.map(|p| p.to_string()).unwrap_or_default(),
            w["parent_span_id"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            format!("{:?}", s.kind).to_uppercase(),
            w["kind"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            s.status.as_str().to_uppercase(),
            w["status"]["code"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            s.status_message.clone().unwrap_or_default(),
            w["status"]["message"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            s.trace_state.clone().unwrap_or_default(),
            w["trace_state"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            s.start_unix_nano,
            w["start_time_unix_nano"].as_i64().unwrap(),
            "{what}"
        );
        assert_eq!(s.end_unix_nano, w["end_time_unix_nano"].as_i64(), "{what}");
        let dur_ms = s.duration_nanos().unwrap() as f64 / 1e6;
        assert!(
            (dur_ms - w["duration_ms"].as_f64().unwrap()).abs() < 1e-6,
            "{what}"
        );
        assert_attrs(&what, &s.attributes, &w["attributes"]);
        let we = w["events"].as_array().unwrap();
        assert_eq!(s.events.len(), we.len(), "{what}: events");
        for (e, x) in s.events.iter().zip(we) {
            assert_eq!(e.name, x["name"].as_str().unwrap(), "{what}");
            assert_eq!(
                e.time_unix_nano,
                ns_at(m, &x["offset_ms"]),
                "{what}: {}",
                e.name
            );
            assert_attrs(
                &format!("{what} event {}", e.name),
                &e.attributes,
                &x["attributes"],
            );
        }
        let wl = w["links"].as_array().unwrap();
        assert_eq!(s.links.len(), wl.len(), "{what}: links");
        for (l, x) in s.links.iter().zip(wl) {
            assert_eq!(
                l.trace_id.to_string(),
                x["trace_id"].as_str().unwrap(),
                "{what}"
            );
            assert_eq!(
                l.span_id.to_string(),
                x["span_id"].as_str().unwrap(),
                "{what}"
            );
            assert_eq!(
                l.trace_state.clone().unwrap_or_default(),
                x["trace_state"].as_str().unwrap(),
                "{what}"
            );
            assert_attrs(&format!("{what} link"), &l.attributes, &x["attributes"]);
        }
    }
    // The summary facts, independently of the per-span walk above.
    let count = |f: &dyn Fn(&Span) -> String, key: &str| {
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        for s in spans {
            *got.entry(f(s)).or_default() += 1;
        }
        let want: BTreeMap<String, u64> = want[key]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(got, want, "{file}: {key}");
    };
    count(&|s| format!("{:?}", s.kind).to_uppercase(), "kind_counts");
    count(&|s| s.status.as_str().to_uppercase(), "status_counts");
    count(&|s| s.trace_id.to_string(), "spans_per_trace");
    let big = spans
        .iter()
        .find(|s| s.name == "gateway.request.bytes_total");
    assert!(big.is_none());
    let gw = spans
        .iter()
        .find(|s| s.span_id.to_string() == "af37ab9622058021")
        .unwrap();
    assert_eq!(
        gw.attributes["gateway.request.bytes_total"],
        json!(9_007_199_254_740_993_i64)
    );
    assert_eq!(gw.parent_span_id, None);
}

// === metrics ===

/// The Prometheus name each fixture metric must get (unit suffix, `_total`, braces dropped).
fn prom_name(otel: &str) -> &'static str {
    match otel {
        "orders.requests" => "orders_requests_total",
        "rpc.server.duration" => "rpc_server_duration_milliseconds",
        "orders.inflight" => "orders_inflight",
        "orders.revenue" => "orders_revenue_USD_total",
        "orders.queue.depth" => "orders_queue_depth",
        "p2p.discovery.duration" => "p2p_discovery_duration_milliseconds",
        "p2p.peers.connected" => "p2p_peers_connected",
        other => panic!("unexpected metric {other}"),
    }
}

fn label_value(a: &Value) -> String {
    match &a["value"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn find<'a>(
    batch: &'a SeriesBatch,
    name: &str,
    labels: &[(String, String)],
) -> &'a blazar_model::SeriesWrite {
    let hits: Vec<_> = batch
        .series
        .iter()
        .filter(|s| {
            s.labels.name() == name
                && s.labels.tags().count() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(k) == Some(v.as_str()))
        })
        .collect();
    assert_eq!(hits.len(), 1, "series {name} {labels:?}: {hits:?}");
    hits[0]
}

fn check_metrics(content: &str) {
    let m = manifest();
    let want = &m["expected"][content];
    let res: BTreeMap<&str, &Value> = want["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["service"].as_str().unwrap(), &r["resource_attributes"]))
        .collect();
    let mut mapped = Vec::new();
    for (file, body, enc) in bodies(content) {
        let req = decode_metrics(&body, enc).unwrap();
        assert_eq!(
            blazar_otlp::data_point_count(&req),
            want["data_point_count"].as_u64().unwrap(),
            "{file}"
        );
        let out = map_metrics(req, NOW_NS, &Limits::default());
        assert_eq!(out.rejected, 0, "{file}: {:?}", out.errors);
        let batch = out.items;
        let metrics = want["metrics"].as_array().unwrap();
        assert_eq!(batch.families.len(), metrics.len(), "{file}: families");
        let mut expected_series = 0;
        for wm in metrics {
            let otel = wm["name"].as_str().unwrap();
            let name = prom_name(otel);
            let what = format!("{file}: {otel}");
            let fam = batch
                .families
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("{what}: family"));
            assert_eq!(fam.help, wm["description"].as_str().unwrap(), "{what}");
            assert_eq!(fam.unit, wm["unit"].as_str().unwrap(), "{what}");
            assert_eq!(fam.original.as_deref(), Some(otel), "{what}");
            let ty = wm["type"].as_str().unwrap();
            let mono = wm["is_monotonic"].as_bool() == Some(true);
            let kind = match (ty, mono) {
                ("sum", true) => "counter",
                ("sum", false) | ("gauge", _) => "gauge",
                (other, _) => other,
            };
            assert_eq!(fam.kind.as_str(), kind, "{what}");
            let mode = if wm["temporality"] == "DELTA" {
                SampleMode::Delta
            } else {
                SampleMode::Absolute
            };
            let svc = wm["service"].as_str().unwrap();
            let ra = res[svc];
            for p in wm["data_points"].as_array().unwrap() {
                let mut labels: Vec<(String, String)> = p["attributes"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, a)| (k.replace('.', "_"), label_value(a)))
                    .collect();
                labels.push((
                    "job".into(),
                    format!(
                        "{}/{}",
                        ra["service.namespace"]["value"].as_str().unwrap(),
                        svc
                    ),
                ));
                labels.push((
                    "instance".into(),
                    ra["service.instance.id"]["value"].as_str().unwrap().into(),
                ));
                labels.push(("service".into(), svc.into()));
                let t = p["time_unix_nano"].as_i64().unwrap() / 1_000_000;
                let check = |series: &str, extra: Option<(&str, String)>, v: f64| {
                    let mut l = labels.clone();
                    if let Some((k, val)) = extra {
                        l.push((k.to_string(), val));
                    }
                    let s = find(&batch, series, &l);
                    assert_eq!(s.mode, mode, "{what} {series}");
                    assert_eq!(s.samples.len(), 1);
                    assert_eq!(s.samples[0].t, t, "{what} {series}");
                    assert_eq!(s.samples[0].v, v, "{what} {series} {l:?}");
                };
                if ty == "histogram" {
                    let bounds = p["explicit_bounds"].as_array().unwrap();
                    let counts = p["bucket_counts"].as_array().unwrap();
                    let mut cum = 0;
                    for (i, c) in counts.iter().enumerate() {
                        cum += c.as_u64().unwrap();
                        let le = bounds.get(i).map_or("+Inf".to_string(), |b| {
                            let b = b.as_f64().unwrap();
                            format!("{b}")
                        });
                        check(&format!("{name}_bucket"), Some(("le", le)), cum as f64);
                    }
                    check(&format!("{name}_sum"), None, p["sum"].as_f64().unwrap());
                    check(&format!("{name}_count"), None, p["count"].as_f64().unwrap());
                    expected_series += counts.len() + 2;
                } else {
                    check(name, None, p["value"].as_f64().unwrap());
                    expected_series += 1;
                }
            }
        }
        assert_eq!(batch.series.len(), expected_series, "{file}: series count");
        mapped.push(batch);
    }
    assert!(
        mapped.iter().all(|b| b == &mapped[0]),
        "{content}: encodings map differently"
    );
}

#[test]
fn metrics_cumulative_map_to_manifest_content() {
    check_metrics("metrics_cumulative");
}

#[test]
fn metrics_delta_map_to_manifest_content() {
    check_metrics("metrics_delta");
}

#[test]
fn metrics_decode_equally_in_all_four_encodings() {
    for content in ["metrics_cumulative", "metrics_delta"] {
        let decoded: Vec<_> = bodies(content)
            .into_iter()
            .map(|(n, b, e)| (n, decode_metrics(&b, e).unwrap()))
            .collect();
        for (n, d) in &decoded[1..] {
            assert_eq!(d, &decoded[0].1, "{n} differs from {content}.pb");
        }
    }
}

#[test]
fn delta_sums_and_histograms_are_delta_and_updown_counter_stays_absolute() {
    let (_, body, enc) = bodies("metrics_delta").remove(0);
    let batch = map_metrics(
        decode_metrics(&body, enc).unwrap(),
        NOW_NS,
        &Limits::default(),
    )
    .items;
    let mode_of = |prefix: &str| {
        let modes: Vec<_> = batch
            .series
            .iter()
            .filter(|s| s.labels.name().starts_with(prefix))
            .map(|s| s.mode)
            .collect();
        assert!(!modes.is_empty(), "{prefix}");
        assert!(modes.iter().all(|m| *m == modes[0]), "{prefix}");
        modes[0]
    };
    assert_eq!(mode_of("orders_requests_total"), SampleMode::Delta);
    assert_eq!(
        mode_of("rpc_server_duration_milliseconds"),
        SampleMode::Delta
    );
    assert_eq!(mode_of("orders_revenue_USD_total"), SampleMode::Delta);
    assert_eq!(mode_of("orders_inflight"), SampleMode::Absolute);
    assert_eq!(mode_of("orders_queue_depth"), SampleMode::Absolute);
}

// === logs ===

#[test]
fn logs_decode_equally_in_all_four_encodings() {
    let decoded: Vec<_> = bodies("logs")
        .into_iter()
        .map(|(n, b, e)| (n, decode_logs(&b, e).unwrap()))
        .collect();
    for (n, d) in &decoded[1..] {
        assert_eq!(d, &decoded[0].1, "{n} differs from logs.pb");
    }
    let mapped: Vec<_> = decoded
        .into_iter()
        .map(|(_, d)| map_logs(d, NOW_NS).items)
        .collect();
    assert!(mapped.iter().all(|m| m == &mapped[0]));
}

#[test]
fn logs_map_to_manifest_content() {
    let m = manifest();
    let want = &m["expected"]["logs"];
    let resources: BTreeMap<&str, &Value> = want["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["service"].as_str().unwrap(), r))
        .collect();
    for (file, body, enc) in bodies("logs") {
        let out = map_logs(decode_logs(&body, enc).unwrap(), NOW_NS);
        assert_eq!(out.rejected, 0, "{file}: {:?}", out.errors);
        let recs: &[LogRecord] = &out.items;
        let wr = want["records"].as_array().unwrap();
        assert_eq!(recs.len(), wr.len(), "{file}");
        for (r, w) in recs.iter().zip(wr) {
            let what = format!("{file}: record {:?}", w["body"]);
            assert_eq!(r.service, w["service"].as_str().unwrap(), "{what}");
            let res = resources[r.service.as_str()];
            assert_attrs(&what, &r.resource, &res["resource_attributes"]);
            let sc = r.scope.as_ref().unwrap();
            assert_eq!(sc.name, w["scope"].as_str().unwrap(), "{what}");
            assert_eq!(
                sc.version,
                res["scopes"][0]["scope"]["version"].as_str().unwrap(),
                "{what}"
            );
            let t = w["time_unix_nano"].as_i64().unwrap();
            let expect_t = if t == 0 {
                w["observed_time_unix_nano"].as_i64().unwrap()
            } else {
                t
            };
            assert_eq!(r.timestamp_ns, expect_t, "{what}");
            let sev = Severity::parse(w["severity_number_name"].as_str().unwrap()).unwrap();
            assert_eq!(r.severity, sev, "{what}");
            assert_eq!(
                r.severity_number.map(i64::from),
                w["severity_number"].as_i64(),
                "{what}"
            );
            assert_eq!(
                r.severity_text.as_deref(),
                w["severity_text"].as_str(),
                "{what}"
            );
            assert_eq!(
                r.event_name.clone().unwrap_or_default(),
                w["event_name"].as_str().unwrap(),
                "{what}"
            );
            match w["body_type"].as_str().unwrap() {
                "string" => {
                    assert_eq!(r.body, w["body"].as_str().unwrap(), "{what}");
                    assert_eq!(r.body_value, None, "{what}");
                }
                "kvlist" => {
                    assert_eq!(r.body_value.as_ref(), Some(&w["body"]), "{what}");
                    let text: Value = serde_json::from_str(&r.body).unwrap();
                    assert_eq!(text, w["body"], "{what}");
                }
                other => panic!("unexpected body type {other}"),
            }
            assert_eq!(
                r.trace_id.map(|i| i.to_string()).unwrap_or_default(),
                w["trace_id"].as_str().unwrap(),
                "{what}"
            );
            assert_eq!(
                r.span_id.map(|i| i.to_string()).unwrap_or_default(),
                w["span_id"].as_str().unwrap(),
                "{what}"
            );
            assert_attrs(&what, &r.attributes, &w["attributes"]);
        }
        let with_ctx = recs.iter().filter(|r| r.trace_id.is_some()).count() as u64;
        assert_eq!(
            with_ctx,
            want["with_trace_context"].as_u64().unwrap(),
            "{file}"
        );
        let mut per_service: BTreeMap<String, u64> = BTreeMap::new();
        for r in recs {
            *per_service.entry(r.service.clone()).or_default() += 1;
        }
        let wps: BTreeMap<String, u64> = want["records_per_service"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(per_service, wps, "{file}");
    }
}

#[test]
fn every_fixture_file_in_the_manifest_is_decoded() {
    let m = manifest();
    for (file, meta) in m["files"].as_object().unwrap() {
        let raw = std::fs::read(dir().join(file)).unwrap();
        assert_eq!(raw.len() as u64, meta["size"].as_u64().unwrap(), "{file}");
        let body = if meta["content_encoding"] == "gzip" {
            gunzip(&raw, MAX_BODY).unwrap()
        } else {
            raw
        };
        let enc = if meta["content_type"] == "application/json" {
            Encoding::Json
        } else {
            Encoding::Protobuf
        };
        let ok = match meta["signal"].as_str().unwrap() {
            "traces" => decode_traces(&body, enc).is_ok(),
            "metrics" => decode_metrics(&body, enc).is_ok(),
            "logs" => decode_logs(&body, enc).is_ok(),
            other => panic!("{other}"),
        };
        assert!(ok, "{file}");
    }
    assert!(dir().join("MANIFEST.md").exists());
}
