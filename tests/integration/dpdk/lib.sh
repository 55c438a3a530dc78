# lib.sh - shell helpers shared by the DPDK integration scripts (sourced).

# Waits up to $1 tenths of a second for command "$2..." to succeed.
wait_for() {
  local n=$1; shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# Stops process $1 if it still runs: SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# SIGTERM to process $1 (a child of this shell), which must exit with
# status 0 within 10 s; prints why not (and the log file $2) and fails.
expect_clean_stop() {
  local pid=$1 log=$2 rc
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "FAIL: did not stop on SIGTERM"; return 1; fi
  wait "$pid" && rc=0 || rc=$?
  [[ $rc -eq 0 ]] || { echo "FAIL: exit status $rc"; cat "$log"; return 1; }
  echo "ok: clean shutdown"
}
