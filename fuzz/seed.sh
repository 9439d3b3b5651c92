#!/bin/sh
# Seeds fuzz/corpus/<target>/ from the repository's fixtures (corpora are not committed).
set -eu
cd "$(dirname "$0")"
fx=../tests/fixtures/otlp
for t in traces metrics logs; do
  mkdir -p corpus/otlp_$t
done
cp $fx/traces.pb $fx/traces.json corpus/otlp_traces/
cp $fx/metrics_cumulative.pb $fx/metrics_cumulative.json $fx/metrics_delta.pb $fx/metrics_delta.json corpus/otlp_metrics/
cp $fx/logs.pb $fx/logs.json corpus/otlp_logs/
mkdir -p corpus/remote_write corpus/json_api
# One WriteRequest: series {__name__="up", job="x"} with one sample (1.0 @ 1000 ms).
printf '\x0a\x28\x0a\x0e\x0a\x08__name__\x12\x02up\x0a\x08\x0a\x03job\x12\x01x\x12\x0c\x09\x00\x00\x00\x00\x00\x00\xf0\x3f\x10\xe8\x07' > corpus/remote_write/one_series.pb
printf '%s' '{"name":"plugin.x.requests","value":3,"type":"counter","tags":{"host":"a"},"timestamp":"2024-01-01T00:00:00Z"}' > corpus/json_api/metric.json
printf '%s' '[{"name":"lat","value":0.25,"type":"histogram"},{"name":"up","value":true,"type":"gauge"}]' > corpus/json_api/metrics.json
printf '%s' '{"event_type":"deploy","source":"ci","data":{"v":"1.2"},"metadata":{"k":"v"}}' > corpus/json_api/event.json
printf '%s' '{"name":"op","parent_trace_id":"5b8efff798038103d269b633813fc60c","parent_span_id":"5b8efff798038103","tags":{"a":1}}' > corpus/json_api/span.json
printf '%s' '{"message":"hello","level":"warn","service":"svc","timestamp":1700000000}' > corpus/json_api/log.json
printf '%s' '{"status":"error"}' > corpus/json_api/finish.json
echo seeded
