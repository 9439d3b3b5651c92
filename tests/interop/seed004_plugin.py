"""Seed 004's plugin code, run unchanged against a real blazar.

The class below is copied from seed 004 ("Example: Complete Plugin with Telemetry") without
edits; only its `api_base` attribute is pointed at the test server after construction, as a
deployment would configure it. Then the seed's own "Accessing Telemetry Data" queries are
asserted. Usage: seed004_plugin.py PATH_TO_BLAZAR
"""

import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests

logger = logging.getLogger(__name__)
# The seed's logger.error(..., exc_info=True) is expected here; keep the test output readable.
logger.addHandler(logging.NullHandler())
logger.propagate = False


# ---- seed 004, verbatim -------------------------------------------------------------------
class InstrumentedPlugin:
    def __init__(self, plugin_id):
        self.plugin_id = plugin_id
        self.api_base = "http://platform:8000/api/v1"

    def handle_command(self, command, trace_id=None):
        start_time = time.time()
        span_id = None

        try:
            # Start trace span
            if trace_id:
                span = self._start_span("plugin.handle_command", trace_id)
                span_id = span["span_id"]
                self._add_span_tag(span_id, "command", command)

            logger.info(f"Processing command: {command}", extra={
                "extra_fields": {
                    "plugin_id": self.plugin_id,
                    "command": command
                }
            })

            # Record metric
            self._record_metric("commands_received", 1, "counter")

            # Process command
            result = self._process(command)

            # Record success metrics
            duration = time.time() - start_time
            self._record_metric("commands_success", 1, "counter")
            self._record_metric("command_duration", duration, "histogram")

            logger.info(f"Command processed successfully", extra={
                "extra_fields": {
                    "plugin_id": self.plugin_id,
                    "command": command,
                    "duration": duration
                }
            })

            # Finish span
            if span_id:
                self._finish_span(span_id, "ok")

            return result

        except Exception as e:
            # Record error metrics
            self._record_metric("commands_error", 1, "counter", {
                "error_type": type(e).__name__
            })

            logger.error(f"Error processing command: {e}", exc_info=True, extra={
                "extra_fields": {
                    "plugin_id": self.plugin_id,
                    "command": command
                }
            })

            # Finish span with error
            if span_id:
                self._add_span_log(span_id, str(e), "error")
                self._finish_span(span_id, "error")

            raise

    def _process(self, command):
        # Your plugin logic here
        return {"result": "success"}

    def _record_metric(self, name, value, metric_type, tags=None):
        try:
            requests.post(
                f"{self.api_base}/telemetry/metrics",
                json={
                    "name": f"plugin.{self.plugin_id}.{name}",
                    "value": value,
                    "type": metric_type,
                    "tags": tags or {}
                },
                timeout=0.5
            )
        except:
            pass

    def _start_span(self, name, parent_trace_id):
        try:
            response = requests.post(
                f"{self.api_base}/telemetry/traces/spans",
                json={
                    "name": name,
                    "parent_trace_id": parent_trace_id,
                    "tags": {"plugin_id": self.plugin_id}
                },
                timeout=0.5
            )
            return response.json()
        except:
            return {"span_id": None}

    def _add_span_tag(self, span_id, key, value):
        if not span_id:
            return
        try:
            requests.post(
                f"{self.api_base}/telemetry/traces/spans/{span_id}/tags",
                json={key: str(value)},
                timeout=0.5
            )
        except:
            pass

    def _add_span_log(self, span_id, message, level):
        if not span_id:
            return
        try:
            requests.post(
                f"{self.api_base}/telemetry/traces/spans/{span_id}/logs",
                json={"message": message, "level": level},
                timeout=0.5
            )
        except:
            pass

    def _finish_span(self, span_id, status):
        if not span_id:
            return
        try:
            requests.post(
                f"{self.api_base}/telemetry/traces/spans/{span_id}/finish",
                json={"status": status},
                timeout=0.5
            )
        except:
            pass
# ---- end of seed 004 ------------------------------------------------------------------------


class FailingPlugin(InstrumentedPlugin):
    def _process(self, command):
        raise ValueError(f"cannot {command}")


def start_server(binary):
    data = tempfile.mkdtemp(prefix="blazar-interop-")
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0",
         "--otlp-http", "127.0.0.1:0", "--data-dir", os.path.join(data, "d")],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=data,
    )
    deadline = time.time() + 60
    for line in proc.stderr:
        m = re.search(r'addr=([0-9.:]+).*kind="?http', line)
        if m:
            return proc, f"http://{m.group(1)}", data
        if time.time() > deadline:
            break
    proc.kill()
    raise SystemExit("blazar did not start")


CHECKS = []


def check(name, cond, detail=""):
    CHECKS.append((name, bool(cond)))
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {detail}"))


def main():
    proc, base, data = start_server(os.path.abspath(sys.argv[1]))
    try:
        api = f"{base}/api/v1"
        plugin = InstrumentedPlugin("my_plugin")
        plugin.api_base = api
        root = requests.post(f"{api}/telemetry/traces/spans", json={"name": "request", "tags": {"plugin_id": "my_plugin"}}).json()
        for cmd in ["start", "status", "stop"]:
            plugin.handle_command(cmd, trace_id=root["trace_id"])
        bad = FailingPlugin("my_plugin")
        bad.api_base = api
        try:
            bad.handle_command("explode", trace_id=root["trace_id"])
        except ValueError:
            pass
        requests.post(f"{api}/telemetry/traces/spans/{root['span_id']}/finish", json={"status": "ok"})

        # Seed 004 "Accessing Telemetry Data", as written there.
        metrics = requests.get(f"{api}/telemetry/metrics", params={"name": "plugin.my_plugin.*"}).json()["metrics"]
        by_name = {}
        for m in metrics:
            by_name.setdefault(m["name"], []).append(m)
        received = by_name.get("plugin.my_plugin.commands_received", [{}])[0]
        check("counter commands_received == 4", received.get("value") == 4.0, received)
        check("counter commands_success == 3", by_name.get("plugin.my_plugin.commands_success", [{}])[0].get("value") == 3.0, by_name)
        err = by_name.get("plugin.my_plugin.commands_error", [{}])[0]
        check("error counter tagged with error_type", err.get("tags", {}).get("error_type") == "ValueError", err)
        hist = by_name.get("plugin.my_plugin.command_duration", [{}])[0]
        check("histogram command_duration has 3 observations", hist.get("type") == "histogram" and hist.get("count") == 3, hist)
        check("histogram has buckets", "+Inf" in hist.get("buckets", {}), hist)
        check("every metric has last_update", all("last_update" in m for m in metrics), metrics)

        traces = requests.get(f"{api}/telemetry/traces", params={"plugin_id": "my_plugin", "limit": 10}).json()["traces"]
        check("one trace for my_plugin", len(traces) == 1, traces)
        t = traces[0] if traces else {}
        check("trace holds root + 4 command spans", t.get("span_count") == 5, t)
        check("trace has the failed span", t.get("error_count") == 1 and t.get("status") == "error", t)
        check("trace has a duration", isinstance(t.get("duration_ms"), (int, float)), t)
        full = requests.get(f"{api}/telemetry/traces/{root['trace_id']}").json()
        spans = full.get("spans", [])
        failed = [s for s in spans if s.get("status") == "error"]
        check("failed span carries the error log", failed and failed[0]["events"][0]["name"] == "cannot explode", failed)
        check("command tags recorded", sorted(s["attributes"].get("command", "") for s in spans if s["name"] == "plugin.handle_command") == ["explode", "start", "status", "stop"], spans)
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
