-- wrk script for bench/ingest_bench.py: every request is a distinct, validly signed Vapi report.
-- Env: INGEST_BENCH_BODY (template file), INGEST_BENCH_IDS (lines "<call id> <x-timestamp> <x-signature>"),
-- INGEST_BENCH_PLACEHOLDER (the call id in the template). Threads take interleaved lines.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local parts, lines, nthreads, position

local function split(text, sep)
  local out, from = {}, 1
  while true do
    local i, j = string.find(text, sep, from, true)
    if not i then
      table.insert(out, string.sub(text, from))
      return out
    end
    table.insert(out, string.sub(text, from, i - 1))
    from = j + 1
  end
end

function init(args)
  local file = io.open(os.getenv("INGEST_BENCH_BODY"), "rb")
  parts = split(file:read("*a"), os.getenv("INGEST_BENCH_PLACEHOLDER"))
  file:close()
  nthreads = tonumber(os.getenv("INGEST_BENCH_THREADS"))
  lines, position = {}, 1
  local n = 0
  for line in io.lines(os.getenv("INGEST_BENCH_IDS")) do
    if n % nthreads == tid then
      table.insert(lines, line)
    end
    n = n + 1
  end
end

function request()
  local line = lines[position]
  position = position % #lines + 1  -- wrapping would re-send a body: the queue count shows it
  local id, ts, sig = string.match(line, "(%S+) (%S+) (%S+)")
  local headers = {["Content-Type"] = "application/json", ["x-timestamp"] = ts, ["x-signature"] = sig}
  return wrk.format("POST", nil, headers, table.concat(parts, id))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
