#!/usr/bin/env bash
# Benchmark rows for budgets (issue 18) and the dashboard's history (issue 19): at CONNECTIONS (32) non-streaming chat
# completions (wrk-chat.lua), AiProxy as run-load.sh runs it (token limits in memory, history on) against the same host
# with a priced model and a daily token budget (--budgets: reserve at admission, settle at the end, never refused) and
# with the history off (--no-history: Status:History=false); then, with a redis-server of the script's own, limits in
# Redis against limits + budgets in Redis. Per row: requests/s, p50/p99 latency, proxy CPU per request, bytes allocated
# per request (GET /_bench/alloc before and after) and, for the Redis rows, script calls (round trips), commands and
# redis-server CPU per request (INFO's counters, /proc): a reservation rides in the limiter's script call, so budgets
# should add commands inside the scripts but no round trip. INFO commandstats before and after each Redis row are kept
# in OUT (commandstats-ROW-runN-*.txt).
#
#   tests/AiProxy.Benchmarks/run-budgets.sh                    # DURATION=5s CONNECTIONS=32 RUNS=2
#
# The lease rows (issue 20): redis-exact-nc (exact mode) and aiproxy-redis-lease (Redis:LeaseQuota=true) with the token's
# requests and tokens per minute but no concurrency limit, redis-lease-concurrency leased with every limit (its
# concurrency slot still costs a Redis call per request). For the lease goal against Redis off:
#   RUNS=3 ONLY="aiproxy redis-limits redis-exact-nc aiproxy-redis-lease redis-lease-concurrency" tests/AiProxy.Benchmarks/run-budgets.sh
#
# Knobs: DURATION, CONNECTIONS, RUNS, WARMUP (2s), REDIS (1; 0 leaves the Redis rows out), ONLY (a space-separated
# subset of the rows), OUT. Every process runs on 127.0.0.1 (free ports) and is stopped at the end, on failure and on
# Ctrl-C. Prints one markdown table of medians; numbers are printed, never judged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-32}"
RUNS="${RUNS:-2}"
WARMUP="${WARMUP:-2s}"
REDIS="${REDIS:-1}"
TOKEN="sk-bench-token"
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/aiproxy-budgets-bench.XXXXXX")}"
mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
: > "$RESULTS"
export DOTNET_gcServer=0 DOTNET_gcConcurrent=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 BENCH_TOKEN="$TOKEN"
unset ASPNETCORE_URLS DOTNET_URLS || true
command -v wrk >/dev/null || { echo "run-budgets.sh: wrk is needed (apt-get install wrk)" >&2; exit 1; }
if [[ "$REDIS" == 1 ]] && ! command -v redis-server >/dev/null; then
  echo "run-budgets.sh: redis-server is not installed; the Redis rows are left out (apt-get install redis-server)" >&2
  REDIS=0
fi

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

echo "Building Release..." >&2
dotnet build "$HERE/AiProxy.Benchmarks.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly > "$OUT/build.log" 2>&1 \
  || { cat "$OUT/build.log" >&2; exit 1; }
DLL="$(find "$HERE/bin/Release" -name AiProxy.Benchmarks.dll | head -1)"

# shellcheck source=bench-lib.sh
source "$HERE/bench-lib.sh"
# chat_headers BASE: the response headers of one small chat completion through BASE's gateway (a budget check).
chat_headers() {
  local rest="${1#http://}" body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":16}'
  exec 3<>"/dev/tcp/${rest%:*}/${rest##*:}" || return 0
  printf 'POST /proxy/v1/chat/completions HTTP/1.0\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$rest" "$TOKEN" "${#body}" "$body" >&3
  timeout 10 cat <&3 | tr -d '\r' | sed '/^$/q'
  exec 3<&- 3>&-
}
start upstream upstream --port 0
start aiproxy aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN"
start aiproxy-budgets aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --budgets
start aiproxy-no-history aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --no-history
ROWS=(aiproxy aiproxy-budgets aiproxy-no-history)
if [[ "$REDIS" == 1 ]]; then
  start_redis || { echo "run-budgets.sh: redis-server did not start (see $OUT/redis-server.log)" >&2; exit 1; }
  start redis-limits aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --redis "127.0.0.1:$REDIS_PORT"
  start redis-budgets aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --redis "127.0.0.1:$REDIS_PORT" --budgets
  # Quota leasing (issue 20): exact vs leased with the token's requests and tokens per minute and no concurrency limit
  # (a concurrency limit takes its slot in Redis per request in both modes), and leased with every limit.
  start redis-exact-nc aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --redis "127.0.0.1:$REDIS_PORT" --no-concurrency-limit
  start aiproxy-redis-lease aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --redis "127.0.0.1:$REDIS_PORT" --lease --no-concurrency-limit
  start redis-lease-concurrency aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --redis "127.0.0.1:$REDIS_PORT" --lease
  ROWS+=(redis-limits redis-budgets redis-exact-nc aiproxy-redis-lease redis-lease-concurrency)
fi
[[ -n "${ONLY:-}" ]] && read -r -a ROWS <<< "$ONLY"

# Budgets are really on where asked (and only there): the budgeted hosts answer with x-aiproxy-budget-remaining.
for r in "${ROWS[@]}"; do
  v="URL_${r//-/_}"
  has=0; chat_headers "${!v}" | grep -qi '^x-aiproxy-budget-remaining:' && has=1
  want=0; [[ "$r" == *budgets ]] && want=1
  [[ "$has" == "$want" ]] || { echo "run-budgets.sh: $r: x-aiproxy-budget-remaining present=$has, expected $want" >&2; exit 1; }
done

echo "Warming up..." >&2
for r in "${ROWS[@]}"; do
  v="URL_${r//-/_}"
  timeout 60 wrk -t2 -c"$CONNECTIONS" -d"$WARMUP" -s "$HERE/wrk-chat.lua" "${!v}/proxy/v1/chat/completions" > "$OUT/warmup-$r.log" 2>&1 || true
done

for run in $(seq 1 "$RUNS"); do
  for r in "${ROWS[@]}"; do
    u="URL_${r//-/_}"; p="PID_${r//-/_}"; base="${!u}"; pid="${!p}"
    r0="- -"; r1="- -"; rt0=""; rt1=""
    if [[ "$r" == *redis* ]]; then r0="$(redis_counters "$REDIS_PORT")"; rt0="$(cpu_ticks "$PID_redis")"; redis_cmd "$REDIS_PORT" INFO commandstats > "$OUT/commandstats-$r-run$run-before.txt"; fi
    a0="$(http_get "$base/_bench/alloc")"
    c0="$(cpu_ticks "$pid")"
    out="$(timeout 120 wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$HERE/wrk-chat.lua" "$base/proxy/v1/chat/completions" 2>&1)" || true
    c1="$(cpu_ticks "$pid")"
    a1="$(http_get "$base/_bench/alloc")"
    if [[ "$r" == *redis* ]]; then rt1="$(cpu_ticks "$PID_redis")"; r1="$(redis_counters "$REDIS_PORT")"; redis_cmd "$REDIS_PORT" INFO commandstats > "$OUT/commandstats-$r-run$run-after.txt"; fi
    printf '%s\n' "$out" > "$OUT/wrk-$r-run$run.log"
    json="$(printf '%s\n' "$out" | sed -n 's/^BENCHJSON //p')"
    [[ -n "$json" ]] || { echo "run-budgets.sh: wrk printed no result for $r (see $OUT/wrk-$r-run$run.log)" >&2; exit 1; }
    alloc=-1; [[ "$a0" =~ ^[0-9]+$ && "$a1" =~ ^[0-9]+$ ]] && alloc=$(( a1 - a0 ))
    cmds=-1; scripts=-1
    read -r rc0 rs0 <<< "$r0"; read -r rc1 rs1 <<< "$r1"
    [[ "$rc0" =~ ^[0-9]+$ && "$rc1" =~ ^[0-9]+$ ]] && cmds=$(( rc1 - rc0 )) && scripts=$(( rs1 - rs0 )) # includes the one INFO of this script: nothing per request
    rcpu=-1; [[ -n "$rt0" && -n "$rt1" ]] && rcpu=$(( rt1 - rt0 ))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$(( c1 - c0 ))" "$alloc" "$cmds" "$scripts" "$json" "$rcpu" >> "$RESULTS"
    echo "  run $run $r: $json" >&2
  done
done
grep -h "Redis is unavailable" "$OUT"/*redis-*.log 2>/dev/null | head -3 | sed 's/^/run-budgets.sh: WARNING (a Redis row used the in-memory fallback): /' >&2 || true

# Medians per row: requests/s, p50, p99 (ms), CPU per request (µs of proxy CPU), allocated bytes; for the Redis rows
# EVAL/EVALSHA calls per request (the round trips: the limiter batches the calls of requests in flight into one script
# call), commands per request (nearly all run inside those scripts) and redis-server CPU per request.
echo
echo "| row (c=$CONNECTIONS, $DURATION x $RUNS) | req/s | p50 ms | p99 ms | proxy CPU µs/req | alloc B/req | Redis scripts/req | Redis cmds/req | Redis CPU µs/req | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${ROWS[@]}"; do
  awk -F'\t' -v row="$r" -v tck="$CLK_TCK" '
    function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
    function num(json, key,   m) { match(json, "\"" key "\":[0-9]+"); return substr(json, RSTART + length(key) + 3, RLENGTH - length(key) - 3) + 0 }
    function opt(a, n, fmt) { return med(a, n) < 0 ? "n/a" : sprintf(fmt, med(a, n)) }
    $1 == row { n++; req = num($6, "requests"); dur = num($6, "durationUs")
      rps[n] = req / (dur / 1e6); p50[n] = num($6, "p50Us") / 1000; p99[n] = num($6, "p99Us") / 1000
      cpu[n] = $2 / tck * 1e6 / req; alloc[n] = $3 < 0 ? -1 : $3 / req
      cmd[n] = $4 < 0 ? -1 : $4 / req; scr[n] = $5 < 0 ? -1 : $5 / req; rcpu[n] = $7 < 0 ? -1 : $7 / tck * 1e6 / req; bad += num($6, "non2xx") + num($6, "socketErrors") }
    END { if (n) printf "| %s | %.0f | %.2f | %.2f | %.0f | %s | %s | %s | %s | %d |\n", row, med(rps, n), med(p50, n), med(p99, n), med(cpu, n),
      opt(alloc, n, "%.0f"), opt(scr, n, "%.3f"), opt(cmd, n, "%.2f"), opt(rcpu, n, "%.0f"), bad }' "$RESULTS"
done
echo
echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; logs in $OUT"
