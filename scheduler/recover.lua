-- recover.lua: running → scheduled (or → failed) when a lease expired: the
-- daemon running the task stopped renewing it, so it died or lost Redis.
-- The re-run gives the attempt back; after ARGV[3] recoveries the task fails
-- instead, so a task that kills its daemon cannot do so forever.
--
-- KEYS[1] task hash          {ns}:t:ID
-- KEYS[2] lease set          {ns}:lease:QUEUE
-- KEYS[3] due index          {ns}:due:QUEUE
-- KEYS[4] failed set         {ns}:done:failed
-- KEYS[5] idempotency key    {ns}:key:KEY, or KEYS[1] again when there is none
-- ARGV[1] task id
-- ARGV[2] now, ms
-- ARGV[3] max recoveries
-- ARGV[4] result TTL, ms
-- ARGV[5] announce channel of the queue
-- ARGV[6] done channel
-- Returns 0 when the lease was not expired (renewed or gone), 1 when the task
-- was re-queued, 2 when it failed for too many recoveries.
local s = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not s or tonumber(s) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'recoveries', 1)
if n > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'state', 'failed', 'finished', ARGV[2], 'error',
    'its daemon stopped while running it ' .. n .. ' times (max_recoveries is ' .. ARGV[3] .. ')')
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  if KEYS[5] ~= KEYS[1] then redis.call('PEXPIRE', KEYS[5], ARGV[4]) end
  redis.call('PUBLISH', ARGV[6], 'failed ' .. ARGV[1])
  return 2
end
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'due', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
if redis.call('ZRANGE', KEYS[3], 0, 0)[1] == ARGV[1] then
  redis.call('PUBLISH', ARGV[5], ARGV[2] .. ' ' .. ARGV[1])
end
return 1
