-- children.lua: shared by the scripts that finish a task (finish, cancel,
-- recover), which are each loaded with this text in front, so it runs inside
-- their one atomic call. Every key it touches comes from the caller's KEYS.
--
-- A finished task's outcome reaches each child that still waits for it: it
-- is stored in the child as field o:PARENT_ID, the child's pending count
-- goes down, and the child enters its queue's timing index (announced when
-- it is the new head) once the count reaches zero -- or at once when the
-- outcome dooms it: a canceled parent, or a failed one under
-- on_parent_failure fail or skip. The worker that claims a doomed child fails
-- or cancels it without running it, and its own children follow in turn.
-- Nothing else wakes any loop: a parent finishing releases no one else.

-- kids_changed reports whether a task's children list no longer holds n
-- entries; the caller then retries with the keys of the current list.
local function kids_changed(kids, n)
  return redis.call('LLEN', kids) ~= n
end

-- release hands a finished parent's outcome to its children. first is the
-- KEYS index of the first child's keys: two per child, in the list's order,
-- its record and its queue's due index.
local function release(kids, first, waiting, announce, pid, name, state, result, err, now)
  local outcome = '{"id":' .. cjson.encode(pid) .. ',"name":' .. cjson.encode(name) ..
    ',"state":"' .. state .. '","result":' .. ((result and result ~= '') and result or 'null') ..
    ',"error":' .. cjson.encode(err or '') .. '}'
  local entries = redis.call('LRANGE', kids, 0, -1)
  for i, e in ipairs(entries) do
    local q, cid = string.match(e, '^(%S+) (%S+)$')
    local ch, cdue = KEYS[first + 2 * i - 2], KEYS[first + 2 * i - 1]
    local c = redis.call('HMGET', ch, 'state', 'opf', 'due')
    if q and c[1] == 'waiting' then
      redis.call('HSET', ch, 'o:' .. pid, outcome)
      local left = redis.call('HINCRBY', ch, 'pending', -1)
      local doomed = state == 'canceled' or (state == 'failed' and c[2] ~= 'run')
      if left <= 0 or doomed then
        local due = tonumber(c[3]) or now
        if doomed or due < now then due = now end
        due = string.format('%d', due)
        redis.call('HSET', ch, 'state', 'scheduled', 'due', due)
        redis.call('ZREM', waiting, cid)
        redis.call('ZADD', cdue, due, cid)
        if redis.call('ZRANGE', cdue, 0, 0)[1] == cid then
          redis.call('PUBLISH', announce .. q, due .. ' ' .. cid)
        end
      end
    end
  end
end

