#!/usr/bin/env bash
# dpdk_netns_test.sh - kiteplane-dataplane (DPDK mode, net_af_packet,
# net_af_xdp or net_tap) in a network namespace, reached from a peer
# namespace over a veth pair (af_packet, af_xdp) or over the kernel side of
# the net_tap port itself, moved into the peer namespace once the port runs.
#
# Checks: (1) ARP and ping from the peer reach the kernel through the
# exception path (tap interface carrying the port's MAC and the front-end
# address) and the replies go back out of the port; (2) the gateway MAC is
# learnt from the kernel's neighbour table (--gateway-mac neigh); (3) a
# datagram to a kite configured through the control socket comes out
# encapsulated (DATA header, then the payload) at the connector's address;
# (4) SIGTERM stops the process cleanly; (5) the telemetry commands answer;
# (6) a 3,000-byte datagram (larger than a 2 KiB mbuf) on a 3500-MTU link
# arrives encapsulated and intact, and the exception interface carries the
# MTU --max-frame implies (max frame - 18).
#
# PMD af_packet (default): --max-frame 9216 (the default) and framesz=4096;
# exception MTU 9198.  PMD af_xdp: one AF_XDP socket on queue 0 of the veth
# (copy mode: veth has no zero-copy); its UMEM chunk is one mempool object and
# the kernel takes chunks of at most a 4 KiB page, so --max-frame 3560 (the
# largest frame net_af_xdp advertises); exception MTU 3542.  PMD tap: the
# port is a TAP interface the PMD creates in the data plane's namespace; the
# test moves it to the peer namespace after start-up (the PMD keeps its file
# descriptor, which is all its data path uses) and gives it the peer's
# addresses, so the kernel there is the wire.  net_tap advertises 1522-byte
# frames, so the port keeps MTU 1500, but it reads what the kernel side sends
# into chained mbufs, up to that interface's MTU (3500 here).
# (7) With KP_TEST_LCORES giving two workers (e.g. "(0-2)@(0-1)") on a port
# with RSS (tap: its kernel side spreads flows over the queues), datagrams of
# 32 flows all arrive encapsulated and both workers' TX queues carried some.
# Usage: dpdk_netns_test.sh DATAPLANE_BIN DP_CTL_TOOL [af_packet|af_xdp|tap].
# Exits 77 without root, or (af_xdp) when AF_XDP sockets cannot be created
# or the net_af_xdp PMD is not installed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dp_bin=$1
ctl_tool=$2
pmd=${3:-af_packet}
py=/usr/bin/python3

if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root (network namespaces)"; exit 77; fi
if ! ip netns list >/dev/null 2>&1; then echo "SKIP: no ip netns"; exit 77; fi
case $pmd in
  af_packet) max_frame=9216 ;;
  af_xdp)
    max_frame=3560
    if ! why=$("$py" -c 'import socket; socket.socket(44, socket.SOCK_RAW, 0).close()' 2>&1); then
      echo "SKIP: cannot create an AF_XDP socket (kernel without CONFIG_XDP_SOCKETS?): ${why##*$'\n'}"
      exit 77
    fi
    pmds=$(pkg-config --variable=libdir libdpdk 2>/dev/null || echo /usr/lib)
    if ! compgen -G "$pmds/dpdk/pmds-*/librte_net_af_xdp.so*" >/dev/null &&
       ! compgen -G "$pmds/librte_net_af_xdp.so*" >/dev/null; then
      echo "SKIP: the net_af_xdp PMD is not installed (librte_net_af_xdp.so under $pmds)"
      exit 77
    fi
    # The UMEM is locked memory.
    ulimit -l unlimited 2>/dev/null || true
    ;;
  tap)
    max_frame=9216
    if [[ ! -c /dev/net/tun ]]; then echo "SKIP: no /dev/net/tun for net_tap"; exit 77; fi
    ;;
  *) echo "usage: $0 DATAPLANE_BIN DP_CTL_TOOL [af_packet|af_xdp|tap]"; exit 2 ;;
esac
exc_mtu=$((max_frame - 18))

tag=kpd$$
ns_dp=${tag}dp
ns_peer=${tag}peer
tmp=$(mktemp -d /tmp/${tag}.XXXXXX)
dp_pid=
cleanup() {
  stop_pid "$dp_pid"
  ip netns del "$ns_dp" 2>/dev/null || true
  ip netns del "$ns_peer" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$ns_dp"
ip netns add "$ns_peer"
# The peer's side of the wire: vb$$ of a veth pair, or the net_tap port's
# kernel interface kpw$$ (configured once the data plane has created it).
if [[ $pmd == tap ]]; then
  peer_if=kpw$$
else
  peer_if=vb$$
  ip link add va$$ type veth peer name vb$$
  ip link set va$$ netns "$ns_dp"
  ip link set vb$$ netns "$ns_peer"
  ip -n "$ns_dp" link set va$$ mtu 3500 up
  ip netns exec "$ns_dp" ethtool -K va$$ rx off tx off >/dev/null 2>&1 || true
fi
ip -n "$ns_dp" link set lo up
ip -n "$ns_peer" link set lo up
setup_peer() {
  ip -n "$ns_peer" addr add 198.51.100.2/24 dev $peer_if
  ip -n "$ns_peer" addr add 198.51.100.7/24 dev $peer_if
  ip -n "$ns_peer" link set $peer_if mtu 3500 up
  # The fast path verifies UDP checksums: no partial (offloaded) checksums.
  ip netns exec "$ns_peer" ethtool -K $peer_if tx off >/dev/null 2>&1 || true
}
[[ $pmd == tap ]] || setup_peer

sock=$tmp/ctl.sock
case $pmd in
  af_xdp) vdev="net_af_xdp0,iface=va$$,start_queue=0,queue_count=1" ;;
  tap) vdev="net_tap0,iface=kpw$$" ;;
  *) vdev="net_af_packet0,iface=va$$,framesz=4096" ;;
esac
ip netns exec "$ns_dp" "$dp_bin" --lcores "${KP_TEST_LCORES:-0,1}" --no-huge --no-pci -m 512 --file-prefix=$tag \
  --log-level='*:warning' --vdev "$vdev" -- --max-frame $max_frame \
  --ctl-socket "$sock" --addr4 198.51.100.1/24 --tunnel-ports 7000 \
  --gateway-mac neigh --gateway4 198.51.100.2 --exception tap --exception-iface kpx$$ \
  --neigh-refresh-ms 100 >"$tmp/dp.log" 2>&1 &
dp_pid=$!
if ! wait_for 300 test -S "$sock"; then
  echo "FAIL: data plane did not come up"; cat "$tmp/dp.log"; exit 1
fi
grep "kiteplane-dataplane: port" "$tmp/dp.log" || true
if [[ $pmd == tap ]]; then
  ip -n "$ns_dp" link set kpw$$ netns "$ns_peer"
  setup_peer
  echo "ok: net_tap port's interface kpw$$ moved to the peer namespace"
fi

# (1) ARP + ping through the exception path.
if ! ip netns exec "$ns_peer" ping -c 3 -i 0.2 -W 2 198.51.100.1 >"$tmp/ping.log" 2>&1; then
  echo "FAIL: ping through the exception path"; cat "$tmp/ping.log" "$tmp/dp.log"
  "$ctl_tool" "$sock" counters; exit 1
fi
echo "ok: ping 198.51.100.1 answered by the kernel behind the exception path"
ip -n "$ns_peer" neigh show 198.51.100.1 | grep -q lladdr || { echo "FAIL: no ARP entry"; exit 1; }
echo "ok: ARP resolved"

# (3) a kite on 198.51.100.1:5000, connector at 198.51.100.7:40000.
"$ctl_tool" "$sock" kite 198.51.100.1 5000 198.51.100.7 40000 198.51.100.1 7000 3500
# (2) the gateway (198.51.100.2) must be a kernel neighbour after the ping;
# give the refresh (100 ms) a moment by retrying the datagram below.
cat >"$tmp/conn.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.7", 40000))
s.settimeout(1.0)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.bind(("198.51.100.2", 12345))


def relay(payload, what):
    """Sends `payload` until its encapsulation arrives; checks the DATA header."""
    for attempt in range(20):
        c.sendto(payload, ("198.51.100.1", 5000))
        while True:
            try:
                data, src = s.recvfrom(65536)
            except socket.timeout:
                break
            if data[40:] != payload and len(data) - 40 != len(payload):
                continue  # a late copy of an earlier datagram
            assert src == ("198.51.100.1", 7000), src
            assert data[0] == 0x4B and data[1] == 1 and data[2] == 1, data[:4].hex()
            assert int.from_bytes(data[8:12], "big") == 1, "kite id"
            assert int.from_bytes(data[12:14], "big") == 12345, "client port"
            assert data[16:32] == bytes(10) + b"\xff\xff" + socket.inet_aton("198.51.100.2"), "client addr"
            assert data[40:] == payload, "payload differs: %d bytes" % (len(data) - 40)
            print("ok:", what, "at the connector after", attempt + 1, "attempt(s)")
            return
    print("FAIL: nothing arrived at the connector:", what)
    sys.exit(1)


relay(b"hello kite", "encapsulated datagram")
if sys.argv[1] == "tap":
    # The port's MTU is 1504: 1,400 bytes fit once encapsulated (1,468), 3,000
    # do not, and must be counted (checked by the caller), not stall the port.
    relay(bytes((i * 7 + 3) & 0xFF for i in range(1400)), "1,400-byte datagram encapsulated intact")
    for _ in range(3):
        c.sendto(bytes(3000), ("198.51.100.1", 5000))
else:
    relay(bytes((i * 7 + 3) & 0xFF for i in range(3000)),
          "3,000-byte datagram (larger than a 2 KiB mbuf) encapsulated intact")
EOF
if ! ip netns exec "$ns_peer" "$py" "$tmp/conn.py" "$pmd"; then
  "$ctl_tool" "$sock" counters; cat "$tmp/dp.log"; exit 1
fi
"$ctl_tool" "$sock" counters | grep -q '^encap_packets' || { echo "FAIL: encap_packets not counted"; exit 1; }
if [[ $pmd == tap ]]; then
  # (6, tap) the 3 oversized frames: dropped as mtu_exceeded, never as a full queue.
  if ! wait_for 50 bash -c "'$ctl_tool' '$sock' counters | grep -qx 'drop_mtu_exceeded 3'"; then
    echo "FAIL: want 3 drop_mtu_exceeded"; "$ctl_tool" "$sock" counters; exit 1
  fi
  if "$ctl_tool" "$sock" counters | grep -q '^drop_tx_queue_full'; then
    echo "FAIL: oversized frames counted as a full TX queue"; "$ctl_tool" "$sock" counters; exit 1
  fi
  echo "ok: 3,000-byte datagrams over the net_tap port's MTU 1504 counted as drop_mtu_exceeded"
fi
# (6) the exception interface carries the MTU of --max-frame (max frame - 18).
if ! ip -n "$ns_dp" link show kpx$$ | grep -q "mtu $exc_mtu "; then
  echo "FAIL: exception interface MTU (want $exc_mtu)"; ip -n "$ns_dp" link show kpx$$; exit 1
fi
echo "ok: exception interface MTU $exc_mtu"

# (7) several workers on hardware RSS (KP_TEST_LCORES="(0-2)@(0-1)" with the
# tap PMD, whose kernel side spreads flows over its queues): datagrams from
# 32 client ports all arrive encapsulated, and every worker transmitted on
# its own queue (the port's per-queue counters through DPDK telemetry).
if grep -q "hardware RSS, [2-9] worker" "$tmp/dp.log"; then
  cat >"$tmp/flows.py" <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.7", 40000))
s.settimeout(1.0)
want = set(range(20000, 20032))
clients = {}
for port in want:
    clients[port] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    clients[port].bind(("198.51.100.2", port))
for _ in range(10):
    for port in want:
        clients[port].sendto(b"flow %d" % port, ("198.51.100.1", 5000))
    try:
        while want:
            data, _ = s.recvfrom(65536)
            want.discard(int.from_bytes(data[12:14], "big"))
    except socket.timeout:
        pass
    if not want:
        break
assert not want, "no encapsulation for client ports %s" % sorted(want)
print("ok: datagrams of 32 client ports encapsulated")
EOF
  ip netns exec "$ns_peer" "$py" "$tmp/flows.py" || { "$ctl_tool" "$sock" counters; exit 1; }
  if ! command -v dpdk-telemetry.py >/dev/null; then
    echo "FAIL: dpdk-telemetry.py (package dpdk) is needed to read the per-queue counters"; exit 1
  fi
  xs=$(echo '/ethdev/xstats,0' | dpdk-telemetry.py -f "$tag" 2>&1 | tail -1)
  for q in 0 1; do
    n=$(grep -o "\"tx_q${q}_packets\": [0-9]*" <<<"$xs" | awk '{print $2}')
    [[ ${n:-0} -gt 0 ]] || { echo "FAIL: nothing sent on TX queue $q: $xs"; exit 1; }
    echo "ok: TX queue $q sent $n frames"
  done
fi

# (5) DPDK telemetry: the kite's counters through dpdk-telemetry.py.
if command -v dpdk-telemetry.py >/dev/null; then
  out=$(echo '/kiteplane/kite,1' | dpdk-telemetry.py -f "$tag" 2>&1 | tail -1)
  grep -q '"kite_rx_packets": [1-9]' <<<"$out" || { echo "FAIL: telemetry: $out"; exit 1; }
  out=$(echo '/kiteplane/stats' | dpdk-telemetry.py -f "$tag" 2>&1 | tail -1)
  grep -q '"encap_packets": [1-9]' <<<"$out" || { echo "FAIL: telemetry: $out"; exit 1; }
  if [[ $pmd == tap ]]; then
    out=$(echo '/kiteplane/kite,1' | dpdk-telemetry.py -f "$tag" 2>&1 | tail -1)
    grep -q '"kite_dropped_other": 3' <<<"$out" || { echo "FAIL: kite's MTU drops: $out"; exit 1; }
  fi
  echo "ok: telemetry /kiteplane/kite,1 and /kiteplane/stats"
fi

# (4) clean shutdown.
expect_clean_stop "$dp_pid" "$tmp/dp.log" || exit 1
dp_pid=
