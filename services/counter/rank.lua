-- Add one group commit's counted hits to the rankings; every key shares the `{rank}` tag.
-- (`rank` and `ranked` come from ranking.lua, prepended when the script is loaded.)
-- KEYS[1] the set of ranked channels
-- ARGV[1] prefix of the all-time rankings, ARGV[2] prefix of this hour's rankings
--   (each followed by "*" for overall or a channel name), ARGV[3] hour rankings TTL (s),
-- ARGV[4..] triples: article id, channel ("" if none), hits.
local touched = {}
for i = 4, #ARGV, 3 do
  rank(ARGV[1], ARGV[2], ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), touched)
end
ranked(ARGV[2], ARGV[3], KEYS[1], touched)
return 1
