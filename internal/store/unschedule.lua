-- unschedule.lua: active → canceled: a schedule stops, and the occurrence
-- written for its next slot is canceled unless it is already running. The
-- record then expires after the result TTL.
--
-- KEYS[1] schedule hash        {ns}:s:ID
-- KEYS[2] schedule set         {ns}:schedules
-- KEYS[3] schedule names       {ns}:schedule-names
-- KEYS[4] occurrence hash      {ns}:t:OCCURRENCE, or KEYS[1] when none
-- KEYS[5] its due index        {ns}:due:QUEUE, or KEYS[2] when none
-- KEYS[6] canceled set         {ns}:done:canceled
-- ARGV[1] schedule id
-- ARGV[2] the occurrence id the caller read, or ''
-- ARGV[3] result TTL, ms
-- ARGV[4] events channel
-- Returns 0 when there is no such schedule, 1 when canceled now, 2 when it
-- was canceled before, or an error "DUEQ_RACE" when the caller must read again.
local cur = redis.call('HMGET', KEYS[1], 'state', 'pending', 'name')
if not cur[1] then return 0 end
if cur[1] == 'canceled' then return 2 end
if (cur[2] or '') ~= ARGV[2] then return redis.error_reply('DUEQ_RACE') end
redis.call('HSET', KEYS[1], 'state', 'canceled')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
if cur[3] and cur[3] ~= '' and redis.call('HGET', KEYS[3], cur[3]) == ARGV[1] then
  redis.call('HDEL', KEYS[3], cur[3])
end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[4], 'state') == 'scheduled' then
  redis.call('ZREM', KEYS[5], ARGV[2])
  local o = redis.call('HMGET', KEYS[4], 'queue', 'name')
  -- An occurrence has neither companion key nor children.
  local b = ended(clock(), ARGV[3], nil, nil, KEYS)
  local f = final_fields(b, 'canceled')
  f[5], f[6] = 'error', 'its schedule was canceled'
  finalize(b, KEYS[4], KEYS[4], nil, 0, 0, ARGV[2], word(o[1]), word(o[2]), 'canceled', KEYS[6], f, '', '')
  flush_ended(b, ARGV[4])
end
return 1
