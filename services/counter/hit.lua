-- Count one group commit's hits: one or more published articles, each with its hits.
-- KEYS: four per article, in the order of the articles below: article meta hash, total
--   hits, hourly hash, today's uniques (the four share the article's hash tag).
-- ARGV[1] hour bucket (YYYYMMDDHH), ARGV[2] dedupe window (s, 0 = off),
-- ARGV[3] uniques TTL (s),
-- ARGV[4..7] the rankings: prefix of the all-time ones, prefix of this hour's, hour
--   rankings TTL (s), the set of ranked channels. On a single server one call carries the
--   whole batch and ranks it too (`rank` and `ranked`, from ranking.lua, prepended when the
--   script is loaded). A cluster calls once per article (its keys are on the article's
--   slot) with ARGV[7] = "" and ranks in a second call on the `{rank}` slot (rank.lua).
-- ARGV[8] prefix of the dedupe hashes this call uses: the server's own on a single server,
--   the article's (same hash tag as its keys) on a cluster.
-- ARGV[9..] two per article: its id, and the visitor hash of each of its hits in arrival
--   order (the reader and the article hashed together), 16 characters each, packed into one string (one argument, not one per hit:
--   cheaper to send); "----------------" = answer but do not count.
-- Returns one reply per article: -1 when it is not published (nothing is created),
-- otherwise {channel, hits added, per-hit flags "1"/"0", total before this batch, hits this
-- hour after it (0 if none were added)}: hit n is shown that total plus the hits counted
-- among the first n.
local hour, window, uniques_ttl = ARGV[1], tonumber(ARGV[2]) * 1000, ARGV[3]
local ranks, seen = ARGV[7] ~= '', ARGV[8]
-- Dedupe: the time (ms, the server's clock) of a visitor's last counted hit on an article
-- (a visitor hash is one reader on one article), in a hash per window-long bucket; a hit counts unless that
-- time is less than a window ago, which only the current or the previous bucket can hold.
-- Each bucket expires as a whole once it is two windows old: no key per reader to create
-- and expire, and on a single server one lookup per bucket for the whole call.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local now_text = string.format('%d', now)
local bucket = window > 0 and math.floor(now / window) or 0
local robot = string.rep('-', 16)
local STEP = 4000  -- arguments per command, well inside what Lua's unpack can hold

local function bucket_key(b)
  return seen .. string.format('%d', b)
end

-- The published articles of the call and their hits; every reader's visitor hash.
local articles, lookups = {}, {}
for a = 1, #KEYS / 4 do
  local meta = redis.call('HMGET', KEYS[4 * a - 3], 'status', 'channel')
  if meta[1] ~= 'published' then
    articles[a] = false
  else
    local id, packed, visitors = ARGV[7 + 2 * a], ARGV[8 + 2 * a], {}
    for i = 1, #packed, 16 do
      local visitor = string.sub(packed, i, i + 15)
      visitors[#visitors + 1] = visitor
      if visitor ~= robot then
        lookups[#lookups + 1] = visitor
      end
    end
    articles[a] = {id = id, channel = meta[2] or '', visitors = visitors}
  end
end

-- visitor -> time of their last counted hit (the current bucket's time wins).
local last = {}
if window > 0 and #lookups > 0 then
  for i = 1, #lookups, STEP do
    local last_i = math.min(i + STEP - 1, #lookups)
    local asked = #lookups <= STEP and lookups or {unpack(lookups, i, last_i)}
    for _, b in ipairs({bucket - 1, bucket}) do
      local times = redis.call('HMGET', bucket_key(b), unpack(asked))
      for j, at in ipairs(times) do
        if at then
          last[asked[j]] = tonumber(at)
        end
      end
    end
  end
end

local replies, scores, counted = {}, {}, {}
for a, article in ipairs(articles) do
  if not article then
    replies[a] = -1
  else
    local hits_key, hourly_key, uniques_key = KEYS[4 * a - 2], KEYS[4 * a - 1], KEYS[4 * a]
    local added, flags, readers = 0, {}, {}
    for _, visitor in ipairs(article.visitors) do
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
      if visitor ~= robot then
        readers[#readers + 1] = visitor
      end
    end
    local total, this_hour = 0, 0
    if added > 0 then
      total = redis.call('INCRBY', hits_key, added) - added
      this_hour = redis.call('HINCRBY', hourly_key, hour, added)
    else
      total = tonumber(redis.call('GET', hits_key) or '0')
    end
    if #readers > 0 then
      redis.call('PFADD', uniques_key, unpack(readers))
      -- Today's uniques are created with the day's first hits, which are also the first of
      -- an hour: the TTL is set then (refreshed hourly), not on every call.
      if added == 0 or this_hour == added then
        redis.call('EXPIRE', uniques_key, uniques_ttl)
      end
    end
    if ranks and added > 0 then
      rank(scores, article.id, article.channel, total + added, this_hour)
    end
    replies[a] = {article.channel, added, table.concat(flags), total, this_hour}
  end
end
if window > 0 and #counted > 0 then
  local key = bucket_key(bucket)
  for i = 1, #counted, STEP do
    redis.call('HSET', key, unpack(counted, i, math.min(i + STEP - 1, #counted)))
  end
  redis.call('PEXPIREAT', key, string.format('%d', (bucket + 2) * window))
end
if ranks then
  ranked(ARGV[4], ARGV[5], ARGV[6], ARGV[7], scores)
end
return replies
