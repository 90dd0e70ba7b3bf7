-- bench/lua/random_paths.lua: GET a path drawn at random (uniformly, with
-- replacement) for every request from the list in WRK_PATHS (one URL path a
-- line), for the file-tree workloads. The rest (summary line, headers) is
-- bench.lua's, loaded from the same directory.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "bench.lua")

local paths = {}
local list = os.getenv("WRK_PATHS")
assert(list and list ~= "", "WRK_PATHS: the path list is not set")
for line in io.lines(list) do
  if line ~= "" then paths[#paths + 1] = line end
end
assert(#paths > 0, "WRK_PATHS: the path list is empty")

-- Each wrk thread has its own Lua state; seed each one differently.
math.randomseed(os.time() + math.floor(os.clock() * 1e6) + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)

function request()
  return wrk.format(nil, paths[math.random(#paths)])
end
