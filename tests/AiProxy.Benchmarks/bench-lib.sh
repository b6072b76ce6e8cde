# Shared by run-load.sh, run-cache.sh, run-budgets.sh, run-streams.sh and profile.sh (sourced, never run): starting
# benchmark hosts and a redis-server of the benchmark's own, loopback GETs without curl, CPU ticks of a process. The
# sourcing script sets OUT (its log folder), DLL (the benchmark build) and PIDS (processes to stop on exit) before
# calling these.

# start NAME ARGS...: starts a host of $DLL (or of $HOST_DLL when set), waits for its READY line, sets URL_<NAME> and
# PID_<NAME>. Its log is $OUT/NAME$LOG_SUFFIX.log (LOG_SUFFIX: empty unless set, to keep a second host of that name
# from writing over the first one's log). Exits the script, after printing the log, when the host does not start.
start() {
  local name="$1"; shift
  local log="$OUT/$name${LOG_SUFFIX:-}.log"
  : > "$log" # before the background start, so the READY poll never reads a file not yet created
  dotnet "${HOST_DLL:-$DLL}" "$@" > "$log" 2>&1 &
  local pid=$! url=""
  PIDS+=("$pid")
  for _ in $(seq 1 300); do
    url="$(awk '/^READY /{print $2; exit}' "$log" 2>/dev/null || true)" # the host may not have opened its log yet
    [[ -n "$url" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "$(basename "$0"): $name exited before it was ready" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$url" ]] || { cat "$log" >&2; echo "$(basename "$0"): $name was not ready within 30 s" >&2; exit 1; }
  printf -v "URL_${name//-/_}" '%s' "$url"
  printf -v "PID_${name//-/_}" '%s' "$pid"
}
http_get() { # http_get URL: the body of a GET to a loopback URL (bash's /dev/tcp, so no curl is needed)
  local rest="${1#http://}"; local hostport="${rest%%/*}" path="/${rest#*/}"
  exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || return 0
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$hostport" >&3
  timeout 10 cat <&3 | tr -d '\r' | sed '1,/^$/d'
  exec 3<&- 3>&-
}
# cpu_ticks PID: user + system CPU time of the process so far, in clock ticks (/proc/PID/stat fields 14 and 15).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
CLK_TCK="$(getconf CLK_TCK)"

# redis_cmd PORT COMMAND...: the raw answer of one inline command (bash's /dev/tcp, so redis-cli is not needed).
redis_cmd() {
  local port="$1"; shift
  if ! exec 4<>"/dev/tcp/127.0.0.1/$port"; then return 0; fi 2>/dev/null
  printf '%s\r\nQUIT\r\n' "$*" >&4
  timeout 5 cat <&4 | tr -d '\r' || true
  exec 4<&- 4>&-
}
# redis_counters PORT: "commands scripts" processed so far (scripts: EVAL/EVALSHA calls).
redis_counters() {
  redis_cmd "$1" INFO all | awk -F'[:=,]' '
    $1 == "total_commands_processed" { commands = $2 }
    $1 == "cmdstat_evalsha" || $1 == "cmdstat_eval" { scripts += $3 }
    END { if (commands != "") print commands, scripts + 0 }'
}
# start_redis: a redis-server of the benchmark's own on a free loopback port, no persistence, its log in
# $OUT/redis-server.log; sets REDIS_PORT and PID_redis. Returns non-zero when none started.
start_redis() {
  local port pid attempt
  for attempt in 1 2 3 4 5; do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    (exec 5<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue # taken
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --protected-mode yes \
      --logfile "" > "$OUT/redis-server.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      if [[ "$(redis_cmd "$port" PING)" == *PONG* ]]; then REDIS_PORT="$port"; PID_redis="$pid"; return 0; fi
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  return 1
}
