#!/usr/bin/env bash
# topology_test.sh - checks the namespace topology of scripts/lib/netns.sh on
# its own, with the kernel forwarding (no kiteplane process involved), so the
# end-to-end test can trust it: clients and the NAT'd backend both reach the
# front-end, the backend is seen from outside as the NAT's public address, a
# 3,000-byte datagram crosses every link as one unfragmented frame, and the
# echo service returns mixed-size datagrams intact.  Exits 77 without root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${KP_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
build=${KP_BUILD_DIR:-$src/build}
py=${KP_PYTHON:-/usr/bin/python3}
# shellcheck source=../../../scripts/lib/netns.sh
source "$src/scripts/lib/netns.sh"

kp_require_root
kp_find_bins "$build"
[[ -n $KP_BIN_kp_udp_echo ]] || kp_skip "kp-udp-echo not built in $build"
kp_topo_init "t$$"
kp_topo_up

fail() { kp_log "FAIL: $*"; exit 1; }

# 1. MTU 9000 on every link but the front-end's (KP_FE_MTU, for native XDP).
for pair in "frontend eth0" "router to-fe"; do
  set -- $pair
  mtu=$(kp_in "$1" cat "/sys/class/net/$2/mtu")
  [[ $mtu == "$KP_FE_MTU" ]] || fail "$1/$2 has MTU $mtu, want $KP_FE_MTU"
done
for pair in "router to-cl" "router to-nat" "nat out" "nat in" "backend eth0" "client eth0"; do
  set -- $pair
  mtu=$(kp_in "$1" cat "/sys/class/net/$2/mtu")
  [[ $mtu == "$KP_MTU" ]] || fail "$1/$2 has MTU $mtu, want $KP_MTU"
done

# 2. The backend leaves through the NAT: the front-end sees 203.0.113.2.
peer_file=$KP_LOGDIR/peer.txt
kp_spawn frontend whoami "$py" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 7999))
open(sys.argv[2] + ".ready", "w").close()
d, peer = s.recvfrom(100); s.sendto(d, peer); open(sys.argv[2], "w").write(peer[0])
' "$KP_FE_ADDR" "$peer_file"
kp_wait_for 10 "whoami listener" test -f "$peer_file.ready" || fail "listener did not start"
kp_in backend "$py" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"who", (sys.argv[1], 7999)); s.recvfrom(100)' "$KP_FE_ADDR" || fail "backend cannot reach the front-end"
kp_wait_for 5 "peer file" test -s "$peer_file" || fail "no peer recorded"
[[ $(cat "$peer_file") == "$KP_NAT_OUT" ]] || fail "front-end saw $(cat "$peer_file"), want the NAT address $KP_NAT_OUT"
kp_log "ok: backend is masqueraded as $KP_NAT_OUT"

# 3. Echo service in the front-end namespace; mixed sizes from every client
#    address and from behind the NAT, 3,000 bytes included.
kp_spawn frontend echo "$KP_BIN_kp_udp_echo" --addr "$KP_FE_ADDR" --port 7000
kp_wait_for 10 "echo bound" bash -c "ip netns exec $(kp_ns frontend) ss -Hlun 'sport = :7000' | grep -q 7000" \
  || fail "echo service did not bind"
src_args=()
for a in "${KP_CLIENT_ADDRS[@]}"; do src_args+=(--src "$a"); done
out=$(kp_in client "$py" "$here/e2e_helper.py" roundtrip --dst "$KP_FE_ADDR:7000" "${src_args[@]}" \
  --count 400 --sizes 64,512,1400,3000 --rate 2000) || fail "client roundtrip: $out"
kp_log "ok: clients -> front-end echo: $out"
out=$(kp_in backend "$py" "$here/e2e_helper.py" roundtrip --dst "$KP_FE_ADDR:7000" --src "$KP_BE_ADDR" \
  --count 100 --sizes 3000,3400 --rate 1000) || fail "backend roundtrip: $out"
kp_log "ok: backend -> front-end echo through the NAT: $out"

# 4. No reassembly happened anywhere: 3,000 and 3,400-byte datagrams were single frames.
for r in frontend nat client backend; do
  reasm=$(kp_in "$r" awk '/^Ip:/ && !h {h=1; for (i=1;i<=NF;i++) if ($i=="ReasmReqds") c=i; next} /^Ip:/ {print $c}' /proc/net/snmp)
  [[ $reasm == 0 ]] || fail "$r reassembled $reasm fragments: a link is not at MTU $KP_MTU"
done
kp_log "ok: no fragments (jumbo MTU on every link)"
echo "PASS: topology"
