-- One benchmark case for wrk (driven by scripts/bench/bench.py):
--
--   wrk ... -s case.lua URL -- METHOD PATH FIRST COUNT [BODY] [SEQUENTIAL]
--
-- PATH and BODY are templates: {n} is a number drawn from FIRST .. FIRST+COUNT-1 (at
-- random, or each exactly once across threads when SEQUENTIAL is "seq", after which the
-- thread stops), {u} is unique per request (thread, counter and a per-run tag from
-- BENCH_TAG). BENCH_TOKEN is sent as the bearer token. done() prints one line
-- "BENCH {json}" with the totals and latency percentiles (microseconds).
--
--   wrk ... -s case.lua URL -- MIX FIRST COUNT WEIGHT METHOD PATH BODY [WEIGHT METHOD PATH BODY]...
--
-- The soak's mixed traffic: each request is one of the listed kinds, drawn by weight. Besides
-- {n} and {u}, templates may use {i} (n - FIRST + 1: user{i}@example.com is user n's
-- userName), {g} (a group id drawn from the comma list BENCH_GROUPS), {m} (like {n}, but
-- from the first BENCH_MEMBERS of the range, so groups stay at a steady size) and {d} (an id from
-- BENCH_DELETE="FIRST:COUNT", each used once across threads; when they run out, that kind
-- turns into a GET of /scim/v2/Users/{n}). BENCH_DELAY_MS (fractional) is a pause before
-- each request on a connection, which paces the run; done() adds "deletes" (the most {d}
-- any thread used, so the next run starts at FIRST + deletes * threads).

local threads = 0
local all_threads = {}
function setup(thread)
  all_threads[#all_threads + 1] = thread
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

local mix, total_weight, groups, members, delete_first, delete_count
deletes = 0 -- global: done() reads it from each thread

local function init_mix(args)
  first, count = tonumber(args[2]), tonumber(args[3])
  mix, total_weight = {}, 0
  for k = 4, #args - 3, 4 do
    local body = args[k + 3] ~= "" and args[k + 3] or nil
    total_weight = total_weight + tonumber(args[k])
    mix[#mix + 1] = { upto = total_weight, method = args[k + 1], path = args[k + 2], body = body }
  end
  groups = {}
  for g in (os.getenv("BENCH_GROUPS") or ""):gmatch("[^,]+") do groups[#groups + 1] = g end
  members = math.min(count, tonumber(os.getenv("BENCH_MEMBERS") or "") or count)
  local df, dc = (os.getenv("BENCH_DELETE") or "0:0"):match("^(%d+):(%d+)$")
  delete_first, delete_count = tonumber(df), tonumber(dc)
  headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
  headers["Content-Type"] = "application/scim+json"
  local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
  if pause > 0 then
    -- wrk takes whole milliseconds: round up or down at random so the mean is `pause`.
    local whole, part = math.floor(pause), pause - math.floor(pause)
    delay = function()
      return whole + (math.random() < part and 1 or 0)
    end
  end
  math.randomseed(os.time() + (thread_no or 0) * 7919)
end

local function mix_request()
  local pick = math.random() * total_weight
  local kind = mix[#mix]
  for _, k in ipairs(mix) do
    if pick < k.upto then kind = k break end
  end
  local n = first + math.random(0, count - 1)
  counter = counter + 1
  local u = tag .. "-" .. (thread_no or 0) .. "-" .. counter
  local path, m = kind.path, kind.method
  if path:find("{d}", 1, true) then
    local d = deletes * stride + (thread_no or 0)
    if d < delete_count then
      deletes = deletes + 1
      path = path:gsub("{d}", tostring(delete_first + d))
    else
      path, m = "/scim/v2/Users/{n}", "GET"
    end
  end
  local g = #groups > 0 and groups[math.random(1, #groups)] or ""
  local member = tostring(first + math.random(0, members - 1))
  local function fill_all(t)
    return (t:gsub("{n}", tostring(n)):gsub("{i}", tostring(n - first + 1))
      :gsub("{u}", u):gsub("{g}", g):gsub("{m}", member))
  end
  local body = kind.body and m ~= "GET" and fill_all(kind.body) or nil
  return wrk.format(m, fill_all(path), body and headers or { Authorization = headers["Authorization"] }, body)
end

function init(args)
  if args[1] == "MIX" then
    init_mix(args)
    request = mix_request
    return
  end
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
  local most = 0
  for _, t in ipairs(all_threads) do
    most = math.max(most, tonumber(t:get("deletes")) or 0)
  end
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"deletes":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, most))
end
