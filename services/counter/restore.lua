-- Raise one article's counts to at least a snapshot's; never lowers what Redis holds, so
-- restoring into a live counter, or twice, is safe. Every key shares the article's hash tag.
-- KEYS[1] total hits, KEYS[2] hourly hash, KEYS[3] daily hash
-- ARGV[1] snapshot total, ARGV[2] number of hourly pairs, then hourly pairs, then daily pairs
local function raise_field(key, field, value)
  local held = tonumber(redis.call('HGET', key, field) or '0')
  if held < tonumber(value) then
    redis.call('HSET', key, field, value)
  end
end
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
if held < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
local hourly_end = 3 + 2 * tonumber(ARGV[2])
for i = 3, hourly_end - 1, 2 do
  raise_field(KEYS[2], ARGV[i], ARGV[i + 1])
end
for i = hourly_end, #ARGV, 2 do
  raise_field(KEYS[3], ARGV[i], ARGV[i + 1])
end
return math.max(held, tonumber(ARGV[1]))
