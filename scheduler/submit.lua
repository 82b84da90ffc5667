-- submit.lua: a new task enters the timing index (→ scheduled).
-- Announces the task on its queue's channel only when it became the head of
-- the index: a loop waiting for an earlier head needs no wake-up, and it
-- learns of later tasks from the heads its next claim returns.
--
-- KEYS[1] task hash          {ns}:t:ID
-- KEYS[2] due index          {ns}:due:QUEUE (zset, score = due ms)
-- KEYS[3] idempotency key    {ns}:key:KEY, or KEYS[1] again when there is none
-- KEYS[4] queue set          {ns}:queues
-- ARGV[1] task id
-- ARGV[2] due time, ms
-- ARGV[3] queue name, or '' when the queue set already lists it
-- ARGV[4] announce channel of the queue
-- ARGV[5] '1' when the task has an idempotency key, else '0'
-- ARGV[6..] record fields and values, as for HSET
-- Returns {id, 1} for a new task, or {first task's id, 0} when the key is taken.
if ARGV[5] == '1' then
  local first = redis.call('GET', KEYS[3])
  if first then return {first, 0} end
  redis.call('SET', KEYS[3], ARGV[1])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if ARGV[3] ~= '' then redis.call('SADD', KEYS[4], ARGV[3]) end
if redis.call('ZRANGE', KEYS[2], 0, 0)[1] == ARGV[1] then
  redis.call('PUBLISH', ARGV[4], ARGV[2] .. ' ' .. ARGV[1])
end
return {ARGV[1], 1}
