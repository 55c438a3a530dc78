#!/usr/bin/env bash
# xdp_veth_test.sh - integration test of `kiteplane-dataplane xdp` on a veth
# pair between two network namespaces created here (names carry our pid).
#
# Front-end namespace: veth A with the front-end address (own4, tunnel port)
# and the kite's public address; the data plane is attached natively to A.
# Peer namespace: veth B with a client address and a connector address.
# The control socket gets one config (mirror next hop), one session and one
# kite; then xdp_peer.py sends datagrams to the kite and checks they arrive
# encapsulated at the connector, echoes them back through the tunnel and
# checks the client gets the decapsulated reply (and that a forged cookie is
# dropped).  Ping of the front-end address checks the exception path (ICMP is
# XDP_PASS).  Counters are read back over the control socket, and SIGTERM
# must detach the program.  XDP_TX frames from a veth are only received by a
# peer running NAPI, which an attached XDP program guarantees (toggling GRO
# did not here): B gets bpf/test_pass.bpf.c.
# Then a second data plane is started with --replace: it must take over
# atomically with the pinned maps' state (config, tables, counters), carry
# traffic, and survive the first one's SIGTERM.  The data planes run under
# `nsenter --net` (not `ip netns exec`, which gives each its own /sys and so
# its own bpffs, where the pins would not be shared).
#   usage: xdp_veth_test.sh DATAPLANE_BINARY CTL_TOOL PEER_SCRIPT PASS_XDP_OBJECT [DP_ARGS...]
#   (DP_ARGS, e.g. --cpumap 0,1, are passed to both data planes)
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
  echo "SKIP: needs root (network namespaces, XDP attach)"
  exit 77
fi
for tool in ip ethtool ping nsenter; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

dp=$1 ctl_tool=$2 peer=$3 pass_obj=$4
shift 4
dp_args=("$@")
fe=kpxfe$$ pe=kpxpe$$ va=kpxa$$ vb=kpxb$$
sock=/tmp/kp-xdp-test-$$.sock sock2=/tmp/kp-xdp-test-$$-2.sock
log=$(mktemp /tmp/kp-xdp-test-$$.XXXX) log2=$(mktemp /tmp/kp-xdp-test-$$-2.XXXX)
pin_dir=/sys/fs/bpf/kiteplane/$va
dp_pid= dp2_pid=

cleanup() {
  for pid in $dp_pid $dp2_pid; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  ip netns del "$fe" 2>/dev/null || true
  ip netns del "$pe" 2>/dev/null || true
  rm -rf "$pin_dir"
  rm -f "$sock" "$sock2" "$log" "$log2"
}
trap cleanup EXIT

# Waits (bounded) until the data plane behind pid $1 logs that it attached.
wait_attached() {
  local pid=$1 logf=$2
  for _ in $(seq 1 150); do
    grep -q "attached to" "$logf" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: data plane did not attach:"
  cat "$logf"
  exit 1
}
xdp_prog_id() { ip -n "$fe" -d link show "$va" | awk '/prog\/xdp/ { for (i = 1; i <= NF; i++) if ($i == "id") print $(i + 1) }' | head -1; }
round_trip() {
  if ! ip netns exec "$pe" /usr/bin/python3 "$peer" "$CLIENT_ADDR" "$KITE_ADDR" "$KPORT" \
    "$CONN_ADDR" "$CPORT" "$FE_ADDR" "$TPORT"; then
    echo "--- counters after the failure"
    "$ctl_tool" "$1" counters || true
    exit 1
  fi
}

FE_ADDR=10.77.0.1 KITE_ADDR=10.77.0.10 CLIENT_ADDR=10.77.0.2 CONN_ADDR=10.77.0.3
TPORT=7000 KPORT=5000 CPORT=40000

ip netns add "$fe"
ip netns add "$pe"
ip link add "$va" netns "$fe" type veth peer name "$vb" netns "$pe"
ip -n "$fe" addr add "$FE_ADDR/24" dev "$va"
ip -n "$fe" addr add "$KITE_ADDR/32" dev "$va"
ip -n "$pe" addr add "$CLIENT_ADDR/24" dev "$vb"
ip -n "$pe" addr add "$CONN_ADDR/24" dev "$vb"
ip -n "$fe" link set "$va" up
ip -n "$pe" link set "$vb" up
ip -n "$fe" link set lo up
ip -n "$pe" link set lo up
# Checksum offload off on B so the frames it sends carry complete UDP
# checksums (veth would leave them partial, and the fast path verifies them);
# an XDP program on B so it receives what A sends with XDP_TX.
ip netns exec "$pe" ethtool -K "$vb" tx off >/dev/null
ip -n "$pe" link set dev "$vb" xdpdrv obj "$pass_obj" sec xdp

rm -rf "$pin_dir"
nsenter --net=/var/run/netns/"$fe" "$dp" xdp --iface "$va" --ctl-socket "$sock" \
  --max-kites 1024 --max-sessions 1024 --xdp-mode native "${dp_args[@]}" >"$log" 2>&1 &
dp_pid=$!
wait_attached "$dp_pid" "$log"
cat "$log"
id1=$(xdp_prog_id)

"$ctl_tool" "$sock" setup "$FE_ADDR" "$TPORT" "$KITE_ADDR" "$KPORT" "$CONN_ADDR" "$CPORT"

echo "--- ping the front-end (exception path)"
ip netns exec "$pe" ping -c 3 -i 0.2 -W 2 "$FE_ADDR"

echo "--- client -> kite -> connector and back"
round_trip "$sock"

echo "--- counters"
counters=$("$ctl_tool" "$sock" counters)
echo "$counters"
get() { awk -v k="$1" '$1 == k { print $2 }' <<<"$counters"; }
[[ $(get encap_packets) -ge 3 ]] || { echo "FAIL: encap_packets < 3"; exit 1; }
[[ $(get decap_packets) -ge 4 ]] || { echo "FAIL: decap_packets < 4"; exit 1; }
[[ $(get drop_tunnel_bad_cookie) -ge 1 ]] || { echo "FAIL: forged cookie not counted"; exit 1; }
[[ $(get exception_packets) -ge 3 ]] || { echo "FAIL: exception_packets < 3"; exit 1; }

echo "--- a second data plane replaces the first, keeping the pinned state"
nsenter --net=/var/run/netns/"$fe" "$dp" xdp --iface "$va" --ctl-socket "$sock2" \
  --max-kites 1024 --max-sessions 1024 --xdp-mode native --replace "${dp_args[@]}" >"$log2" 2>&1 &
dp2_pid=$!
wait_attached "$dp2_pid" "$log2"
id2=$(xdp_prog_id)
[[ -n $id2 && $id2 != "$id1" ]] || { echo "FAIL: program id $id1 -> $id2 after --replace"; exit 1; }
counters=$("$ctl_tool" "$sock2" counters)
[[ $(get encap_packets) -ge 3 ]] || { echo "FAIL: counters lost across --replace"; exit 1; }
kill -TERM "$dp_pid"
wait "$dp_pid" || true
dp_pid=
[[ $(xdp_prog_id) == "$id2" ]] || { echo "FAIL: the old process detached its successor"; exit 1; }
round_trip "$sock2"
counters=$("$ctl_tool" "$sock2" counters)
[[ $(get encap_packets) -ge 6 ]] || { echo "FAIL: encap_packets < 6 after the replacement"; exit 1; }
echo "replaced program $id1 by $id2 with state kept; traffic flows"

echo "--- SIGTERM detaches"
kill -TERM "$dp2_pid"
wait "$dp2_pid" || true
dp2_pid=
if ip -n "$fe" link show "$va" | grep -q "prog/xdp"; then
  echo "FAIL: XDP program still attached after SIGTERM"
  exit 1
fi
echo "PASS"
