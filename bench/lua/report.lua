-- Shared by every script: print the run's numbers as one JSON line.
-- Latencies are in microseconds. Scripts that send prepared, single-use requests (DPoP proofs,
-- payments) set per-thread `loaded` (lines read) and `exhausted` (requests that found no unused
-- line); payments.lua also sets `sent`, `created`, `replayed` and the `answered` payment ids,
-- which done() writes to the thread's `answers_path`.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("tid", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local totals = { exhausted = 0, loaded = 0, sent = 0, created = 0, replayed = 0 }
   local answers = {}
   for _, thread in ipairs(threads) do
      for name, value in pairs(totals) do
         totals[name] = value + (thread:get(name) or 0)
      end
      local path = thread:get("answers_path")
      if path then
         answers[path] = answers[path] or {}
         for _, id in ipairs(thread:get("answered") or {}) do
            table.insert(answers[path], id)
         end
      end
   end
   for path, ids in pairs(answers) do
      local fh = assert(io.open(path, "w"))
      for _, id in ipairs(ids) do
         fh:write(id, "\n")
      end
      fh:close()
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"duration_us":%d,"requests":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,'
      .. '"p50":%d,"p90":%d,"p99":%d,"p999":%d},"loaded":%d,"exhausted":%d,'
      .. '"sent":%d,"created":%d,"replayed":%d}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), totals.loaded, totals.exhausted,
      totals.sent, totals.created, totals.replayed))
end
