-- claim.lua: scheduled → running, for up to ARGV[3] due tasks of one queue.
-- The caller names candidates it saw at the head of the index. A candidate
-- that another worker claimed first, or that is no longer due, is skipped:
-- ZREM inside one script is what makes each claim exactly-once in the fleet.
--
-- KEYS[1]   due index     {ns}:due:QUEUE
-- KEYS[2]   lease set     {ns}:lease:QUEUE (zset, score = lease deadline ms)
-- KEYS[3..] task hashes   {ns}:t:ID, one per candidate, in ARGV order
-- ARGV[1] now, ms
-- ARGV[2] lease deadline, ms
-- ARGV[3] most tasks to claim
-- ARGV[4] head entries to return
-- ARGV[5..] candidate ids
-- Returns {heads, id, fields, id, fields, ...}: heads is the index's first
-- ARGV[4] entries after the claim ({id, score, ...}); fields is each claimed
-- record after the claim, as HGETALL gives it. A candidate whose record is
-- gone is dropped from the index and returned with no fields.
local now, want = tonumber(ARGV[1]), tonumber(ARGV[3])
local ids = {}
for i = 5, #ARGV do ids[#ids + 1] = ARGV[i] end
local scores = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local out, taken, lease = {false}, {}, {}
for i, id in ipairs(ids) do
  if #taken >= want then break end
  local s = scores[i]
  if s and tonumber(s) <= now then
    taken[#taken + 1] = id
    local h = redis.call('HGETALL', KEYS[2 + i])
    if #h > 0 then
      local set = {state = 'running', started = ARGV[1], attempts = 1, run = 1}
      for j = 1, #h, 2 do
        local k = h[j]
        if k == 'attempts' or k == 'run' then set[k] = (tonumber(h[j + 1]) or 0) + 1 end
      end
      redis.call('HSET', KEYS[2 + i], 'state', set.state, 'started', set.started,
        'attempts', set.attempts, 'run', set.run)
      for j = 1, #h, 2 do
        local v = set[h[j]]
        if v then h[j + 1] = tostring(v); set[h[j]] = nil end
      end
      for k, v in pairs(set) do h[#h + 1] = k; h[#h + 1] = tostring(v) end
      lease[#lease + 1] = ARGV[2]
      lease[#lease + 1] = id
    end
    out[#out + 1] = id
    out[#out + 1] = h
  end
end
if #taken > 0 then redis.call('ZREM', KEYS[1], unpack(taken)) end
if #lease > 0 then redis.call('ZADD', KEYS[2], unpack(lease)) end
out[1] = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1, 'WITHSCORES')
return out
