-- wrk script: POST the events of a file (one JSON event per line, its id written as @ID@) to
-- /v1/events, each with an id no other request of the run uses:
--   wrk -H 'Authorization: Bearer …' -s post.lua URL -- FILE PREFIX
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local bodies = {}
local prefix = "wrk"
local index = 1
local sent = 0

function init(args)
  bodies = lines_of(args[1])
  prefix = (args[2] or "wrk") .. "-" .. tostring(id or 0) .. "-"
  index = ((id or 0) * 7919) % #bodies + 1
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[index]
  index = index % #bodies + 1
  sent = sent + 1
  return wrk.format("POST", "/v1/events", nil, (body:gsub("@ID@", prefix .. sent, 1)))
end
