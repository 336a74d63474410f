-- The same request every time: `wrk ... -s static.lua <url> -- "<Authorization header>"`.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

function init(args)
   if args[1] and args[1] ~= "" then
      wrk.headers["Authorization"] = args[1]
   end
end
