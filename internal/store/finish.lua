-- finish.lua: running → succeeded | failed | canceled (the final attempt, or
-- a doomed child finished without running), for one or more tasks in one
-- call: a daemon's loops share it, so a batch of completions costs one
-- script call. Only the worker holding the current claim may finish a task:
-- a worker whose lease expired, or whose task was canceled, is refused and
-- changes nothing for that task. The outcome reaches the task's children
-- (prelude.lua); the record, its children list and its companion key (its
-- idempotency key, or its workflow's node map once every node finished)
-- then expire after the result TTL.
--
-- This file defines finish_batch, which the finish script calls with its
-- call's KEYS and ARGV and Redis's time (store.go), and finish_claim.lua
-- with its share of its own; given a table lines, it adds its events lines
-- to it instead of publishing them.
--
-- KEYS[1]       waiting set        {ns}:waiting
-- KEYS[2..4]    finished sets      {ns}:done:succeeded, {ns}:done:failed,
--                                  {ns}:done:canceled (zsets, score = finish ms)
-- KEYS[5..4+2Q] per queue q = 1..Q: its due index {ns}:due:QUEUE (only read,
--               for the heads), then its lease set {ns}:lease:QUEUE
-- then per task, in ARGV order: its hash {ns}:t:ID; its companion key
--               (its idempotency key {ns}:key:KEY or its workflow's node
--               map {ns}:wf:WID) when it has one; its children list
--               {ns}:kids:ID when the caller passes it (the task may have
--               children), then per child the caller passed, in list
--               order: the child's hash, its queue's due index
-- ARGV[1] result TTL, ms
-- ARGV[2] head entries to return per queue, or 0 for none (the caller
--         claims from the queue in the same round trip and learns them there)
-- ARGV[3] events channel
-- ARGV[4] announce channel prefix ({ns}:announce:)
-- ARGV[5] Q, the number of queues
-- ARGV[6] N, the number of tasks
-- ARGV[7..6+Q] the queue names, in queue order
-- ARGV[7+Q..] per task, one value "q RUN STATE FLAGS C NAME ID" and then
--           its result JSON and its error when FLAGS says they follow: its
--           queue's number q, claim token (the record's run field at the
--           claim), new state, FLAGS (a sum of finishFlag* in finish.go),
--           the number of children C the caller passed keys for, task
--           name (as events lines write it) and id (the rest: an id
--           written by hand may hold spaces). What most finishes share
--           (no result or null, no error, no companion key, no children)
--           is a flag rather than a value: a value read from ARGV costs
--           Redis about what a value cut out of a string does, and the
--           caller builds and sends fewer.
-- The finish time is Redis's clock.
-- Publishes one events message for the call: a line "STATE ID QUEUE
-- NAME" per task finished.
-- Returns {heads of queue 1, ..., heads of queue Q, status of task 1, ...,
-- status of task N}. Heads are each due index's first ARGV[2] entries
-- ({id, score, ...}; none when ARGV[2] is 0). A status is 1 finished; 2 already final under this
-- claim (an earlier try of the same call, or a cancel) and left alone; 0
-- refused (the claim is lost); 3 finished, but its record had vanished
-- (evicted, or deleted by hand) and was written anew from the outcome; 4
-- left alone: it has children, but the caller did not pass its children
-- list (call again with it); or, when the task's children list no longer
-- holds C entries, that list: call again for that task with its keys.
local function finish_batch(KEYS, ARGV, nowms, lines)
  local nh = tonumber(ARGV[2])
  local nq, n = tonumber(ARGV[5]), tonumber(ARGV[6])
  local b = ended(nowms, ARGV[1], KEYS[1], ARGV[4], KEYS)
  local doneKeys = {succeeded = KEYS[2], failed = KEYS[3], canceled = KEYS[4]}
  local leased, status = {}, {}
  local a, k = 7 + nq, 5 + 2 * nq
  for i = 1, n do
    local q, run, state, fl, nk, name, id = string.match(ARGV[a], '^(%d+) (%d+) (%a+) (%d+) (%d+) (%S+) (.*)$')
    q, fl, nk = tonumber(q), tonumber(fl), tonumber(nk)
    local clear, ran = flag(fl, 1), flag(fl, 2)
    local result, err = '', ''
    a = a + 1
    if flag(fl, 16) then
      result, a = ARGV[a], a + 1
    elseif flag(fl, 32) then
      result = 'null'
    end
    if flag(fl, 64) then err, a = ARGV[a], a + 1 end
    local key, comp, kids = KEYS[k], KEYS[k], false
    k = k + 1
    if flag(fl, 4) then comp, k = KEYS[k], k + 1 end
    if flag(fl, 8) then kids, k = KEYS[k], k + 1 end
    local first = k
    k = k + 2 * nk
    local cur = redis.call('HMGET', key, 'state', 'run', 'kids', 'v')
    local vanished = not cur[1]
    if vanished then cur = {'running', run, false, '1'} end -- its count of children is gone: measure the list
    if cur[2] ~= run or (cur[1] ~= 'running' and not is_final(cur[1])) then
      status[i] = 0
    elseif cur[1] ~= 'running' then
      status[i] = 2
    elseif not kids and may_have_kids(cur[3], cur[4]) then
      status[i] = 4
    elseif kids and kids_changed(kids, nk, cur[3], cur[4], KEYS, first) then
      status[i] = redis.call('LRANGE', kids, 0, -1)
    else
      if vanished then
        -- Its record is gone: keep what is known, the outcome, so the task
        -- does not disappear and its children still hear of it. Written only
        -- here, so a call told to come back with its children finds it gone
        -- again and says so.
        -- A task finished without running (its record vanished before its
        -- claim) has its reason in err already.
        redis.call('HSET', key, 'v', '1', 'name', name, 'args', 'null', 'queue', ARGV[6 + q], 'run', run)
        if ran then
          err = (err ~= '' and err .. '; ' or '') .. 'its record vanished from Redis while it ran (evicted, or deleted by hand): only its outcome was kept'
        end
      end
      local f = final_fields(b, state)
      if result ~= '' then f[#f + 1] = 'result'; f[#f + 1] = result end
      if err ~= '' then f[#f + 1] = 'error'; f[#f + 1] = err end
      if ran and state == 'failed' then f[#f + 1] = 'aerr'; f[#f + 1] = attempt_errors(key, err) end
      if err == '' and clear then redis.call('HDEL', key, 'error') end
      if not ran and not vanished then -- undo the claim's attempt and start
        redis.call('HSET', key, 'attempts', given_back(redis.call('HGET', key, 'attempts')))
        redis.call('HDEL', key, 'started', 'daemon')
      end
      finalize(b, key, comp, kids, first, nk, id, ARGV[6 + q], name, state, doneKeys[state], f, result, err)
      local l = leased[q] or {}
      leased[q] = l
      l[#l + 1] = id
      status[i] = vanished and 3 or 1
    end
  end
  for q, ids in pairs(leased) do redis.call('ZREM', KEYS[4 + 2 * q], unpack(ids)) end
  flush_ended(b, ARGV[3], lines)
  local out = {}
  for q = 1, nq do out[q] = nh > 0 and redis.call('ZRANGE', KEYS[3 + 2 * q], 0, nh - 1, 'WITHSCORES') or {} end
  for i = 1, n do out[nq + i] = status[i] end
  return out
end
