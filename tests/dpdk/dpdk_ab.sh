#!/usr/bin/env bash
# dpdk_ab.sh - compare two builds of kiteplane-dataplane in the bench mode
# with synthesised frames on net_null (dpdk_bench.sh's KP_BENCH_DEVICE=null
# setup; one worker lcore), taking turns in the order
# A B B A A B B A ..., and print each build's median and minimum CPU cycles
# per packet.
#
# Why that order: strictly alternating runs (A B A B ...) were biased on the
# development VM.  The same binary run as both A and B, 4 pairs with a
# million kites, gave medians of 662 (A) and 480 (B) cycles: the second run of
# a pair was faster every time, which made a change in slot B look better.
# With A B B A each build takes each slot equally often, and the same check
# gave 658 and 628.  Even so, medians of 8 to 12 pairs move by about 10 %
# from one invocation to the next on a shared 2-vCPU machine: run A against
# A first to see the noise floor, and do not read a smaller difference as a
# gain.  Instruction counts (valgrind --tool=callgrind with
# --toggle-collect='kp::dpdk::WorkerMain*') do not depend on the load.
#
# Usage: dpdk_ab.sh A_BIN B_BIN encap|decap KITES [PAIRS]
#   env PACKETS (default 5000000) per run; CHRT=1 runs each under chrt -f 50.
# Not a registered test or benchmark: a tool for before/after comparisons.
set -euo pipefail
if (( $# < 4 )); then
  echo "usage: $0 A_BIN B_BIN encap|decap KITES [PAIRS]" >&2
  exit 2
fi
a_bin=$1 b_bin=$2 setup=$3 kites=$4 pairs=${5:-8}
packets=${PACKETS:-5000000}
tmp=$(mktemp -d /tmp/kpab.XXXXXX)
trap 'rm -rf "$tmp" /var/run/dpdk/kpab$$' EXIT
max_kites=$(( kites + 1 > 1024 ? kites + 1 : 1024 ))

run() {  # binary -> cpu cycles per packet
  local out
  out=$(${CHRT:+chrt -f 50} "$1" -l 0,1 --no-huge --no-pci -m 1024 --log-level='*:warning' \
    --file-prefix=kpab$$ --vdev net_null0,copy=1 -- --ctl-socket "$tmp/ctl.sock" --exception none \
    --max-kites "$max_kites" --max-frame 2048 --bench-packets "$packets" --bench-setup "$setup" \
    --bench-kites "$kites" 2>"$tmp/err") || { echo "$1 failed: $(cat "$tmp/err")" >&2; return 1; }
  rm -rf /var/run/dpdk/kpab$$
  sed -n 's/.*cpu_cycles_per_packet=\([0-9.]*\).*/\1/p' <<<"$out"
}

a=() b=()
for (( i = 0; i < pairs; i++ )); do
  if (( i % 2 == 0 )); then
    a+=("$(run "$a_bin")"); b+=("$(run "$b_bin")")
  else
    b+=("$(run "$b_bin")"); a+=("$(run "$a_bin")")
  fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
minimum() { printf '%s\n' "$@" | sort -n | head -1; }
echo "$setup, $kites kite(s), $pairs pairs, $packets packets per run (cycles/packet, CPU time)"
echo "A $a_bin: median $(median "${a[@]}") min $(minimum "${a[@]}")  runs: ${a[*]}"
echo "B $b_bin: median $(median "${b[@]}") min $(minimum "${b[@]}")  runs: ${b[*]}"
