-- finish_claim.lua: finish.lua and claim.lua in one call, as a daemon's
-- round writes its loops' outcomes and claims due tasks for them: one
-- script call, one read of Redis's clock and one events message instead
-- of two of each. The outcomes are written first, so a task that finished
-- frees its loop for this very claim.
--
-- KEYS[1..FK]    finish.lua's KEYS, then claim.lua's
-- ARGV[1] FK, the number of finish.lua's KEYS
-- ARGV[2] FA, the number of finish.lua's ARGV
-- ARGV[3..2+FA]  finish.lua's ARGV, then claim.lua's
-- Publishes one events message, on claim.lua's events channel, with the
-- lines of both.
-- Returns {finish.lua's reply, claim.lua's reply}, or {finish.lua's
-- reply, false, the claim's error} when the claim raised one (a key of
-- another type written by hand, say): the outcomes are written by then, so
-- their events are published and their statuses answered all the same.
local fk, fa = tonumber(ARGV[1]), tonumber(ARGV[2])
local nowms, nowus = clock()
local lines = {}
local fin = finish_batch(slice(KEYS, 1, fk), slice(ARGV, 3, 2 + fa), nowms, lines)
local ok, claimed = pcall(claim_batch, slice(KEYS, fk + 1, #KEYS), slice(ARGV, 3 + fa, #ARGV), nowms, nowus, lines)
if #lines > 0 then redis.call('PUBLISH', ARGV[2 + fa + 5], joined(lines)) end
if not ok then
  if type(claimed) == 'table' then claimed = claimed.err end -- an error reply raised by redis.call
  return {fin, false, tostring(claimed)}
end
return {fin, claimed}
