//! OTLP receivers end to end: the Python SDK's captured requests (tests/fixtures/otlp) sent
//! over every transport (OTLP/HTTP protobuf, gzip and JSON on both HTTP ports, OTLP/gRPC),
//! then read back through the native API; and the error answers the OTLP spec prescribes.

use std::path::PathBuf;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::{json, Value};

use crate::support::{eventually, Opts, TestServer};

const TRACE_ID: &str = "c91cd0cf7b4c190b8fd545e1c4cd451e";

/// The fixtures are timestamped when they were captured; keep them past the default 24h.
const LONG_RETENTION: &str = "storage:
  metrics: {retention: 3650d}
  logs: {retention: 3650d}
  traces: {retention: 3650d}
tracing:
  completion_quiet: 200ms
";

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/otlp")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    /// Binary protobuf on the main port's `/v1/*`.
    HttpProtobuf,
    /// Gzip-compressed protobuf on the OTLP HTTP port.
    HttpGzipOtlpPort,
    /// OTLP JSON on the main port.
    HttpJson,
    /// OTLP/gRPC.
    Grpc,
}

async fn start() -> TestServer {
    TestServer::start_with(Opts {
        config_yaml: Some(LONG_RETENTION.into()),
        ..Opts::default()
    })
    .await
}

/// Sends fixture `content` (e.g. `traces`) over `t`; returns the decoded OTLP response.
async fn send(srv: &TestServer, t: Transport, content: &str) {
    let path = match content {
        "traces" => "/v1/traces",
        "logs" => "/v1/logs",
        _ => "/v1/metrics",
    };
    let (base, file, ct, gzip) = match t {
        Transport::HttpProtobuf => (
            srv.base.clone(),
            format!("{content}.pb"),
            "application/x-protobuf",
            false,
        ),
        Transport::HttpGzipOtlpPort => (
            format!(
                "http://{}",
                srv.otlp_http.as_deref().expect("otlp http port")
            ),
            format!("{content}.pb.gz"),
            "application/x-protobuf",
            true,
        ),
        Transport::HttpJson => (
            srv.base.clone(),
            format!("{content}.json"),
            "application/json",
            false,
        ),
        Transport::Grpc => {
            send_grpc(srv, content).await;
            return;
        }
    };
    let mut req = srv
        .client
        .post(format!("{base}{path}"))
        .header("content-type", ct)
        .body(fixture(&file));
    if gzip {
        req = req.header("content-encoding", "gzip");
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let resp_ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body = r.bytes().await.unwrap();
    assert_eq!(
        status,
        200,
        "{t:?} {file}: {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(
        resp_ct.as_deref(),
        Some(ct),
        "{t:?} {file}: response content type"
    );
    // A full success has no partial_success (or an empty one).
    if ct == "application/json" {
        let v: Value = serde_json::from_slice(&body).unwrap();
        let ps = &v["partialSuccess"];
        assert!(
            ps.is_null() || ps.as_object().is_some_and(|o| o.is_empty()),
            "{file}: {v}"
        );
    } else {
        match content {
            "traces" => assert!(ExportTraceResponse::decode(&body[..])
                .unwrap()
                .partial_success
                .is_none_or(|p| p.rejected_spans == 0)),
            "logs" => assert!(ExportLogsResponse::decode(&body[..])
                .unwrap()
                .partial_success
                .is_none_or(|p| p.rejected_log_records == 0)),
            _ => assert!(ExportMetricsResponse::decode(&body[..])
                .unwrap()
                .partial_success
                .is_none_or(|p| p.rejected_data_points == 0)),
        }
    }
}

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse as ExportLogsResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse as ExportMetricsResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse as ExportTraceResponse;

fn grpc_url(srv: &TestServer) -> String {
    format!(
        "http://{}",
        srv.otlp_grpc.as_deref().expect("otlp grpc port")
    )
}

async fn send_grpc(srv: &TestServer, content: &str) {
    let bytes = fixture(&format!("{content}.grpc.pb"));
    let url = grpc_url(srv);
    match content {
        "traces" => {
            let req = ExportTraceServiceRequest::decode(&bytes[..]).unwrap();
            let mut c = TraceServiceClient::connect(url).await.unwrap();
            let r = c.export(req).await.unwrap().into_inner();
            assert!(r.partial_success.is_none_or(|p| p.rejected_spans == 0));
        }
        "logs" => {
            let req = ExportLogsServiceRequest::decode(&bytes[..]).unwrap();
            let mut c = LogsServiceClient::connect(url).await.unwrap();
            let r = c.export(req).await.unwrap().into_inner();
            assert!(r
                .partial_success
                .is_none_or(|p| p.rejected_log_records == 0));
        }
        _ => {
            let req = ExportMetricsServiceRequest::decode(&bytes[..]).unwrap();
            let mut c = MetricsServiceClient::connect(url).await.unwrap();
            let r = c.export(req).await.unwrap().into_inner();
            assert!(r
                .partial_success
                .is_none_or(|p| p.rejected_data_points == 0));
        }
    }
}

/// Every span of the fixture trace, with the details MANIFEST.md lists.
async fn check_traces(srv: &TestServer, t: Transport) {
    let (s, v) = srv
        .get_json(&format!("/api/v1/telemetry/traces/{TRACE_ID}"))
        .await;
    assert_eq!(s, 200, "{t:?}: {v}");
    let spans = v["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 8, "{t:?}: {v}");
    let by_id = |id: &str| {
        spans
            .iter()
            .find(|s| s["span_id"] == id)
            .unwrap_or_else(|| panic!("{t:?}: span {id} missing"))
    };
    let count = |svc: &str| spans.iter().filter(|s| s["service"] == svc).count();
    assert_eq!(
        (count("orders"), count("gateway"), count("p2p-node")),
        (4, 2, 2)
    );
    let failed = by_id("9af240d46ee0f59e");
    assert_eq!(failed["name"], "inventory.reserve");
    assert_eq!(failed["status"], "error");
    assert_eq!(
        failed["status_message"],
        "insufficient stock for sku-2 (requested 2, available 0)"
    );
    assert_eq!(failed["parent_span_id"], "c40ab3289224fd51");
    let events: Vec<&str> = failed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["inventory.retry", "exception"]);
    assert_eq!(failed["trace_state"], "shop=gw1");
    let root = by_id("af37ab9622058021");
    assert!(root["parent_span_id"].is_null());
    assert_eq!(root["kind"], "server");
    let a = &root["attributes"];
    assert_eq!(
        a["gateway.request.bytes_total"],
        json!(9007199254740993_i64)
    );
    assert_eq!(a["gateway.clock_skew_ms"], json!(-12));
    assert_eq!(a["gateway.cache_hit"], json!(false));
    assert_eq!(a["gateway.rate_limit.utilization"], json!(0.4375));
    assert_eq!(a["gateway.retry.backoff_ms"], json!([10, 20, 40]));
    assert_eq!(
        a["gateway.feature_flags.enabled"],
        json!([true, false, true])
    );
    assert_eq!(root["resource"]["service.namespace"], "shop");
    assert_eq!(root["scope"]["name"], "gateway.http");
    assert_eq!(root["scope"]["version"], "2.3.1");
    let discovery = by_id("54f88e87e6a07ac8");
    assert_eq!(discovery["links"].as_array().unwrap().len(), 2);
    assert_eq!(discovery["kind"], "internal");
    assert_eq!(by_id("d7a89cb634eecd52")["kind"], "consumer");
    assert_eq!(by_id("2dec217c83fd7922")["kind"], "producer");
    // Queryable by service, operation and tag.
    let (_, l) = srv
        .get_json("/api/v1/telemetry/traces?service=p2p-node&tag.order.id=ord-20931")
        .await;
    assert_eq!(l["traces"].as_array().unwrap().len(), 1, "{t:?}: {l}");
}

async fn check_logs(srv: &TestServer, t: Transport) {
    let (s, v) = srv.get_json("/api/v1/telemetry/logs?limit=1000").await;
    assert_eq!(s, 200);
    let logs = v["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 11, "{t:?}: {v}");
    let (_, v) = srv
        .get_json(&format!(
            "/api/v1/telemetry/logs?trace_id={TRACE_ID}&limit=1000"
        ))
        .await;
    assert_eq!(v["logs"].as_array().unwrap().len(), 10, "{t:?}");
    let (_, v) = srv
        .get_json("/api/v1/telemetry/logs?level=error&limit=1000")
        .await;
    let errors = v["logs"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{t:?}: {v}");
    assert!(errors
        .iter()
        .any(|l| l["body"] == "dial failed: connection refused" && l["service"] == "p2p-node"));
    let (_, v) = srv
        .get_json("/api/v1/telemetry/logs?service=orders&limit=1000")
        .await;
    let orders = v["logs"].as_array().unwrap();
    assert_eq!(orders.len(), 5, "{t:?}");
    let structured = orders
        .iter()
        .find(|l| l["event_name"] == "order.viewed")
        .unwrap_or_else(|| panic!("{t:?}: kvlist body record missing: {v}"));
    assert_eq!(structured["body_value"]["order_id"], "ord-20931");
    assert_eq!(
        structured["body_value"]["tags"],
        json!(["gift", "priority"])
    );
    assert_eq!(structured["span_id"], "2dec217c83fd7922");
}

/// The series of family `original` (an OTLP name) with tag `key=value`, as the native API lists it.
async fn metric_value(srv: &TestServer, original: &str, key: &str, value: &str) -> Option<f64> {
    let (_, v) = srv
        .get_json(&format!("/api/v1/telemetry/metrics?name={original}"))
        .await;
    v["metrics"].as_array()?.iter().find_map(|m| {
        (m["tags"][key] == value && !m["name"].as_str()?.ends_with("_bucket"))
            .then(|| m["value"].as_f64())
            .flatten()
    })
}

async fn check_cumulative_metrics(srv: &TestServer, t: Transport) {
    let v = metric_value(srv, "orders.requests", "rpc_method", "GetOrder").await;
    assert_eq!(v, Some(6.0), "{t:?}");
    let v = metric_value(srv, "orders.requests", "rpc_method", "CreateOrder").await;
    assert_eq!(v, Some(1.0), "{t:?}");
    let v = metric_value(srv, "p2p.peers.connected", "p2p_transport", "tcp").await;
    assert_eq!(v, Some(9.0), "{t:?}");
    // The Prometheus-facing name follows the OTel naming rules and carries the service.
    let (_, l) = srv
        .get_json("/api/v1/telemetry/metrics?name=orders_requests_total")
        .await;
    let rows = l["metrics"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{t:?}: {l}");
    assert!(rows
        .iter()
        .all(|r| r["type"] == "counter" && r["tags"]["service"] == "orders"));
    // Histograms become _bucket{le}, _sum and _count.
    let (_, l) = srv
        .get_json("/api/v1/telemetry/metrics?name=p2p_discovery_duration_milliseconds_*")
        .await;
    let rows = l["metrics"].as_array().unwrap();
    let count = rows
        .iter()
        .find(|r| r["name"] == "p2p_discovery_duration_milliseconds_count")
        .unwrap_or_else(|| panic!("{t:?}: {l}"));
    assert_eq!(count["value"], json!(3.0));
    let inf = rows
        .iter()
        .find(|r| {
            r["name"] == "p2p_discovery_duration_milliseconds_bucket" && r["tags"]["le"] == "+Inf"
        })
        .unwrap_or_else(|| panic!("{t:?}: {l}"));
    assert_eq!(inf["value"], json!(3.0));
    let le1000 = rows
        .iter()
        .find(|r| {
            r["name"] == "p2p_discovery_duration_milliseconds_bucket" && r["tags"]["le"] == "1000"
        })
        .unwrap_or_else(|| panic!("{t:?}: {l}"));
    assert_eq!(le1000["value"], json!(1.0));
}

#[tokio::test]
async fn python_sdk_fixtures_arrive_over_every_transport() {
    for t in [
        Transport::HttpProtobuf,
        Transport::HttpGzipOtlpPort,
        Transport::HttpJson,
        Transport::Grpc,
    ] {
        let srv = start().await;
        send(&srv, t, "traces").await;
        send(&srv, t, "logs").await;
        send(&srv, t, "metrics_cumulative").await;
        check_traces(&srv, t).await;
        check_logs(&srv, t).await;
        check_cumulative_metrics(&srv, t).await;
        // The trace completes (root ended, quiet) and is announced in the stats.
        eventually("the fixture trace to complete", || async {
            let (_, v) = srv
                .get_json("/api/v1/telemetry/traces?service=gateway")
                .await;
            (v["traces"][0]["complete"] == true).then_some(())
        })
        .await;
    }
}

/// The delta fixture with every data point moved `secs` later: the SDK's next interval.
fn later_delta(secs: u64) -> ExportMetricsServiceRequest {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let mut req = ExportMetricsServiceRequest::decode(&fixture("metrics_delta.pb")[..]).unwrap();
    let shift = secs * 1_000_000_000;
    for rm in &mut req.resource_metrics {
        for sm in &mut rm.scope_metrics {
            for m in &mut sm.metrics {
                match m.data.as_mut().unwrap() {
                    Data::Sum(s) => s.data_points.iter_mut().for_each(|p| {
                        p.start_time_unix_nano += shift;
                        p.time_unix_nano += shift;
                    }),
                    Data::Gauge(g) => g
                        .data_points
                        .iter_mut()
                        .for_each(|p| p.time_unix_nano += shift),
                    Data::Histogram(h) => h.data_points.iter_mut().for_each(|p| {
                        p.start_time_unix_nano += shift;
                        p.time_unix_nano += shift;
                    }),
                    _ => {}
                }
            }
        }
    }
    req
}

#[tokio::test]
async fn delta_sums_and_histograms_accumulate_into_cumulative_series() {
    let srv = start().await;
    // Interval 1 over OTLP/HTTP, interval 2 over gRPC, interval 3 over HTTP after a restart.
    send(&srv, Transport::HttpProtobuf, "metrics_delta").await;
    assert_eq!(
        metric_value(&srv, "orders.requests", "rpc_method", "GetOrder").await,
        Some(1.0)
    );
    let mut c = MetricsServiceClient::connect(grpc_url(&srv)).await.unwrap();
    c.export(later_delta(10)).await.unwrap();
    assert_eq!(
        metric_value(&srv, "orders.requests", "rpc_method", "GetOrder").await,
        Some(2.0)
    );
    // Histogram _count and buckets accumulate too: 1200 ms twice lands in +Inf twice.
    let (_, l) = srv
        .get_json("/api/v1/telemetry/metrics?name=rpc_server_duration_milliseconds_count")
        .await;
    let create = l["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tags"]["rpc_method"] == "CreateOrder")
        .unwrap_or_else(|| panic!("{l}"));
    assert_eq!(create["value"], json!(2.0));
    // Revenue: 149.97 per interval.
    let revenue = metric_value(&srv, "orders.revenue", "order_channel", "web")
        .await
        .unwrap();
    assert!((revenue - 299.94).abs() < 1e-9, "{revenue}");
    // The up-down counter stays cumulative (the SDK sent it so): not summed.
    assert_eq!(
        metric_value(&srv, "orders.inflight", "order_channel", "web").await,
        Some(1.0)
    );
    // A restart continues from the stored totals.
    let mut srv = srv;
    let opts = Opts {
        config_yaml: Some(LONG_RETENTION.into()),
        ..srv.kill9()
    };
    let srv = TestServer::start_with(opts).await;
    let body = later_delta(20).encode_to_vec();
    let r = srv
        .client
        .post(srv.url("/v1/metrics"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        metric_value(&srv, "orders.requests", "rpc_method", "GetOrder").await,
        Some(3.0)
    );
}

#[tokio::test]
async fn bad_otlp_requests_get_the_answers_the_spec_prescribes() {
    let srv = start().await;
    send(&srv, Transport::HttpProtobuf, "traces").await;
    let post = |path: &str, ct: &str, body: Vec<u8>| {
        srv.client
            .post(srv.url(path))
            .header("content-type", ct)
            .body(body)
    };
    // Unsupported content type: 415.
    let r = post("/v1/traces", "text/plain", b"hello".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["message"].as_str().unwrap().contains("Content-Type"),
        "{v}"
    );
    // Unsupported content encoding: 415.
    let r = post("/v1/logs", "application/x-protobuf", fixture("logs.pb"))
        .header("content-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // Garbage protobuf: 400 with a google.rpc.Status body (code 3, INVALID_ARGUMENT).
    let r = post("/v1/traces", "application/x-protobuf", vec![0xff; 64])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body = r.bytes().await.unwrap();
    let status = RpcStatus::decode(&body[..]).unwrap();
    assert_eq!(status.code, 3);
    assert!(!status.message.is_empty());
    // Truncated protobuf: 400.
    let pb = fixture("traces.pb");
    let r = post(
        "/v1/traces",
        "application/x-protobuf",
        pb[..pb.len() / 2].to_vec(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    // Wrong-typed JSON: 400 naming the field.
    let r = post(
        "/v1/metrics",
        "application/json",
        br#"{"resourceMetrics": 7}"#.to_vec(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["message"].as_str().unwrap().contains("resourceMetrics"),
        "{v}"
    );
    // Not gzip although it says so: 400.
    let r = post("/v1/logs", "application/x-protobuf", b"not gzip".to_vec())
        .header("content-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Over the body limit: 413. (Own client: the server closes a connection whose body it
    // refused, and a pooled connection would fail the next request.)
    let r = reqwest::Client::new()
        .post(srv.url("/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .body(vec![0; 5 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // A span id of the wrong size: 400 naming the field.
    let span = |id: &str, attrs: Value| {
        json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": id, "name": "s",
               "startTimeUnixNano": "1", "endTimeUnixNano": "2", "attributes": attrs})
    };
    let request = |spans: Vec<Value>| {
        json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "edge"}}]},
            "scopeSpans": [{"spans": spans}]
        }]})
        .to_string()
        .into_bytes()
    };
    let r = post(
        "/v1/traces",
        "application/json",
        request(vec![span("b7ad6b71", json!([]))]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("spanId"), "{v}");
    // A span whose attribute nests deeper than blazar keeps is refused alone (partial
    // success); the rest of the request is stored.
    let mut deep = json!({"stringValue": "bottom"});
    for _ in 0..20 {
        deep = json!({"kvlistValue": {"values": [{"key": "k", "value": deep}]}});
    }
    let r = post(
        "/v1/traces",
        "application/json",
        request(vec![
            span("b7ad6b7169203331", json!([{"key": "deep", "value": deep}])),
            span(
                "b7ad6b7169203332",
                json!([{"key": "ok", "value": {"intValue": "1"}}]),
            ),
        ]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let rejected = &v["partialSuccess"]["rejectedSpans"];
    assert!(rejected == "1" || rejected == 1, "{v}");
    assert!(
        v["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("deeper"),
        "{v}"
    );
    let (s, t) = srv
        .get_json("/api/v1/telemetry/traces/0af7651916cd43dd8448eb211c80319c")
        .await;
    assert_eq!(s, 200);
    let spans = t["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 1, "{t}");
    assert_eq!(spans[0]["span_id"], "b7ad6b7169203332");
    // Nothing accepted before was lost, and the server is still up.
    check_traces(&srv, Transport::HttpProtobuf).await;
    let (s, m) = srv.get_text("/metrics").await;
    assert_eq!(s, 200);
    assert!(m.contains("blazar_rejected_total"), "{m}");
}

#[tokio::test]
async fn ids_of_the_wrong_size_are_refused_whole_over_grpc_and_protobuf() {
    let srv = start().await;
    let mut req = ExportTraceServiceRequest::decode(&fixture("traces.grpc.pb")[..]).unwrap();
    // One span id of 7 bytes instead of 8.
    req.resource_spans[0].scope_spans[0].spans[2].span_id = vec![1; 7];
    let mut c = TraceServiceClient::connect(grpc_url(&srv)).await.unwrap();
    let err = c.export(req.clone()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message()
            .contains("resourceSpans[0].scopeSpans[0].spans[2].spanId"),
        "{err:?}"
    );
    let r = srv
        .client
        .post(srv.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let status = RpcStatus::decode(&r.bytes().await.unwrap()[..]).unwrap();
    assert!(status.message.contains("spans[2].spanId"), "{status:?}");
    // Nothing of either request was stored.
    let (s, _) = srv
        .get_json(&format!("/api/v1/telemetry/traces/{TRACE_ID}"))
        .await;
    assert_eq!(s, 404);
    // A log record's trace id of the wrong size, likewise.
    let mut logs = ExportLogsServiceRequest::decode(&fixture("logs.grpc.pb")[..]).unwrap();
    logs.resource_logs[0].scope_logs[0].log_records[1].trace_id = vec![9; 15];
    let mut lc = LogsServiceClient::connect(grpc_url(&srv)).await.unwrap();
    let err = lc.export(logs).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("logRecords[1].traceId"), "{err:?}");
    // gzip-compressed gRPC requests are accepted.
    let mut c = LogsServiceClient::connect(grpc_url(&srv))
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let logs = ExportLogsServiceRequest::decode(&fixture("logs.grpc.pb")[..]).unwrap();
    c.export(logs).await.unwrap();
    let (_, v) = srv.get_json("/api/v1/telemetry/logs?limit=1000").await;
    assert_eq!(v["logs"].as_array().unwrap().len(), 11);
}

#[tokio::test]
async fn otlp_writes_past_the_inflight_limit_get_429_and_resource_exhausted() {
    let srv = TestServer::start_with(Opts {
        config_yaml: Some("server:\n  max_inflight_writes: 1\n".into()),
        ..Opts::default()
    })
    .await;
    // Hold the only permit with a request whose body is still arriving.
    let held = srv.hold_write("/v1/logs", b"{\"resourceLogs\": ").await;
    let r = srv
        .client
        .post(srv.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(fixture("traces.pb"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    let otlp_port = format!("http://{}/v1/traces", srv.otlp_http.as_deref().unwrap());
    let r = srv
        .client
        .post(otlp_port)
        .header("content-type", "application/x-protobuf")
        .body(fixture("traces.pb"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let mut c = TraceServiceClient::connect(grpc_url(&srv)).await.unwrap();
    let req = ExportTraceServiceRequest::decode(&fixture("traces.grpc.pb")[..]).unwrap();
    let err = c.export(req).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    // RetryInfo rides in the status details, so SDKs retry: google.rpc.Status{details: [Any]}.
    let details = RpcStatusWithDetails::decode(err.details()).unwrap();
    assert_eq!(details.code, 8);
    let any = details.details.first().expect("a detail");
    assert_eq!(any.type_url, "type.googleapis.com/google.rpc.RetryInfo");
    let retry = RetryInfo::decode(&any.value[..]).unwrap();
    assert_eq!(retry.retry_delay.map(|d| d.seconds), Some(1));
    held.tx.send(Ok(b"[]}".to_vec())).await.unwrap();
    drop(held.tx);
    assert_eq!(held.request.await.unwrap().unwrap().status(), 200);
    let req = ExportTraceServiceRequest::decode(&fixture("traces.grpc.pb")[..]).unwrap();
    c.export(req).await.unwrap();
}

/// `google.rpc.Status` with its details, as gRPC carries it in `grpc-status-details-bin`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatusWithDetails {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// `google.rpc.Status`, the body of OTLP/HTTP error responses.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[tokio::test]
async fn an_otlp_trace_is_streamed_analysed_and_graphed_when_it_completes() {
    let srv = start().await;
    let resp = srv
        .client
        .get(srv.url("/api/v1/telemetry/stream?types=trace_completed,anomaly"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    srv.wait_subscribers(1).await;
    send(&srv, Transport::Grpc, "traces").await;
    // The fixture trace lasts 31.3 s with a 31.2 s `p2p.discovery.find_providers` span: seed
    // 001's slow_service_call and p2p_discovery_timeout; one error span is not a cascade.
    let msgs = crate::stream::sse_messages(resp, 3).await;
    let completed: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["type"] == "trace_completed")
        .collect();
    assert_eq!(completed.len(), 1, "{msgs:?}");
    assert_eq!(completed[0]["data"]["trace_id"], TRACE_ID);
    let mut patterns: Vec<&str> = msgs
        .iter()
        .filter(|m| m["type"] == "anomaly")
        .map(|m| m["data"]["pattern"].as_str().unwrap())
        .collect();
    patterns.sort_unstable();
    assert_eq!(
        patterns,
        ["p2p_discovery_timeout", "slow_service_call"],
        "{msgs:?}"
    );
    // Counted as a metric, for alert rules and charts.
    let (_, m) = srv
        .get_json("/api/v1/telemetry/metrics?name=trace_issues_total")
        .await;
    let rows = m["metrics"].as_array().unwrap();
    let p2p = rows
        .iter()
        .find(|r| r["tags"]["pattern"] == "p2p_discovery_timeout")
        .unwrap_or_else(|| panic!("{m}"));
    assert_eq!(p2p["value"], json!(1.0));
    assert_eq!(p2p["tags"]["severity"], "warning");
    assert_eq!(p2p["tags"]["service"], "gateway");
    // The same issues through the API, in seed 001's shape.
    let (_, v) = srv
        .get_json("/api/v1/telemetry/traces/analyze?since=3650d&pattern=p2p_discovery_timeout")
        .await;
    let issues = v["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{v}");
    let i = &issues[0];
    assert_eq!(i["trace_id"], TRACE_ID);
    assert_eq!(i["severity"], "warning");
    assert!(i["duration_ms"].as_f64().unwrap() > 31_000.0, "{i}");
    assert_eq!(i["services"], json!(["gateway", "orders", "p2p-node"]));
    // Cross-service calls make the dependency graph.
    let (_, g) = srv.get_json("/api/v1/telemetry/services").await;
    let edges: Vec<(String, String)> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["caller"].as_str().unwrap().to_string(),
                e["callee"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(edges.contains(&("gateway".into(), "orders".into())), "{g}");
    assert!(edges.contains(&("orders".into(), "p2p-node".into())), "{g}");
    // And through the CLI.
    let (code, out, err) = crate::support::cli(&srv.base, &["services"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("gateway") && l.contains("orders")),
        "{out}"
    );
    // The trace carries its critical path; the bottleneck is the long discovery work.
    let (_, t) = srv
        .get_json(&format!("/api/v1/telemetry/traces/{TRACE_ID}"))
        .await;
    assert!(!t["critical_path"].as_array().unwrap().is_empty(), "{t}");
    assert_eq!(t["bottleneck"]["service"], "p2p-node", "{t}");
    // Span metrics (RED) for every service and operation.
    let (_, m) = srv
        .get_json("/api/v1/telemetry/metrics?name=traces_span_metrics_calls_total")
        .await;
    let rows = m["metrics"].as_array().unwrap();
    let calls: f64 = rows.iter().map(|r| r["value"].as_f64().unwrap()).sum();
    assert_eq!(calls, 8.0, "{m}");
    assert!(
        rows.iter().any(|r| r["tags"]["service"] == "orders"
            && r["tags"]["span_name"] == "inventory.reserve"
            && r["tags"]["status_code"] == "STATUS_CODE_ERROR"),
        "{m}"
    );
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// One OTLP/JSON span of `service` (a root unless `parent` is given), lasting `ms`, ending now.
fn json_span(
    trace: &str,
    span: &str,
    parent: Option<&str>,
    service: &str,
    ms: u64,
    error: bool,
) -> Vec<u8> {
    let end = now_ns();
    let mut s = json!({"traceId": trace, "spanId": span, "name": format!("{service}.op"), "kind": 2,
        "startTimeUnixNano": (end - ms * 1_000_000).to_string(), "endTimeUnixNano": end.to_string()});
    if let Some(p) = parent {
        s["parentSpanId"] = json!(p);
    }
    if error {
        s["status"] = json!({"code": 2, "message": "boom"});
    }
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": [s]}]
    }]})
    .to_string()
    .into_bytes()
}

async fn post_otlp_json(srv: &TestServer, body: Vec<u8>) {
    let r = srv
        .client
        .post(srv.url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn tail_sampling_keeps_error_and_slow_traces_whole_and_drops_the_rest() {
    // Seed 001's flat key, as written there.
    let cfg =
        "trace_sample_rate: 0.0\ntracing:\n  completion_quiet: 200ms\n  keep_slower_than: 5s\n";
    let srv = TestServer::start_with(Opts {
        config_yaml: Some(cfg.into()),
        ..Opts::default()
    })
    .await;
    let (fast, failed, slow) = (
        "11111111111111111111111111111111",
        "22222222222222222222222222222222",
        "33333333333333333333333333333333",
    );
    // Each trace: a root and a child in another service (span ids are unique across traces,
    // as the W3C ids of real SDKs are).
    for (i, (t, ms, err)) in [(fast, 20, false), (failed, 20, true), (slow, 6000, false)]
        .into_iter()
        .enumerate()
    {
        let (root, child) = (format!("00000000000000a{i}"), format!("00000000000000b{i}"));
        post_otlp_json(&srv, json_span(t, &child, Some(&root), "db", ms / 2, err)).await;
        post_otlp_json(&srv, json_span(t, &root, None, "api", ms, false)).await;
    }
    eventually("the three traces to be decided", || async {
        let (_, s) = srv.get_json("/api/v1/telemetry/stats").await;
        let spans = &s["signals"]["spans"];
        (spans["sampled_out_traces"] == 1 && spans["sampled_out"] == 2).then_some(())
    })
    .await;
    let status = |t: &'static str| {
        let srv = &srv;
        async move { srv.get_json(&format!("/api/v1/telemetry/traces/{t}")).await }
    };
    assert_eq!(status(fast).await.0, 404);
    let (s, v) = status(failed).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["spans"].as_array().unwrap().len(), 2, "{v}");
    let (s, v) = status(slow).await;
    assert_eq!((s, v["spans"].as_array().unwrap().len()), (200, 2), "{v}");
    // Span metrics counted every span, sampled out or not.
    let (_, m) = srv
        .get_json("/api/v1/telemetry/metrics?name=traces_span_metrics_calls_total")
        .await;
    let calls: f64 = m["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_f64().unwrap())
        .sum();
    assert_eq!(calls, 6.0, "{m}");
    // The decision survives a restart: the dropped trace does not come back from the WAL.
    let mut srv = srv;
    let opts = Opts {
        config_yaml: Some(cfg.into()),
        ..srv.kill9()
    };
    let srv2 = TestServer::start_with(opts).await;
    let (s, _) = srv2
        .get_json(&format!("/api/v1/telemetry/traces/{fast}"))
        .await;
    assert_eq!(s, 404);
    let (s, _) = srv2
        .get_json(&format!("/api/v1/telemetry/traces/{failed}"))
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn one_trace_from_otlp_and_the_seed_004_span_api() {
    let srv = start().await;
    let trace = "44444444444444444444444444444444";
    post_otlp_json(
        &srv,
        json_span(trace, "00000000000000b0", None, "gateway", 50, false),
    )
    .await;
    // A plugin continues the trace through seed 004's span API.
    let (s, v) = srv
        .post_json(
            "/api/v1/telemetry/traces/spans",
            json!({"name": "plugin.handle", "parent_trace_id": trace,
                   "parent_span_id": "00000000000000b0", "tags": {"plugin_id": "resizer"}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["trace_id"], trace);
    let id = v["span_id"].as_str().unwrap().to_string();
    let (s, _) = srv
        .post_json(
            &format!("/api/v1/telemetry/traces/spans/{id}/finish"),
            json!({"status": "error"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, t) = srv
        .get_json(&format!("/api/v1/telemetry/traces/{trace}"))
        .await;
    let spans = t["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2, "{t}");
    let plugin = spans.iter().find(|s| s["span_id"] == id.as_str()).unwrap();
    assert_eq!(plugin["parent_span_id"], "00000000000000b0");
    assert_eq!(t["trace"]["status"], "error");
    assert_eq!(t["trace"]["root_service"], "gateway");
    // Completed as one trace, announced once.
    eventually("the mixed trace to complete", || async {
        let (_, v) = srv
            .get_json("/api/v1/telemetry/traces?service=gateway&status=error")
            .await;
        (v["traces"][0]["complete"] == true && v["traces"][0]["span_count"] == 2).then_some(())
    })
    .await;
}

#[tokio::test]
async fn spans_past_max_trace_length_are_refused_alone() {
    let srv = TestServer::start_with(Opts {
        config_yaml: Some("tracing:\n  max_trace_length: 3\n".into()),
        ..Opts::default()
    })
    .await;
    let trace = "55555555555555555555555555555555";
    let end = now_ns();
    let spans: Vec<Value> = (0..5)
        .map(|i| {
            json!({"traceId": trace, "spanId": format!("000000000000000{}", i + 1), "name": "s",
                   "startTimeUnixNano": (end - 1000).to_string(), "endTimeUnixNano": end.to_string()})
        })
        .collect();
    let other = json!({"traceId": "66666666666666666666666666666666", "spanId": "00000000000000f0",
                       "name": "ok", "startTimeUnixNano": "1", "endTimeUnixNano": "2"});
    let body = {
        let all: Vec<Value> = spans.into_iter().chain([other]).collect();
        json!({"resourceSpans": [{"scopeSpans": [{"spans": all}]}]})
    };
    let r = srv
        .client
        .post(srv.url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["partialSuccess"]["rejectedSpans"], "2", "{v}");
    assert!(
        v["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("max_trace_length"),
        "{v}"
    );
    let (_, t) = srv
        .get_json(&format!("/api/v1/telemetry/traces/{trace}"))
        .await;
    assert_eq!(t["spans"].as_array().unwrap().len(), 3);
    let (s, _) = srv
        .get_json("/api/v1/telemetry/traces/66666666666666666666666666666666")
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_grpc_gzip_bomb_is_refused_within_the_body_limit() {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let srv = TestServer::start_with(Opts {
        config_yaml: Some("server:\n  max_body_bytes: 64KiB\n".into()),
        ..Opts::default()
    })
    .await;
    let record = |body: String| ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(body)),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut c = LogsServiceClient::connect(grpc_url(&srv))
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    // 8 MiB of zeros compress to a few KiB: small on the wire, far over the 64 KiB limit inflated.
    let err = c.export(record("0".repeat(8 << 20))).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::OutOfRange, "{err:?}");
    // Refused by blazar's bounded inflation, not after an unbounded one.
    assert!(err.message().contains("decompressed"), "{err:?}");
    // A compressed request within the limit is inflated and stored.
    c.export(record("fits".into())).await.unwrap();
    let (_, v) = srv.get_json("/api/v1/telemetry/logs?limit=10").await;
    assert_eq!(v["logs"][0]["body"], "fits", "{v}");
    let (s, _) = srv.get_json("/health").await;
    assert_eq!(s, 200);
}
