-- wrk script: POST hits, count the acknowledged (200) answers across threads.
wrk.method = "POST"
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
acked = 0
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
  io.write(string.format("acked=%d\n", total))
end
