-- pause_schedule.lua: active → paused: a schedule fires no occurrence until
-- it is resumed (schedule.lua writes it active again, from its next slot).
-- The occurrence written for its next slot is removed, unless it already
-- runs (then it finishes, and writes no next one: its schedule is not
-- active). The caller read the record at revision ARGV[3]; if another
-- writer changed it since, nothing is written and the caller reads again.
--
-- KEYS[1] schedule hash        {ns}:s:ID
-- KEYS[2] schedule set         {ns}:schedules (a paused one stays, last)
-- KEYS[3] occurrence hash      {ns}:t:OCCURRENCE, or KEYS[1] when none
-- KEYS[4] its due index        {ns}:due:QUEUE, or KEYS[2] when none
-- ARGV[1] schedule id
-- ARGV[2] the occurrence id the caller read, or ''
-- ARGV[3] the revision the caller read
-- Returns 1 when paused now, its state when it is not active ('' when
-- there is no such schedule), or an error "DUEQ_RACE" when the caller must
-- read again.
local cur = redis.call('HMGET', KEYS[1], 'state', 'pending', 'rev')
if not cur[1] then return '' end
if cur[1] ~= 'active' then return cur[1] end
if (cur[2] or '') ~= ARGV[2] or cur[3] ~= ARGV[3] then return redis.error_reply('DUEQ_RACE') end
redis.call('HSET', KEYS[1], 'state', 'paused', 'pending', '', 'rev', tonumber(ARGV[3]) + 1)
redis.call('ZADD', KEYS[2], 'inf', ARGV[1]) -- listed, after the active ones
if ARGV[2] ~= '' and redis.call('HGET', KEYS[3], 'state') == 'scheduled' then
  redis.call('ZREM', KEYS[4], ARGV[2])
  redis.call('DEL', KEYS[3])
end
return 1
