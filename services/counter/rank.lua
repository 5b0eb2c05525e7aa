-- Rank one group commit's counted articles; every key shares the `{rank}` tag.
-- (`rank` and `ranked` come from ranking.lua, prepended when the script is loaded.)
-- KEYS[1] the set of ranked channels
-- ARGV[1] prefix of the all-time rankings, ARGV[2] prefix of this hour's rankings
--   (each followed by "*" for overall or a channel name), ARGV[3] hour rankings TTL (s),
-- ARGV[4..] fours: article id, channel ("" if none), its total, its hits this hour.
local scores = {}
for i = 4, #ARGV, 4 do
  rank(scores, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
end
ranked(ARGV[1], ARGV[2], ARGV[3], KEYS[1], scores)
return 1
