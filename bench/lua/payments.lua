-- One prepared payment per request:
-- `wrk -t T ... -s payments.lua <url> -- <requests file> <T> <once|cycle> <answers file>`.
-- Each line of the file is `<access token> TAB <Idempotency-Key> TAB <JSON body>`; thread `tid`
-- takes lines tid+1, tid+1+T, ... so no line is sent twice while lines last.
-- `once` (the gateway): should a thread run out, it starts over with a new Idempotency-Key on
-- each request, so the gateway refuses the used consent (401) instead of replaying a stored
-- 201; every such request is counted as `exhausted`. `cycle` (a bare endpoint, which ignores
-- the headers): starting over is expected, the lines are sent as they are and not counted.
-- Every 201 answer's `payment_id` is kept and written to the answers file by done(); an answer
-- marked `Idempotent-Replayed` is counted as `replayed`.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local heads, keys, tails = {}, {}, {}
local count = 0
local index = 0
local is_cycle = false

function init(args)
   local path, nthreads = args[1], tonumber(args[2])
   is_cycle = args[3] == "cycle"
   answers_path = args[4]
   local start = "POST " .. wrk.path .. " HTTP/1.1\r\n"
      .. "Host: " .. wrk.headers["Host"] .. "\r\n"
      .. "Content-Type: application/json\r\n"
   local line_no = 0
   for line in io.lines(path) do
      if line_no % nthreads == tid then
         local token, key, body = line:match("^([^\t]+)\t([^\t]+)\t(.+)$")
         count = count + 1
         heads[count] = start .. "Authorization: Bearer " .. token .. "\r\nIdempotency-Key: "
         keys[count] = key
         tails[count] = "\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
      end
      line_no = line_no + 1
   end
   loaded = count
   exhausted = 0
   reused = false
   sent = 0
   created = 0
   replayed = 0
   answered = {}
end

function request()
   index = index + 1
   sent = sent + 1
   if index > count then
      index = 1
      reused = not is_cycle
   end
   if reused then
      exhausted = exhausted + 1
      return heads[index] .. keys[index] .. "-r" .. tid .. "-" .. exhausted .. tails[index]
   end
   return heads[index] .. keys[index] .. tails[index]
end

function response(status, headers, body)
   if status == 201 then
      created = created + 1
      if headers["idempotent-replayed"] or headers["Idempotent-Replayed"] then
         replayed = replayed + 1
      end
      local id = body:match('"payment_id":"(pay_[a-z2-7]+)"')
      if id then
         answered[#answered + 1] = id
      end
   end
end
