-- One fresh DPoP proof per request:
-- `wrk -t T ... -s dpop.lua <url> -- <proofs file> <T> "DPoP <access token>"`.
-- Thread `tid` takes lines tid+1, tid+1+T, ... of the file, so no proof is sent twice.
-- Should a thread run out, it starts over; every request from then on reuses a proof
-- (the gateway answers 401) and is counted as `exhausted` and as a non-2xx response.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local proofs = {}
local count = 0
local index = 0
local prefix

function init(args)
   local path, nthreads, authorization = args[1], tonumber(args[2]), args[3]
   local line_no = 0
   for line in io.lines(path) do
      if line_no % nthreads == tid then
         count = count + 1
         proofs[count] = line
      end
      line_no = line_no + 1
   end
   prefix = "GET " .. wrk.path .. " HTTP/1.1\r\n"
      .. "Host: " .. wrk.headers["Host"] .. "\r\n"
      .. "Authorization: " .. authorization .. "\r\n"
      .. "DPoP: "
   exhausted = 0
   reused = false
   loaded = count
end

function request()
   index = index + 1
   if index > count then
      index = 1
      reused = true
   end
   if reused then
      exhausted = exhausted + 1
   end
   return prefix .. proofs[index] .. "\r\n\r\n"
end

