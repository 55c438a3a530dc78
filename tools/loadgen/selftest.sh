#!/usr/bin/env bash
# selftest.sh - kp-loadgen against its own echo mode on 127.0.0.1: a clean run
# must pass with zero loss and --json must report it; a run at a port where
# nothing listens must fail (exit 1).  Usage: selftest.sh path/to/kp-loadgen
set -euo pipefail
bin=${1:?usage: selftest.sh KP_LOADGEN}
tmp=$(mktemp -d)
echo_pid=
cleanup() {
  if [[ -n $echo_pid ]]; then kill "$echo_pid" 2>/dev/null || true; wait "$echo_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$bin" --echo 127.0.0.1:0 --duration 30 2>"$tmp/echo.err" >"$tmp/echo.out" &
echo_pid=$!
port=
for _ in $(seq 1 100); do  # wait (up to 10 s) for the echo to say its port
  port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$tmp/echo.err")
  [[ -n $port ]] && break
  kill -0 "$echo_pid" || { cat "$tmp/echo.err"; exit 1; }
  sleep 0.1
done
[[ -n $port ]] || { echo "echo server did not start"; exit 1; }

"$bin" --target "127.0.0.1:$port" --count 500 --window 16 --sockets 2 \
  --sizes 64,512,1400,3000 --timeout 2 -j >"$tmp/run.json"
cat "$tmp/run.json"
/usr/bin/python3 - "$tmp/run.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["sent"] == 500 and s["received"] == 500, s
assert s["lost"] == 0 and s["corrupted"] == 0 and s["pass"] is True, s
for k in ("duplicates", "reordered", "rtt_us", "achieved_pps"):
    assert k in s, k
PY

kill "$echo_pid"; wait "$echo_pid" 2>/dev/null || true; echo_pid=
set +e
"$bin" --target "127.0.0.1:$port" --count 20 --timeout 0.2 -j >"$tmp/dead.json"
rc=$?
set -e
cat "$tmp/dead.json"
[[ $rc -eq 1 ]] || { echo "expected exit 1 with nobody listening, got $rc"; exit 1; }
echo "kp-loadgen selftest: ok"
