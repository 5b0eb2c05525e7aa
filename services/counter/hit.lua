-- Count a batch of hits on one published article; every key shares the article's hash tag.
-- KEYS[1] article meta hash, KEYS[2] total hits, KEYS[3] hourly hash, KEYS[4] today's uniques
-- ARGV[1] hour bucket (YYYYMMDDHH), ARGV[2] dedupe window (s, 0 = off),
-- ARGV[3] uniques TTL (s), ARGV[4] prefix of the "seen" keys (under the same hash tag),
-- ARGV[5..] one visitor hash per hit, in arrival order; "-" = answer but do not count.
-- Returns -1 when the article is not published (nothing is created), otherwise
-- {channel, hits added, per-hit flags "1"/"0", count shown to hit 1, to hit 2, ...}.
local meta = redis.call('HMGET', KEYS[1], 'status', 'channel')
if meta[1] ~= 'published' then
  return -1
end
local window = tonumber(ARGV[2])
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
local added, flags, shown, readers = 0, {}, {}, {}
for i = 5, #ARGV do
  local visitor = ARGV[i]
  local counted = false
  if visitor ~= '-' then
    readers[#readers + 1] = visitor
    counted = window <= 0 or redis.call('SET', ARGV[4] .. visitor, '1', 'NX', 'EX', window)
  end
  if counted then
    added = added + 1
    flags[#flags + 1] = '1'
  else
    flags[#flags + 1] = '0'
  end
  shown[#shown + 1] = total + added
end
if added > 0 then
  redis.call('INCRBY', KEYS[2], added)
  redis.call('HINCRBY', KEYS[3], ARGV[1], added)
end
if #readers > 0 then
  redis.call('PFADD', KEYS[4], unpack(readers))
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
local reply = {meta[2] or '', added, table.concat(flags)}
for i = 1, #shown do
  reply[#reply + 1] = shown[i]
end
return reply
