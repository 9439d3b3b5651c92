-- wrk script: seed 004-style metric writes, 10 points per request across 100 series.
-- wrk -t2 -c16 -d15s -s scripts/wrk/metrics.lua http://127.0.0.1:9595
local n = 0
request = function()
  n = n + 1
  local items = {}
  for i = 1, 10 do
    local k = (n * 10 + i) % 100
    items[i] = string.format('{"name":"plugin.load.requests","value":1,"type":"counter","tags":{"worker":"%d"}}', k)
  end
  return wrk.format("POST", "/api/v1/telemetry/metrics", {["Content-Type"] = "application/json"}, "[" .. table.concat(items, ",") .. "]")
end
