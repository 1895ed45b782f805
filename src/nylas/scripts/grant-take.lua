-- Takes one request from a grant's budget (GCRA; serial budgets also mark it in flight).
-- KEYS: TAT, block, in-flight. ARGV: interval ms, burst, lease ms (0 = not serial).
-- Returns 0 when taken, else the ms until a take could first succeed (at least 1; nothing
-- taken). Requests of non-serial budgets that `run` makes take through grant-take-many.lua,
-- which also reserves tokens due soon.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local lease = tonumber(ARGV[3])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allowAt = tat - tolerance
if lease > 0 then
  local flight = tonumber(redis.call('GET', KEYS[3]) or '0')
  if flight > 0 then
    -- In flight until its settle (then at least one interval more) or its lease: poll by
    -- then, never later than one interval from now, so callers poll instead of giving up.
    local leaseLeft = flight - now
    local gcraLeft = allowAt - now
    if gcraLeft > leaseLeft then leaseLeft = gcraLeft end
    return math.max(1, math.min(interval, leaseLeft))
  end
end
local wait = allowAt - now
if wait > 0 then return wait end
local nextTat = tat + interval
redis.call('SET', KEYS[1], nextTat, 'PX', math.ceil(nextTat - now) + 1000)
if lease > 0 then redis.call('SET', KEYS[3], now + lease, 'PX', lease) end
return 0
