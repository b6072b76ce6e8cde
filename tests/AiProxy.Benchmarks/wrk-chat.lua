-- wrk script of run-load.sh: a non-streaming chat completion (about 1 KB) with a proxy token, and one
-- machine-readable summary line at the end. Latencies are in microseconds.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "sk-bench-token")
wrk.body = '{"model":"gpt-4o-mini","messages":['
  .. '{"role":"system","content":"You are a helpful assistant that answers briefly and precisely."},'
  .. '{"role":"user","content":"A gateway sits between clients and several OpenAI-compatible providers. It reads the model of each request, picks a provider, maps the model name if needed and relays the answer."},'
  .. '{"role":"assistant","content":"That gateway needs to be cheap: it should read only the fields it routes on, never re-serialize the body, and stream answers through as they arrive."},'
  .. '{"role":"user","content":"How much latency and CPU does such a gateway add compared with a plain reverse proxy? Please answer with the numbers from a benchmark that anyone can rerun on their own machine, and explain how to read them."}'
  .. '],"temperature":0.2,"max_tokens":256,"stream":false}'

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"durationUs":%d,"p50Us":%.0f,"p99Us":%.0f,"non2xx":%d,"socketErrors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
