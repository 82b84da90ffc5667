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
-- KEYS[3..2+Q] per queue q = 1..Q: its due index {ns}:due:QUEUE (zset,
--         score = due ms)
-- then per task, in ARGV order: its hash {ns}:t:ID, its idempotency key
--         {ns}:key:KEY when it has one, then per parent of its partition,
--         in ARGV order: its hash {ns}:t:PARENT, its children list
--         {ns}:kids:PARENT, then the partition's outbox {ns}:outbox when it
--         has parents in other partitions
-- ARGV[1] N, the number of tasks
-- ARGV[2] events channel
-- ARGV[3] announce channel prefix ({ns}:announce:)
-- ARGV[4] Q, the number of queues
-- ARGV[5..4+2Q] per queue: its name, and '1' when it may be missing from
--         the queue set else '0' (added with the first task of it the call
--         creates)
-- ARGV[5+2Q..] per task, 6 values and then its parent ids: id, due time
--         (ms since the epoch, or -N for N ms from now), its queue's number
--         q, task name, its record's field x (the parts that never change,
--         transport.EncodeImmutableOpen) without its closing brace (the
--         script adds the due and creation times), and '' for a task
--         without parents, idempotency key or on_parent_failure, else
--         "P OPF KEY" or "P+R OPF KEY": P parents of this partition and R
--         of others, on_parent_failure ('-' for the default, fail) and the
--         key (the rest, '' for none); the P ids and then the R ids
--         follow. What most tasks share is left out: every value costs
--         Redis a string to parse.
-- A parent of another partition counts as pending: the task's outbox
-- gets an entry "L QUEUE ID PARENT" (OutboxEntry), which the submitter
-- then completes (link.lua, in the parent's partition), or, if it dies
-- first, any daemon.
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
local out, events, listed = {nowus}, {}, {}
local nq = tonumber(ARGV[4])
local a, k = 5 + 2 * nq, 3 + nq
for _ = 1, tonumber(ARGV[1]) do
  local id, due, q, name, x, extra = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local np, nr, opf, ikey = 0, 0, '', ''
  if extra ~= '' then
    local p, r, o, kk = string.match(extra, '^(%d+)%+?(%d*) (%S+) (.*)$')
    np, nr, opf, ikey = tonumber(p), tonumber(r) or 0, o == '-' and '' or o, kk
  end
  local queue, newQueue, dkey = ARGV[3 + 2 * q], ARGV[4 + 2 * q], KEYS[2 + q]
  local pa = a + 6 -- parent ids: ARGV[pa .. pa + np - 1]
  due = due_time(due, nowms, created)
  local key, idem = KEYS[k], KEYS[k]
  k = k + 1
  if ikey ~= '' then idem, k = KEYS[k], k + 1 end
  local pk = k
  local ra, outbox = pa + np, KEYS[pk + 2 * np] -- its parents of other partitions, and the outbox
  a, k = ra + nr, pk + 2 * np + (nr > 0 and 1 or 0)

  local first = ikey ~= '' and redis.call('GET', idem)
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
      if is_final(st) then
        outcomes[#outcomes + 1] = 'o:' .. pid
        outcomes[#outcomes + 1] = outcome(pid, p[2], st, p[3], p[4])
        if doomed(st, opf) then stop = true end
      else
        pending = pending + 1
      end
    end
    pending = pending + nr
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
    if ikey ~= '' then
      redis.call('SET', idem, id)
      redis.call('HSET', key, 'key', ikey)
    end
    local state = 'scheduled'
    if stop then
      due = created
    elseif pending > 0 then
      state = 'waiting'
    end
    redis.call('HSET', key, 'name', name, 'queue', queue, 'state', state, 'x', x .. ',"d":' .. due .. ',"c":' .. created .. '}')
    if opf ~= '' then redis.call('HSET', key, 'opf', opf) end
    if np + nr > 0 then
      redis.call('HSET', key, 'pending', pending, 'due', due) -- a release reads the due field
      chunked('HSET', key, outcomes, 1, #outcomes)
    end
    for i = 1, np do
      local kids = KEYS[pk + 2 * i - 1]
      redis.call('RPUSH', kids, queue .. ' ' .. id)
      kid_added(KEYS[pk + 2 * i - 2])
      local ttl = redis.call('PTTL', KEYS[pk + 2 * i - 2])
      if ttl > 0 then redis.call('PEXPIRE', kids, ttl) end -- a finished parent's list expires with it
    end
    if not stop then
      for i = 1, nr do redis.call('ZADD', outbox, created, 'L ' .. queue .. ' ' .. id .. ' ' .. ARGV[ra + i - 1]) end
    end
    if newQueue == '1' and not listed[queue] then
      redis.call('SADD', KEYS[1], queue)
      listed[queue] = true
    end
    if state == 'waiting' then
      redis.call('ZADD', KEYS[2], created, id)
    else
      index(dkey, ARGV[3] .. queue, due, id)
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
  announce_head(dkey, e.ids, e.announce)
end
if #events > 0 then redis.call('PUBLISH', ARGV[2], joined(events)) end
return out
