#!/usr/bin/env bash
# Issue 20's benchmark rows: HTTP/2 upstreams, 10,000 held streams, long streams, soak. Prints one markdown table.
#
#   tests/AiProxy.Benchmarks/run-streams.sh                      # every phase (the soak last: it takes minutes)
#   PHASES="load long" tests/AiProxy.Benchmarks/run-streams.sh   # some phases: load held long soak
#   SMOKE=1 tests/AiProxy.Benchmarks/run-streams.sh              # CI: 100 held streams, 200-event streams, seconds
#
# Phases (each in fresh processes, on 127.0.0.1, free ports):
#   load  "HTTP/2 upstream": wrk c=CONNECTIONS (non-streaming) and the SSE client (STREAMS streams of EVENTS events,
#         CHUNK_DELAY_MS apart) through AiProxy and YARP, each with an HTTP/1.1 upstream and with an h2c upstream
#         (AiProxy: Providers:bench:HttpVersion=2; YARP: HTTP/2 exact), RUNS times interleaved.
#   held  "10,000 concurrent streams": HELD streams held through AiProxy with HttpVersion 2 to an h2c upstream that
#         holds them until released; RSS per stream, open files, CPU while holding, all complete after release. Then
#         the largest count that fits with an HTTP/1.1 upstream (two sockets per stream) under the proxy's open-file
#         limit (HELD_H1, default: computed from that limit). HELD_YARP=1 adds YARP over HTTP/2 with HELD streams.
#         A run with a tenth of HELD comes first: per-stream costs that stay flat at ten times the streams are linear.
#   long  "Long streams": LONG_STREAMS streams of LONG_EVENTS events each, one at a time, as fast as the upstream
#         writes them: events per second and proxy CPU per event, direct vs YARP vs AiProxy, RUNS times interleaved.
#   soak  "Soak": SOAK_REQUESTS non-streaming requests at c=SOAK_CONNECTIONS through one AiProxy host (wrk in
#         segments); its RSS after the first 100,000 requests against at the end, errors.
# Knobs (environment): PHASES, DURATION (10s), CONNECTIONS (32), RUNS (3), STREAMS (32), EVENTS (64),
# CHUNK_DELAY_MS (20), HELD (10000), HELD_H1 (computed), HELD_YARP (0), HOLD_SECONDS (30: CPU is read over its second half), LONG_EVENTS (5000),
# LONG_STREAMS (10), SOAK_REQUESTS (1000000), SOAK_CONNECTIONS (64), OUT; BASELINE_DLL (the benchmark build of another
# commit: its AiProxy host joins the long-stream rows, interleaved, as a before/after).
# Exit code non-zero only when something broke (a failed request or stream, a held stream that did not complete).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SMOKE="${SMOKE:-0}"
if [[ "$SMOKE" == 1 ]]; then
  PHASES="${PHASES:-held long}"; HELD="${HELD:-100}"; HELD_H1="${HELD_H1:-100}"; HOLD_SECONDS="${HOLD_SECONDS:-1}"
  LONG_EVENTS="${LONG_EVENTS:-200}"; LONG_STREAMS="${LONG_STREAMS:-2}"; RUNS="${RUNS:-1}"; DURATION="${DURATION:-1s}"
fi
PHASES="${PHASES:-load held long soak}"
DURATION="${DURATION:-10s}"; CONNECTIONS="${CONNECTIONS:-32}"; RUNS="${RUNS:-3}"
STREAMS="${STREAMS:-32}"; EVENTS="${EVENTS:-64}"; CHUNK_DELAY_MS="${CHUNK_DELAY_MS:-20}"
HELD="${HELD:-10000}"; HELD_H1="${HELD_H1:-}"; HELD_YARP="${HELD_YARP:-0}"; HOLD_SECONDS="${HOLD_SECONDS:-30}"
LONG_EVENTS="${LONG_EVENTS:-5000}"; LONG_STREAMS="${LONG_STREAMS:-10}"
SOAK_REQUESTS="${SOAK_REQUESTS:-1000000}"; SOAK_CONNECTIONS="${SOAK_CONNECTIONS:-64}"
TOKEN="sk-bench-token"
die() { echo "run-streams.sh: $*" >&2; exit 1; }
for knob in CONNECTIONS RUNS STREAMS EVENTS HELD HOLD_SECONDS LONG_EVENTS LONG_STREAMS SOAK_REQUESTS SOAK_CONNECTIONS; do
  [[ "${!knob}" =~ ^[1-9][0-9]*$ ]] || die "$knob must be a positive integer, not '${!knob}'"
done
[[ -z "$HELD_H1" || "$HELD_H1" =~ ^[1-9][0-9]*$ ]] || die "HELD_H1 must be a positive integer, not '$HELD_H1'"
for phase in $PHASES; do [[ " load held long soak " == *" $phase "* ]] || die "unknown phase '$phase'"; done

OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/aiproxy-streams.XXXXXX")}"
mkdir -p "$OUT"
METRICS="$OUT/metrics.tsv" # row <TAB> column <TAB> value: one measurement; the table shows the median per cell
: > "$METRICS"
FAILED=0
DLL="$HERE/bin/Release/net10.0/AiProxy.Benchmarks.dll"
export DOTNET_gcServer=0 DOTNET_gcConcurrent=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 BENCH_TOKEN="$TOKEN"
unset ASPNETCORE_URLS DOTNET_URLS || true
# shellcheck source=bench-lib.sh
source "$HERE/bench-lib.sh"

PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap stop_all EXIT
trap 'echo "run-streams.sh: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

metric() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$METRICS"; }
fail() { echo "  FAILED: $*" >&2; FAILED=1; metric "Failures" "$1" "$2"; }
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
json() { jq -r "$2" <<< "$1"; }

need=()
command -v jq >/dev/null || need+=(jq)
[[ " $PHASES " == *" load "* || " $PHASES " == *" soak "* ]] && ! command -v wrk >/dev/null && need+=(wrk)
if (( ${#need[@]} )); then
  echo "Installing ${need[*]} from Debian's packages..." >&2
  sudo=(); [[ $(id -u) == 0 ]] || sudo=(sudo)
  ("${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${need[@]}") >&2 || die "could not install ${need[*]}"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "run-streams.sh: PHASES='$PHASES'; logs in $OUT; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "Building Release..." >&2
dotnet build "$HERE/AiProxy.Benchmarks.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly > "$OUT/build.log" 2>&1 \
  || { cat "$OUT/build.log" >&2; die "build failed"; }

# wrk_run NAME URL PID CONNECTIONS DURATION: one wrk run; sets REQUESTS, ERRORS, RPS and CPU_US (proxy CPU per request).
wrk_run() {
  local name="$1" url="$2" pid="$3" conc="$4" duration="$5" cpu0 cpu1 out result
  cpu0="$(cpu_ticks "$pid")"
  out="$(timeout 900 wrk -t2 -c"$conc" -d"$duration" -s "$HERE/wrk-chat.lua" "$url" 2>&1)" || true
  cpu1="$(cpu_ticks "$pid")"
  printf '%s\n' "$out" >> "$OUT/wrk-$name.log"
  result="$(sed -n 's/^BENCHJSON //p' <<< "$out")"
  [[ -n "$result" ]] || { REQUESTS=0; ERRORS=1; RPS=0; CPU_US=0; return; }
  REQUESTS="$(json "$result" .requests)"
  ERRORS="$(json "$result" '.non2xx + .socketErrors')"
  RPS="$(json "$result" '.requests / (.durationUs / 1000000) | floor')"
  CPU_US=$(( REQUESTS > 0 ? (cpu1 - cpu0) * 1000000 / CLK_TCK / REQUESTS : 0 ))
}

# sse_run NAME URL PID ARGS...: one sse-client run against URL; sets SSE (its JSON) and CPU_EVENT_US (proxy CPU per event).
sse_run() {
  local name="$1" url="$2" pid="$3"; shift 3
  local cpu0 cpu1 events
  cpu0="$(cpu_ticks "$pid")"
  SSE="$(timeout 600 dotnet "$DLL" sse-client --url "$url" --token "$TOKEN" --warmup 0 "$@" 2>> "$OUT/sse-$name.err")" || true
  cpu1="$(cpu_ticks "$pid")"
  [[ "$SSE" == \{* ]] || SSE='{"errors":1,"firstError":"no result","events":0}'
  events="$(json "$SSE" .events)"
  CPU_EVENT_US="$(awk -v t=$(( cpu1 - cpu0 )) -v k="$CLK_TCK" -v e="$events" 'BEGIN { printf "%.2f", (e > 0 ? t * 1000000 / k / e : 0) }')"
}

# --- load: HTTP/1.1 vs HTTP/2 upstream --------------------------------------------------------------------
if [[ " $PHASES " == *" load "* ]]; then
  echo "Load: c=$CONNECTIONS non-streaming and $STREAMS streams of $EVENTS events, HTTP/1.1 vs HTTP/2 upstream, $RUNS runs..." >&2
  start upstream upstream --port 0 --chunks "$EVENTS" --chunk-delay-ms "$CHUNK_DELAY_MS"
  start upstream-h2 upstream --port 0 --chunks "$EVENTS" --chunk-delay-ms "$CHUNK_DELAY_MS" --http2
  start aiproxy aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN"
  start aiproxy-h2 aiproxy --port 0 --upstream "$URL_upstream_h2" --token "$TOKEN" --http-version 2
  start yarp yarp --port 0 --upstream "$URL_upstream"
  start yarp-h2 yarp --port 0 --upstream "$URL_upstream_h2" --http2
  declare -A LOAD_URL=([aiproxy]="$URL_aiproxy/proxy/v1/chat/completions" [aiproxy-h2]="$URL_aiproxy_h2/proxy/v1/chat/completions"
    [yarp]="$URL_yarp/v1/chat/completions" [yarp-h2]="$URL_yarp_h2/v1/chat/completions")
  declare -A LOAD_PID=([aiproxy]="$PID_aiproxy" [aiproxy-h2]="$PID_aiproxy_h2" [yarp]="$PID_yarp" [yarp-h2]="$PID_yarp_h2")
  declare -A LOAD_LABEL=([aiproxy]="AiProxy, HTTP/1.1 upstream" [aiproxy-h2]="AiProxy, HTTP/2 upstream"
    [yarp]="YARP, HTTP/1.1 upstream" [yarp-h2]="YARP, HTTP/2 upstream")
  for target in aiproxy aiproxy-h2 yarp yarp-h2; do # warm-up: JIT, connection pools
    wrk_run "warmup-$target" "${LOAD_URL[$target]}" "${LOAD_PID[$target]}" "$CONNECTIONS" 2s
    sse_run "warmup-$target" "${LOAD_URL[$target]}" "${LOAD_PID[$target]}" --n 8 --concurrency 8
  done
  for run in $(seq 1 "$RUNS"); do
    for target in aiproxy aiproxy-h2 yarp yarp-h2; do
      label="${LOAD_LABEL[$target]}"
      wrk_run "$target" "${LOAD_URL[$target]}" "${LOAD_PID[$target]}" "$CONNECTIONS" "$DURATION"
      (( ERRORS == 0 )) || fail "$label" "wrk run $run: $ERRORS errors"
      metric "Non-streaming c=$CONNECTIONS: requests/s" "$label" "$RPS"
      metric "Non-streaming c=$CONNECTIONS: proxy CPU per request (µs)" "$label" "$CPU_US"
      echo "  run $run $target: $RPS requests/s, $CPU_US µs CPU per request" >&2
      sse_run "$target" "${LOAD_URL[$target]}" "${LOAD_PID[$target]}" --n "$STREAMS" --concurrency 8 --events "$EVENTS"
      [[ "$(json "$SSE" .errors)" == 0 ]] || fail "$label" "sse run $run: $(json "$SSE" .firstError)"
      metric "Streaming: time to first event p50 (ms)" "$label" "$(json "$SSE" .ttfeMs.p50)"
      metric "Streaming: time to first event p99 (ms)" "$label" "$(json "$SSE" .ttfeMs.p99)"
      metric "Streaming: inter-event gap p99 (ms)" "$label" "$(json "$SSE" .gapMs.p99)"
      metric "Streaming: proxy CPU per event, the request's own work included (µs)" "$label" "$CPU_EVENT_US"
      echo "  run $run $target streaming: ttfe p50 $(json "$SSE" .ttfeMs.p50) ms, $CPU_EVENT_US µs CPU per event" >&2
    done
  done
  stop_all
fi

# --- held: 10,000 concurrent streams ------------------------------------------------------------------------
# held_run LABEL PROXY_NAME UPSTREAM_NAME COUNT PROXY_ARGS...: a fresh stalled upstream and proxy, COUNT held streams.
held_run() {
  local label="$1" name="$2" upstream_args="$3" count="$4"; shift 4
  local result url release_version=()
  [[ "$upstream_args" == *--http2* ]] && release_version=(--release-http2)
  # shellcheck disable=SC2086
  start stalled-upstream stalled-upstream --port 0 $upstream_args
  start "$name" "$@" --upstream "$URL_stalled_upstream"
  local pid_var="PID_${name//-/_}" url_var="URL_${name//-/_}"
  url="${!url_var}/v1/chat/completions"
  [[ "$name" == aiproxy* ]] && url="${!url_var}/proxy/v1/chat/completions"
  if [[ -z "$count" ]]; then
    # The largest count that fits under the proxy's open-file limit with two sockets per stream, leaving 2 % spare.
    local limit files
    limit="$(awk '/^Max open files/{print $4}' "/proc/${!pid_var}/limits")"
    files="$(find "/proc/${!pid_var}/fd" -mindepth 1 -maxdepth 1 | wc -l)"
    count=$(( (limit * 98 / 100 - files) / 2 / 100 * 100 ))
    echo "  open-file limit $limit, $files open when idle: $count streams with two sockets each" >&2
  fi
  echo "  $label: $count streams held ${HOLD_SECONDS}s..." >&2
  result="$(timeout $(( HOLD_SECONDS + 300 + count / 50 )) dotnet "$DLL" stalled-streams --url "$url" --pid "${!pid_var}" \
    --release "$URL_stalled_upstream" --count "$count" --hold-seconds "$HOLD_SECONDS" --token "$TOKEN" "${release_version[@]}" 2> "$OUT/held-$name.err")" || true
  echo "$result" > "$OUT/held-$name.json"
  stop_all
  if [[ "$result" != \{* ]]; then fail "$label" "stalled-streams printed no result (held-$name.err)"; return; fi
  [[ "$(json "$result" .failed)" == 0 ]] || fail "$label" "$(json "$result" .failed) of $count failed: $(json "$result" .firstError)"
  metric "Held streams: count" "$label" "$count"
  metric "Held streams: RSS per stream (KB)" "$label" "$(json "$result" .growthPerStreamKb)"
  metric "Held streams: RSS idle / held (MB)" "$label" "$(json "$result" '"\(.rssBeforeKb / 1024 | floor) / \(.rssHeldKb / 1024 | floor)"')"
  metric "Held streams: bytes allocated per stream opened" "$label" "$(json "$result" .allocPerStreamBytes)"
  metric "Held streams: open files idle / held" "$label" "$(json "$result" '"\(.filesBefore) / \(.filesHeld)"')"
  metric "Held streams: proxy threads while holding" "$label" "$(json "$result" .threadsHeld)"
  metric "Held streams: proxy CPU while holding (ms per s)" "$label" "$(json "$result" .heldCpuMsPerSecond)"
  metric "Held streams: seconds to open / to complete after release" "$label" "$(json "$result" '"\(.openSeconds) / \(.releaseSeconds)"')"
  metric "Held streams: completed after release" "$label" "$(json "$result" '"\(.completed)/\(.count)"')"
  echo "  $result" >&2
}
if [[ " $PHASES " == *" held "* ]]; then
  echo "Held streams..." >&2
  # Opening 10,000 streams takes 10-20 s here and the hold 30 s more: the first ones would reach the default one-minute
  # StreamIdleTimeout (YARP's own activity timeout is 100 s).
  AIPROXY_HELD=(aiproxy --port 0 --token "$TOKEN" --stream-idle-timeout 300)
  # A tenth of the count first: per-stream figures that stay the same at ten times the streams scale linearly.
  (( HELD >= 1000 )) && held_run "AiProxy, HTTP/2 upstream, $(( HELD / 10 )) streams" aiproxy-held-tenth "--http2" "$(( HELD / 10 ))" aiproxy --port 0 --token "$TOKEN" --http-version 2
  held_run "AiProxy, HTTP/2 upstream" aiproxy-held "--http2" "$HELD" aiproxy --port 0 --token "$TOKEN" --http-version 2
  [[ "$HELD_YARP" == 1 ]] && held_run "YARP, HTTP/2 upstream" yarp-held "--http2" "$HELD" yarp --port 0 --http2
  [[ "$SMOKE" == 1 ]] || held_run "AiProxy, HTTP/1.1 upstream" aiproxy-held-h1 "" "$HELD_H1" "${AIPROXY_HELD[@]}"
fi

# --- long: 5,000-event streams ------------------------------------------------------------------------------
if [[ " $PHASES " == *" long "* ]]; then
  echo "Long streams: $LONG_STREAMS streams of $LONG_EVENTS events, no delay, $RUNS runs..." >&2
  start upstream upstream --port 0 --chunks "$LONG_EVENTS" --chunk-delay-ms 0
  start aiproxy aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN"
  start yarp yarp --port 0 --upstream "$URL_upstream"
  declare -A LONG_URL=([direct]="$URL_upstream/v1/chat/completions" [yarp]="$URL_yarp/v1/chat/completions" [aiproxy]="$URL_aiproxy/proxy/v1/chat/completions")
  declare -A LONG_PID=([direct]="$PID_upstream" [yarp]="$PID_yarp" [aiproxy]="$PID_aiproxy")
  declare -A LONG_LABEL=([direct]="direct" [yarp]="YARP, HTTP/1.1 upstream" [aiproxy]="AiProxy, HTTP/1.1 upstream")
  LONG_TARGETS=(direct yarp aiproxy)
  if [[ -n "${BASELINE_DLL:-}" ]]; then
    # The AiProxy host of another build (BASELINE_DLL), measured interleaved with this one: a before/after row.
    HOST_DLL="$BASELINE_DLL" start aiproxy-baseline aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN"
    LONG_URL[aiproxy-baseline]="$URL_aiproxy_baseline/proxy/v1/chat/completions"; LONG_PID[aiproxy-baseline]="$PID_aiproxy_baseline"
    LONG_LABEL[aiproxy-baseline]="AiProxy (BASELINE_DLL's build)"; LONG_TARGETS+=(aiproxy-baseline)
  fi
  for target in "${LONG_TARGETS[@]}"; do sse_run "warmup-long-$target" "${LONG_URL[$target]}" "${LONG_PID[$target]}" --n 2 --concurrency 1; done
  for run in $(seq 1 "$RUNS"); do
    for target in "${LONG_TARGETS[@]}"; do
      label="${LONG_LABEL[$target]}"
      sse_run "long-$target" "${LONG_URL[$target]}" "${LONG_PID[$target]}" --n "$LONG_STREAMS" --concurrency 1 --events "$LONG_EVENTS"
      [[ "$(json "$SSE" .errors)" == 0 ]] || fail "$label" "long run $run: $(json "$SSE" .firstError)"
      metric "Long streams ($LONG_EVENTS events): events per second" "$label" "$(json "$SSE" .eventsPerSecond)"
      # For direct this is the upstream's own CPU per event (it writes them); for a proxy, the proxy's.
      metric "Long streams ($LONG_EVENTS events): CPU per event (µs; direct: the upstream's)" "$label" "$CPU_EVENT_US"
      metric "Long streams ($LONG_EVENTS events): inter-event gap p99 / max (ms)" "$label" "$(json "$SSE" '"\(.gapMs.p99) / \(.gapMs.max)"')"
      echo "  run $run $target: $(json "$SSE" .eventsPerSecond) events/s, $CPU_EVENT_US µs CPU per event" >&2
    done
  done
  stop_all
fi

# --- soak: 1,000,000 requests -------------------------------------------------------------------------------
if [[ " $PHASES " == *" soak "* ]]; then
  echo "Soak: $SOAK_REQUESTS requests at c=$SOAK_CONNECTIONS..." >&2
  start upstream upstream --port 0
  start aiproxy aiproxy --port 0 --upstream "$URL_upstream" --token "$TOKEN"
  url="$URL_aiproxy/proxy/v1/chat/completions"
  total=0 errors=0 rss_first="" at_first=0 rss_max=0 cpu_total=0 started=$SECONDS
  first=$(( SOAK_REQUESTS / 10 ))
  while (( total < SOAK_REQUESTS )); do
    # Short segments until the first tenth, so the first RSS reading is taken close to it; then 10 s segments.
    segment=10s; (( total < first )) && segment=2s
    wrk_run soak "$url" "$PID_aiproxy" "$SOAK_CONNECTIONS" "$segment"
    (( REQUESTS > 0 )) || { fail "AiProxy, soak" "a wrk segment served nothing"; break; }
    total=$(( total + REQUESTS )); errors=$(( errors + ERRORS )); cpu_total=$(( cpu_total + CPU_US * REQUESTS ))
    rss="$(rss_kb "$PID_aiproxy")"; (( rss > rss_max )) && rss_max=$rss
    if [[ -z "$rss_first" && $total -ge $first ]]; then rss_first="$rss"; at_first="$total"; fi
    echo "  $total requests, RSS $(( rss / 1024 )) MB, $RPS requests/s" >&2
  done
  (( errors == 0 )) || fail "AiProxy, soak" "$errors failed requests"
  label="AiProxy, HTTP/1.1 upstream"
  metric "Soak: requests / failed" "$label" "$total / $errors"
  metric "Soak: RSS after $at_first requests / at the end / max (MB)" "$label" "$(( rss_first / 1024 )) / $(( rss / 1024 )) / $(( rss_max / 1024 ))"
  metric "Soak: RSS at the end vs after the first tenth" "$label" "$(awk -v a="$rss" -v b="$rss_first" 'BEGIN { printf "%+.1f %%", (a - b) * 100 / b }')"
  metric "Soak: requests/s, proxy CPU per request (µs)" "$label" "$(( total / (SECONDS - started) )), $(( cpu_total / total ))"
  stop_all
fi

# --- the table ----------------------------------------------------------------------------------------------
echo
echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, .NET SDK $(dotnet --version)"
echo "Settings: PHASES='$PHASES' RUNS=$RUNS DURATION=$DURATION CONNECTIONS=$CONNECTIONS STREAMS=$STREAMS EVENTS=$EVENTS HELD=$HELD HOLD_SECONDS=$HOLD_SECONDS LONG_EVENTS=$LONG_EVENTS LONG_STREAMS=$LONG_STREAMS SOAK_REQUESTS=$SOAK_REQUESTS"
echo
# Columns in order of first appearance; a cell is the median of its numbers (text cells: the middle run's).
awk -F'\t' '
  !($2 in seen) { seen[$2] = 1; cols[++ncol] = $2 }
  !($1 in rseen) { rseen[$1] = 1; rows[++nrow] = $1 }
  { n = ++count[$1, $2]; val[$1, $2, n] = $3 }
  function median(r, c,   n, i, j, t, a, numeric) {
    n = count[r, c]; if (n == 0) return "-"
    numeric = 1
    for (i = 1; i <= n; i++) { a[i] = val[r, c, i]; if (a[i] !~ /^-?[0-9.]+$/) numeric = 0 }
    if (!numeric) return a[int((n + 1) / 2)]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "| |"; for (c = 1; c <= ncol; c++) printf " %s |", cols[c]; print ""
    printf "|---|"; for (c = 1; c <= ncol; c++) printf "---|"; print ""
    for (r = 1; r <= nrow; r++) {
      printf "| %s |", rows[r]; for (c = 1; c <= ncol; c++) printf " %s |", median(rows[r], cols[c]); print ""
    }
  }' "$METRICS"
echo
echo "Raw measurements and logs: $OUT" >&2
exit "$FAILED"
