-- Sliding-window log: at most `limit` admitted requests in any `window` microseconds, exactly.
-- One sorted set per bucket with one entry per admitted request (score and member: its stamp,
-- the admission time in microseconds of Redis's clock). One round trip; integer arithmetic,
-- exact in Lua's doubles (epoch microseconds are ~2^51 < 2^53).
-- KEYS[1]: the limiter key, hash-tagged (rl:{k<key id>} or rl:{ip:<address>})
-- ARGV[1]: limit (requests admitted in any window)
-- ARGV[2]: window in microseconds
-- ARGV[3]: optional: a count n of requests to decide one after the other (default 1; a process
--          coalesces the hits of one bucket within one event-loop tick)
-- Returns {now_epoch_us, then per request: allowed 0/1, remaining, retry_after_us, t_us},
-- exactly what n single calls at the same Redis TIME would return. t_us (RateLimit `t`): until
-- `remaining` next grows, i.e. until the request that holds it down leaves the window; at most
-- `remaining` more requests are admitted before then. On a denial t_us is retry_after_us.
-- A denied request adds nothing, so it does not consume quota.
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local count = tonumber(ARGV[3] or "1")

-- Limiter state is not worth an fsync: the same Redis holds the job queue with appendfsync
-- always, and every propagated write would make Redis write and fsync its AOF once more per
-- batch. Not propagated, the log lives in memory only (not in the AOF, not on replicas): after a
-- restart or failover budgets start full, the documented fail-open direction.
redis.set_repl(redis.REPL_NONE)

-- Numbers reach Redis through "%.14g" unless formatted: stamps have 16 digits.
local function int(x)
  return string.format("%.0f", x)
end

local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local reply = {now}

redis.call("ZREMRANGEBYSCORE", key, "-inf", int(now - window)) -- left the window
local used = redis.call("ZCARD", key)

local admit = math.max(0, math.min(count, limit - used))
if admit > 0 then
  -- Each admitted request gets its own stamp: now, or just after the newest entry if that is
  -- not older (two calls in one microsecond, a clock that stepped back), so members stay unique.
  local stamp = now
  if used > 0 then
    stamp = math.max(now, tonumber(redis.call("ZRANGE", key, -1, -1, "WITHSCORES")[2]) + 1)
  end
  local entries = {}
  for i = 1, admit do
    entries[#entries + 1] = int(stamp + i - 1)
    entries[#entries + 1] = entries[#entries]
    if #entries == 1000 or i == admit then -- in chunks: unpack() is bounded by Lua's C stack
      redis.call("ZADD", key, unpack(entries))
      entries = {}
    end
  end
  -- Kept until its newest entry leaves the window; then the bucket is empty anyway.
  redis.call("PEXPIRE", key, math.ceil((stamp + admit - 1 + window - now) / 1000))
end

-- The entry whose departure raises `remaining`: the oldest, unless the window holds more than
-- the limit (the key's limit was lowered). One position serves every request of the batch: a
-- batch that admits anything ends with at most `limit` entries.
local held = math.max(0, used + admit - limit)
local until_t = 0
if used + admit > 0 then
  until_t = tonumber(redis.call("ZRANGE", key, held, held, "WITHSCORES")[2]) + window - now
end

for i = 1, count do
  local n = #reply
  if i <= admit then
    reply[n + 1], reply[n + 2], reply[n + 3], reply[n + 4] = 1, limit - used - i, 0, until_t
  else
    reply[n + 1], reply[n + 2], reply[n + 3], reply[n + 4] = 0, 0, until_t, until_t
  end
end
return reply
