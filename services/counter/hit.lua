-- Count one group commit's hits: one or more published articles, each with its hits.
-- KEYS: four per article, in the order of the articles below: article meta hash, total
--   hits, hourly hash, today's uniques (the four share the article's hash tag).
-- ARGV[1] hour bucket (YYYYMMDDHH), ARGV[2] dedupe window (s, 0 = off),
-- ARGV[3] uniques TTL (s),
-- ARGV[4..7] the rankings: prefix of the all-time ones, prefix of this hour's, hour
--   rankings TTL (s), the set of ranked channels. On a single server one call carries the
--   whole batch and ranks it too (`rank`, from ranking.lua, prepended when the script is
--   loaded). A cluster calls once per article (its keys are on the article's slot) with
--   ARGV[7] = "" and ranks in a second call on the `{rank}` slot (rank.lua).
-- ARGV[8..] three per article: its id, the prefix of its "seen" keys, and the visitor
--   hash of each of its hits in arrival order, 16 characters each, packed into one string
--   (one argument, not one per hit: cheaper to send); "----------------" = answer but do
--   not count.
-- Returns one reply per article: -1 when it is not published (nothing is created),
-- otherwise {channel, hits added, per-hit flags "1"/"0", total before this batch}: hit n is
-- shown that total plus the hits counted among the first n.
local hour, window, uniques_ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local ranks = ARGV[7] ~= ''
local robot = string.rep('-', 16)
local replies, touched = {}, {}
for a = 0, #KEYS / 4 - 1 do
  local meta_key, hits_key, hourly_key, uniques_key = KEYS[4 * a + 1], KEYS[4 * a + 2],
    KEYS[4 * a + 3], KEYS[4 * a + 4]
  local id, seen, packed = ARGV[8 + 3 * a], ARGV[9 + 3 * a], ARGV[10 + 3 * a]
  local meta = redis.call('HMGET', meta_key, 'status', 'channel')
  if meta[1] ~= 'published' then
    replies[a + 1] = -1
  else
    local added, flags, readers = 0, {}, {}
    for i = 1, #packed, 16 do
      local visitor = string.sub(packed, i, i + 15)
      local counted = false
      if visitor ~= robot then
        readers[#readers + 1] = visitor
        counted = window <= 0 or redis.call('SET', seen .. visitor, '1', 'NX', 'EX', window)
      end
      if counted then
        added = added + 1
        flags[#flags + 1] = '1'
      else
        flags[#flags + 1] = '0'
      end
    end
    local total
    if added > 0 then
      total = redis.call('INCRBY', hits_key, added) - added
      redis.call('HINCRBY', hourly_key, hour, added)
    else
      total = tonumber(redis.call('GET', hits_key) or '0')
    end
    if #readers > 0 then
      redis.call('PFADD', uniques_key, unpack(readers))
      redis.call('EXPIRE', uniques_key, uniques_ttl)
    end
    local channel = meta[2] or ''
    if ranks and added > 0 then
      rank(ARGV[4], ARGV[5], id, channel, added, touched)
    end
    replies[a + 1] = {channel, added, table.concat(flags), total}
  end
end
if ranks then
  ranked(ARGV[5], ARGV[6], ARGV[7], touched)
end
return replies
