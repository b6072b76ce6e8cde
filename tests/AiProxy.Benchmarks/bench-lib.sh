# Shared by run-cache.sh and run-budgets.sh (sourced, never run): starting benchmark hosts and a redis-server of the
# benchmark's own, loopback GETs without curl, CPU ticks of a process. The sourcing script sets OUT (its log folder),
# DLL (the benchmark build) and PIDS (processes to stop on exit) before calling these.

# start NAME ARGS...: starts a host of $DLL (or of $HOST_DLL when set), waits for its READY line, sets URL_<NAME> and
# PID_<NAME>.
start() {
  local name="$1"; shift
  : > "$OUT/$name.log" # before the background start, so the READY poll never reads a file not yet created
  dotnet "${HOST_DLL:-$DLL}" "$@" > "$OUT/$name.log" 2>&1 &
  local pid=$! url=""
  PIDS+=("$pid")
  for _ in $(seq 1 300); do
    url="$(awk '/^READY /{print $2; exit}' "$OUT/$name.log" 2>/dev/null || true)" # the host may not have opened its log yet
    [[ -n "$url" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$OUT/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$url" ]] || { echo "$(basename "$0"): $name was not ready" >&2; exit 1; }
  printf -v "URL_${name//-/_}" '%s' "$url"
  printf -v "PID_${name//-/_}" '%s' "$pid"
}
http_get() { # loopback GET without curl
  local rest="${1#http://}"; local hostport="${rest%%/*}" path="/${rest#*/}"
  exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || return 0
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$hostport" >&3
  timeout 10 cat <&3 | tr -d '\r' | sed '1,/^$/d'
  exec 3<&- 3>&-
}
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
# start_redis: a redis-server of the benchmark's own on a free loopback port, no persistence; sets REDIS_PORT, PID_redis.
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
