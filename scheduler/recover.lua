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
-- KEYS[6] waiting set        {ns}:waiting
-- KEYS[7] children list      {ns}:kids:ID
-- KEYS[8..] per child, in list order: its hash, its queue's due index
-- ARGV[1] task id
-- ARGV[2] now, ms
-- ARGV[3] max recoveries
-- ARGV[4] result TTL, ms
-- ARGV[5] announce channel of the queue
-- ARGV[6] events channel
-- ARGV[7] number of children the caller passed keys for
-- ARGV[8] announce channel prefix ({ns}:announce:)
-- Returns {0} when the lease was not expired (renewed or gone), {1} when the
-- task was re-queued, {2} when it failed for too many recoveries (its
-- children then get its outcome, children.lua), or {-1, children} when it
-- would fail but its children list changed: call again with its keys.
local s = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not s or tonumber(s) > tonumber(ARGV[2]) then return {0} end
local cur = redis.call('HMGET', KEYS[1], 'state', 'recoveries', 'name', 'queue')
if cur[1] ~= 'running' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {0}
end
local n = (tonumber(cur[2]) or 0) + 1
if n > tonumber(ARGV[3]) then
  if kids_changed(KEYS[7], tonumber(ARGV[7])) then
    return {-1, redis.call('LRANGE', KEYS[7], 0, -1)}
  end
  local err = 'its daemon stopped while running it ' .. n .. ' times (max_recoveries is ' .. ARGV[3] .. ')'
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HSET', KEYS[1], 'state', 'failed', 'finished', ARGV[2], 'recoveries', n, 'error', err)
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  if KEYS[5] ~= KEYS[1] then redis.call('PEXPIRE', KEYS[5], ARGV[4]) end
  if tonumber(ARGV[7]) > 0 then
    release(KEYS[7], 8, KEYS[6], ARGV[8], ARGV[1], cur[3], 'failed', '', err, tonumber(ARGV[2]))
    redis.call('PEXPIRE', KEYS[7], ARGV[4])
  end
  redis.call('PUBLISH', ARGV[6], 'failed ' .. ARGV[1] .. ' ' .. (cur[4] or '?') .. ' ' .. (cur[3] or '?'))
  return {2}
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'recoveries', n)
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'due', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
if redis.call('ZRANGE', KEYS[3], 0, 0)[1] == ARGV[1] then
  redis.call('PUBLISH', ARGV[5], ARGV[2] .. ' ' .. ARGV[1])
end
redis.call('PUBLISH', ARGV[6], 'retrying ' .. ARGV[1] .. ' ' .. (cur[4] or '?') .. ' ' .. (cur[3] or '?'))
return {1}
