-- POST one valid appointment request per rendered form harvested by harvest.lua: each request
-- carries its own cookie and hidden fields (CSRF token; the portal's one-time form token), as a
-- browser's would. The fields are in $WRK_BODY (urlencoded); the tokens in $WRK_TOKENS. A token
-- is never used twice: when they run out, the thread stops and the report says "exhausted".
-- The POST goes to the path of the URL given to wrk.
dofile(os.getenv("WRK_DIR") .. "/report.lua")

local tokens = {}
local next_token = 0
local fields

function init(args)
  for line in io.lines(os.getenv("WRK_TOKENS")) do
    local cookie, hidden = line:match("^([^\t]+)\t([^\t]+)$")
    if cookie then
      table.insert(tokens, { cookie, hidden })
    end
  end
  local file = assert(io.open(os.getenv("WRK_BODY")))
  fields = file:read("*a")
  file:close()
end

function request()
  next_token = next_token + 1
  local t = tokens[next_token]
  if t == nil then
    wrk.thread:set("exhausted", true)
    wrk.thread:stop()
    t = tokens[#tokens]
  end
  return wrk.format("POST", nil, {
    ["Cookie"] = t[1],
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, fields .. t[2])
end
