-- GCRA rate limiter: one key, one round trip, Redis's clock, all arithmetic in integer
-- microseconds (exact in a Lua double up to 2^53). Adapted from go-redis/redis_rate
-- (BSD-2-Clause), itself from rwz/redis-gcra.
-- KEYS[1]: the limiter key, hash-tagged (rl:{k<key id>} or rl:{ip:<address>})
-- ARGV[1]: burst (requests the full bucket holds)
-- ARGV[2]: emission interval in microseconds (period / rate, rounded up)
-- ARGV[3]: optional "peek": decide as if for one request but write nothing
-- Returns {allowed 0/1, remaining, retry_after_us, reset_after_us, now_epoch_us}.
-- A denied request writes nothing, so it does not consume quota.
local key = KEYS[1]
local burst = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])

local t = redis.call("TIME")
-- Shifted to 2017-01-01 so the stored theoretical arrival time (TAT) stays short.
local now = (tonumber(t[1]) - 1483228800) * 1000000 + tonumber(t[2])
local now_epoch = tonumber(t[1]) * 1000000 + tonumber(t[2])

local tat = tonumber(redis.call("GET", key)) or now
if tat < now then
  tat = now
end

local new_tat = tat + interval
local diff = now - (new_tat - burst * interval)

if diff < 0 then
  return {0, 0, -diff, tat - now, now_epoch}
end

local reset_after = new_tat - now
if ARGV[3] == "peek" then
  return {1, math.floor(diff / interval), 0, tat - now, now_epoch}
end
redis.call("SET", key, string.format("%.0f", new_tat), "PX", math.ceil(reset_after / 1000))
return {1, math.floor(diff / interval), 0, reset_after, now_epoch}
