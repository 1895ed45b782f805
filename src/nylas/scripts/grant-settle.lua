-- The request that took a token of a serial budget has answered.
-- KEYS: TAT, in-flight. ARGV: interval ms. Clears the in-flight mark and sets
-- TAT = max(TAT, ceil(now) + interval). Returns 1 if a mark was cleared (0: its lease lapsed).
local t = redis.call('TIME')
local nowFloor = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowCeil = tonumber(t[1]) * 1000 + math.ceil(tonumber(t[2]) / 1000)
local cleared = redis.call('DEL', KEYS[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local nextTat = math.max(tat, nowCeil + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], nextTat, 'PX', math.ceil(nextTat - nowFloor) + 1000)
return cleared
