-- Rankings: all-time and this hour's, overall ("*") and per channel. Prepended to hit.lua
-- (a single server ranks as it counts) and to rank.lua (a cluster ranks on the `{rank}`
-- slot in a second call).
-- A ranking's score is the count it ranks by: the article's total for the all-time
-- rankings, its hits this hour for the hour's. Scores are set with ZADD GT, not added with
-- ZINCRBY: one ZADD per ranking carries every article of the call, and a reply arriving
-- late (a cluster ranks after counting) can never lower a score.

-- Note one counted article: its total and its hits this hour, overall and in its channel.
-- scores: ranking name ("*" or a channel) -> {all = {score, id, ...}, hour = {...}}.
local function rank(scores, id, channel, total, this_hour)
  for _, name in ipairs(channel ~= '' and {'*', channel} or {'*'}) do
    local s = scores[name]
    if not s then
      s = {all = {}, hour = {}}
      scores[name] = s
    end
    s.all[#s.all + 1] = total
    s.all[#s.all + 1] = id
    s.hour[#s.hour + 1] = this_hour
    s.hour[#s.hour + 1] = id
  end
end

local function zadd_gt(key, pairs)
  for i = 1, #pairs, 4000 do  -- in steps Lua's unpack can hold
    redis.call('ZADD', key, 'GT', unpack(pairs, i, math.min(i + 3999, #pairs)))
  end
end

-- Once per call: write the scores, give the hour rankings their TTL (s) and record the
-- channels in the set of ranked channels.
local function ranked(all, hour, ttl, channels, scores)
  local names = {}
  for name, s in pairs(scores) do
    zadd_gt(all .. name, s.all)
    zadd_gt(hour .. name, s.hour)
    redis.call('EXPIRE', hour .. name, ttl)
    if name ~= '*' then
      names[#names + 1] = name
    end
  end
  if #names > 0 then
    redis.call('SADD', channels, unpack(names))
  end
end
