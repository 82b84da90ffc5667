-- partitions.lua: records a namespace's number of partitions in its home,
-- unless another process changed it since the caller read it, or it would
-- change while a daemon of the namespace is alive (its daemons serve the
-- partitions they counted). The caller checked that the namespace holds no
-- tasks before asking for a change.
--
-- KEYS[1] the number             {ns}:partitions (string)
-- KEYS[2] daemon set             {ns}:daemons (zset, score = last sign of life, ms)
-- ARGV[1] the number the caller read, or '' for none
-- ARGV[2] the number to record
-- ARGV[3] how recent a sign of life makes a daemon alive, ms
-- Returns 'ok' once recorded; 'changed' when the number is not ARGV[1]
-- any more (read it again); 'live' when a number recorded would change
-- while a daemon was seen within ARGV[3] ms. With none recorded (a new
-- namespace, or one whose Redis lost it: a restart without persistence)
-- the caller's is recorded: the daemons alive record theirs again.
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return 'changed' end
if cur ~= '' and cur ~= ARGV[2] then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if redis.call('ZCOUNT', KEYS[2], now - tonumber(ARGV[3]), '+inf') > 0 then return 'live' end
end
redis.call('SET', KEYS[1], ARGV[2])
return 'ok'
