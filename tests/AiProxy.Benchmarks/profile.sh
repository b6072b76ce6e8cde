#!/usr/bin/env bash
# Profiles one AiProxy host the way run-load.sh measures it, to see where the time or the memory goes.
#
#   tests/AiProxy.Benchmarks/profile.sh cpu        # wrk at c=32; CPU samples of the proxy, top methods
#   REDIS=1 tests/AiProxy.Benchmarks/profile.sh cpu  # the same with the token's limits in a redis-server of its own
#   REDIS=1 HOST_FLAGS="--lease --no-concurrency-limit" tests/AiProxy.Benchmarks/profile.sh cpu   # quota leasing
#   tests/AiProxy.Benchmarks/profile.sh memory     # STALLED (1000) held streams; the managed heap by type (gcdump)
#   TARGET=yarp tests/AiProxy.Benchmarks/profile.sh memory   # the same for the bare YARP forwarder
#   HTTP2=1 STALLED=10000 tests/AiProxy.Benchmarks/profile.sh memory   # held through an h2c upstream (HttpVersion 2)
#   HTTP2=1 STALLED=10000 tests/AiProxy.Benchmarks/profile.sh held     # CPU samples of the proxy while they are held
#   tests/AiProxy.Benchmarks/profile.sh long       # 5,000-event streams one after another; CPU samples of the relay
#
# Knobs: TARGET (aiproxy | yarp), REDIS (0 | 1, cpu only), HOST_FLAGS (more flags for the aiproxy host, cpu only), CONNECTIONS (32), SAMPLE_SECONDS (8: the sampled time),
# STALLED (1000), HTTP2 (0 | 1, memory and held: the upstream serves h2c and the proxy sends HTTP/2), TOP (30), OUT (folder for the trace, the dump and logs).
# Uses dotnet-trace and dotnet-gcdump from PATH, or installs them into OUT/tools, and python3 to sum the CPU samples.
# Traffic goes to 127.0.0.1 only, and every process started is stopped at the end.
set -euo pipefail

MODE="${1:-cpu}"
[[ "$MODE" == cpu || "$MODE" == memory || "$MODE" == held || "$MODE" == long ]] || { echo "usage: profile.sh cpu|memory|held|long" >&2; exit 2; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET="${TARGET:-aiproxy}"
REDIS="${REDIS:-0}"
CONNECTIONS="${CONNECTIONS:-32}"
SECONDS_SAMPLED="${SAMPLE_SECONDS:-8}"
STALLED="${STALLED:-1000}"
TOP="${TOP:-30}"
TOKEN="sk-bench-token"
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/aiproxy-profile.XXXXXX")}"
mkdir -p "$OUT"
export DOTNET_gcServer=0 DOTNET_gcConcurrent=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 BENCH_TOKEN="$TOKEN"
DLL="$HERE/bin/Release/net10.0/AiProxy.Benchmarks.dll"

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

tool() { # tool NAME: the path of a diagnostics tool, installed into OUT/tools when it is not on PATH
  if command -v "$1" >/dev/null; then command -v "$1"; return; fi
  [[ -x "$OUT/tools/$1" ]] || dotnet tool install "$1" --tool-path "$OUT/tools" >&2
  echo "$OUT/tools/$1"
}

# bench-lib.sh: start (a host of DLL, waited for until READY; sets URL_<NAME> and PID_<NAME>) and start_redis.
# shellcheck source=bench-lib.sh
source "$HERE/bench-lib.sh"

echo "Building Release..." >&2
dotnet build "$HERE/AiProxy.Benchmarks.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly > "$OUT/build.log" 2>&1 \
  || { cat "$OUT/build.log" >&2; exit 1; }

proxy() { # proxy UPSTREAM [ARGS...]: starts TARGET in front of UPSTREAM; sets URL (its chat completions) and PID
  local upstream="$1"; shift
  if [[ "$TARGET" == yarp ]]; then
    start proxy yarp --port 0 --upstream "$upstream" "$@"
    URL="$URL_proxy/v1/chat/completions"
  else
    start proxy aiproxy --port 0 --upstream "$upstream" --token "$TOKEN" "$@"
    URL="$URL_proxy/proxy/v1/chat/completions"
  fi
  PID="$PID_proxy"
}

# summarize_cpu: the top methods of $OUT/cpu.nettrace by CPU samples.
summarize_cpu() {
  "$TRACE" convert --format speedscope "$OUT/cpu.nettrace" -o "$OUT/cpu" > /dev/null
  python3 - "$OUT/cpu.speedscope.json" "$TOP" <<'PY'
import collections, json, sys
data = json.load(open(sys.argv[1]))
top = int(sys.argv[2])
names = [f["name"] for f in data["shared"]["frames"]]
inclusive, exclusive, total = collections.Counter(), collections.Counter(), 0.0
for profile in data["profiles"]:
    stack, last = [], profile.get("startValue", 0)
    for event in profile.get("events", []):
        weight = event["at"] - last
        last = event["at"]
        if stack and weight > 0 and names[stack[-1]] == "CPU_TIME":
            total += weight
            if len(stack) > 1:
                exclusive[names[stack[-2]]] += weight
            for frame in set(stack[:-1]):
                inclusive[names[frame]] += weight
        if event["type"] == "O":
            stack.append(event["frame"])
        elif stack:
            stack.pop()
print(f"CPU samples of managed code: {total:.0f} ms")
for title, counter in (("exclusive", exclusive), ("inclusive", inclusive)):
    print(f"--- top {top} methods by {title} CPU ---")
    for name, weight in counter.most_common(top):
        print(f"{100 * weight / total:5.1f}%  {name[:150]}")
PY

}

if [[ "$MODE" == long ]]; then
  TRACE="$(tool dotnet-trace)"
  start upstream upstream --port 0 --chunks 5000 --chunk-delay-ms 0
  proxy "$URL_upstream"
  url="$URL" pid="$PID"
  dotnet "$DLL" sse-client --url "$url" --n 2 --concurrency 1 --token "$TOKEN" > /dev/null 2>&1 # warm-up
  dotnet "$DLL" sse-client --url "$url" --n 1000 --concurrency 1 --token "$TOKEN" --warmup 0 > "$OUT/sse.json" 2>&1 &
  load=$!
  sleep 2
  "$TRACE" collect -p "$pid" --profile dotnet-sampled-thread-time --duration "00:00:00:$(printf '%02d' "$SECONDS_SAMPLED")" \
    -o "$OUT/cpu.nettrace" > "$OUT/trace.log" 2>&1
  kill "$load" 2>/dev/null || true
  summarize_cpu
elif [[ "$MODE" == cpu ]]; then
  command -v wrk >/dev/null || { echo "profile.sh: wrk is needed (run-load.sh installs it)" >&2; exit 1; }
  TRACE="$(tool dotnet-trace)"
  start upstream upstream --port 0
  upstream="$URL_upstream"
  extra=()
  if [[ "$REDIS" == 1 ]]; then
    start_redis || { echo "profile.sh: redis-server did not start (see $OUT/redis-server.log)" >&2; exit 1; }
    extra=(--redis "127.0.0.1:$REDIS_PORT")
  fi
  read -r -a flags <<< "${HOST_FLAGS:-}"
  proxy "$upstream" "${extra[@]}" "${flags[@]}"
  url="$URL" pid="$PID"
  wrk -t2 -c"$CONNECTIONS" -d3s -s "$HERE/wrk-chat.lua" "$url" > /dev/null 2>&1 # warm-up
  wrk -t2 -c"$CONNECTIONS" -d"$(( SECONDS_SAMPLED + 4 ))s" -s "$HERE/wrk-chat.lua" "$url" > "$OUT/wrk.txt" 2>&1 &
  load=$!
  sleep 2
  # Thread stacks sampled about every 10 ms; the report keeps the samples of threads that were running.
  "$TRACE" collect -p "$pid" --profile dotnet-sampled-thread-time --duration "00:00:00:$(printf '%02d' "$SECONDS_SAMPLED")" \
    -o "$OUT/cpu.nettrace" > "$OUT/trace.log" 2>&1
  wait "$load" || true
  grep -E "Requests/sec" "$OUT/wrk.txt" >&2 || true
  # Only samples of threads running managed code count (the exporter marks them CPU_TIME; waiting threads are
  # UNMANAGED_CODE_TIME): a method's share is of the CPU the process's managed code used.
  summarize_cpu
  echo "Trace: $OUT/cpu.nettrace (open it in PerfView or Visual Studio, or 'dotnet-trace convert --format speedscope')" >&2
else
  GCDUMP="$(tool dotnet-gcdump)"
  [[ "$MODE" == held ]] && TRACE="$(tool dotnet-trace)"
  upstream_args=() proxy_args=() client_args=()
  if [[ "${HTTP2:-0}" == 1 ]]; then
    upstream_args=(--http2) client_args=(--release-http2) proxy_args=(--http-version 2)
    [[ "$TARGET" == yarp ]] && proxy_args=(--http2)
  fi
  start stalled-upstream stalled-upstream --port 0 "${upstream_args[@]}"
  upstream="$URL_stalled_upstream"
  proxy "$upstream" "${proxy_args[@]}"
  url="$URL" pid="$PID"
  hold=20; [[ "$MODE" == held ]] && hold=$(( SECONDS_SAMPLED + 12 ))
  dotnet "$DLL" stalled-streams --url "$url" --pid "$pid" --release "$upstream" --count "$STALLED" --hold-seconds "$hold" \
    --token "$TOKEN" "${client_args[@]}" > "$OUT/stalled.json" 2> "$OUT/stalled.err" &
  client=$!
  # The client warms up with 50 streams, then opens STALLED and holds them for 20 s: dump once the proxy's open
  # files say they are nearly all open (a socket per stream, but the warm-up's idle connections are reused), then settle.
  base_files="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)"
  for _ in $(seq 1 600); do
    (( $(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l) >= base_files + STALLED * 9 / 10 )) && break
    sleep 0.2
  done
  sleep 2
  if [[ "$MODE" == held ]]; then
    # Nothing flows while they are held: every sample is what holding costs (timers, the server's heartbeat, the GC).
    "$TRACE" collect -p "$pid" --profile dotnet-sampled-thread-time --duration "00:00:00:$(printf '%02d' "$SECONDS_SAMPLED")" \
      -o "$OUT/cpu.nettrace" > "$OUT/trace.log" 2>&1
    wait "$client" || true
    cat "$OUT/stalled.json" >&2; echo >&2
    summarize_cpu
    exit 0
  fi
  "$GCDUMP" collect -p "$pid" -o "$OUT/held.gcdump" > "$OUT/gcdump.log" 2>&1
  wait "$client" || true
  cat "$OUT/stalled.json" >&2; echo >&2
  # The report lists each type's size per object and its count; multiplied here and sorted by total.
  "$GCDUMP" report "$OUT/held.gcdump" > "$OUT/gcdump.txt"
  awk -v streams="$STALLED" '/GC Heap bytes/ { gsub(",", "", $1)
    printf "managed heap with %d streams held: %.1f MB (%.1f KB per stream, the baseline included)\n", streams, $1 / 1048576, $1 / 1024 / streams }' "$OUT/gcdump.txt"
  awk '$1 ~ /^[0-9,]+$/ && $2 ~ /^[0-9,]+$/ { b = $1; c = $2; gsub(",", "", b); gsub(",", "", c); $1 = ""; $2 = ""
    printf "%12d %8d %s\n", b * c, c, $0 }' "$OUT/gcdump.txt" | sort -k1,1nr | head -n "$TOP"
  echo "Dump: $OUT/held.gcdump" >&2
fi
