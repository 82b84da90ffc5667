-- retry.lua: failed | canceled → scheduled, by a user: the task runs again
-- now, with a fresh set of attempts. Its record, companion key and
-- children list stop expiring. Children that already received its outcome
-- keep it: a retry re-runs the task, not its graph.
--
-- KEYS[1] task hash          {ns}:t:ID
-- KEYS[2] due index          {ns}:due:QUEUE
-- KEYS[3] finished set       {ns}:done:STATE of its state now
-- KEYS[4] companion key      its idempotency key {ns}:key:KEY or its workflow's
--                            node map {ns}:wf:WID, or KEYS[1] again when neither
-- KEYS[5] children list      {ns}:kids:ID
-- ARGV[1] task id
-- ARGV[2] the state the caller read (failed or canceled)
-- ARGV[3] announce channel of the queue
-- ARGV[4] events channel
-- Returns the state before: ARGV[2] when retried, anything else when not
-- ('' when there is no such task).
local cur = redis.call('HMGET', KEYS[1], 'state', 'queue', 'name')
if cur[1] ~= ARGV[2] then return cur[1] or '' end
local now = int(clock())
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'due', now, 'attempts', 0, 'recoveries', 0)
redis.call('HDEL', KEYS[1], 'started', 'finished', 'result', 'error', 'daemon', 'aerr')
redis.call('PERSIST', KEYS[1])
companion_reopened(KEYS[1], KEYS[4])
redis.call('PERSIST', KEYS[5])
redis.call('ZREM', KEYS[3], ARGV[1])
enter(KEYS[2], now, ARGV[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], 'retrying ' .. ARGV[1] .. ' ' .. word(cur[2]) .. ' ' .. word(cur[3]))
return cur[1]
