-- finish.lua: running → succeeded | failed (the final attempt).
-- Only the worker holding the current claim may finish a task: a worker whose
-- lease expired, or whose task was canceled, is refused and changes nothing.
-- The record and its idempotency key then expire after the result TTL.
--
-- KEYS[1] task hash          {ns}:t:ID
-- KEYS[2] lease set          {ns}:lease:QUEUE
-- KEYS[3] finished set       {ns}:done:STATE (zset, score = finish ms)
-- KEYS[4] due index          {ns}:due:QUEUE (only read, for the heads)
-- KEYS[5] idempotency key    {ns}:key:KEY, or KEYS[1] again when there is none
-- ARGV[1] task id
-- ARGV[2] claim token (the record's run field at the claim)
-- ARGV[3] new state: succeeded or failed
-- ARGV[4] now, ms
-- ARGV[5] result JSON, or '' for none
-- ARGV[6] error, or '' for none
-- ARGV[7] result TTL, ms
-- ARGV[8] head entries to return
-- ARGV[9] done channel
-- Returns {1 when finished or 0 when refused, heads}.
local heads = redis.call('ZRANGE', KEYS[4], 0, tonumber(ARGV[8]) - 1, 'WITHSCORES')
local cur = redis.call('HMGET', KEYS[1], 'state', 'run')
if cur[1] ~= 'running' or cur[2] ~= ARGV[2] then return {0, heads} end
local f = {'state', ARGV[3], 'finished', ARGV[4]}
if ARGV[5] ~= '' then f[#f + 1] = 'result'; f[#f + 1] = ARGV[5] end
if ARGV[6] ~= '' then f[#f + 1] = 'error'; f[#f + 1] = ARGV[6] end
redis.call('HSET', KEYS[1], unpack(f))
if ARGV[6] == '' then redis.call('HDEL', KEYS[1], 'error') end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
if KEYS[5] ~= KEYS[1] then redis.call('PEXPIRE', KEYS[5], ARGV[7]) end
redis.call('PUBLISH', ARGV[9], ARGV[3] .. ' ' .. ARGV[1])
return {1, heads}
