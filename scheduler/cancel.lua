-- cancel.lua: scheduled | waiting | running → canceled.
-- A running task's daemon hears it on the cancel channel and cancels the
-- handler's context; the handler's late finish is then refused (finish.lua).
--
-- KEYS[1] task hash          {ns}:t:ID
-- KEYS[2] due index          {ns}:due:QUEUE
-- KEYS[3] lease set          {ns}:lease:QUEUE
-- KEYS[4] canceled set       {ns}:done:canceled
-- KEYS[5] idempotency key    {ns}:key:KEY, or KEYS[1] again when there is none
-- ARGV[1] task id
-- ARGV[2] now, ms
-- ARGV[3] result TTL, ms
-- ARGV[4] done channel
-- ARGV[5] cancel channel
-- Returns {state before, 1 when canceled now or 0 when already finished};
-- the state is '' when there is no such task.
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'', 0} end
if st == 'succeeded' or st == 'failed' or st == 'canceled' then return {st, 0} end
redis.call('HSET', KEYS[1], 'state', 'canceled', 'finished', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if KEYS[5] ~= KEYS[1] then redis.call('PEXPIRE', KEYS[5], ARGV[3]) end
redis.call('PUBLISH', ARGV[4], 'canceled ' .. ARGV[1])
if st == 'running' then redis.call('PUBLISH', ARGV[5], ARGV[1]) end
return {st, 1}
