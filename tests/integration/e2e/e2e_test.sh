#!/usr/bin/env bash
# e2e_test.sh - kiteplane end to end, in network namespaces: data plane (MODE
# xdp or dpdk) and control plane in "frontend", echo service and
# kite-connector in "backend" behind a NAT, clients on the far side of a
# router.  Usage: e2e_test.sh MODE [CHECK...] with CHECK among
#   traffic   10,000 mixed-size datagrams from 4 client addresses, none lost;
#             one 3,000-byte datagram echoed intact
#   auth      a wrong-secret kite refused with its reason while the same
#             connector's good kites work; a second connector claiming a taken
#             name refused with the owner named
#   forged    DATA frames with an unknown session, a wrong source and a bad
#             cookie are dropped, counted by reason, and reach no client
#   headless  SIGKILL of the control plane leaves traffic flowing; a restart
#             restores the kitectl views without a drop
# (default: all).  Exits 77 (skip) without root or while a piece is not built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${KP_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
build=${KP_BUILD_DIR:-$src/build}
KP_PY=${KP_PYTHON:-/usr/bin/python3}
KP_HELPER=$here/e2e_helper.py
# shellcheck source=../../../scripts/lib/netns.sh
source "$src/scripts/lib/netns.sh"
# shellcheck source=pieces.sh
source "$here/pieces.sh"

mode=${1:?usage: e2e_test.sh xdp|dpdk [traffic|auth|forged|headless]...}
shift
checks=("$@")
((${#checks[@]})) || checks=(traffic auth forged headless)

fail() { kp_log "FAIL [$mode]: $*"; diagnose >&2 || true; exit 1; }

# Where datagrams die: fast-path drops, socket buffer overflows, veth XDP errors.
diagnose() {
  local r
  echo "----- diagnosis"
  [[ -S ${KP_MGMT_SOCK:-/nonexistent} ]] && kp_kitectl -j stats 2>/dev/null | "$KP_PY" -c '
import json, sys
d = json.load(sys.stdin)
print("fast path:", d.get("global"))
print("drops:", {k: v for k, v in d.get("drops", {}).items() if v})' || true
  for r in client backend nat router frontend; do
    echo "$r: $(kp_in "$r" nstat -az 2>/dev/null | awk '$1 ~ /UdpRcvbufErrors|UdpInErrors|UdpSndbufErrors|IpInDiscards|IpOutDiscards/ && $2 != 0 {printf "%s=%s ", $1, $2}')"
  done
  echo "frontend eth0: $(kp_in frontend ethtool -S eth0 2>/dev/null | awk '/xdp|drops/ && $2 != 0' | tr -s ' \n' ' ')"
  echo "router to-fe: $(kp_in router ethtool -S to-fe 2>/dev/null | awk '/xdp|drops/ && $2 != 0' | tr -s ' \n' ' ')"
}
pass() { kp_log "ok [$mode]: $*"; }

kp_require_root
kp_find_bins "$build"
missing=$(kp_missing_pieces "$mode") || kp_skip "$mode: pieces not built yet: $missing"

# DPDK mode owns eth0 of the front-end: its addresses live on the exception tap.
[[ $mode == dpdk ]] && KP_FE_KERNEL_ADDRS=0
kp_topo_init "e$$"
kp_pieces_init "$build"
kp_topo_up

# ---- bring the relay up -----------------------------------------------------
setup_relay() {
  kp_write_cp_config
  kp_start_dataplane "$mode" || fail "data plane did not open its control socket"
  kp_start_controlplane || fail "control plane did not answer kitectl status"
  kp_start_echo
  kp_wait_for 10 "echo service bound" bash -c \
    "ip netns exec $(kp_ns backend) ss -Hlun 'sport = :${KP_ECHO_PORTS[0]}' | grep -q ." \
    || fail "echo service did not bind"
  kp_start_connector a "echo-a=$KP_SECRET_A=${KP_ECHO_PORTS[0]}" \
    "echo-b=$KP_SECRET_B=${KP_ECHO_PORTS[1]}" "$KP_KITE_BAD=$KP_SECRET_BAD=${KP_ECHO_PORTS[2]}"
  local k
  for k in "${KP_KITES_GOOD[@]}"; do
    kp_wait_for 30 "kite $k live in kitectl kites" kp_kite_live "$k" || fail "kite $k never went live"
  done
  read -r KITE_A_ADDR KITE_A_PORT < <(kp_kite_endpoint echo-a) || fail "no endpoint for echo-a"
  read -r KITE_B_ADDR KITE_B_PORT < <(kp_kite_endpoint echo-b) || fail "no endpoint for echo-b"
  pass "relay up: echo-a on $KITE_A_ADDR:$KITE_A_PORT, echo-b on $KITE_B_ADDR:$KITE_B_PORT"
}

# ---- checks -------------------------------------------------------------------
check_traffic() {
  local out
  out=$(kp_load "$KITE_A_ADDR" "$KITE_A_PORT" 10000 2000 64,200,512,1000,1400) \
    || fail "10,000 datagrams through echo-a: $out"
  pass "10,000 mixed datagrams from ${#KP_CLIENT_ADDRS[@]} clients, none lost: $out"
  out=$(kp_in client "$KP_PY" "$KP_HELPER" roundtrip --dst "$KITE_A_ADDR:$KITE_A_PORT" \
    --src "${KP_CLIENT_ADDRS[0]}" --count 1 --sizes 3000) || fail "3,000-byte datagram: $out"
  pass "one 3,000-byte datagram echoed intact: $out"
  out=$(kp_load "$KITE_B_ADDR" "$KITE_B_PORT" 500 1000 64,1400) || fail "echo-b: $out"
  pass "second kite of the same connector carries traffic: $out"
}

check_auth() {
  local log=$KP_LOGDIR/connector-a.log out
  kp_wait_for 20 "connector a reports $KP_KITE_BAD refused" grep -qi "$KP_KITE_BAD.*bad secret" "$log" \
    || fail "no 'bad secret' refusal for $KP_KITE_BAD in $log"
  if kp_kite_live "$KP_KITE_BAD"; then fail "$KP_KITE_BAD went live with a wrong secret"; fi
  pass "$KP_KITE_BAD refused: $(grep -i "$KP_KITE_BAD.*bad secret" "$log" | head -n1)"
  out=$(kp_load "$KITE_A_ADDR" "$KITE_A_PORT" 200 1000 64,512) || fail "echo-a after a refused kite: $out"
  pass "good kites of the same connector still work: $out"

  kp_start_connector b "echo-a=$KP_SECRET_A=${KP_ECHO_PORTS[0]}"
  local logb=$KP_LOGDIR/connector-b.log
  kp_wait_for 20 "connector b reports echo-a taken" grep -qi "echo-a.*name taken" "$logb" \
    || fail "no 'name taken' refusal for echo-a in $logb"
  local line
  line=$(grep -i "echo-a.*name taken" "$logb" | head -n1)
  # The owner is connector a's session: its id (decimal or hex) must be named.
  local owner owner_hex
  owner=$(kp_kitectl -j sessions | "$KP_PY" -c '
import json, sys
for s in json.load(sys.stdin).get("sessions", []):
    if "echo-a" in s.get("kites", []):
        print(s["session_id"]); break') || fail "no session holds echo-a"
  owner_hex=$(printf '0x%08x' "$owner")
  [[ $line == *"$owner"* || $line == *"$owner_hex"* ]] \
    || fail "refusal does not name the owner session $owner ($owner_hex): $line"
  pass "second connector refused: $line"
  out=$(kp_load "$KITE_A_ADDR" "$KITE_A_PORT" 200 1000 64,512) || fail "echo-a after the takeover attempt: $out"
  pass "echo-a unaffected by the takeover attempt: $out"
}

counter_at_least() { local v; v=$(kp_counter "$1") && ((v >= $2)); }

check_forged() {
  local frame=$KP_LOGDIR/frame.json ready=$KP_LOGDIR/capture.ready cap_pid out r
  # Capture one real DATA frame on the router's NAT-side link.
  kp_spawn router capture "$KP_PY" "$KP_HELPER" capture-data --iface to-nat \
    --frontend "$KP_FE_ADDR" --ready-file "$ready"
  cap_pid=$KP_LAST_PID
  kp_wait_for 30 "capture ready" test -f "$ready" || fail "capture did not start"
  # The sniffer is armed once scapy opened its socket; keep sending until it sees a frame.
  local i
  for ((i = 0; i < 50; i++)); do
    kp_in client "$KP_PY" "$KP_HELPER" roundtrip --dst "$KITE_A_ADDR:$KITE_A_PORT" \
      --src "${KP_CLIENT_ADDRS[3]}" --sport 40013 --count 1 --sizes 64 >/dev/null || true
    kp_wait_pid_gone "$cap_pid" 1 && break
  done
  wait "$cap_pid" || fail "no DATA frame captured"
  grep '^{' "$KP_LOGDIR/capture.log" | tail -n1 >"$frame"
  kp_log "captured DATA frame: $(cat "$frame")"

  declare -A before
  for r in tunnel_unknown_session tunnel_wrong_source tunnel_bad_cookie; do
    before[$r]=$(kp_counter "$r") || fail "kitectl stats -j has no counter $r"
  done
  out=$(kp_in client "$KP_PY" "$KP_HELPER" forge-check --frame "$frame" --attacker "$KP_ATTACKER_ADDR" \
    --kite-addr "$KITE_A_ADDR" --kite-port "$KITE_A_PORT" --count 20) \
    || fail "forged frames reached a client or the real echo was lost: $out"
  pass "no forged frame reached the client: $out"
  local after
  for r in tunnel_unknown_session tunnel_wrong_source tunnel_bad_cookie; do
    kp_wait_for 10 "$r counter +20" counter_at_least "$r" $((before[$r] + 20)) || true
    after=$(kp_counter "$r")
    ((after - before[$r] >= 20)) || fail "counter $r moved by $((after - before[$r])), want >= 20"
    pass "counter $r: ${before[$r]} -> $after"
  done
}

# Session id that carries kite NAME, from kitectl sessions.
session_of() {
  kp_kitectl -j sessions | "$KP_PY" -c '
import json, sys
for s in json.load(sys.stdin).get("sessions", []):
    if sys.argv[1] in s.get("kites", []):
        print(s["session_id"]); sys.exit(0)
sys.exit(1)' "$1"
}

check_headless() {
  local out load_pid sid_before sid_after
  sid_before=$(session_of echo-a) || fail "no session carries echo-a"
  kp_kill "$KP_CP_PID" KILL
  pass "control plane killed with SIGKILL (pid $KP_CP_PID)"
  out=$(kp_load "$KITE_A_ADDR" "$KITE_A_PORT" 3000 1000 64,512,1400) || fail "traffic while headless: $out"
  pass "headless data plane relays: $out"
  # Traffic runs across the restart and must lose nothing.
  kp_load "$KITE_A_ADDR" "$KITE_A_PORT" 6000 1000 64,512,1400 >"$KP_LOGDIR/restart-load.json" 2>&1 &
  load_pid=$!
  kp_start_controlplane || fail "restarted control plane did not answer"
  local k
  for k in "${KP_KITES_GOOD[@]}"; do
    kp_wait_for 30 "kite $k back in kitectl" kp_kite_live "$k" || fail "kite $k missing after restart"
  done
  sid_after=$(session_of echo-a) || fail "no session carries echo-a after the restart"
  [[ $sid_after == "$sid_before" ]] || fail "echo-a moved from session $sid_before to $sid_after"
  pass "kitectl views restored after restart (echo-a still on session $sid_after)"
  wait "$load_pid" || fail "datagrams lost across the restart: $(cat "$KP_LOGDIR/restart-load.json")"
  pass "no drop across the restart: $(tail -n1 "$KP_LOGDIR/restart-load.json")"
}

setup_relay
for c in "${checks[@]}"; do
  case $c in
    traffic | auth | forged | headless) "check_$c" ;;
    *) fail "unknown check $c" ;;
  esac
done
echo "PASS: e2e $mode ${checks[*]}"
