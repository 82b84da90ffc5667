-- finish.lua: running → succeeded | failed | canceled (the final attempt, or
-- a doomed child finished without running). Only the worker holding the
-- current claim may finish a task: a worker whose lease expired, or whose
-- task was canceled, is refused and changes nothing. The outcome reaches the
-- task's children (children.lua); the record, its children list and its
-- idempotency key then expire after the result TTL.
--
-- KEYS[1] task hash          {ns}:t:ID
-- KEYS[2] lease set          {ns}:lease:QUEUE
-- KEYS[3] finished set       {ns}:done:STATE (zset, score = finish ms)
-- KEYS[4] due index          {ns}:due:QUEUE (only read, for the heads)
-- KEYS[5] idempotency key    {ns}:key:KEY, or KEYS[1] again when there is none
-- KEYS[6] waiting set        {ns}:waiting
-- KEYS[7] children list      {ns}:kids:ID
-- KEYS[8..] per child, in list order: its hash, its queue's due index
-- ARGV[1] task id
-- ARGV[2] claim token (the record's run field at the claim)
-- ARGV[3] new state: succeeded, failed or canceled
-- ARGV[4] now, ms
-- ARGV[5] result JSON, or '' for none
-- ARGV[6] error, or '' for none
-- ARGV[7] result TTL, ms
-- ARGV[8] head entries to return
-- ARGV[9] done channel
-- ARGV[10] number of children the caller passed keys for
-- ARGV[11] announce channel prefix ({ns}:announce:)
-- ARGV[12] task name
-- ARGV[13] '1' when an earlier attempt left an error to clear, else '0'
-- Returns {1 when finished or 0 when refused, heads}, or {-1, heads,
-- children} when the children list changed: call again with its keys.
local heads = redis.call('ZRANGE', KEYS[4], 0, tonumber(ARGV[8]) - 1, 'WITHSCORES')
local cur = redis.call('HMGET', KEYS[1], 'state', 'run')
if cur[1] ~= 'running' or cur[2] ~= ARGV[2] then return {0, heads} end
if kids_changed(KEYS[7], tonumber(ARGV[10])) then
  return {-1, heads, redis.call('LRANGE', KEYS[7], 0, -1)}
end
local f = {'state', ARGV[3], 'finished', ARGV[4]}
if ARGV[5] ~= '' then f[#f + 1] = 'result'; f[#f + 1] = ARGV[5] end
if ARGV[6] ~= '' then f[#f + 1] = 'error'; f[#f + 1] = ARGV[6] end
redis.call('HSET', KEYS[1], unpack(f))
if ARGV[6] == '' and ARGV[13] == '1' then redis.call('HDEL', KEYS[1], 'error') end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
if KEYS[5] ~= KEYS[1] then redis.call('PEXPIRE', KEYS[5], ARGV[7]) end
if tonumber(ARGV[10]) > 0 then
  release(KEYS[7], 8, KEYS[6], ARGV[11], ARGV[1], ARGV[12], ARGV[3], ARGV[5], ARGV[6], tonumber(ARGV[4]))
  redis.call('PEXPIRE', KEYS[7], ARGV[7])
end
redis.call('PUBLISH', ARGV[9], ARGV[3] .. ' ' .. ARGV[1])
return {1, heads}
