-- link.lua: a child of another partition is linked to its parent here,
-- completing an outbox entry "L QUEUE CHILD PARENT" of the child's
-- partition (submit.lua wrote it): the child joins the parent's children
-- list as "@QUEUE CHILD", so the parent's finish records a delivery for
-- it in this partition's outbox, or, when the parent has finished
-- already, its outcome is returned, for deliver.lua to hand over in the
-- child's partition. Linking twice adds the child once.
--
-- KEYS[1] parent hash          {ns}:t:PARENT
-- KEYS[2] parent's children    {ns}:kids:PARENT
-- ARGV[1] parent id
-- ARGV[2] the children list's entry, "@QUEUE CHILD"
-- Returns {} once the child is on the list, or {STATE, OUTCOME} when the
-- parent has finished: its state and outcome (the outcome of a failure
-- when its record is gone: expired, evicted, or deleted by hand).
local p = redis.call('HMGET', KEYS[1], 'state', 'name', 'result', 'error')
if not p[1] then
  return {'failed', outcome(ARGV[1], '', 'failed', nil,
    'its record was gone from Redis when this task was linked to it (expired, evicted, or deleted by hand)')}
end
if is_final(p[1]) then return {p[1], outcome(ARGV[1], p[2], p[1], p[3], p[4])} end
if not redis.call('LPOS', KEYS[2], ARGV[2]) then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  kid_added(KEYS[1])
end
return {}
