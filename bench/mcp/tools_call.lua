-- wrk script: tools/call of TOOL with ARGS (JSON). With SESSIONS set (comma-separated handshake
-- session IDs), the calls go round the 2025-11-25 sessions, one after the other (with -c32 and 32
-- sessions, 32 sessions are busy at once); without, every call is a stateless 2026-07-28 request
-- on OBJECT.
local tool = os.getenv("TOOL") or "kv_get"
local object = os.getenv("OBJECT") or "bench"
local sessions = {}
for id in string.gmatch(os.getenv("SESSIONS") or "", "[^,]+") do table.insert(sessions, id) end
local args = os.getenv("ARGS") or ('{"key":"k","object":"' .. object .. '"}')
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
local meta = ""
if #sessions > 0 then
  wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
else
  wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
  wrk.headers["Mcp-Method"] = "tools/call"
  wrk.headers["Mcp-Name"] = tool
  if string.find(args, '"object"', 1, true) then wrk.headers["Mcp-Param-Object"] = object end
  meta = ',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",' ..
    '"io.modelcontextprotocol/clientInfo":{"name":"wrk","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
end
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"' .. tool ..
  '","arguments":' .. args .. meta .. '}}'

local requests = {}
local turn = 0
if #sessions > 0 then
  -- Built in init: wrk sets the Host header only then.
  init = function(args)
    for i, id in ipairs(sessions) do
      wrk.headers["Mcp-Session-Id"] = id
      requests[i] = wrk.format()
    end
  end
  request = function()
    turn = turn % #requests + 1
    return requests[turn]
  end
end

local errors = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"result"') or string.find(body, '"isError":true') then
    errors = errors + 1
    if errors <= 3 then io.stderr:write("bad response: " .. status .. " " .. body .. "\n") end
  end
end
