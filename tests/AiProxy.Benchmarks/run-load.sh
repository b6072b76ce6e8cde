#!/usr/bin/env bash
# The end-to-end benchmark: AiProxy against direct calls to the upstream and a bare YARP forwarder, in one run.
#
#   tests/AiProxy.Benchmarks/run-load.sh            # defaults: DURATION=10s CONNECTIONS=32 RUNS=3
#   SMOKE=1 tests/AiProxy.Benchmarks/run-load.sh    # CI smoke: a few seconds per phase, one run
#
# Knobs (environment): DURATION (wrk run length, 10s), CONNECTIONS (the loaded level, 32), RUNS (3),
# STREAMS (streams per SSE measurement, 32), EVENTS (content events per stream, 64), CHUNK_DELAY_MS (20),
# STALLED (held streams, 1000), HOLD_SECONDS (3), WARMUP (3s), REDIS (1: the Redis row when redis-server is
# available or installable; 0: without it), OUT (folder for logs and raw results).
#
# Builds Release, starts on 127.0.0.1 (free ports) the fake upstream, YARP, AiProxy (its token with generous
# limits, in memory), AiProxy with the same limits in Redis (its own redis-server, no persistence), AiProxy with the
# token stored in a SQLite database (AddEntityFrameworkStore: served from the store's snapshot in memory) and AiProxy
# with OpenTelemetry metrics, measures them interleaved, RUNS times, and prints one markdown table of medians.
# Every process it starts runs with the same GC settings (workstation, concurrent) and is stopped at the
# end, on failure and on Ctrl-C. Traffic goes to 127.0.0.1 only. Numbers are printed, never judged: the exit
# code is non-zero only when something broke (a failed request, a broken stream, a held stream that did not
# complete, a process that did not start).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SMOKE="${SMOKE:-0}"
if [[ "$SMOKE" == "1" ]]; then
  DURATION="${DURATION:-2s}"; RUNS="${RUNS:-1}"; STALLED="${STALLED:-100}"; EVENTS="${EVENTS:-16}"
  STREAMS="${STREAMS:-8}"; HOLD_SECONDS="${HOLD_SECONDS:-1}"; WARMUP="${WARMUP:-1s}"
fi
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
RUNS="${RUNS:-3}"
STREAMS="${STREAMS:-32}"
EVENTS="${EVENTS:-64}"
CHUNK_DELAY_MS="${CHUNK_DELAY_MS:-20}"
STALLED="${STALLED:-1000}"
HOLD_SECONDS="${HOLD_SECONDS:-3}"
WARMUP="${WARMUP:-3s}"
SSE_CONCURRENCY="${SSE_CONCURRENCY:-8}"
REDIS="${REDIS:-1}"
TOKEN="sk-bench-token"

die() { echo "run-load.sh: $*" >&2; exit 1; }
seconds_of() { # 10s, 2m, 500ms or a bare number of seconds -> whole seconds, at least 1
  local v="$1"
  case "$v" in
    *ms) echo $(( (${v%ms} + 999) / 1000 )) ;;
    *s) echo "${v%s}" ;;
    *m) echo $(( ${v%m} * 60 )) ;;
    *) echo "$v" ;;
  esac
}
[[ "$(seconds_of "$DURATION")" =~ ^[0-9]+$ ]] || die "DURATION must look like 10s, 2m or 500ms, not '$DURATION'"
for knob in CONNECTIONS RUNS STREAMS EVENTS CHUNK_DELAY_MS STALLED HOLD_SECONDS SSE_CONCURRENCY; do
  [[ "${!knob}" =~ ^[1-9][0-9]*$ || ( "$knob" == CHUNK_DELAY_MS && "${!knob}" == 0 ) ]] || die "$knob must be a positive integer, not '${!knob}'"
done
[[ "$REDIS" == 0 || "$REDIS" == 1 ]] || die "REDIS must be 0 or 1, not '$REDIS'"
DURATION_S="$(seconds_of "$DURATION")"

OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/aiproxy-bench.XXXXXX")}"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"

# Same runtime settings for every process: the comparison is between forwarders, not GC modes.
export DOTNET_gcServer=0 DOTNET_gcConcurrent=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export BENCH_TOKEN="$TOKEN"
unset ASPNETCORE_URLS DOTNET_URLS || true

# --- processes -------------------------------------------------------------------------------------------
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap cleanup EXIT
trap 'echo "run-load.sh: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

DLL="$HERE/bin/Release/net10.0/AiProxy.Benchmarks.dll"

# bench-lib.sh: start (phase 3 sets LOG_SUFFIX), http_get, cpu_ticks, CLK_TCK, redis_cmd, redis_counters, start_redis.
# shellcheck source=bench-lib.sh
source "$HERE/bench-lib.sh"

stop_all() { cleanup; }

record_error() { printf '{"kind":"error","target":"%s","message":"%s"}\n' "$1" "$2" >> "$RESULTS"; }

# --- prerequisites ---------------------------------------------------------------------------------------
command -v dotnet >/dev/null || die "the .NET SDK is needed"
if ! command -v wrk >/dev/null; then
  echo "Installing wrk from Debian's packages..." >&2
  if [[ $(id -u) == 0 ]]; then
    (apt-get update -qq && apt-get install -y -qq wrk) >&2 || die "could not install wrk"
  else
    (sudo apt-get update -qq && sudo apt-get install -y -qq wrk) >&2 || die "could not install wrk (apt-get install wrk)"
  fi
fi
if [[ "$REDIS" == 1 ]] && ! command -v redis-server >/dev/null; then
  echo "Installing redis-server from Debian's packages (REDIS=0 skips the Redis row)..." >&2
  if [[ $(id -u) == 0 ]]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2 || true
  else
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2 || true
  fi
  command -v redis-server >/dev/null || { echo "run-load.sh: redis-server is not available; the AiProxy + Redis row is left out" >&2; REDIS=0; }
fi
# 1,000 held streams are 2,000+ sockets in one proxy process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[[ $(ulimit -n) == unlimited || $(ulimit -n) -ge $(( STALLED * 2 + 200 )) ]] || die "open-file limit $(ulimit -n) is too low for $STALLED streams"

LOAD_TARGETS=$(( 5 + REDIS ))
LOAD_STEPS=$(( RUNS * 2 * LOAD_TARGETS ))
ESTIMATE=$(( LOAD_TARGETS * 2 * $(seconds_of "$WARMUP") + LOAD_STEPS * (DURATION_S + 1) + RUNS * 4 * (3 + (STREAMS / SSE_CONCURRENCY + 1) * (EVENTS + 3) * CHUNK_DELAY_MS / 1000) + 2 * (HOLD_SECONDS + 12) + 30 ))
echo "AiProxy benchmark: DURATION=$DURATION CONNECTIONS=$CONNECTIONS RUNS=$RUNS STREAMS=$STREAMS EVENTS=$EVENTS STALLED=$STALLED (about $(( ESTIMATE / 60 + 1 )) min after the build); logs in $OUT" >&2

echo "Building Release..." >&2
dotnet build "$HERE/AiProxy.Benchmarks.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly > "$OUT/build.log" 2>&1 \
  || { cat "$OUT/build.log" >&2; die "build failed"; }

# --- phase 1 and 2: non-streaming load and streaming timing ----------------------------------------------
start upstream upstream --port 0 --chunks "$EVENTS" --chunk-delay-ms "$CHUNK_DELAY_MS"
start yarp yarp --port 0 --upstream "$URL_upstream"
start aiproxy aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN"
start aiproxy-otel aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --otel
start aiproxy-stored aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --stored-token "$OUT/aiproxy-stored.db"

# Streaming and held streams measure direct, YARP, AiProxy and AiProxy + OTel; the non-streaming load adds
# AiProxy + stored token and AiProxy + Redis right after AiProxy, so each differs from it only in where the token
# (stored: in a database, served from memory) or its limits (Redis) live.
TARGETS=(direct yarp aiproxy aiproxy-otel)
LOAD_ORDER=(direct yarp aiproxy aiproxy-stored aiproxy-otel)
if [[ "$REDIS" == 1 ]]; then
  if start_redis; then
    start aiproxy-redis aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN" --redis "127.0.0.1:$REDIS_PORT"
    LOAD_ORDER=(direct yarp aiproxy aiproxy-stored aiproxy-redis aiproxy-otel)
    echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$REDIS_PORT" >&2
  else
    record_error aiproxy-redis "redis-server did not start (see redis-server.log)"
  fi
fi
target_url() {
  case "$1" in
    direct) echo "$URL_upstream/v1/chat/completions" ;;
    yarp) echo "$URL_yarp/v1/chat/completions" ;;
    aiproxy) echo "$URL_aiproxy/proxy/v1/chat/completions" ;;
    aiproxy-redis) echo "$URL_aiproxy_redis/proxy/v1/chat/completions" ;;
    aiproxy-otel) echo "$URL_aiproxy_otel/proxy/v1/chat/completions" ;;
    aiproxy-stored) echo "$URL_aiproxy_stored/proxy/v1/chat/completions" ;;
  esac
}
target_pid() { case "$1" in direct) echo "$PID_upstream" ;; yarp) echo "$PID_yarp" ;; aiproxy) echo "$PID_aiproxy" ;; aiproxy-redis) echo "$PID_aiproxy_redis" ;; aiproxy-otel) echo "$PID_aiproxy_otel" ;; aiproxy-stored) echo "$PID_aiproxy_stored" ;; esac; }
target_base() { case "$1" in direct) echo "" ;; yarp) echo "$URL_yarp" ;; aiproxy) echo "$URL_aiproxy" ;; aiproxy-redis) echo "$URL_aiproxy_redis" ;; aiproxy-otel) echo "$URL_aiproxy_otel" ;; aiproxy-stored) echo "$URL_aiproxy_stored" ;; esac; }

# redis_outages: how many times the Redis host has fallen back to in-memory limits so far (its log's warnings).
redis_outages() { grep -c "Redis is unavailable" "$OUT/aiproxy-redis.log" || true; }
# wait_for_redis: waits up to 10 s until the Redis host uses Redis again (after a fallback it probes every second).
wait_for_redis() {
  for _ in $(seq 1 100); do
    [[ "$(http_get "$URL_aiproxy_redis/_bench/redis")" == available ]] && return 0
    sleep 0.1
  done
  return 1
}

WRK="$HERE/wrk-chat.lua"
echo "Warming up (JIT, connection pools)..." >&2
for target in "${LOAD_ORDER[@]}"; do
  timeout 60 wrk -t2 -c"$CONNECTIONS" -d"$WARMUP" -s "$WRK" "$(target_url "$target")" > "$OUT/warmup-$target.log" 2>&1 || true
  [[ " ${TARGETS[*]} " == *" $target "* ]] || continue
  timeout 60 dotnet "$DLL" sse-client --url "$(target_url "$target")" --n 4 --concurrency 4 --token "$TOKEN" --warmup 1 > /dev/null 2>&1 || true
done
if [[ -n "${PID_aiproxy_redis:-}" && "$(redis_outages)" != 0 ]]; then
  # A cold process under load (JIT, thread-pool growth) can miss the 50 ms Redis timeout; only measured runs count.
  echo "  AiProxy + Redis fell back to in-memory limits during the warm-up; measuring once it uses Redis again" >&2
fi

measure_load() { # run conc target
  local run="$1" conc="$2" target="$3"
  local url pid base threads=2 alloc0="" alloc1="" cpu0 cpu1 out json alloc="null" redis0="" redis1="" rcpu0="" rcpu1="" redis="" outages0="" fb0="" fb1=""
  url="$(target_url "$target")"; pid="$(target_pid "$target")"; base="$(target_base "$target")"
  (( conc < 2 )) && threads=1
  if [[ "$target" == aiproxy-redis ]]; then
    wait_for_redis || record_error "$target" "c=$conc run $run started while the host still used its in-memory fallback"
    outages0="$(redis_outages)"
    fb0="$(http_get "$URL_aiproxy_redis/_bench/redis/fallbacks")"
  fi
  [[ -n "$base" ]] && alloc0="$(http_get "$base/_bench/alloc")"
  if [[ "$target" == aiproxy-redis ]]; then redis0="$(redis_counters "$REDIS_PORT")"; rcpu0="$(cpu_ticks "$PID_redis")"; fi
  cpu0="$(cpu_ticks "$pid")"
  out="$(timeout $(( DURATION_S + 30 )) wrk -t"$threads" -c"$conc" -d"$DURATION" --latency -s "$WRK" "$url" 2>&1)" || true
  cpu1="$(cpu_ticks "$pid")"
  if [[ "$target" == aiproxy-redis ]]; then
    rcpu1="$(cpu_ticks "$PID_redis")"; redis1="$(redis_counters "$REDIS_PORT")"
    fb1="$(http_get "$URL_aiproxy_redis/_bench/redis/fallbacks")"
  fi
  [[ -n "$base" ]] && alloc1="$(http_get "$base/_bench/alloc")"
  printf '%s\n' "$out" > "$OUT/wrk-$target-c$conc-run$run.log"
  json="$(printf '%s\n' "$out" | sed -n 's/^BENCHJSON //p')"
  if [[ -z "$json" ]]; then
    record_error "$target" "wrk c=$conc run $run printed no result (see wrk-$target-c$conc-run$run.log)"
    return
  fi
  [[ "$alloc0" =~ ^[0-9]+$ && "$alloc1" =~ ^[0-9]+$ ]] && alloc=$(( alloc1 - alloc0 ))
  if [[ "$target" == aiproxy-redis ]]; then
    [[ "$(redis_outages)" == "$outages0" ]] \
      || record_error "$target" "c=$conc run $run: the host declared Redis unavailable (its calls have a 50 ms timeout) and used its in-memory limits for a while (see aiproxy-redis.log)"
    # Commands and scripts redis-server ran during the run (a few are the counter reads themselves), and its CPU.
    local c0 s0 c1 s1
    read -r c0 s0 <<< "$redis0"; read -r c1 s1 <<< "$redis1"
    if [[ "$c0$s0$c1$s1" =~ ^[0-9]+$ && -n "$s1" && -n "$c0" ]]; then
      redis=$(printf ',"redisCommands":%d,"redisScripts":%d,"redisCpuTicks":%d' $(( c1 - c0 )) $(( s1 - s0 )) $(( rcpu1 - rcpu0 )))
    fi
    # Requests the host decided with its in-memory fallback because their Redis call got no answer.
    [[ "$fb0" =~ ^[0-9]+$ && "$fb1" =~ ^[0-9]+$ ]] && redis+=$(printf ',"redisFallbacks":%d' $(( fb1 - fb0 )))
  fi
  printf '{"kind":"load","run":%d,"target":"%s","conc":%d,"cpuTicks":%d,"clkTck":%d,"allocBytes":%s%s,"wrk":%s}\n' \
    "$run" "$target" "$conc" $(( cpu1 - cpu0 )) "$CLK_TCK" "$alloc" "$redis" "$json" >> "$RESULTS"
  echo "  run $run c=$conc $target: $json" >&2
}

measure_stream() { # run target
  local run="$1" target="$2" json
  json="$(timeout 120 dotnet "$DLL" sse-client --url "$(target_url "$target")" --n "$STREAMS" --concurrency "$SSE_CONCURRENCY" \
    --token "$TOKEN" --events "$EVENTS" 2> "$OUT/sse-$target-run$run.err")" || true
  if [[ "$json" != \{* ]]; then
    record_error "$target" "sse-client run $run printed no result (see sse-$target-run$run.err)"
    return
  fi
  printf '{"kind":"stream","run":%d,"target":"%s","result":%s}\n' "$run" "$target" "$json" >> "$RESULTS"
  echo "  run $run streaming $target: $json" >&2
}

for run in $(seq 1 "$RUNS"); do
  echo "Run $run of $RUNS: non-streaming..." >&2
  for conc in 1 "$CONNECTIONS"; do
    for target in "${LOAD_ORDER[@]}"; do measure_load "$run" "$conc" "$target"; done
  done
  echo "Run $run of $RUNS: streaming ($EVENTS events ${CHUNK_DELAY_MS} ms apart)..." >&2
  for target in "${TARGETS[@]}"; do measure_stream "$run" "$target"; done
done
if [[ -n "${PID_aiproxy_redis:-}" ]]; then
  # What the Redis row cost redis-server, by command (commands scripts run are counted too), for looking into it.
  redis_cmd "$REDIS_PORT" INFO commandstats > "$OUT/redis-commandstats.txt"
fi
stop_all

# --- phase 3: held streams, in fresh processes so that the baseline is not the heap left by the load ------
echo "Stalled streams: $STALLED held for ${HOLD_SECONDS}s per proxy..." >&2
LOG_SUFFIX="-stalled"
start stalled-upstream stalled-upstream --port 0
start yarp yarp --port 0 --upstream "$URL_stalled_upstream"
start aiproxy aiproxy --port 0 --upstream "$URL_stalled_upstream" --token "$TOKEN"
for target in yarp aiproxy; do
  url="$(target_url "$target")"; pid="$(target_pid "$target")"
  json="$(timeout $(( HOLD_SECONDS + 150 )) dotnet "$DLL" stalled-streams --url "$url" --pid "$pid" --release "$URL_stalled_upstream" \
    --count "$STALLED" --hold-seconds "$HOLD_SECONDS" --token "$TOKEN" 2> "$OUT/stalled-$target.err")" || true
  if [[ "$json" != \{* ]]; then
    record_error "$target" "stalled-streams printed no result (see stalled-$target.err)"
    continue
  fi
  printf '{"kind":"stalled","target":"%s","result":%s}\n' "$target" "$json" >> "$RESULTS"
  echo "  $target: $json" >&2
done
stop_all

# --- the table -------------------------------------------------------------------------------------------
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), .NET SDK $(dotnet --version), wrk $(wrk -v 2>&1 | awk 'NR==1{print $2}')"
echo "Settings: DURATION=$DURATION CONNECTIONS=$CONNECTIONS RUNS=$RUNS STREAMS=$STREAMS EVENTS=$EVENTS CHUNK_DELAY_MS=$CHUNK_DELAY_MS STALLED=$STALLED HOLD_SECONDS=$HOLD_SECONDS"
echo
set +e
dotnet "$DLL" report "$RESULTS"
status=$?
set -e
echo
echo "Raw results and logs: $OUT" >&2
exit "$status"
