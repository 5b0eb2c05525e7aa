-- Add one group commit's counted hits to the rankings; every key shares the `{rank}` tag.
-- KEYS[1] the set of ranked channels
-- ARGV[1] prefix of the all-time rankings, ARGV[2] prefix of this hour's rankings
--   (each followed by "*" for overall or a channel name), ARGV[3] hour rankings TTL (s),
-- ARGV[4..] triples: article id, channel ("" if none), hits.
local hour_overall = ARGV[2] .. '*'
for i = 4, #ARGV, 3 do
  local id, channel, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  redis.call('ZINCRBY', ARGV[1] .. '*', n, id)
  redis.call('ZINCRBY', hour_overall, n, id)
  if channel ~= '' then
    redis.call('ZINCRBY', ARGV[1] .. channel, n, id)
    redis.call('ZINCRBY', ARGV[2] .. channel, n, id)
    redis.call('EXPIRE', ARGV[2] .. channel, ARGV[3])
    redis.call('SADD', KEYS[1], channel)
  end
end
redis.call('EXPIRE', hour_overall, ARGV[3])
return 1
