-- requeue.lua: running → scheduled, by the worker holding the claim: after a
-- failed attempt that will be retried (the attempt counts), or when its daemon
-- stops and hands the task back (the attempt is given back).
--
-- KEYS[1] task hash          {ns}:t:ID
-- KEYS[2] lease set          {ns}:lease:QUEUE
-- KEYS[3] due index          {ns}:due:QUEUE
-- ARGV[1] task id
-- ARGV[2] claim token
-- ARGV[3] how long from now (Redis's clock) it is due, ms
-- ARGV[4] error of the attempt, or '' for none
-- ARGV[5] '1' to give the attempt back, else '0'
-- ARGV[6] head entries to return
-- ARGV[7] announce channel of the queue
-- ARGV[8] events channel
-- ARGV[9] the task's queue
-- ARGV[10] the task's name
-- Publishes "retrying" for a retry, "queued" for a hand-back.
-- Returns {1 when requeued or 0 when refused, heads}.
local cur = redis.call('HMGET', KEYS[1], 'state', 'run', 'attempts')
if cur[1] ~= 'running' or cur[2] ~= ARGV[2] then
  return {0, redis.call('ZRANGE', KEYS[3], 0, tonumber(ARGV[6]) - 1, 'WITHSCORES')}
end
local due = int(clock() + tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'due', due)
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'error', ARGV[4], 'aerr', attempt_errors(KEYS[1], ARGV[4]))
end
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'attempts', given_back(cur[3]))
end
redis.call('ZREM', KEYS[2], ARGV[1])
local heads = enter(KEYS[3], due, ARGV[1], ARGV[7], tonumber(ARGV[6]))
local kind = ARGV[5] == '1' and 'queued' or 'retrying'
redis.call('PUBLISH', ARGV[8], kind .. ' ' .. ARGV[1] .. ' ' .. ARGV[9] .. ' ' .. ARGV[10])
return {1, heads}
