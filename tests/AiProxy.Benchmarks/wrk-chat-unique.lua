-- wrk script of run-cache.sh: the chat completion of wrk-chat.lua with a tag in the last message that no other request
-- of the run has, so that every request is another cache key (a miss when the cache is on). Latencies in microseconds.
local head = '{"model":"gpt-4o-mini","messages":['
  .. '{"role":"system","content":"You are a helpful assistant that answers briefly and precisely."},'
  .. '{"role":"user","content":"A gateway sits between clients and several OpenAI-compatible providers. It reads the model of each request, picks a provider, maps the model name if needed and relays the answer."},'
  .. '{"role":"assistant","content":"That gateway needs to be cheap: it should read only the fields it routes on, never re-serialize the body, and stream answers through as they arrive."},'
  .. '{"role":"user","content":"How much latency and CPU does such a gateway add compared with a plain reverse proxy? Please answer with the numbers from a benchmark that anyone can rerun on their own machine, and explain how to read them. Request '
local tail = '."}],"temperature":0.2,"max_tokens":256,"stream":false}'

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  prefix = string.format("%d-%d-%d", tid or 0, os.time(), math.floor(os.clock() * 1000000))
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "sk-bench-token")
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, head .. prefix .. "-" .. counter .. tail)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"durationUs":%d,"p50Us":%.0f,"p99Us":%.0f,"non2xx":%d,"socketErrors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
