-- prelude.lua: the functions the scripts share. Each script is loaded with
-- the ones it calls in front (newScript in script.go), so they run inside its
-- one atomic call; every key they touch comes from the caller's KEYS. Each
-- is a "local function NAME(" ... "end" at the start of a line, with its
-- comment above.

-- clock returns Redis's time in ms (the unit of every score and record
-- time) and in µs. Redis's clock decides what is due and which lease has
-- expired, whatever the clocks of the daemons say.
local function clock()
  local t = redis.call('TIME')
  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  return math.floor(us / 1000), us
end

-- int writes a number as an integer string, for scores and record fields.
local function int(n)
  return string.format('%d', n)
end

-- flag reports whether the sum of flags fl (each a power of two) holds f.
-- (Arithmetic: Lua 5.1 has no bit operators, nor every Redis a bit
-- library.)
local function flag(fl, f)
  return math.floor(fl / f) % 2 == 1
end

-- word returns s as a field of an events line ("KIND ID QUEUE NAME"), or
-- '?' when it is missing, empty or holds white space (a damaged record), so
-- that every line published parses.
local function word(s)
  if not s or s == '' or string.find(s, '%s') then return '?' end
  return s
end

-- given_back is a record's attempts field (a string, or nil for none
-- written: 1) with the attempt of a claim given back (a hand-back, a
-- recovery, a child stopped by its parents), never below 0.
local function given_back(attempts)
  return int(math.max((tonumber(attempts) or 1) - 1, 0))
end

-- is_final reports whether a task in state has finished: succeeded, failed
-- or canceled (tasks.State.Finished).
local function is_final(state)
  return state == 'succeeded' or state == 'failed' or state == 'canceled'
end

-- announce_head publishes "DUE ID" on channel when one of the entries just
-- added to due index dkey (dues maps each of their ids to its due time, as
-- written) is the index's head now: a loop waiting for an earlier head
-- needs no wake-up, and it learns of later tasks from the heads its next
-- claim returns. With n, it reads the index's first n entries with their
-- scores, and returns them, instead of the first alone.
local function announce_head(dkey, dues, channel, n)
  local front
  if n then
    front = redis.call('ZRANGE', dkey, 0, n - 1, 'WITHSCORES')
  else
    front = redis.call('ZRANGE', dkey, 0, 0)
  end
  local head = front[1]
  if head and dues[head] then redis.call('PUBLISH', channel, dues[head] .. ' ' .. head) end
  return front
end

-- enter adds id to due index dkey at due (ms, as written) and announces it
-- when it became the head (announce_head, which returns the first n entries).
local function enter(dkey, due, id, channel, n)
  redis.call('ZADD', dkey, due, id)
  return announce_head(dkey, {[id] = due}, channel, n)
end

-- due_time reads a new task's due time as submit.lua and workflow.lua are
-- given it (ms since the epoch, or -N for N ms from now) and returns it as
-- written: N ms after nowms, or the time given, but never before nowms
-- (created is nowms written).
local function due_time(due, nowms, created)
  local d = tonumber(due)
  if d <= 0 then
    return d == 0 and created or int(nowms - d)
  elseif d < nowms then
    return created
  end
  return due
end

-- attempt_errors returns the JSON list of a task's failed attempts' errors
-- (field aerr of its hash at key) with err added: the last 10, each cut to
-- 2,000 bytes.
local function attempt_errors(key, err)
  local list = {}
  local cur = redis.call('HGET', key, 'aerr')
  if cur then
    local ok, v = pcall(cjson.decode, cur)
    if ok and type(v) == 'table' then list = v end
  end
  list[#list + 1] = string.sub(err, 1, 2000)
  while #list > 10 do table.remove(list, 1) end
  return cjson.encode(list)
end

-- companion_done gives a finished task's companion key (comp: its
-- idempotency key, or its workflow's node map, or its own key again when it
-- has neither) its result TTL once the record at key has it: an
-- idempotency key expires with its record; a workflow's node map counts
-- its open nodes and expires ttl after the last one finishes.
local function companion_done(key, comp, ttl)
  if comp == key then return end
  if redis.call('TYPE', comp).ok ~= 'hash' then
    redis.call('PEXPIRE', comp, ttl)
  elseif redis.call('HINCRBY', comp, '#open', -1) <= 0 then
    redis.call('PEXPIRE', comp, ttl)
  end
end

-- companion_reopened undoes companion_done for a finished task that runs
-- again (retry.lua).
local function companion_reopened(key, comp)
  if comp == key then return end
  if redis.call('TYPE', comp).ok == 'hash' then redis.call('HINCRBY', comp, '#open', 1) end
  redis.call('PERSIST', comp)
end

-- joined returns the lines of t joined by newlines, 500 at a time: one
-- table.concat of thousands overflows the embedded Redis's Lua registry.
local function joined(t)
  if #t <= 500 then return table.concat(t, '\n') end
  local parts = {}
  for i = 1, #t, 500 do
    parts[#parts + 1] = table.concat(t, '\n', i, math.min(#t, i + 499))
  end
  return table.concat(parts, '\n')
end

-- slice returns t[i..j] as a table of its own (a loop: unpack takes only
-- about 8000 values), for a script that hands parts of its KEYS and ARGV
-- to the functions of two scripts (finish_claim.lua).
local function slice(t, i, j)
  local s = {}
  for n = i, j do s[#s + 1] = t[n] end
  return s
end

-- chunked calls cmd on key with t[i..j], 1000 values at a time: Lua's unpack
-- takes only about 8000 (an even size keeps field/value pairs together).
local function chunked(cmd, key, t, i, j)
  while i <= j do
    local k = math.min(j, i + 999)
    redis.call(cmd, key, unpack(t, i, k))
    i = k + 1
  end
end


-- A finished task's outcome reaches each child that still waits for it: it
-- is stored in the child as field o:PARENT_ID, the child's pending count
-- goes down, and the child enters its queue's timing index (announced when
-- it is the new head) once the count reaches zero -- or at once when the
-- outcome dooms it (doomed): a parent that failed or was canceled, unless
-- the child's on_parent_failure is run, which waits for every parent
-- however it ended. The worker that claims a doomed child fails or cancels
-- it without running it, and its own children follow in turn.
-- Nothing else wakes any loop: a parent finishing releases no one else.

-- doomed reports whether a parent's final state stops a child with
-- on_parent_failure opf ('run', 'skip', or '' or nil for the default,
-- fail) from running. It is the Lua of deps.Verdict, which decides how the
-- child then ends: a parent that failed or was canceled stops it unless
-- opf is run (TestDoomedAgreesWithVerdict runs both on every pair).
local function doomed(state, opf)
  return (state == 'canceled' or state == 'failed') and opf ~= 'run'
end

-- counts_kids reports whether a record of format v counts its children in
-- field kids, absent meaning none (transport.CountsKids: formats 2, 3 and 4,
-- whose records have no v).
local function counts_kids(v)
  return not v or v == '2' or v == '3' or v == '4'
end

-- kids_changed reports whether a task's children list no longer holds the
-- n entries the caller passed keys for, from keys[first] on (two per
-- child, its record's first: release); the caller then retries with the
-- keys of the current list.
-- count and v are the record's kids and v fields as HMGET read them (false
-- when absent), or nil when the caller did not read them: a record of
-- format 2, 3 or 4 counts its children (no field: none), which saves
-- reading the list; the list of a format 1 record is read, and so it is
-- when the caller read neither field.
-- A count that disagrees with n is checked against the list, which is
-- what holds: a list that lost entries (evicted, or trimmed by hand) would
-- otherwise never match its count, and the task never finish. The list is
-- checked entry by entry, not only by its length: one evicted and then
-- given a new child can hold as many entries as the caller knew, of other
-- children, whose outcomes release would then write through the keys of
-- those it lost.
local function kids_changed(kids, n, count, v, keys, first)
  if count ~= nil then
    local c = tonumber(count)
    if c == n then return false end
    if not c and not count and counts_kids(v) and n == 0 then return false end
  end
  -- Another count, a damaged one, or none read: read the list.
  local entries = redis.call('LRANGE', kids, 0, -1)
  if #entries ~= n then return true end
  for i, e in ipairs(entries) do
    local id = '}:t:' .. (string.match(e, '^[^ ]* (.*)$') or '') -- as Keys.childKeys names its record
    if string.sub(e, 1, 1) == '@' then id = '}:outbox' end -- a child of another partition
    local key = keys[first + 2 * i - 2]
    if not key or string.sub(key, -#id) ~= id then return true end
  end
  return false
end

-- may_have_kids reports whether a record whose kids and v fields are count
-- and v may have children: it counts some, its count is damaged, or its
-- format does not count them (format 1).
local function may_have_kids(count, v)
  if count then return tonumber(count) ~= 0 end
  return not counts_kids(v)
end

-- kid_added counts a child added to the children list of the record at
-- key, when the record keeps that count (formats 2 and 3).
local function kid_added(key)
  local c = redis.call('HMGET', key, 'kids', 'v')
  if c[1] or counts_kids(c[2]) then redis.call('HSET', key, 'kids', int((tonumber(c[1]) or 0) + 1)) end
end

-- outcome returns a finished parent's outcome as its children read it
-- (tasks.Outcome): JSON {id, name, state, result, error}, with a missing or
-- empty result as null, and a missing name or error as "".
local function outcome(pid, name, state, result, err)
  return '{"id":' .. cjson.encode(pid) .. ',"name":' .. cjson.encode(name or '') ..
    ',"state":"' .. state .. '","result":' .. ((result and result ~= '') and result or 'null') ..
    ',"error":' .. cjson.encode(err or '') .. '}'
end

-- hand_over gives child cid of queue q, whose record is at ch and whose
-- queue's due index is cdue, its parent pid's outcome o (JSON, as built by
-- function outcome), the
-- parent having ended in state: a waiting child records it, and enters
-- the index once no parent is pending or this one dooms it. With once, a
-- child that already holds pid's outcome is left alone: a delivery from
-- another partition may come twice, and a parent retried and finished
-- again finds its children holding its first outcome. It reports whether
-- the child took it.
local function hand_over(ch, cdue, waiting, announce, q, cid, pid, state, o, now, once)
  local c = redis.call('HMGET', ch, 'state', 'opf', 'due', 'pending', 'o:' .. pid)
  if c[1] ~= 'waiting' or (once and c[5]) then return false end
  local left = (tonumber(c[4]) or 1) - 1
  redis.call('HSET', ch, 'o:' .. pid, o, 'pending', int(math.max(left, 0)))
  local stop = doomed(state, c[2])
  if left <= 0 or stop then
    local due = tonumber(c[3]) or now
    if stop or due < now then due = now end
    due = string.format('%d', due)
    redis.call('HSET', ch, 'state', 'scheduled', 'due', due)
    redis.call('ZREM', waiting, cid)
    enter(cdue, due, cid, announce .. q)
  end
  return true
end

-- release hands a finished parent's outcome to its children. first is the
-- index in keys (the calling script's KEYS) of the first child's keys: two
-- per child, in the list's order, its record and its queue's due index.
-- A child of another partition (an entry "@QUEUE ID") has instead the
-- partition's outbox and outbox data as its keys: the delivery is
-- recorded there, an entry "D QUEUE ID PARENT" (OutboxEntry) and its data,
-- "STATE OUTCOME", and deliver.lua applies it in the child's partition. A
-- parent retried and finished again records nothing new while its first
-- delivery waits: the first outcome is the one children get.
local function release(keys, kids, first, waiting, announce, pid, name, state, result, err, now)
  local o = outcome(pid, name, state, result, err)
  local entries = redis.call('LRANGE', kids, 0, -1)
  for i, e in ipairs(entries) do
    local q, cid = string.match(e, '^(%S+) (%S+)$')
    local ch, cdue = keys[first + 2 * i - 2], keys[first + 2 * i - 1]
    if q and string.sub(q, 1, 1) == '@' then
      local m = 'D ' .. string.sub(q, 2) .. ' ' .. cid .. ' ' .. pid
      redis.call('ZADD', ch, 'NX', int(now), m)
      redis.call('HSETNX', cdue, m, state .. ' ' .. o)
    elseif q then
      hand_over(ch, cdue, waiting, announce, q, cid, pid, state, o, now, true)
    end
  end
end

-- A task ends the same way whichever script ends it (finish.lua,
-- cancel.lua, recover.lua), as one of the batch of tasks its call ends:
-- ended makes the batch, finalize ends each task, and flush_ended writes
-- the batch's finished sets and its events message.

-- ended returns a batch for the tasks a call ends at nowms (Redis's time,
-- ms): their records, companion keys and children lists expire ttl ms
-- later, and their children are released through the waiting set and the
-- announce channel prefix ({ns}:announce:); keys is the caller's KEYS, which
-- the indexes finalize is given refer to.
local function ended(nowms, ttl, waiting, announce, keys)
  return {nowms = nowms, now = int(nowms), ttl = ttl, waiting = waiting, announce = announce, keys = keys,
    sets = {}, done = {}, lines = {}}
end

-- final_fields returns the start of the fields finalize writes: the state
-- and the finish time of batch b; the caller adds its own pairs to it.
local function final_fields(b, state)
  return {'state', state, 'finished', b.now}
end

-- finalize ends task id of queue, named name (both as events lines write
-- them: word() of what a record holds), in state (succeeded, failed or
-- canceled) as one of batch b: its record at key gets the field, value
-- pairs of f (final_fields and the caller's own) and its result TTL; its
-- companion key comp is done with it (companion_done); its nk children,
-- whose keys start at KEYS[first], get its outcome (result and err) and
-- its children list kids the TTL; and flush_ended adds it to done, the
-- finished set of its state, and a line "STATE ID QUEUE NAME" to the
-- events message.
local function finalize(b, key, comp, kids, first, nk, id, queue, name, state, done, f, result, err)
  redis.call('HSET', key, unpack(f))
  redis.call('PEXPIRE', key, b.ttl)
  companion_done(key, comp, b.ttl)
  if nk > 0 then
    release(b.keys, kids, first, b.waiting, b.announce, id, name, state, result, err, b.nowms)
    redis.call('PEXPIRE', kids, b.ttl)
  end
  local zs = b.done[done]
  if not zs then
    zs = {}
    b.done[done] = zs
    b.sets[#b.sets + 1] = done
  end
  zs[#zs + 1] = b.now
  zs[#zs + 1] = id
  b.lines[#b.lines + 1] = state .. ' ' .. id .. ' ' .. queue .. ' ' .. name
end

-- flush_ended adds the tasks of batch b to their finished sets (score: the
-- finish time) and publishes its events message on channel, when b ended
-- any task; given a table lines, it adds the message's lines to it
-- instead, for a caller that publishes one message for several steps.
local function flush_ended(b, channel, lines)
  for _, set in ipairs(b.sets) do redis.call('ZADD', set, unpack(b.done[set])) end
  if lines then
    for _, l in ipairs(b.lines) do lines[#lines + 1] = l end
  elseif #b.lines > 0 then
    redis.call('PUBLISH', channel, table.concat(b.lines, '\n'))
  end
end
