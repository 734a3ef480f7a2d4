-- Shared by every wrk run of benchmarks/http_load.py: print the figures as one JSON line.
-- A script that loads this one may set `threads` (filled by setup) and read flags from them.
threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local exhausted = false
  for _, thread in ipairs(threads) do
    if thread:get("exhausted") then exhausted = true end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "status_errors": %d, "connect_errors": %d, '
      .. '"read_errors": %d, "write_errors": %d, "timeouts": %d, "exhausted": %s}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout, tostring(exhausted)))
end
