-- schedule.lua: a recurring task is created, or its spec changes (→ active).
-- Writes the schedule record and the occurrence of its next slot, only if
-- that occurrence is absent: occurrence ids are the schedule id and the fire
-- time, so no two writers can make a slot twice. A changed spec first
-- removes the occurrence written for the old spec, unless it is already
-- running. The caller read the record at revision ARGV[3]; if another writer
-- changed it since, nothing is written and the caller reads again.
--
-- KEYS[1] schedule hash        {ns}:s:ID
-- KEYS[2] schedule set         {ns}:schedules (zset, score = next fire ms)
-- KEYS[3] schedule names       {ns}:schedule-names (hash, name → id)
-- KEYS[4] old occurrence hash  {ns}:t:OCCURRENCE, or KEYS[1] when none
-- KEYS[5] its due index        {ns}:due:QUEUE, or KEYS[2] when none
-- KEYS[6] new occurrence hash  {ns}:t:OCCURRENCE
-- KEYS[7] its due index        {ns}:due:QUEUE
-- KEYS[8] queue set            {ns}:queues
-- ARGV[1] schedule id
-- ARGV[2] schedule name, or ''
-- ARGV[3] the revision the caller read (0: none)
-- ARGV[4] old occurrence id, or ''
-- ARGV[5] new occurrence id
-- ARGV[6] its due time, ms
-- ARGV[7] announce channel of its queue
-- ARGV[8] queue name
-- ARGV[9] number N of schedule field values
-- ARGV[10..9+N] schedule fields and values; then the occurrence's
-- Returns 1, or an error "DUEQ_RACE" when the caller must read again.
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if rev ~= tonumber(ARGV[3]) then return redis.error_reply('DUEQ_RACE') end
if ARGV[2] ~= '' then
  local owner = redis.call('HGET', KEYS[3], ARGV[2])
  if owner and owner ~= ARGV[1] then return redis.error_reply('DUEQ_RACE') end
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
end
if ARGV[4] ~= '' and ARGV[4] ~= ARGV[5] and redis.call('HGET', KEYS[4], 'state') == 'scheduled' then
  redis.call('ZREM', KEYS[5], ARGV[4])
  redis.call('DEL', KEYS[4])
end
local n = tonumber(ARGV[9])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 10, 9 + n))
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
redis.call('SADD', KEYS[8], ARGV[8])
if redis.call('EXISTS', KEYS[6]) == 0 then
  redis.call('HSET', KEYS[6], unpack(ARGV, 10 + n))
  enter(KEYS[7], ARGV[6], ARGV[5], ARGV[7])
end
return 1
