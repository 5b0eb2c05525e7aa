-- wrk script for bench_counter: every request is a new reader (X-Forwarded-For from the
-- loopback edge) viewing one of N articles; prints acknowledged hits and p50/p99.
wrk.method = "POST"
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
acked = 0
local sent = 0
function init(args)
  n = tonumber(args[1])
end
function request()
  sent = sent + 1
  local ip = string.format("%d.%d.%d.%d", 11 + tid, math.floor(sent / 65536) % 256,
    math.floor(sent / 256) % 256, sent % 256)
  return wrk.format(nil, "/v1/hits/" .. string.format("%020x", sent % n),
    {["X-Forwarded-For"] = ip})
end
function response(status, headers, body)
  if status == 200 then
    acked = acked + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("acked")
  end
  io.write(string.format("acked=%d p50_ms=%.2f p99_ms=%.2f\n", total,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
