#!/usr/bin/env bash
# The response cache's benchmark rows: at CONNECTIONS (32) non-streaming chat completions, YARP against AiProxy with the
# cache off, a hit (the same body every time: after the first request every answer comes from memory) and a miss
# (wrk-chat-unique.lua: another body every time, so every request is looked up, fetched, recorded and stored), plus the
# cache-off host with those unique bodies (the miss's like-for-like baseline). Per row: requests/s, p50/p99 latency,
# proxy CPU per request and bytes allocated per request (GET /_bench/alloc before and after).
#
#   tests/AiProxy.Benchmarks/run-cache.sh                      # DURATION=5s CONNECTIONS=32 RUNS=2
#   BASELINE_DLL=/path/to/other/AiProxy.Benchmarks.dll tests/AiProxy.Benchmarks/run-cache.sh
#       # adds the row "aiproxy-baseline": the cache-off host of another build (say main) under the same load
#
# Knobs: DURATION, CONNECTIONS, RUNS, WARMUP (2s), ONLY (a space-separated subset of the rows), OUT. Starts every process on 127.0.0.1 (free ports), stops them at
# the end, on failure and on Ctrl-C. Prints one markdown table of medians; numbers are printed, never judged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-32}"
RUNS="${RUNS:-2}"
WARMUP="${WARMUP:-2s}"
TOKEN="sk-bench-token"
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/aiproxy-cache-bench.XXXXXX")}"
mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
: > "$RESULTS"
export DOTNET_gcServer=0 DOTNET_gcConcurrent=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 BENCH_TOKEN="$TOKEN"
unset ASPNETCORE_URLS DOTNET_URLS || true
command -v wrk >/dev/null || { echo "run-cache.sh: wrk is needed (apt-get install wrk)" >&2; exit 1; }

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

start upstream upstream --port 0
start yarp yarp --port 0 --upstream "$URL_upstream"
start aiproxy aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN"
start aiproxy-cache aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --cache
ROWS=(yarp aiproxy-off aiproxy-off-unique aiproxy-hit aiproxy-miss)
if [[ -n "${BASELINE_DLL:-}" ]]; then
  HOST_DLL="$BASELINE_DLL" start aiproxy-baseline aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN"
  ROWS=(yarp aiproxy-baseline aiproxy-off aiproxy-off-unique aiproxy-hit aiproxy-miss)
fi

[[ -n "${ONLY:-}" ]] && read -r -a ROWS <<< "$ONLY" # ONLY="aiproxy-baseline aiproxy-off": just those rows

row() { # ROW -> "url pid base script"
  case "$1" in
    yarp) echo "$URL_yarp/v1/chat/completions $PID_yarp - wrk-chat.lua" ;;
    aiproxy-baseline) echo "$URL_aiproxy_baseline/proxy/v1/chat/completions $PID_aiproxy_baseline $URL_aiproxy_baseline wrk-chat.lua" ;;
    aiproxy-off) echo "$URL_aiproxy/proxy/v1/chat/completions $PID_aiproxy $URL_aiproxy wrk-chat.lua" ;;
    aiproxy-off-unique) echo "$URL_aiproxy/proxy/v1/chat/completions $PID_aiproxy $URL_aiproxy wrk-chat-unique.lua" ;;
    aiproxy-hit) echo "$URL_aiproxy_cache/proxy/v1/chat/completions $PID_aiproxy_cache $URL_aiproxy_cache wrk-chat.lua" ;;
    aiproxy-miss) echo "$URL_aiproxy_cache/proxy/v1/chat/completions $PID_aiproxy_cache $URL_aiproxy_cache wrk-chat-unique.lua" ;;
  esac
}

echo "Warming up..." >&2
for r in "${ROWS[@]}"; do
  read -r url _ _ script <<< "$(row "$r")"
  timeout 60 wrk -t2 -c"$CONNECTIONS" -d"$WARMUP" -s "$HERE/$script" "$url" > "$OUT/warmup-$r.log" 2>&1 || true
done

for run in $(seq 1 "$RUNS"); do
  for r in "${ROWS[@]}"; do
    read -r url pid base script <<< "$(row "$r")"
    a0=""; a1=""
    [[ "$base" != - ]] && a0="$(http_get "$base/_bench/alloc")"
    c0="$(cpu_ticks "$pid")"
    out="$(timeout 120 wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$HERE/$script" "$url" 2>&1)" || true
    c1="$(cpu_ticks "$pid")"
    [[ "$base" != - ]] && a1="$(http_get "$base/_bench/alloc")"
    printf '%s\n' "$out" > "$OUT/wrk-$r-run$run.log"
    json="$(printf '%s\n' "$out" | sed -n 's/^BENCHJSON //p')"
    [[ -n "$json" ]] || { echo "run-cache.sh: wrk printed no result for $r (see $OUT/wrk-$r-run$run.log)" >&2; exit 1; }
    alloc=-1; [[ "$a0" =~ ^[0-9]+$ && "$a1" =~ ^[0-9]+$ ]] && alloc=$(( a1 - a0 ))
    printf '%s\t%s\t%s\t%s\n' "$r" "$(( c1 - c0 ))" "$alloc" "$json" >> "$RESULTS"
    echo "  run $run $r: $json" >&2
  done
done

# Medians per row: requests/s, p50, p99 (ms), CPU per request (µs of proxy CPU), allocated bytes per request.
echo
echo "| row (c=$CONNECTIONS, $DURATION x $RUNS) | req/s | p50 ms | p99 ms | proxy CPU µs/req | alloc B/req | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for r in "${ROWS[@]}"; do
  awk -F'\t' -v row="$r" -v tck="$CLK_TCK" '
    function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
    function num(json, key,   m) { match(json, "\"" key "\":[0-9]+"); return substr(json, RSTART + length(key) + 3, RLENGTH - length(key) - 3) + 0 }
    $1 == row { n++; req = num($4, "requests"); dur = num($4, "durationUs")
      rps[n] = req / (dur / 1e6); p50[n] = num($4, "p50Us") / 1000; p99[n] = num($4, "p99Us") / 1000
      cpu[n] = $2 / tck * 1e6 / req; alloc[n] = $3 < 0 ? -1 : $3 / req; bad += num($4, "non2xx") + num($4, "socketErrors") }
    END { if (n) printf "| %s | %.0f | %.2f | %.2f | %.0f | %s | %d |\n", row, med(rps, n), med(p50, n), med(p99, n), med(cpu, n),
      med(alloc, n) < 0 ? "n/a" : sprintf("%.0f", med(alloc, n)), bad }' "$RESULTS"
done
echo
echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; logs in $OUT"
