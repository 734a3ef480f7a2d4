-- GET the appointment form as a browser would and keep what its POST needs: the session cookie
-- (which holds the CSRF token's secret), the CSRF token and the one-time form token.
-- One line per rendered form in $WRK_TOKENS: cookie <tab> csrf_token <tab> form_token.
dofile(os.getenv("WRK_DIR") .. "/report.lua")

local out

function init(args)
  out = assert(io.open(os.getenv("WRK_TOKENS"), "a"))
  out:setvbuf("line")
end

function response(status, headers, body)
  if status ~= 200 then return end
  local cookie = headers["Set-Cookie"] or headers["set-cookie"] or ""
  local session = cookie:match("(session=[^;]+)")
  local csrf = body:match('name="csrf_token" type="hidden" value="([^"]*)"')
  local token = body:match('name="form_token" type="hidden" value="([^"]*)"')
  if session and csrf and token then
    out:write(session, "\t", csrf, "\t", token, "\n")
  end
end
