#!/usr/bin/env bash
# dpdk_bench.sh - cycles per packet of the DPDK data plane against
# dpdk-testpmd (5tswap and macswap), in the same run, on net_null devices,
# one worker lcore each.
#
# kiteplane-dataplane runs in its bench mode: the worker synthesises frames
# from templates (mbuf bulk alloc + memcpy of a 60-byte client datagram or a
# 98-byte DATA frame) instead of rx_burst, forwards them and transmits to
# net_null.  testpmd gets the same kind of work on its RX side from
# net_null,copy=1 (bulk alloc + memcpy of a dummy frame).  Cycles per packet
# are CPU time of the forwarding thread x TSC rate / packets, for both (ours:
# CLOCK_THREAD_CPUTIME_ID around the worker loop; testpmd, run non-interactively:
# schedstat CPU time of its rte-worker-1 thread, packets from its stats), so
# time the thread spent preempted on a shared machine is not counted.  The
# wall-clock figures (TSC; testpmd --record-core-cycles) are printed too.
# Both directions, 1 kite and 1,000,000 kites (templates for 65,536 of them,
# drawn at random, in random order).
# Usage: dpdk_bench.sh DATAPLANE_BIN [PACKETS]
set -euo pipefail
dp_bin=$1
packets=${2:-5000000}
tmp=$(mktemp -d /tmp/kpbench.XXXXXX)
# testpmd leaves its EAL runtime directory behind: remove this run's ones too.
trap 'rm -rf "$tmp" /var/run/dpdk/kpt$$_*' EXIT
eal=(-l 0,1 --no-huge --no-pci -m 1024 --log-level='*:warning')

if ! command -v dpdk-testpmd >/dev/null; then
  echo "SKIP: dpdk-testpmd not installed (Debian package dpdk-dev)"; exit 77
fi

# --max-frame 2048: the same 2048-byte mbuf data room (after the headroom)
# testpmd uses, so both touch the same amount of buffer memory.
ours() {  # setup kites -> "cpu_cycles wall_cycles"
  local out
  out=$("$dp_bin" "${eal[@]}" --file-prefix=kpb$$_$1_$2 --vdev net_null0,copy=1 -- \
    --ctl-socket "$tmp/ctl.sock" --exception none --max-kites $(( $2 + 1 > 1024 ? $2 + 1 : 1024 )) \
    --max-frame 2048 \
    --bench-packets "$packets" --bench-setup "$1" --bench-kites "$2" 2>"$tmp/err") || {
    echo "bench $1 $2 failed: $out $(cat "$tmp/err")" >&2; return 1; }
  echo "$(sed -n 's/.*cpu_cycles_per_packet=\([0-9.]*\).*/\1/p' <<<"$out")" \
       "$(sed -n 's/.* cycles_per_packet=\([0-9.]*\).*/\1/p' <<<"$out")"
}

testpmd() {  # mode -> "cpu_cycles wall_cycles"
  # Non-interactive: forwards from start-up until a line arrives on stdin.
  rm -f "$tmp/in"; mkfifo "$tmp/in"
  dpdk-testpmd "${eal[@]}" --file-prefix=kpt$$_$1 --vdev net_null0,copy=1 \
    --vdev net_null1,copy=1 -- --forward-mode="$1" --record-core-cycles \
    --total-num-mbufs=16384 <"$tmp/in" >"$tmp/tp.out" 2>&1 &
  local tp=$! cpu_ns=0 t
  exec 3>"$tmp/in"
  sleep "${KP_BENCH_TESTPMD_SECONDS:-8}"
  for t in /proc/$tp/task/*; do  # schedstat: ns on CPU, first field
    if [[ $(cat "$t/comm" 2>/dev/null) == rte-worker-1 ]]; then cpu_ns=$(cut -d' ' -f1 "$t/schedstat"); fi
  done
  echo >&3; exec 3>&-
  wait $tp || true
  local line pkts wall
  line=$(grep 'CPU cycles/packet=' "$tmp/tp.out" | tail -1)
  wall=$(sed -n 's/.*CPU cycles\/packet=\([0-9.]*\).*/\1/p' <<<"$line")
  pkts=$(sed -n 's/.*packets=\([0-9]*\)).*/\1/p' <<<"$line")
  awk -v ns="$cpu_ns" -v mhz="$hz" -v p="$pkts" -v w="$wall" \
    'BEGIN { printf "%.1f %s", (p > 0 ? ns * mhz / 1000 / p : 0), w }'
}

hz=$(grep -m1 'cpu MHz' /proc/cpuinfo | awk '{print $4}')
mpps() { awk -v c="$1" -v hz="$hz" 'BEGIN { printf "%.2f", (c > 0 ? hz / c : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

read -r t5 t5w <<<"$(testpmd 5tswap)"
read -r tm tmw <<<"$(testpmd macswap)"
printf '%-34s %12s %10s %10s %14s\n' "forwarder (1 core)" "cyc/pkt CPU" "Mpps/core" "vs 5tswap" "cyc/pkt wall"
printf '%-34s %12s %10s %10s %14s\n' "testpmd 5tswap" "$t5" "$(mpps "$t5")" "1.00" "$t5w"
printf '%-34s %12s %10s %10s %14s\n' "testpmd macswap" "$tm" "$(mpps "$tm")" "$(ratio "$tm" "$t5")" "$tmw"
status=0
for setup in encap decap; do
  for kites in 1 1000000; do
    read -r c cw <<<"$(ours $setup $kites)" || { status=1; continue; }
    printf '%-34s %12s %10s %10s %14s\n' "kiteplane $setup, $kites kite(s)" "$c" "$(mpps "$c")" \
      "$(ratio "$c" "$t5")" "$cw"
  done
done
echo "(load average during the run: $(cut -d' ' -f1-3 /proc/loadavg))"
exit $status
