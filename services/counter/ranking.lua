-- Add n counted hits of one article to the rankings: all-time and this hour's, overall
-- ("*") and for its channel. Prepended to hit.lua (a single server ranks as it counts) and
-- to rank.lua (a cluster ranks on the `{rank}` slot in a second call).
-- all, hour: prefixes of the all-time and of this hour's rankings; ttl: hour rankings TTL
-- (s); channels: the set of ranked channels; channel: "" if none.
local function rank(all, hour, ttl, channels, id, channel, n)
  redis.call('ZINCRBY', all .. '*', n, id)
  redis.call('ZINCRBY', hour .. '*', n, id)
  redis.call('EXPIRE', hour .. '*', ttl)
  if channel ~= '' then
    redis.call('ZINCRBY', all .. channel, n, id)
    redis.call('ZINCRBY', hour .. channel, n, id)
    redis.call('EXPIRE', hour .. channel, ttl)
    redis.call('SADD', channels, channel)
  end
end
