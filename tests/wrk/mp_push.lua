-- wrk script: plain-mode text pushes to /wechat/mp, each with its own MsgId (so every request
-- is acted on, not answered from the dedupe table), matching a keyword rule.
--   wrk -t2 -c8 -d20s --latency -s tests/wrk/mp_push.lua "http://127.0.0.1:PORT/wechat/mp?signature=S&timestamp=T&nonce=N"
-- The URL signature covers only token, timestamp and nonce, so one pre-signed URL serves every
-- body; sign it with the current time (the worker refuses timestamps over 10 minutes off). Set KEYWORD to the rule's keyword (default 帮助).
local threads = {}
local counter = 0
local keyword = os.getenv("KEYWORD") or "帮助"
-- Doubles in LuaJIT: keep ids below 2^53.
local base = (os.time() % 1000000) * 1000000

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local id = thread_id or 0
  local msg_id = id * 10000000000000 + base + counter
  local body = string.format(
    "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[oBench%d]]></FromUserName>" ..
    "<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content>" ..
    "<MsgId>%d</MsgId></xml>", id, os.time(), keyword, msg_id)
  return wrk.format("POST", nil, { ["Content-Type"] = "text/xml" }, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("status " .. status .. "\n")
  end
end
