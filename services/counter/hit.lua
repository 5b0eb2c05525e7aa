-- Count one hit on a published article; every key shares the article's hash tag.
-- KEYS[1] article meta hash, KEYS[2] total hits, KEYS[3] hourly hash
-- ARGV[1] hour bucket (YYYYMMDDHH)
-- Returns the new total, or -1 when the article is not published (nothing is created).
if redis.call('HGET', KEYS[1], 'status') ~= 'published' then
  return -1
end
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
return redis.call('INCR', KEYS[2])
