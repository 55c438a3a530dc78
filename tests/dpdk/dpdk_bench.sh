#!/usr/bin/env bash
# dpdk_bench.sh - cycles per packet of the DPDK data plane against
# dpdk-testpmd (5tswap and macswap), in the same run, on net_null devices,
# one worker lcore each.
#
# kiteplane-dataplane runs in its bench mode: the worker synthesises frames
# from templates (mbuf bulk alloc + memcpy of a 60-byte client datagram or a
# 98-byte DATA frame) instead of rx_burst, forwards them and transmits to
# net_null.  testpmd gets the same kind of work on its RX side from
# net_null,copy=1 (bulk alloc + memcpy of a dummy frame).  Cycles per packet:
# ours = TSC cycles of the worker loop / packets; testpmd's = its
# --record-core-cycles figure (busy cycles / packets).  Both directions,
# 1 kite and 1,000,000 kites (templates spread over 65,536 of them).
# Usage: dpdk_bench.sh DATAPLANE_BIN [PACKETS]
set -euo pipefail
dp_bin=$1
packets=${2:-5000000}
tmp=$(mktemp -d /tmp/kpbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
eal=(-l 0,1 --no-huge --no-pci -m 1024 --log-level='*:warning')

if ! command -v dpdk-testpmd >/dev/null; then
  echo "SKIP: dpdk-testpmd not installed (Debian package dpdk-dev)"; exit 77
fi

ours() {  # setup kites -> cycles per packet
  local out
  out=$("$dp_bin" "${eal[@]}" --file-prefix=kpb$$_$1_$2 --vdev net_null0,copy=1 -- \
    --ctl-socket "$tmp/ctl.sock" --exception none --max-kites $(( $2 + 1 > 1024 ? $2 + 1 : 1024 )) \
    --bench-packets "$packets" --bench-setup "$1" --bench-kites "$2" 2>"$tmp/err") || {
    echo "bench $1 $2 failed: $out $(cat "$tmp/err")" >&2; return 1; }
  sed -n 's/.*cycles_per_packet=\([0-9.]*\).*/\1/p' <<<"$out"
}

testpmd() {  # mode -> cycles per packet
  (sleep 4; echo start; sleep 3; echo stop; sleep 1; echo quit) |
    dpdk-testpmd "${eal[@]}" --file-prefix=kpt$$_$1 --vdev net_null0,copy=1 \
      --vdev net_null1,copy=1 -- -i --forward-mode="$1" --record-core-cycles \
      --total-num-mbufs=16384 2>&1 |
    sed -n 's/.*CPU cycles\/packet=\([0-9.]*\).*/\1/p' | tail -1
}

hz=$(grep -m1 'cpu MHz' /proc/cpuinfo | awk '{print $4}')
mpps() { awk -v c="$1" -v hz="$hz" 'BEGIN { printf "%.2f", (c > 0 ? hz / c : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

t5=$(testpmd 5tswap)
tm=$(testpmd macswap)
printf '%-28s %10s %12s %10s\n' "forwarder" "cyc/pkt" "Mpps/core" "vs 5tswap"
printf '%-28s %10s %12s %10s\n' "testpmd 5tswap" "$t5" "$(mpps "$t5")" "1.00"
printf '%-28s %10s %12s %10s\n' "testpmd macswap" "$tm" "$(mpps "$tm")" "$(ratio "$tm" "$t5")"
status=0
for setup in encap decap; do
  for kites in 1 1000000; do
    c=$(ours $setup $kites) || { status=1; continue; }
    r=$(ratio "$c" "$t5")
    printf '%-28s %10s %12s %10s\n' "kiteplane $setup, $kites kite(s)" "$c" "$(mpps "$c")" "$r"
  done
done
exit $status
