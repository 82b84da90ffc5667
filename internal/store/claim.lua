-- claim.lua: scheduled → running, for up to ARGV[2] due tasks of one queue.
-- The caller names candidates it saw at the head of the index. A candidate
-- that another worker claimed first, or that is no longer due, is skipped:
-- ZREM inside one script is what makes each claim exactly-once in the fleet.
-- Claiming an occurrence of a recurring task writes the occurrence of the
-- schedule's next slot in the same step, only if absent, so every slot fires
-- once however many daemons there are; a caller whose copy of the schedule
-- is out of date (another revision) is refused that candidate and told so.
--
-- "Now" is Redis's clock (TIME), whatever the caller's clock says, so no
-- daemon starts a task early or takes a lease that has not expired.
--
-- This file defines claim_batch, which the claim script calls with its
-- call's KEYS and ARGV and Redis's time (store.go), and finish_claim.lua
-- with its share of its own.
--
-- KEYS[1]   due index       {ns}:due:QUEUE
-- KEYS[2]   lease set       {ns}:lease:QUEUE (zset, score = lease deadline ms)
-- KEYS[3]   schedule set    {ns}:schedules
-- KEYS[4]   paused queues   {ns}:paused (set): a paused queue's claim takes nothing
-- KEYS[5..] per candidate, in ARGV order: a plain task: its hash {ns}:t:ID;
--           an occurrence: its hash, its schedule's hash {ns}:s:SID, the
--           next occurrence's hash, and the next occurrence's due index
-- ARGV[1] lease, ms
-- ARGV[2] most tasks to claim
-- ARGV[3] head entries to return
-- ARGV[4] number of candidates
-- ARGV[5] events channel
-- ARGV[6] the queue's name
-- ARGV[7] the claiming daemon's id, recorded as the task's daemon
-- ARGV[8] the names of the claiming daemon's handlers, each between
--         newlines ("\nNAME\nNAME\n"): it claims only tasks it can run
-- ARGV[9] how many more due entries than ARGV[3] to read: the due tasks
--         the caller knows it cannot run, to look past them
-- ARGV[10..] per candidate: id, kind ('t' plain, 'o' occurrence); for an
--           occurrence then: schedule revision, next occurrence id, its due
--           ms, its queue's announce channel, number F of field values, F
--           record fields and values of the next occurrence
-- Publishes one events message: a line "started ID QUEUE NAME" per task
-- claimed (or, given a table lines, adds those lines to it).
-- Returns {heads, stale, now, foreign, id, run, kind, fields, ...}, or,
-- when the queue is paused, {{''}, 'paused', now, {}}: heads
-- is the front of the index after the claim, {due, odd, next, next's due}:
-- due is the ids of the entries due by now, up to ARGV[3] + ARGV[9] of
-- them, in one string, separated by spaces (one reply value instead of two
-- per entry: building replies is most of a claim's cost), odd lists those
-- of them whose id holds a space (written by hand: they are claimed
-- as damaged records), and then, if they were all, the next entry not yet
-- due with its due time; stale lists the
-- occurrences refused for an out-of-date schedule; now is Redis's time in µs; foreign lists the
-- candidates whose handler the caller does not have (left due, for a daemon
-- that has it). Per task claimed: run is its claim token, and fields its
-- record as it was before the claim, which the caller brings up to date
-- (state running, started now, attempts + 1): patching the record here
-- costs Redis more than the caller. With kind 'f', fields are the values
-- of the fields a first attempt is read by (HMGET of claimFields, which Go
-- writes into this script). A record of an older format, of a task with parents (whose outcomes are fields
-- o:PARENT) or of a task that ran before (field attempts, with its errors
-- and recoveries) is read whole instead, and its kind is 'h' (HGETALL's
-- field, value pairs). A candidate whose record is gone (evicted, or
-- deleted by hand) is dropped from the index and returned with no fields;
-- the caller records it as failed (finish.lua), which tells its children.
-- A candidate whose key is not a hash (written by hand) is dropped from
-- the index and left alone: its kind is 'e' and fields is Redis's error.
-- A claim token too large to write back as digits is damage: it counts
-- as 0, so the record's own field fails to decode and the task is failed
-- under the new token.
--
-- The front is read without scores: turning a score into a reply inside a
-- script costs Redis more than all the rest of a claim. A candidate is due
-- when it is among the first max(ARGV[3], ARGV[4]) + ARGV[9] entries due
-- by now.
local function claim_batch(KEYS, ARGV, nowms, nowus, lines)
  if redis.call('SISMEMBER', KEYS[4], ARGV[6]) == 1 then return {{'', {}}, 'paused', nowus, {}} end
  local now = int(nowms)
  local want, nc = tonumber(ARGV[2]), tonumber(ARGV[4])
  local handlers, known = ARGV[8], {}
  -- has reports whether the claimer has the handler name (once per name).
  local function has(name)
    local k = known[name]
    if k == nil then
      k = string.find(handlers, '\n' .. name .. '\n', 1, true) ~= nil
      known[name] = k
    end
    return k
  end
  -- The record fields a claim reads of a first attempt are written into
  -- this script from Go (claimFields): a value in the script's text costs
  -- Redis nothing per call, one in ARGV a string to convert. The first six
  -- are v, name, attempts, run, pending and x (both tell a task with
  -- parents: pending is present, x starts with its parents, '{"p":'; a
  -- record of this build's format has no v).
  local cands = {}
  local a, k = 10, 5
  for i = 1, nc do
    local cd = {id = ARGV[a], kind = ARGV[a + 1], key = KEYS[k]}
    a, k = a + 2, k + 1
    if cd.kind == 'o' then
      cd.rev, cd.nid, cd.ndue, cd.nchan = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
      local nf = tonumber(ARGV[a + 4])
      cd.fa, cd.fb = a + 5, a + 4 + nf
      a = a + 5 + nf
      cd.skey, cd.nkey, cd.ndkey = KEYS[k], KEYS[k + 1], KEYS[k + 2]
      k = k + 3
    end
    cands[i] = cd
  end
  local window = math.max(tonumber(ARGV[3]), nc) + tonumber(ARGV[9])
  local front = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, window)
  local due = {}
  for _, id in ipairs(front) do due[id] = true end
  local out, taken, lease, stale, foreign, events = {false, false, nowus, false}, {}, {}, {}, false, {}
  local starts = {} -- per task claimed: its key, attempts and run before the claim
  local deadline = int(nowms + tonumber(ARGV[1])) -- written once: a number would be formatted per entry

  for _, cd in ipairs(cands) do
    if #taken >= want then break end
    local h = due[cd.id] and redis.pcall('HMGET', cd.key, 'CLAIM_FIELDS')
    local kind, name, attempts, run = 'f', nil, 0, 0
    if h and h.err then
      kind, h = 'e', h.err -- not a hash: dropped from the index, left for a person to see
    elseif h and (h[1] or h[3] or h[5] or not h[6] or string.byte(h[6], 3) == 112) then -- 112: p
      kind, h = 'h', redis.call('HGETALL', cd.key)
      for j = 1, #h, 2 do
        local f = h[j]
        if f == 'name' then
          name = h[j + 1]
        elseif f == 'attempts' then
          attempts = math.floor(tonumber(h[j + 1]) or 0)
        elseif f == 'run' then
          run = math.floor(tonumber(h[j + 1]) or 0)
        end
      end
    elseif h then
      name, run = h[2], math.floor(tonumber(h[4]) or 0)
    end
    if run >= 2 ^ 52 then run = 0 end -- damaged: a token must write back as digits
    local ok = h and true
    if name and name ~= '' and not has(name) then
      ok = false -- a task for a daemon that has its handler: it stays due
      foreign = foreign or {}
      foreign[#foreign + 1] = cd.id
    end
    if ok and kind ~= 'e' and #h > 0 and cd.kind == 'o' then
      local sc = redis.call('HMGET', cd.skey, 'state', 'rev')
      if sc[1] == 'active' and sc[2] ~= cd.rev then
        ok = false
        stale[#stale + 1] = cd.id
      elseif sc[1] == 'active' then
        if redis.call('EXISTS', cd.nkey) == 0 then
          redis.call('HSET', cd.nkey, unpack(ARGV, cd.fa, cd.fb))
          enter(cd.ndkey, cd.ndue, cd.nid, cd.nchan)
        end
        redis.call('HSET', cd.skey, 'next', cd.ndue, 'pending', cd.nid)
        redis.call('ZADD', KEYS[3], cd.ndue, string.match(cd.id, '^(.-)%-'))
      end
    end
    if ok then
      taken[#taken + 1] = cd.id
      due[cd.id] = false
      out[#out + 1] = cd.id
      out[#out + 1] = run + 1
      out[#out + 1] = kind
      out[#out + 1] = h
      if kind ~= 'e' and #h > 0 then
        events[#events + 1] = 'started ' .. cd.id .. ' ' .. ARGV[6] .. ' ' .. word(name)
        starts[#starts + 1] = {cd.key, attempts, run}
        lease[#lease + 1] = deadline
        lease[#lease + 1] = cd.id
      end
    end
  end
  -- The tasks are taken only now, and their leases entered first: a call
  -- that fails (a key of another type, written by hand, raises an error;
  -- Redis keeps what a script wrote before it) must not leave a task out
  -- of the due index and marked running without a lease, where nobody
  -- would ever run or recover it. Failing at the lease set, the claim has
  -- taken nothing; past it, a task is in the lease set, so its expiry
  -- re-queues it or, still scheduled, just drops the lease; the due
  -- index is left last, and ZREM of a key ZRANGE read cannot fail.
  if #lease > 0 then redis.call('ZADD', KEYS[2], unpack(lease)) end
  for _, st in ipairs(starts) do
    redis.call('HSET', st[1], 'state', 'running', 'started', now,
      'attempts', int(st[2] + 1), 'run', int(st[3] + 1), 'daemon', ARGV[7])
  end
  if #taken > 0 then redis.call('ZREM', KEYS[1], unpack(taken)) end
  local ahead, odd, limit = {}, {}, tonumber(ARGV[3]) + tonumber(ARGV[9])
  for _, id in ipairs(front) do
    if due[id] and #ahead + #odd < limit then
      if string.find(id, ' ', 1, true) then odd[#odd + 1] = id else ahead[#ahead + 1] = id end
    end
  end
  local heads = {table.concat(ahead, ' '), odd}
  if #front < window then
    local nxt = redis.call('ZRANGE', KEYS[1], '(' .. now, '+inf', 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
    if nxt[1] then
      heads[3] = nxt[1]
      heads[4] = nxt[2]
    end
  end
  if lines then
    for _, l in ipairs(events) do lines[#lines + 1] = l end
  elseif #events > 0 then
    redis.call('PUBLISH', ARGV[5], table.concat(events, '\n'))
  end
  out[1] = heads
  out[2] = stale
  out[4] = foreign or {}
  return out
end
