-- workflow.lua: a whole graph of new tasks enters at once, validated before
-- (deps.Workflow): roots → scheduled (into their queue's index, announced
-- when they become its head), the others → waiting with their pending
-- parent counts, every parent's children list, and the workflow's node map
-- (node name → task id, and "#open", the nodes not finished yet).
--
-- KEYS[1] queue set          {ns}:queues
-- KEYS[2] waiting set        {ns}:waiting
-- KEYS[3] node map           {ns}:wf:WID
-- KEYS[3i+1..3i+3] per node i: its hash {ns}:t:ID, its queue's due index
--                {ns}:due:QUEUE, its children list {ns}:kids:ID
-- ARGV[1] number of nodes
-- ARGV[2] announce channel prefix ({ns}:announce:)
-- ARGV[3] events channel
-- ARGV[4..] per node: id, node name, queue, task name, state (scheduled or
--           waiting), due time (ms since the epoch, or -N for N ms from
--           now), number of field values F, F record fields and values, of
--           which the last two pairs are due and created with values the
--           script fills in, number of children C, C entries "QUEUE ID"
-- Creation and relative due times are Redis's clock; a waiting node is
-- scored by its creation time.
-- Publishes one events message: a line "queued ID QUEUE NAME" per node.
-- Returns the number of tasks written.

local nowms = clock()
local created = int(nowms)
local n, a, events, nodes = tonumber(ARGV[1]), 4, {}, {'#open', tonumber(ARGV[1])}
for i = 1, n do
  local id, node, q, name, st, due = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local nf = tonumber(ARGV[a + 6])
  a = a + 7
  nodes[#nodes + 1] = node
  nodes[#nodes + 1] = id
  due = due_time(due, nowms, created)
  local score = st == 'waiting' and created or due
  events[#events + 1] = 'queued ' .. id .. ' ' .. q .. ' ' .. name
  ARGV[a + nf - 3], ARGV[a + nf - 1] = due, created
  redis.call('HSET', KEYS[3 * i + 1], unpack(ARGV, a, a + nf - 1))
  a = a + nf
  local nk = tonumber(ARGV[a])
  a = a + 1
  chunked('RPUSH', KEYS[3 * i + 3], ARGV, a, a + nk - 1)
  a = a + nk
  redis.call('SADD', KEYS[1], q)
  if st == 'waiting' then
    redis.call('ZADD', KEYS[2], score, id)
  else
    enter(KEYS[3 * i + 2], score, id, ARGV[2] .. q)
  end
end
chunked('HSET', KEYS[3], nodes, 1, #nodes)
if #events > 0 then redis.call('PUBLISH', ARGV[3], joined(events)) end
return n
