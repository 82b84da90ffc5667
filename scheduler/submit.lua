-- submit.lua: new tasks enter the timing index (→ scheduled), or, when they
-- have unfinished parents, wait for them (→ waiting) outside the index. One
-- call submits one or more tasks, in order, so a later task may name an
-- earlier one of the same call as its parent or reuse its idempotency key.
-- A parent that already finished still counts: its outcome is stored in the
-- task at once. An unknown parent (or one whose record expired) rejects that
-- task before anything of it is written; the others go on. A task is
-- announced on its queue's channel only when it became the head of the
-- index: a loop waiting for an earlier head needs no wake-up, and it learns
-- of later tasks from the heads its next claim returns.
--
-- KEYS[1] queue set          {ns}:queues
-- KEYS[2] waiting set        {ns}:waiting (zset, score = creation ms)
-- then per task, in ARGV order: its hash {ns}:t:ID, its queue's due index
--         {ns}:due:QUEUE (zset, score = due ms), its idempotency key
--         {ns}:key:KEY (or its hash again when there is none), then per
--         parent, in ARGV order: its hash {ns}:t:PARENT, its children list
--         {ns}:kids:PARENT
-- ARGV[1] N, the number of tasks
-- ARGV[2] events channel
-- ARGV[3..] per task: id, due time (ms since the epoch, or -N for N ms
--         from now), queue name to add to the queue set (or '' when it is
--         known there), announce channel of its queue, '1' when it has an
--         idempotency key else '0', number of parents P, queue name,
--         on_parent_failure, task name, the P parent ids, number F of record
--         values, then F record fields and values (HSET), of which the last
--         two pairs are due and created with values the script fills in
-- Creation and relative due times are Redis's clock; a due time in the
-- past is now.
-- Publishes one events message: a line "queued ID QUEUE NAME" per task
-- created.
-- Returns {now, id, code, due, id, code, due, ...}: Redis's time in µs, then
-- per task: {id, 1, due ms} for a new task, {first task's id, 0, 0} when its
-- key is taken, {id, 'DUEQ_NOPARENT PARENT', 0} when a parent has no record.

-- Entries for the due indexes, added together after the loop:
-- per index key, its announce channel, ZADD arguments and the new ids.
local indexed, order = {}, {}
local function index(dkey, announce, due, id)
  local e = indexed[dkey]
  if not e then
    e = {announce = announce, zadd = {}, ids = {}}
    indexed[dkey] = e
    order[#order + 1] = dkey
  end
  e.zadd[#e.zadd + 1] = due
  e.zadd[#e.zadd + 1] = id
  e.ids[id] = due
end

local nowms, nowus = clock()
local created = int(nowms)
local out, events = {nowus}, {}
local a, k = 3, 3
for _ = 1, tonumber(ARGV[1]) do
  local id, due, queueArg, announce, keyFlag = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local np, queue, opf = tonumber(ARGV[a + 5]), ARGV[a + 6], ARGV[a + 7]
  local name = ARGV[a + 8]
  local pa = a + 9 -- parent ids: ARGV[pa .. pa + np - 1]
  due = due_time(due, nowms, created)
  local nf = tonumber(ARGV[pa + np])
  local fa = pa + np + 1 -- record: ARGV[fa .. fa + nf - 1]
  local key, dkey, idem, pk = KEYS[k], KEYS[k + 1], KEYS[k + 2], k + 3
  a, k = fa + nf, pk + 2 * np

  local first = keyFlag == '1' and redis.call('GET', idem)
  local pending, outcomes, stop, missing = 0, {}, false, nil
  if not first then
    for i = 1, np do
      local pid = ARGV[pa + i - 1]
      local p = redis.call('HMGET', KEYS[pk + 2 * i - 2], 'state', 'name', 'result', 'error')
      local st = p[1]
      if not st then
        missing = pid
        break
      end
      if st == 'succeeded' or st == 'failed' or st == 'canceled' then
        outcomes[#outcomes + 1] = 'o:' .. pid
        outcomes[#outcomes + 1] = '{"id":' .. cjson.encode(pid) .. ',"name":' .. cjson.encode(p[2]) ..
          ',"state":"' .. st .. '","result":' .. (p[3] or 'null') .. ',"error":' .. cjson.encode(p[4] or '') .. '}'
        if doomed(st, opf) then stop = true end
      else
        pending = pending + 1
      end
    end
  end
  if first then
    out[#out + 1] = first
    out[#out + 1] = 0
    out[#out + 1] = 0
  elseif missing then
    out[#out + 1] = id
    out[#out + 1] = 'DUEQ_NOPARENT ' .. missing
    out[#out + 1] = 0
  else
    if keyFlag == '1' then redis.call('SET', idem, id) end
    ARGV[fa + nf - 3], ARGV[fa + nf - 1] = due, created
    redis.call('HSET', key, unpack(ARGV, fa, fa + nf - 1))
    chunked('HSET', key, outcomes, 1, #outcomes)
    for i = 1, np do
      local kids = KEYS[pk + 2 * i - 1]
      redis.call('RPUSH', kids, queue .. ' ' .. id)
      kid_added(KEYS[pk + 2 * i - 2])
      local ttl = redis.call('PTTL', KEYS[pk + 2 * i - 2])
      if ttl > 0 then redis.call('PEXPIRE', kids, ttl) end -- a finished parent's list expires with it
    end
    if queueArg ~= '' then redis.call('SADD', KEYS[1], queueArg) end
    if pending > 0 and not stop then
      redis.call('HSET', key, 'state', 'waiting', 'pending', pending)
      redis.call('ZADD', KEYS[2], created, id)
    else
      if stop then
        due = created
        redis.call('HSET', key, 'due', due, 'pending', pending)
      end
      index(dkey, announce, due, id)
    end
    out[#out + 1] = id
    out[#out + 1] = 1
    out[#out + 1] = tonumber(due)
    events[#events + 1] = 'queued ' .. id .. ' ' .. queue .. ' ' .. name
  end
end
for _, dkey in ipairs(order) do
  local e = indexed[dkey]
  chunked('ZADD', dkey, e.zadd, 1, #e.zadd)
  local head = redis.call('ZRANGE', dkey, 0, 0)[1]
  if head and e.ids[head] then
    redis.call('PUBLISH', e.announce, e.ids[head] .. ' ' .. head)
  end
end
if #events > 0 then redis.call('PUBLISH', ARGV[2], joined(events)) end
return out
