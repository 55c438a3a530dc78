#!/usr/bin/env bash
# dpdk_ring_test.sh - kiteplane-dataplane on a net_ring port, with traffic.
#
# A net_ring vdev made from the command line uses one ring per queue for
# both directions: what the port transmits, it receives again.  The only
# other way in is the exception interface, so the test drives the data plane
# through its own kernel side, in a network namespace of its own:
#
#   kernel socket (198.51.100.2:12345) -> kite 203.0.113.10:5000 via the
#   exception tap -> port TX -> ring -> port RX -> fast path: encapsulated
#   toward the connector 198.51.100.7:40000 -> port TX -> ring -> port RX ->
#   fast path: not ours, no kite -> exception path -> exception tap, where an
#   AF_PACKET socket sees the DATA frame (the kernel itself drops it: it is
#   addressed to the gateway MAC, not the tap's).
#
# Checks: every one of 200 datagrams comes back encapsulated, with its DATA
# header and payload; the counters agree (200 encapsulations); after the kite
# is deleted through the control socket a datagram is no longer encapsulated
# (it loops back to the kernel as it was); SIGTERM stops the process cleanly.
# Usage: dpdk_ring_test.sh DATAPLANE_BIN DP_CTL_TOOL.  Exits 77 without root.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dp_bin=$1
ctl_tool=$2
py=/usr/bin/python3

if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root (network namespace, tap)"; exit 77; fi
if [[ ! -c /dev/net/tun ]]; then echo "SKIP: no /dev/net/tun for the exception tap"; exit 77; fi

tag=kpr$$
ns=${tag}ns
tmp=$(mktemp -d /tmp/${tag}.XXXXXX)
dp_pid=
cleanup() {
  stop_pid "$dp_pid"
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp" "/var/run/dpdk/$tag"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
sock=$tmp/ctl.sock
gw=02:00:00:00:00:77
ip netns exec "$ns" "$dp_bin" -l 0,1 --no-huge --no-pci -m 512 --file-prefix=$tag \
  --log-level='*:warning' --vdev net_ring0 -- --max-frame 2048 \
  --ctl-socket "$sock" --addr4 198.51.100.1/24 --tunnel-ports 7000 \
  --gateway-mac $gw --exception tap --exception-iface kpx$$ >"$tmp/dp.log" 2>&1 &
dp_pid=$!
if ! wait_for 300 test -S "$sock"; then
  echo "FAIL: data plane did not come up"; cat "$tmp/dp.log"; exit 1
fi
grep "kiteplane-dataplane: port" "$tmp/dp.log"
grep -q "(net_ring)" "$tmp/dp.log" || { echo "FAIL: not a net_ring port"; exit 1; }
wait_for 100 ip -n "$ns" link show kpx$$ || { echo "FAIL: no exception interface"; exit 1; }

# The kernel side: a client address the data plane does not own, and the
# kite's address reached through the exception tap (a static neighbour, so
# no ARP has to come back).
ip -n "$ns" addr add 198.51.100.2/24 dev kpx$$ 2>/dev/null || true
ip -n "$ns" link set kpx$$ up
ip -n "$ns" route add 203.0.113.0/24 dev kpx$$
ip -n "$ns" neigh replace 203.0.113.10 lladdr 02:00:00:00:00:10 dev kpx$$ nud permanent
ip netns exec "$ns" ethtool -K kpx$$ tx off >/dev/null 2>&1 || true

"$ctl_tool" "$sock" kite 203.0.113.10 5000 198.51.100.7 40000 198.51.100.1 7000 1500

cat >"$tmp/loop.py" <<'PYEND'
import socket, sys, time

iface, mode = sys.argv[1], sys.argv[2]
cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
cap.bind((iface, 0))
cap.settimeout(0.5)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.bind(("198.51.100.2", 12345))


def frames(deadline):
    """IPv4/UDP frames seen on the tap until `deadline`: (dst port, UDP payload)."""
    while time.monotonic() < deadline:
        try:
            f, addr = cap.recvfrom(65536)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING or len(f) < 42 or f[23] != 17:
            continue
        ihl = (f[14] & 0x0F) * 4
        udp = 14 + ihl
        yield int.from_bytes(f[udp + 2:udp + 4], "big"), f[:14], f[udp + 8:]


if mode == "encap":
    n = 200
    want = {}
    for i in range(n):
        p = b"ring %04d " % i + bytes((i + j) & 0xFF for j in range(100))
        want[p] = i
    seen = set()
    for p in want:
        c.sendto(p, ("203.0.113.10", 5000))
    for dport, eth, data in frames(time.monotonic() + 10):
        if dport != 40000:
            continue
        assert eth[:6] == bytes.fromhex("020000000077"), "dst MAC %s" % eth[:6].hex()
        assert data[0] == 0x4B and data[1] == 1 and data[2] == 1, data[:4].hex()
        assert int.from_bytes(data[8:12], "big") == 1, "kite id"
        assert int.from_bytes(data[12:14], "big") == 12345, "client port"
        assert data[16:32] == bytes(10) + b"\xff\xff" + socket.inet_aton("198.51.100.2"), "client"
        assert data[40:] in want, "payload not one sent"
        seen.add(data[40:])
        if len(seen) == n:
            break
    if len(seen) != n:
        print("FAIL: %d of %d datagrams came back encapsulated" % (len(seen), n))
        sys.exit(1)
    print("ok: %d of %d datagrams encapsulated over the net_ring port" % (len(seen), n))
else:  # "plain": the kite is gone; the datagram loops back as it was sent
    p = b"after the delete"
    for attempt in range(20):
        c.sendto(p, ("203.0.113.10", 5000))
        for dport, eth, data in frames(time.monotonic() + 0.5):
            if dport == 40000:
                print("FAIL: encapsulated after the kite was deleted")
                sys.exit(1)
            if dport == 5000 and data == p:
                print("ok: without the kite the datagram came back unencapsulated")
                sys.exit(0)
    print("FAIL: the datagram did not come back")
    sys.exit(1)
PYEND
if ! ip netns exec "$ns" "$py" "$tmp/loop.py" kpx$$ encap; then
  "$ctl_tool" "$sock" counters; cat "$tmp/dp.log"; exit 1
fi
encaps=$("$ctl_tool" "$sock" counters | awk '$1 == "encap_packets" { print $2 }')
[[ ${encaps:-0} -ge 200 ]] || { echo "FAIL: encap_packets ${encaps:-0}, want >= 200"; exit 1; }
echo "ok: encap_packets $encaps"

"$ctl_tool" "$sock" delete-kite 1
if ! ip netns exec "$ns" "$py" "$tmp/loop.py" kpx$$ plain; then
  "$ctl_tool" "$sock" counters; exit 1
fi
encaps2=$("$ctl_tool" "$sock" counters | awk '$1 == "encap_packets" { print $2 }')
[[ $encaps2 -eq $encaps ]] || { echo "FAIL: encap_packets moved after the delete"; exit 1; }

expect_clean_stop "$dp_pid" "$tmp/dp.log" || exit 1
dp_pid=
