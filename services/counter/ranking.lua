-- Rankings: all-time and this hour's, overall ("*") and per channel. Prepended to hit.lua
-- (a single server ranks as it counts) and to rank.lua (a cluster ranks on the `{rank}`
-- slot in a second call).
-- all, hour: prefixes of the all-time and of this hour's rankings; channel: "" if none;
-- touched: the hour rankings this call changed, for `ranked` to keep once.

-- Add n counted hits of one article.
local function rank(all, hour, id, channel, n, touched)
  redis.call('ZINCRBY', all .. '*', n, id)
  redis.call('ZINCRBY', hour .. '*', n, id)
  touched['*'] = true
  if channel ~= '' then
    redis.call('ZINCRBY', all .. channel, n, id)
    redis.call('ZINCRBY', hour .. channel, n, id)
    touched[channel] = true
  end
end

-- Once per call, however many articles it ranked: give the touched hour rankings their
-- TTL (s) and record their channels in the set of ranked channels.
local function ranked(hour, ttl, channels, touched)
  local names = {}
  for name in pairs(touched) do
    redis.call('EXPIRE', hour .. name, ttl)
    if name ~= '*' then
      names[#names + 1] = name
    end
  end
  if #names > 0 then
    redis.call('SADD', channels, unpack(names))
  end
end
