#!/usr/bin/env bash
# daemon_test.sh - kiteplane-controlplane and kitectl as processes, on
# loopback only (no privileges): --check-config (good file, unknown key named
# with file and line), start, kitectl views (tables and -j), a bad reload
# refused (the running config stays), a good reload taken, kite-connector
# registering a kite (when built), a kill -9 restart that keeps the session
# (same id, heartbeats answered again), kick, drain to exit 0.
#   daemon_test.sh CONTROLPLANE KITECTL [KITE_CONNECTOR]
set -uo pipefail
CP=$1 KITECTL=$2 CONNECTOR=${3:-}
dir=$(mktemp -d /tmp/kp-cp-daemon.XXXXXX)
base=$((20000 + ($$ % 3000) * 10))
cp_pid= conn_pid=
cleanup() {
  [[ -n $conn_pid ]] && kill "$conn_pid" 2>/dev/null
  [[ -n $cp_pid ]] && kill -9 "$cp_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- control plane log"; cat "$dir"/cp*.log 2>/dev/null | tail -20; exit 1; }
# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
ctl() { "$KITECTL" --socket "$dir/mgmt.sock" "$@"; }
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

write_conf() {
  cat >"$dir/fe.lua" <<LUA
frontend { addresses = { "127.0.0.1" }, tunnel_ports = { $base, $((base + 1)) } }
port_pool { address = "127.0.0.1", first = $((base + 2)), last = $((base + 5)) }
kite { name = "echo-a", secret = "daemon-test-secret-a", port = $((base + 3)) }
kite { name = "echo-b", secret = "daemon-test-secret-b" }
store { path = "$dir/store.db" }
dataplane { socket = "$dir/dp.sock" }
management { socket = "$dir/mgmt.sock", mode = "0660" }
metrics { listen = "" }
timers { heartbeat_s = 1, dead_after_s = 30, tick_ms = 100 }
$1
LUA
}

write_conf ""
"$CP" --check-config "$dir/fe.lua" || fail "--check-config refused a good file"
printf 'frontend { addresses = { "127.0.0.1" } }\nmetrics { lissen = "x" }\n' >"$dir/bad.lua"
out=$("$CP" --check-config "$dir/bad.lua" 2>&1) && fail "--check-config accepted a bad file"
[[ $out == *"bad.lua:2:"*"unknown key 'lissen'"* ]] || fail "error does not name file, line and key: $out"
[[ ! -e $dir/store.db ]] || fail "--check-config had a side effect"
echo "ok: --check-config"

"$CP" --config "$dir/fe.lua" 2>"$dir/cp1.log" &
cp_pid=$!
wait_for 20 ctl status || fail "management socket never answered"
[[ $(stat -c %a "$dir/mgmt.sock") == 660 ]] || fail "management socket mode is not 0660"
ctl status | grep -q serving || fail "status table"
[[ $(ctl -j status | jget 'd["state"]') == serving ]] || fail "status -j"
echo "ok: start, status, socket mode"

# A bad reload is refused and the running config stays; a good one is taken.
write_conf "kite { name = 'echo-c', secret = 'daemon-test-secret-c', colour = 'red' }"
out=$(ctl reload 2>&1) && fail "bad reload accepted"
[[ $out == *"unknown key 'colour'"* ]] || fail "reload error does not name the key: $out"
kill -HUP "$cp_pid"
wait_for 10 sh -c "$(printf '%q ' "$KITECTL") --socket $dir/mgmt.sock -j status | grep -q '\"reload_failures\": 2'" ||
  fail "SIGHUP with a bad file not counted as refused"
write_conf ""
ctl reload >/dev/null || fail "good reload refused"
echo "ok: reload swaps only a valid config"

if [[ -n $CONNECTOR && -x $CONNECTOR ]]; then
  cat >"$dir/conn.json" <<JSON
{"frontends": [{"address": "127.0.0.1", "ports": [$base]}],
 "kites": [{"name": "echo-a", "secret": "daemon-test-secret-a", "service": "127.0.0.1:9"},
           {"name": "echo-b", "secret": "wrong-secret-wrong-secret", "service": "127.0.0.1:9"}]}
JSON
  "$CONNECTOR" --config "$dir/conn.json" 2>"$dir/conn.log" &
  conn_pid=$!
  live() { ctl -j kites | jget '[k["state"] for k in d["kites"] if k["name"]=="echo-a"][0]' | grep -qx live; }
  wait_for 20 live || fail "echo-a never went live"
  [[ $(ctl -j kites | jget '[k["port"] for k in d["kites"] if k["name"]=="echo-a"][0]') == $((base + 3)) ]] ||
    fail "echo-a not on its configured port"
  [[ $(ctl -j stats | jget 'd["control"]["register_results"]["bad secret"]') -ge 1 ]] || fail "bad secret not counted"
  sid=$(ctl -j sessions | jget 'd["sessions"][0]["session_id"]')
  echo "ok: connector registered echo-a (session $sid), echo-b refused"

  # Crash and restart: the session survives with the same id and keys.
  kill -9 "$cp_pid"; wait "$cp_pid" 2>/dev/null
  "$CP" --config "$dir/fe.lua" 2>"$dir/cp2.log" &
  cp_pid=$!
  wait_for 20 ctl status || fail "restarted control plane never answered"
  [[ $(ctl -j sessions | jget 'd["sessions"][0]["session_id"]') == "$sid" ]] || fail "session not recovered"
  hb() { (($(ctl -j stats | jget 'd["control"]["tunnel_heartbeats"]') >= 2)); }
  wait_for 20 hb || fail "connector heartbeats not answered after the restart"
  live || fail "echo-a not live after the restart"
  echo "ok: session survived a kill -9 restart"

  ctl kick echo-a >/dev/null || fail "kick"
  [[ $(ctl -j kites | jget '[k["state"] for k in d["kites"] if k["name"]=="echo-a"][0]') != live ]] ||
    fail "kicked kite still live"
  echo "ok: kick"
fi

ctl drain --deadline 3 >/dev/null || fail "drain refused"
wait_for 20 sh -c "! kill -0 $cp_pid" || fail "control plane did not exit after the drain deadline"
wait "$cp_pid"; rc=$?
cp_pid=
((rc == 0)) || fail "drain exit status $rc"
grep -q '"drained; exiting"' "$dir"/cp*.log || fail "no drain log line"
echo "ok: drain exits 0"
echo PASS
