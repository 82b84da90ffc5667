-- chunked.lua: shared by the scripts that write many values with one
-- command (submit, workflow), which are each loaded with this text in front.
-- chunked calls cmd on key with t[i..j], 1000 values at a time: Lua's unpack
-- takes only about 8000 (an even size keeps field/value pairs together).
local function chunked(cmd, key, t, i, j)
  while i <= j do
    local k = math.min(j, i + 999)
    redis.call(cmd, key, unpack(t, i, k))
    i = k + 1
  end
end

