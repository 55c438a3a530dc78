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
#   usage: xdp_veth_test.sh DATAPLANE_BINARY CTL_TOOL PEER_SCRIPT PASS_XDP_OBJECT
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
  echo "SKIP: needs root (network namespaces, XDP attach)"
  exit 77
fi
for tool in ip ethtool ping; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

dp=$1 ctl_tool=$2 peer=$3 pass_obj=$4
fe=kpxfe$$ pe=kpxpe$$ va=kpxa$$ vb=kpxb$$
sock=/tmp/kp-xdp-test-$$.sock
log=$(mktemp /tmp/kp-xdp-test-$$.XXXX)
dp_pid=

cleanup() {
  if [[ -n $dp_pid ]]; then
    kill -TERM "$dp_pid" 2>/dev/null || true
    wait "$dp_pid" 2>/dev/null || true
  fi
  ip netns del "$fe" 2>/dev/null || true
  ip netns del "$pe" 2>/dev/null || true
  rm -f "$sock" "$log"
}
trap cleanup EXIT

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

ip netns exec "$fe" "$dp" xdp --iface "$va" --ctl-socket "$sock" --max-kites 1024 \
  --max-sessions 1024 --xdp-mode native >"$log" 2>&1 &
dp_pid=$!

# Wait (bounded) for the control socket, failing early if the process died.
for _ in $(seq 1 100); do
  [[ -S $sock ]] && break
  kill -0 "$dp_pid" 2>/dev/null || { echo "FAIL: data plane exited:"; cat "$log"; exit 1; }
  sleep 0.1
done
[[ -S $sock ]] || { echo "FAIL: no control socket after 10 s"; cat "$log"; exit 1; }
# The socket is created before the attach: wait for the XDP program too.
for _ in $(seq 1 100); do
  ip -n "$fe" link show "$va" | grep -q "xdp" && break
  sleep 0.1
done
ip -n "$fe" link show "$va" | grep -q "xdp" || { echo "FAIL: no XDP program on $va"; cat "$log"; exit 1; }
cat "$log"

"$ctl_tool" "$sock" setup "$FE_ADDR" "$TPORT" "$KITE_ADDR" "$KPORT" "$CONN_ADDR" "$CPORT"

echo "--- ping the front-end (exception path)"
ip netns exec "$pe" ping -c 3 -i 0.2 -W 2 "$FE_ADDR"

echo "--- client -> kite -> connector and back"
if ! ip netns exec "$pe" /usr/bin/python3 "$peer" "$CLIENT_ADDR" "$KITE_ADDR" "$KPORT" \
  "$CONN_ADDR" "$CPORT" "$FE_ADDR" "$TPORT"; then
  echo "--- counters after the failure"
  "$ctl_tool" "$sock" counters || true
  ip -n "$pe" -s link show "$vb" || true
  exit 1
fi

echo "--- counters"
counters=$("$ctl_tool" "$sock" counters)
echo "$counters"
get() { awk -v k="$1" '$1 == k { print $2 }' <<<"$counters"; }
[[ $(get encap_packets) -ge 3 ]] || { echo "FAIL: encap_packets < 3"; exit 1; }
[[ $(get decap_packets) -ge 4 ]] || { echo "FAIL: decap_packets < 4"; exit 1; }
[[ $(get drop_tunnel_bad_cookie) -ge 1 ]] || { echo "FAIL: forged cookie not counted"; exit 1; }
[[ $(get exception_packets) -ge 3 ]] || { echo "FAIL: exception_packets < 3"; exit 1; }

echo "--- SIGTERM detaches"
kill -TERM "$dp_pid"
wait "$dp_pid" || true
dp_pid=
if ip -n "$fe" link show "$va" | grep -q "prog/xdp"; then
  echo "FAIL: XDP program still attached after SIGTERM"
  exit 1
fi
echo "PASS"
