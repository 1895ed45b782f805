-- Takes tokens of a non-serial grant budget for requests that asked together (GCRA): the
-- same as one take per request at this instant, in one round trip.
-- KEYS: TAT, block. ARGV: interval ms, burst, count, reserve ms (a token due within this
-- long is taken now for then). Returns one number per request, in order: 0 when taken, -w
-- when taken for w ms from now, else the ms until a take could first succeed (nothing was
-- taken for that request nor for any after it).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local count = tonumber(ARGV[3])
local reserve = tonumber(ARGV[4])
local out = {}
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then
  for i = 1, count do out[i] = blocked - now end
  return out
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local taken = 0
for i = 1, count do
  local wait = tat - tolerance - now
  if wait > reserve then
    for j = i, count do out[j] = wait end
    break
  end
  tat = tat + interval
  taken = taken + 1
  if wait > 0 then out[i] = -wait else out[i] = 0 end
end
if taken > 0 then redis.call('SET', KEYS[1], tat, 'PX', math.ceil(tat - now) + 1000) end
return out
