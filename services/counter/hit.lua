-- Count a batch of hits on one published article; every key shares the article's hash tag.
-- KEYS[1] article meta hash, KEYS[2] total hits, KEYS[3] hourly hash, KEYS[4] today's uniques
-- ARGV[1] hour bucket (YYYYMMDDHH), ARGV[2] dedupe window (s, 0 = off),
-- ARGV[3] uniques TTL (s), ARGV[4] prefix of the "seen" keys (under the same hash tag),
-- ARGV[5] the visitor hash of each hit, in arrival order, 16 characters each, packed into
--   one string (one argument, not one per hit: cheaper to send); "----------------" =
--   answer but do not count.
-- ARGV[6..10], on a single server only (a cluster keeps the rankings on another slot, so
--   the committer ranks in a second call, rank.lua): prefix of the all-time rankings,
--   prefix of this hour's, hour rankings TTL (s), the set of ranked channels, article id.
--   The rankings are then updated here (`rank`, from ranking.lua, prepended when the
--   script is loaded), in the same round trip.
-- Returns -1 when the article is not published (nothing is created), otherwise
-- {channel, hits added, per-hit flags "1"/"0", total before this batch}: hit n is shown
-- that total plus the hits counted among the first n.
local meta = redis.call('HMGET', KEYS[1], 'status', 'channel')
if meta[1] ~= 'published' then
  return -1
end
local window = tonumber(ARGV[2])
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
local robot = string.rep('-', 16)
local packed = ARGV[5]
local added, flags, readers = 0, {}, {}
for i = 1, #packed, 16 do
  local visitor = string.sub(packed, i, i + 15)
  local counted = false
  if visitor ~= robot then
    readers[#readers + 1] = visitor
    counted = window <= 0 or redis.call('SET', ARGV[4] .. visitor, '1', 'NX', 'EX', window)
  end
  if counted then
    added = added + 1
    flags[#flags + 1] = '1'
  else
    flags[#flags + 1] = '0'
  end
end
if added > 0 then
  redis.call('INCRBY', KEYS[2], added)
  redis.call('HINCRBY', KEYS[3], ARGV[1], added)
end
if #readers > 0 then
  redis.call('PFADD', KEYS[4], unpack(readers))
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
local channel = meta[2] or ''
if ARGV[6] and added > 0 then
  rank(ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], channel, added)
end
return {channel, added, table.concat(flags), total}
