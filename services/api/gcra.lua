-- GCRA rate limiter: one key, one round trip, Redis's clock, all arithmetic in integer
-- microseconds (exact in a Lua double up to 2^53). Adapted from go-redis/redis_rate
-- (BSD-2-Clause), itself from rwz/redis-gcra.
-- KEYS[1]: the limiter key, hash-tagged (rl:{k<key id>} or rl:{ip:<address>})
-- ARGV[1]: burst (requests the full bucket holds)
-- ARGV[2]: emission interval in microseconds (period / rate, rounded up)
-- ARGV[3]: optional: a count n of requests to decide one after the other (default 1; a process
--          coalesces the hits of one bucket within one event-loop tick)
-- Returns {now_epoch_us, then per request: allowed 0/1, remaining, retry_after_us, reset_after_us},
-- exactly what n single calls at the same Redis TIME would return.
-- A denied request writes nothing, so it does not consume quota.
local key = KEYS[1]
local burst = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local count = tonumber(ARGV[3] or "1")

local t = redis.call("TIME")
-- Shifted to 2017-01-01 so the stored theoretical arrival time (TAT) stays short.
local now = (tonumber(t[1]) - 1483228800) * 1000000 + tonumber(t[2])
local reply = {tonumber(t[1]) * 1000000 + tonumber(t[2])}

local tat = tonumber(redis.call("GET", key)) or now
if tat < now then
  tat = now
end

local admitted = 0
for _ = 1, count do
  local new_tat = tat + interval
  local diff = now - (new_tat - burst * interval)
  local n = #reply
  if diff < 0 then
    -- Denied: nothing changes, so every later request of the batch is denied alike.
    reply[n + 1], reply[n + 2], reply[n + 3], reply[n + 4] = 0, 0, -diff, tat - now
  else
    admitted = admitted + 1
    tat = new_tat
    reply[n + 1], reply[n + 2], reply[n + 3], reply[n + 4] = 1, math.floor(diff / interval), 0, new_tat - now
  end
end

if admitted > 0 then
  -- Limiter state is not worth an fsync: the same Redis holds the job queue with appendfsync
  -- always, and every propagated write would make Redis write and fsync its AOF once more per
  -- batch. Not propagated, the bucket lives in memory only (not in the AOF, not on replicas):
  -- after a restart or failover budgets start full, the documented fail-open direction.
  redis.set_repl(redis.REPL_NONE)
  -- Kept for one full window after the last admitted request (the bucket is full by then): an
  -- expiring key costs Redis a propagated DEL, i.e. an AOF write and fsync, so a bucket that
  -- refills in milliseconds must not expire after every request.
  redis.call("SET", key, string.format("%.0f", tat), "PX", math.ceil(burst * interval / 1000))
end
return reply
