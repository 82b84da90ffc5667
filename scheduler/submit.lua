-- submit.lua: a new task enters the timing index (→ scheduled), or, when it
-- has unfinished parents, waits for them (→ waiting) outside the index.
-- A parent that already finished still counts: its outcome is stored in the
-- task at once. An unknown parent (or one whose record expired) rejects the
-- submit before anything is written. The task is announced on its queue's
-- channel only when it became the head of the index: a loop waiting for an
-- earlier head needs no wake-up, and it learns of later tasks from the heads
-- its next claim returns.
--
-- KEYS[1] task hash          {ns}:t:ID
-- KEYS[2] due index          {ns}:due:QUEUE (zset, score = due ms)
-- KEYS[3] idempotency key    {ns}:key:KEY, or KEYS[1] again when there is none
-- KEYS[4] queue set          {ns}:queues
-- KEYS[5] waiting set        {ns}:waiting (zset, score = creation ms)
-- KEYS[6..] per parent, in ARGV order: its hash {ns}:t:PARENT, its children
--           list {ns}:kids:PARENT
-- ARGV[1] task id
-- ARGV[2] due time, ms
-- ARGV[3] queue name, or '' when the queue set already lists it
-- ARGV[4] announce channel of the queue
-- ARGV[5] '1' when the task has an idempotency key, else '0'
-- ARGV[6] number of parents P
-- ARGV[7] now (creation time), ms
-- ARGV[8] the task's queue name
-- ARGV[9] on_parent_failure of the task
-- ARGV[10..9+P] parent ids
-- ARGV[10+P..] record fields and values, as for HSET
-- Returns {id, 1} for a new task, {first task's id, 0} when the key is
-- taken, or an error "DUEQ_NOPARENT ID" when a parent has no record.
-- chunked calls cmd on key with t[i..j], 1000 values at a time: Lua's unpack
-- takes only about 8000 (an even size keeps field/value pairs together).
local function chunked(cmd, key, t, i, j)
  while i <= j do
    local k = math.min(j, i + 999)
    redis.call(cmd, key, unpack(t, i, k))
    i = k + 1
  end
end

local np = tonumber(ARGV[6])
if ARGV[5] == '1' then
  local first = redis.call('GET', KEYS[3])
  if first then return {first, 0} end
end
local pending, outcomes, doomed = 0, {}, false
for i = 1, np do
  local pid = ARGV[9 + i]
  local p = redis.call('HMGET', KEYS[4 + 2 * i], 'state', 'name', 'result', 'error')
  local st = p[1]
  if not st then return redis.error_reply('DUEQ_NOPARENT ' .. pid) end
  if st == 'succeeded' or st == 'failed' or st == 'canceled' then
    outcomes[#outcomes + 1] = 'o:' .. pid
    outcomes[#outcomes + 1] = '{"id":' .. cjson.encode(pid) .. ',"name":' .. cjson.encode(p[2]) ..
      ',"state":"' .. st .. '","result":' .. (p[3] or 'null') .. ',"error":' .. cjson.encode(p[4] or '') .. '}'
    if st == 'canceled' or (st == 'failed' and ARGV[9] ~= 'run') then doomed = true end
  else
    pending = pending + 1
  end
end
if ARGV[5] == '1' then redis.call('SET', KEYS[3], ARGV[1]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 10 + np))
chunked('HSET', KEYS[1], outcomes, 1, #outcomes)
for i = 1, np do
  local kids = KEYS[5 + 2 * i]
  redis.call('RPUSH', kids, ARGV[8] .. ' ' .. ARGV[1])
  local ttl = redis.call('PTTL', KEYS[4 + 2 * i])
  if ttl > 0 then redis.call('PEXPIRE', kids, ttl) end -- a finished parent's list expires with it
end
if ARGV[3] ~= '' then redis.call('SADD', KEYS[4], ARGV[3]) end
if pending > 0 and not doomed then
  redis.call('HSET', KEYS[1], 'state', 'waiting', 'pending', pending)
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[1])
  return {ARGV[1], 1}
end
local due = ARGV[2]
if doomed then
  due = ARGV[7]
  redis.call('HSET', KEYS[1], 'due', due, 'pending', pending)
end
redis.call('ZADD', KEYS[2], due, ARGV[1])
if redis.call('ZRANGE', KEYS[2], 0, 0)[1] == ARGV[1] then
  redis.call('PUBLISH', ARGV[4], due .. ' ' .. ARGV[1])
end
return {ARGV[1], 1}
