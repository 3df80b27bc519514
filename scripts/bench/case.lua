-- One benchmark case for wrk (driven by scripts/bench/bench.py):
--
--   wrk ... -s case.lua URL -- METHOD PATH FIRST COUNT [BODY] [SEQUENTIAL]
--
-- PATH and BODY are templates: {n} is a number drawn from FIRST .. FIRST+COUNT-1 (at
-- random, or each exactly once across threads when SEQUENTIAL is "seq", after which the
-- thread stops), {u} is unique per request (thread, counter and a per-run tag from
-- BENCH_TAG). BENCH_TOKEN is sent as the bearer token. done() prints one line
-- "BENCH {json}" with the totals and latency percentiles (microseconds).

local threads = 0
function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
  thread:set("thread_count", threads)
end

local method, path_t, first, count, body_t, sequential
local headers = {}
local prepared = nil
local counter = 0
local tag = os.getenv("BENCH_TAG") or "run"
local stride = tonumber(os.getenv("BENCH_THREADS") or "1")

function init(args)
  method, path_t = args[1], args[2]
  first, count = tonumber(args[3]), tonumber(args[4])
  body_t = args[5]
  if body_t == "" then body_t = nil end
  sequential = args[6] == "seq"
  headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
  if body_t then headers["Content-Type"] = "application/scim+json" end
  if sequential then
    -- Stopping from request() does not end the run; from response() it does.
    response = function()
      if counter >= count then wrk.thread:stop() end
    end
  end
  math.randomseed(os.time() + (thread_no or 0) * 7919)
  counter = thread_no or 0
  -- Requests without a unique part are built once: formatting each one would make the
  -- load generator, not the server, the bottleneck.
  if not sequential and not body_t and not path_t:find("{u}", 1, true) and count <= 20000 then
    prepared = {}
    for i = 0, count - 1 do
      prepared[i + 1] = wrk.format(method, (path_t:gsub("{n}", tostring(first + i))), headers)
    end
  end
end

local function fill(t, n, u)
  return (t:gsub("{n}", tostring(n)):gsub("{u}", u))
end

function request()
  if prepared then
    return prepared[math.random(1, count)]
  end
  local n
  if sequential then
    n = first + (counter % count)
    counter = counter + stride
  else
    n = first + math.random(0, count - 1)
    counter = counter + 1
  end
  local u = tag .. "-" .. (thread_no or 0) .. "-" .. counter
  local body = body_t and fill(body_t, n, u) or nil
  return wrk.format(method, fill(path_t, n, u), headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
