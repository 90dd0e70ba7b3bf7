-- bench/lua/bench.lua: the wrk script of every bench/run.sh run.
-- Optional request settings from the environment, and one machine-readable
-- summary line at the end that lib/measure.sh parses:
--   WRK_METHOD        request method (default GET)
--   WRK_BODY_FILE     file whose bytes are the request body
--   WRK_CONTENT_TYPE  Content-Type header
--   WRK_CLOSE=1       send Connection: close
--   WRK_ACCEPT_ENCODING  Accept-Encoding header (workload gzip)
local m = os.getenv("WRK_METHOD")
if m and m ~= "" then wrk.method = m end
local bf = os.getenv("WRK_BODY_FILE")
if bf and bf ~= "" then
  local f = assert(io.open(bf, "rb")); wrk.body = f:read("*a"); f:close()
end
local ct = os.getenv("WRK_CONTENT_TYPE")
if ct and ct ~= "" then wrk.headers["Content-Type"] = ct end
if os.getenv("WRK_CLOSE") == "1" then wrk.headers["Connection"] = "close" end
local ae = os.getenv("WRK_ACCEPT_ENCODING")
if ae and ae ~= "" then wrk.headers["Accept-Encoding"] = ae end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d max_us=%d " ..
    "connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
