-- wrk script: seed 002 events, 10 per request.
-- wrk -t2 -c16 -d15s -s scripts/wrk/events.lua http://127.0.0.1:9595
local n = 0
request = function()
  n = n + 1
  local items = {}
  for i = 1, 10 do
    items[i] = string.format('{"event_type":"user.action","source":"load","data":{"n":%d,"action":"login"}}', n * 10 + i)
  end
  return wrk.format("POST", "/api/v1/telemetry/events", {["Content-Type"] = "application/json"}, "[" .. table.concat(items, ",") .. "]")
end
