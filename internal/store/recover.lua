-- recover.lua: running → scheduled (or → failed) when a lease expired: the
-- daemon running the task stopped renewing it, so it died or lost Redis.
-- The re-run gives the attempt back; after ARGV[2] recoveries the task fails
-- instead, so a task that kills its daemon cannot do so forever.
--
-- KEYS[1] task hash          {ns}:t:ID
-- KEYS[2] lease set          {ns}:lease:QUEUE
-- KEYS[3] due index          {ns}:due:QUEUE
-- KEYS[4] failed set         {ns}:done:failed
-- KEYS[5] companion key      its idempotency key {ns}:key:KEY or its workflow's
--                            node map {ns}:wf:WID, or KEYS[1] again when neither
-- KEYS[6] waiting set        {ns}:waiting
-- KEYS[7] children list      {ns}:kids:ID
-- KEYS[8..] per child, in list order: its hash, its queue's due index
-- ARGV[1] task id
-- ARGV[2] max recoveries
-- ARGV[3] result TTL, ms
-- ARGV[4] announce channel of the queue
-- ARGV[5] events channel
-- ARGV[6] number of children the caller passed keys for
-- ARGV[7] announce channel prefix ({ns}:announce:)
-- ARGV[8] the queue's name
-- Returns {0} when the lease was not expired (renewed or gone), {3} when the
-- task's record had vanished (it is recorded as failed, and its children
-- get that outcome), {1} when the task was re-queued, {2} when it failed
-- for too many recoveries (its children then get its outcome, prelude.lua),
-- or {-1, children} when it would fail but its children list changed: call
-- again with its keys.
local nowms = clock()
local now = int(nowms)
local s = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not s or tonumber(s) > nowms then return {0} end
local cur = redis.call('HMGET', KEYS[1], 'state', 'recoveries', 'name', 'queue', 'attempts')
if not cur[1] then
  -- Its record vanished (evicted, or deleted by hand): say so in a record
  -- of its own, so the task does not disappear without a trace, and tell
  -- its children, which would otherwise wait for it forever.
  if kids_changed(KEYS[7], tonumber(ARGV[6]), nil, nil, KEYS, 8) then
    return {-1, redis.call('LRANGE', KEYS[7], 0, -1)}
  end
  local err = 'its record vanished from Redis while it ran (evicted, or deleted by hand), and its daemon stopped renewing its lease'
  redis.call('ZREM', KEYS[2], ARGV[1])
  -- A record of its own, with no companion key: what the vanished one
  -- named is unknown.
  local b = ended(nowms, ARGV[3], KEYS[6], ARGV[7], KEYS)
  local f = final_fields(b, 'failed')
  for _, v in ipairs({'v', '1', 'name', '?', 'args', 'null', 'queue', ARGV[8], 'recoveries', 1, 'error', err}) do f[#f + 1] = v end
  finalize(b, KEYS[1], KEYS[1], KEYS[7], 8, tonumber(ARGV[6]), ARGV[1], ARGV[8], '?', 'failed', KEYS[4], f, '', err)
  flush_ended(b, ARGV[5])
  return {3}
end
if cur[1] ~= 'running' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {0}
end
local n = math.floor(tonumber(cur[2]) or 0) + 1
if n > tonumber(ARGV[2]) then
  if kids_changed(KEYS[7], tonumber(ARGV[6]), nil, nil, KEYS, 8) then
    return {-1, redis.call('LRANGE', KEYS[7], 0, -1)}
  end
  local err = 'its daemon stopped while running it ' .. n .. ' times (max_recoveries is ' .. ARGV[2] .. ')'
  redis.call('ZREM', KEYS[2], ARGV[1])
  local b = ended(nowms, ARGV[3], KEYS[6], ARGV[7], KEYS)
  local f = final_fields(b, 'failed')
  f[5], f[6], f[7], f[8] = 'recoveries', n, 'error', err
  finalize(b, KEYS[1], KEYS[5], KEYS[7], 8, tonumber(ARGV[6]), ARGV[1], word(cur[4]), word(cur[3]), 'failed', KEYS[4], f, '', err)
  flush_ended(b, ARGV[5])
  return {2}
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'recoveries', n)
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'due', now, 'attempts', given_back(cur[5]))
enter(KEYS[3], now, ARGV[1], ARGV[4])
redis.call('PUBLISH', ARGV[5], 'retrying ' .. ARGV[1] .. ' ' .. word(cur[4]) .. ' ' .. word(cur[3]))
return {1}
