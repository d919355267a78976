-- wrk script for benches/wrk/webhooks.sh: replays pre-signed webhooks, each
-- once (wrk's Lua has no HMAC, so webhooks.sh signs them beforehand).
-- Threads take alternate lines, so no two connections send the same event.
local reqs = {}
local idx = 0
local threads = 0

setup = function(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

init = function(args)
  local file = os.getenv("HSFLOW_WRK_REQUESTS")
  local stride = tonumber(os.getenv("HSFLOW_WRK_THREADS") or "2")
  local n = 0
  for line in io.lines(file) do
    if n % stride == (thread_no or 0) then
      local sig, body = line:match("([^\t]+)\t(.*)")
      reqs[#reqs + 1] = wrk.format("POST", "/webhooks/form",
        { ["Content-Type"] = "application/json", ["X-Signature"] = sig }, body)
    end
    n = n + 1
  end
end

request = function()
  idx = idx + 1
  if idx > #reqs then
    -- Out of fresh events: resending would only measure duplicates.
    wrk.thread:stop()
    idx = #reqs
  end
  return reqs[idx]
end

done = function(summary, latency, requests)
  io.write(string.format("answers other than 2xx: %d; p50 %.2f ms, p99 %.2f ms\n",
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
