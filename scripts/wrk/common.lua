-- What the wrk scripts share: each thread gets an id (for its own starting offset and ids), and the
-- run ends with one JSON line for scripts/bench_e2e.py (requests, p50/p99 in µs, non-2xx, socket errors).
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"p50us":%d,"p99us":%d,"non2xx":%d,"socketErrors":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end

-- The non-empty lines of a file.
function lines_of(path)
  local out = {}
  for line in io.lines(path) do
    if #line > 0 then out[#out + 1] = line end
  end
  if #out == 0 then error("nothing in " .. tostring(path)) end
  return out
end
