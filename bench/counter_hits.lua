-- wrk script for bench_counter: every request is a new reader (X-Forwarded-For from the
-- loopback edge) viewing one of N articles; prints acknowledged hits and p50/p99.
-- Requests are joined from pieces made once in init(), and no response() callback is
-- defined (wrk would then parse every answer in Lua): acknowledged = completed requests
-- minus wrk's own count of error statuses, so the load generator costs little CPU.
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
local sent, heads, tails, octets, first = 0, {}, {}, {}, ""
function init(args)
  n = tonumber(args[1])
  for i = 0, 255 do
    octets[i] = tostring(i)
  end
  for j = 0, n - 1 do
    local r = wrk.format("POST", "/v1/hits/" .. string.format("%020x", j),
      {["X-Forwarded-For"] = "@"})
    local at = string.find(r, "@", 1, true)
    heads[j], tails[j] = string.sub(r, 1, at - 1), string.sub(r, at + 1)
  end
  first = tostring(11 + tid) .. "."
end
function request()
  sent = sent + 1
  local j = sent % n
  return heads[j] .. first .. octets[math.floor(sent / 65536) % 256] .. "." ..
    octets[math.floor(sent / 256) % 256] .. "." .. octets[sent % 256] .. tails[j]
end
function done(summary, latency, requests)
  io.write(string.format("acked=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests - summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
