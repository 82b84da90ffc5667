-- cancel.lua: scheduled | waiting | running → canceled.
-- A running task's daemon hears it on the cancel channel and cancels the
-- handler's context; the handler's late finish is then refused (finish.lua).
-- The canceled outcome reaches the task's children, which are doomed by it
-- (prelude.lua): canceling a task cancels its pending descendants.
--
-- KEYS[1] task hash          {ns}:t:ID
-- KEYS[2] due index          {ns}:due:QUEUE
-- KEYS[3] lease set          {ns}:lease:QUEUE
-- KEYS[4] canceled set       {ns}:done:canceled
-- KEYS[5] companion key      its idempotency key {ns}:key:KEY or its workflow's
--                            node map {ns}:wf:WID, or KEYS[1] again when neither
-- KEYS[6] waiting set        {ns}:waiting
-- KEYS[7] children list      {ns}:kids:ID
-- KEYS[8..] per child, in list order: its hash, its queue's due index
-- ARGV[1] task id
-- ARGV[2] result TTL, ms
-- ARGV[3] events channel
-- ARGV[4] cancel channel
-- ARGV[5] number of children the caller passed keys for
-- ARGV[6] announce channel prefix ({ns}:announce:)
-- Returns {state before, 1 when canceled now or 0 when already finished};
-- the state is '' when there is no such task; {state, -1, children} when the
-- children list changed: call again with its keys.
local cur = redis.call('HMGET', KEYS[1], 'state', 'name', 'queue')
local st = cur[1]
if not st then return {'', 0} end
if is_final(st) then return {st, 0} end
if kids_changed(KEYS[7], tonumber(ARGV[5]), nil, nil, KEYS, 8) then
  return {st, -1, redis.call('LRANGE', KEYS[7], 0, -1)}
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
local b = ended(clock(), ARGV[2], KEYS[6], ARGV[6], KEYS)
finalize(b, KEYS[1], KEYS[5], KEYS[7], 8, tonumber(ARGV[5]), ARGV[1], word(cur[3]), word(cur[2]), 'canceled', KEYS[4],
  final_fields(b, 'canceled'), '', 'canceled')
flush_ended(b, ARGV[3])
if st == 'running' then redis.call('PUBLISH', ARGV[4], ARGV[1]) end
return {st, 1}
