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
-- ARGV[8..] three per article: its id, the prefix of its dedupe hashes, and the visitor
--   hash of each of its hits in arrival order, 16 characters each, packed into one string
--   (one argument, not one per hit: cheaper to send); "----------------" = answer but do
--   not count.
-- Returns one reply per article: -1 when it is not published (nothing is created),
-- otherwise {channel, hits added, per-hit flags "1"/"0", total before this batch}: hit n is
-- shown that total plus the hits counted among the first n.
local hour, window, uniques_ttl = ARGV[1], tonumber(ARGV[2]) * 1000, ARGV[3]
-- Dedupe: the time (ms, the server's clock) of each visitor's last counted hit on an
-- article, in a hash per window-long bucket; a hit counts unless that time is less than a
-- window ago, which only the current or the previous bucket can hold. Each bucket expires
-- as a whole once it is two windows old: no key per reader to create and expire.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local now_text = string.format('%d', now)
local bucket = window > 0 and math.floor(now / window) or 0

local function bucket_key(seen, b)
  return seen .. string.format('%d', b)
end

-- visitor -> time of their last counted hit, for the visitors that have one.
local function last_counted(seen, readers)
  local last = {}
  for _, b in ipairs({bucket - 1, bucket}) do  -- the current bucket's time wins
    local times = redis.call('HMGET', bucket_key(seen, b), unpack(readers))
    for j, at in ipairs(readers) do
      if times[j] then
        last[at] = tonumber(times[j])
      end
    end
  end
  return last
end

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
    local visitors, readers = {}, {}  -- every hit's visitor; those that are not robots
    for i = 1, #packed, 16 do
      local visitor = string.sub(packed, i, i + 15)
      visitors[#visitors + 1] = visitor
      if visitor ~= robot then
        readers[#readers + 1] = visitor
      end
    end
    local last = window > 0 and #readers > 0 and last_counted(seen, readers) or {}
    local added, flags, counted = 0, {}, {}
    for _, visitor in ipairs(visitors) do
      local at = last[visitor]
      if visitor ~= robot and (not at or now - at >= window) then
        added = added + 1
        flags[#flags + 1] = '1'
        last[visitor] = now
        counted[#counted + 1] = visitor
        counted[#counted + 1] = now_text
      else
        flags[#flags + 1] = '0'
      end
    end
    if window > 0 and added > 0 then
      local key = bucket_key(seen, bucket)
      for i = 1, #counted, 2000 do  -- pairs, in steps Lua's unpack can hold
        redis.call('HSET', key, unpack(counted, i, math.min(i + 1999, #counted)))
      end
      redis.call('PEXPIREAT', key, string.format('%d', (bucket + 2) * window))
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
