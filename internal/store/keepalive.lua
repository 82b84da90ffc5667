-- keepalive.lua: a daemon's heartbeat. It renews the leases of the tasks
-- the daemon runs, each only under the claim the daemon holds (the claim
-- token is the record's run field at the claim), and records the daemon's
-- sign of life and what it serves. A daemon that lost a claim (it froze
-- past its lease and another daemon re-claimed the task) renews nothing of
-- it and is told, so a lease always belongs to the current claim.
-- It is loaded with flags=allow-oom: it only moves scores of members that
-- exist and overwrites small values, so Redis runs it even when it is out
-- of memory, and a daemon whose other writes are refused keeps its tasks.
-- Leases expire by Redis's clock.
--
-- KEYS[1]       daemon set       {ns}:daemons (zset, score = last sign of life, ms)
-- KEYS[2]       daemon info      {ns}:daemon:ID (string, JSON)
--               (both only with a daemon id: a namespace of several
--               partitions keeps them in its home, "{ns}", whose call
--               renews no lease; each partition's renews its leases alone)
-- then per queue q = 1..Q: its lease set {ns}:lease:QUEUE
-- then per task, in ARGV order: its hash {ns}:t:ID
-- ARGV[1] lease, ms
-- ARGV[2] daemon id, or '' to renew leases alone
-- ARGV[3] daemon info JSON (queues, handlers, workers), or '' to keep it
-- ARGV[4] how long the info is kept, ms
-- ARGV[5] Q, the number of queues
-- ARGV[6] N, the number of tasks
-- ARGV[7] now by the daemon's estimate of Redis's clock, ms: the sign of
--         life of an idle daemon, which then costs Redis no TIME call
-- ARGV[8..] per task, 3 values: its queue's number q, id, claim token
-- Returns {now, lost...}: Redis's time in µs (0 when no task was renewed),
-- then the ids of the tasks whose claim the daemon no longer holds (another
-- claim took them). A task that finished under this claim is neither
-- renewed nor lost. A task whose record vanished (evicted, or deleted by
-- hand) is still this daemon's while it is in the lease set (nothing can
-- claim it again): its lease is renewed, and finish.lua writes the record
-- anew from its outcome; once a recovery took it out of the lease set, it
-- is lost.
local nq, n = tonumber(ARGV[5]), tonumber(ARGV[6])
local nowms, nowus = tonumber(ARGV[7]), 0
if n > 0 then nowms, nowus = clock() end
local d = 0 -- the keys before the lease sets
if ARGV[2] ~= '' then
  d = 2
  redis.call('ZADD', KEYS[1], int(nowms), ARGV[2])
  if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4]) end
end
local until_ms = int(nowms + tonumber(ARGV[1]))
local out, renew = {nowus}, {}
local a = 8
for i = 1, n do
  local q, id, token = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2]
  a = a + 3
  local cur = redis.call('HMGET', KEYS[d + nq + i], 'state', 'run')
  local mine = cur[2] == token
  if not cur[1] then -- its record vanished: it is ours while its lease is
    mine = redis.call('ZSCORE', KEYS[d + q], id) ~= false
  end
  if not mine then
    out[#out + 1] = id
  elseif cur[1] == 'running' or not cur[1] then
    renew[q] = renew[q] or {}
    table.insert(renew[q], until_ms)
    table.insert(renew[q], id)
  end
end
for q, zs in pairs(renew) do redis.call('ZADD', KEYS[d + q], 'XX', unpack(zs)) end
return out
