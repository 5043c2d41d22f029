-- wrk script: GET the paths listed one per line in a file, in order, each thread starting at its
-- own offset and going round:  wrk -H 'Authorization: Bearer …' -s paths.lua URL -- FILE
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local paths = {}
local index = 1

function init(args)
  paths = lines_of(args[1])
  index = ((id or 0) * 7919) % #paths + 1
end

function request()
  local path = paths[index]
  index = index % #paths + 1
  return wrk.format("GET", path)
end
