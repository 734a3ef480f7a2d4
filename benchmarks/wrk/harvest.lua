-- GET a form as a browser would and keep what its POST needs: the cookie that holds the CSRF
-- token's secret and the hidden fields (the CSRF token; the portal's one-time form token too).
--   WRK_COOKIE  the cookie's name (default "session", the portal's; the Django peer: "csrftoken")
--   WRK_FIELDS  the hidden fields, comma-separated (default "csrf_token,form_token", the
--               portal's; the Django peer: "csrfmiddlewaretoken")
-- One line per rendered form in $WRK_TOKENS: cookie <tab> the fields, urlencoded, each after "&".
dofile(os.getenv("WRK_DIR") .. "/report.lua")

local out
local cookie_name = os.getenv("WRK_COOKIE") or "session"
local fields = {}

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  out = assert(io.open(os.getenv("WRK_TOKENS"), "a"))
  out:setvbuf("line")
  for name in (os.getenv("WRK_FIELDS") or "csrf_token,form_token"):gmatch("[^,]+") do
    table.insert(fields, name)
  end
end

function response(status, headers, body)
  if status ~= 200 then return end
  local cookie = headers["Set-Cookie"] or headers["set-cookie"] or ""
  local jar = cookie:match("(" .. cookie_name .. "=[^;]+)")
  if not jar then return end
  local values = {}
  for _, name in ipairs(fields) do
    -- The portal writes type= before value=, Django after name=: allow anything in between.
    local value = body:match('name="' .. name .. '"[^>]-value="([^"]*)"')
    if not value then return end
    table.insert(values, "&" .. name .. "=" .. urlencode(value))
  end
  out:write(jar, "\t", table.concat(values), "\n")
end
