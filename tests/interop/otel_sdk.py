"""The OpenTelemetry Python SDK against a real blazar, over OTLP/gRPC, OTLP/HTTP protobuf and
OTLP/HTTP JSON, using the SDK's own exporters from PyPI. A small instrumented program makes a
trace (nested spans, an error span with an exception event, attributes of every type, a link),
metrics (a counter, an up-down counter, a histogram, an observable gauge, in cumulative and
delta temporality) and logs with trace context; then every span, data point and log record is
looked up through blazar's native API.

Usage: otel_sdk.py PATH_TO_BLAZAR
"""

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import requests
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode


def exporters(transport, grpc_addr, http_base):
    """(span, metric, log) exporter classes and their endpoints for `transport`."""
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        ep = f"http://{grpc_addr}"
        return (
            lambda: OTLPSpanExporter(endpoint=ep, insecure=True),
            lambda **kw: OTLPMetricExporter(endpoint=ep, insecure=True, **kw),
            lambda: OTLPLogExporter(endpoint=ep, insecure=True),
        )
    if transport == "http-protobuf":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # gzip on the standard OTLP port, as an SDK with OTEL_EXPORTER_OTLP_COMPRESSION=gzip sends.
        gz = Compression.Gzip
        return (
            lambda: OTLPSpanExporter(endpoint=f"{http_base}/v1/traces", compression=gz),
            lambda **kw: OTLPMetricExporter(endpoint=f"{http_base}/v1/metrics", compression=gz, **kw),
            lambda: OTLPLogExporter(endpoint=f"{http_base}/v1/logs", compression=gz),
        )
    from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter

    return (
        lambda: OTLPSpanExporter(endpoint=f"{http_base}/v1/traces"),
        lambda **kw: OTLPMetricExporter(endpoint=f"{http_base}/v1/metrics", **kw),
        lambda: OTLPLogExporter(endpoint=f"{http_base}/v1/logs"),
    )


SPANS_PER_TRACE = 6
LOGS_PER_RUN = 4


def run_program(transport, grpc_addr, otlp_http, main_base):
    """The instrumented program: one trace, metrics, logs; returns the trace id (hex)."""
    service = f"interop-{transport}"
    resource = Resource.create({"service.name": service, "service.namespace": "interop",
                                "service.instance.id": f"{service}-1"})
    # JSON goes to the main port's /v1/*, the others to the standard OTLP ports.
    http_base = main_base if transport == "http-json" else f"http://{otlp_http}"
    span_exp, metric_exp, log_exp = exporters(transport, grpc_addr, http_base)

    tp = TracerProvider(resource=resource)
    tp.add_span_processor(SimpleSpanProcessor(span_exp()))
    tracer = tp.get_tracer("interop.tracer", "1.2.3")

    cumulative = PeriodicExportingMetricReader(metric_exp(), export_interval_millis=3_600_000)
    delta = PeriodicExportingMetricReader(
        metric_exp(preferred_temporality={Counter: AggregationTemporality.DELTA,
                                          Histogram: AggregationTemporality.DELTA}),
        export_interval_millis=3_600_000,
    )
    mp_cum = MeterProvider(resource=resource, metric_readers=[cumulative])
    mp_delta = MeterProvider(resource=resource, metric_readers=[delta])
    meter = mp_cum.get_meter("interop.meter", "1.2.3")
    meter_d = mp_delta.get_meter("interop.meter.delta", "1.2.3")
    requests_c = meter.create_counter("interop.requests", unit="{request}")
    inflight = meter.create_up_down_counter("interop.inflight")
    latency = meter.create_histogram("interop.latency", unit="ms")
    meter.create_observable_gauge(
        "interop.queue.depth", callbacks=[lambda _o: [
            __import__("opentelemetry.metrics", fromlist=["Observation"]).Observation(7, {"queue": "jobs"})]])
    delta_c = meter_d.create_counter("interop.delta.requests", unit="{request}")

    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(SimpleLogRecordProcessor(log_exp()))
    log = logging.getLogger(f"interop.{transport}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=lp))

    with tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER, attributes={
        "http.request.method": "GET", "http.response.status_code": 200, "retry": False,
        "ratio": 0.25, "tags": ["a", "b"], "codes": [1, 2, 3], "weights": [0.5, 1.5],
        "flags": [True, False],
    }) as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        log.info("checkout started", extra={"cart.items": 3})
        with tracer.start_as_current_span("cart.load", kind=SpanKind.CLIENT):
            requests_c.add(1, {"route": "/checkout"})
            latency.record(12.5, {"route": "/checkout"})
        with tracer.start_as_current_span("payment.charge", kind=SpanKind.CLIENT) as pay:
            pay.add_event("card.checked", {"card.brand": "visa"})
            with tracer.start_as_current_span("fraud.check", kind=SpanKind.INTERNAL):
                log.warning("fraud score high")
            with tracer.start_as_current_span("payment.db", kind=SpanKind.CLIENT) as db:
                try:
                    raise RuntimeError("card declined")
                except RuntimeError as e:
                    db.record_exception(e)
                    db.set_status(Status(StatusCode.ERROR, "card declined"))
                    log.error("payment failed")
        with tracer.start_as_current_span("email.send", kind=SpanKind.PRODUCER,
                                          links=[Link(root.get_span_context(), {"why": "notify"})]):
            log.debug("receipt queued")
        requests_c.add(2, {"route": "/cart"})
        inflight.add(5, {"pool": "web"})
        inflight.add(-2, {"pool": "web"})
        latency.record(250.0, {"route": "/checkout"})
        delta_c.add(4, {"route": "/checkout"})
    cumulative.collect()
    delta.collect()
    delta_c.add(6, {"route": "/checkout"})
    delta.collect()
    for p in (tp, mp_cum, mp_delta, lp):
        p.shutdown()
    return service, trace_id


def start_server(binary):
    data = tempfile.mkdtemp(prefix="blazar-otel-")
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0",
         "--otlp-http", "127.0.0.1:0", "--data-dir", os.path.join(data, "d")],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=data,
    )
    addrs = {}
    deadline = time.time() + 60
    for line in proc.stderr:
        m = re.search(r'addr=([0-9.:]+).*kind="?(otlp_grpc|otlp_http|http)', line)
        if m:
            addrs[m.group(2)] = m.group(1)
            if m.group(2) == "http":
                return proc, addrs, data
        if time.time() > deadline:
            break
    proc.kill()
    raise SystemExit("blazar did not start")


CHECKS = []


def check(name, cond, detail=""):
    CHECKS.append((name, bool(cond)))
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {detail}"))


def eventually(fetch, ok, timeout=15):
    """Polls `fetch` until `ok(value)`; returns the last value."""
    deadline = time.time() + timeout
    v = fetch()
    while not ok(v) and time.time() < deadline:
        time.sleep(0.2)
        v = fetch()
    return v


def metric(api, name, service, **tags):
    rows = requests.get(f"{api}/telemetry/metrics", params={"name": name}).json()["metrics"]
    for r in rows:
        t = r.get("tags", {})
        if t.get("service") == service and all(t.get(k) == v for k, v in tags.items()) \
                and not r["name"].endswith("_bucket"):
            return r
    return None


def verify(api, transport, service, trace_id):
    full = eventually(lambda: requests.get(f"{api}/telemetry/traces/{trace_id}").json(),
                      lambda v: len(v.get("spans", [])) == SPANS_PER_TRACE)
    spans = full.get("spans", [])
    check(f"{transport}: all {SPANS_PER_TRACE} spans of the trace", len(spans) == SPANS_PER_TRACE, full)
    by_name = {s["name"]: s for s in spans}
    root = by_name.get("GET /checkout", {})
    a = root.get("attributes", {})
    check(f"{transport}: attributes of every type", a.get("http.response.status_code") == 200
          and a.get("retry") is False and a.get("ratio") == 0.25 and a.get("tags") == ["a", "b"]
          and a.get("codes") == [1, 2, 3] and a.get("flags") == [True, False], a)
    check(f"{transport}: service and scope", root.get("service") == service
          and root.get("scope", {}).get("name") == "interop.tracer", root)
    db = by_name.get("payment.db", {})
    check(f"{transport}: error span with exception event", db.get("status") == "error"
          and any(e["name"] == "exception" for e in db.get("events", [])), db)
    check(f"{transport}: parent links", db.get("parent_span_id") == by_name.get("payment.charge", {}).get("span_id"), db)
    check(f"{transport}: span link", len(by_name.get("email.send", {}).get("links", [])) == 1, by_name.get("email.send"))
    check(f"{transport}: kinds", root.get("kind") == "server" and by_name.get("email.send", {}).get("kind") == "producer", root)

    logs = eventually(lambda: requests.get(f"{api}/telemetry/logs", params={"service": service, "limit": 100}).json()["logs"],
                      lambda v: len(v) == LOGS_PER_RUN)
    check(f"{transport}: all {LOGS_PER_RUN} log records", len(logs) == LOGS_PER_RUN, logs)
    check(f"{transport}: logs carry trace context", all(l.get("trace_id") == trace_id for l in logs), logs)
    sev = sorted(l["severity"] for l in logs)
    check(f"{transport}: log severities", sev == ["debug", "error", "info", "warn"], sev)

    c = metric(api, "interop.requests", service, route="/checkout")
    check(f"{transport}: counter (cumulative)", c and c["value"] == 1.0 and c["type"] == "counter", c)
    c2 = metric(api, "interop.requests", service, route="/cart")
    check(f"{transport}: counter second series", c2 and c2["value"] == 2.0, c2)
    g = metric(api, "interop.inflight", service, pool="web")
    check(f"{transport}: up-down counter", g and g["value"] == 3.0, g)
    q = metric(api, "interop.queue.depth", service, queue="jobs")
    check(f"{transport}: observable gauge", q and q["value"] == 7.0, q)
    rows = requests.get(f"{api}/telemetry/metrics", params={"name": "interop.latency"}).json()["metrics"]
    count = [r for r in rows if r["name"].endswith("_count") and r["tags"].get("service") == service]
    check(f"{transport}: histogram _count", len(count) == 1 and count[0]["value"] == 2.0, rows)
    d = metric(api, "interop.delta.requests", service, route="/checkout")
    check(f"{transport}: delta counter accumulated (4 + 6)", d and d["value"] == 10.0, d)


def main():
    proc, addrs, data = start_server(os.path.abspath(sys.argv[1]))
    try:
        api = f"http://{addrs['http']}/api/v1"
        for transport in ["grpc", "http-protobuf", "http-json"]:
            service, trace_id = run_program(transport, addrs["otlp_grpc"], addrs["otlp_http"],
                                            f"http://{addrs['http']}")
            verify(api, transport, service, trace_id)
        stats = requests.get(f"{api}/telemetry/stats").json()
        signals = stats.get("signals", {})
        check("no OTLP request was rejected", {"metrics", "spans", "logs"} <= set(signals) and all(
            signals[k].get("rejected") == 0 for k in ("metrics", "spans", "logs")), stats)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)
    passed = sum(1 for _, ok in CHECKS if ok)
    failed = len(CHECKS) - passed
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
