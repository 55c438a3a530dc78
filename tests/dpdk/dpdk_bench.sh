#!/usr/bin/env bash
# dpdk_bench.sh - cycles per packet of the DPDK data plane against
# dpdk-testpmd (5tswap and macswap), in the same run, on the same virtual
# devices and the same frames, one forwarding lcore each.
#
# Devices (KP_BENCH_DEVICE):
# - pcap (default): each case's frames are written to a pcap file
#   (kiteplane-dataplane --bench-write-pcap) and replayed from memory by
#   net_pcap,infinite_rx=1 (bulk mbuf alloc + a copy per frame; what is sent
#   is freed).  kiteplane-dataplane receives them through rte_eth_rx_burst
#   (--bench-source port), and testpmd forwards the same file on two such
#   ports, so 5tswap swaps real Ethernet/IPv4/UDP headers.
# - null: net_null,copy=1 for testpmd (a zero-filled 64-byte frame per
#   packet: 5tswap finds no IP header in it and swaps only the MACs), and
#   kiteplane-dataplane synthesising its frames in the worker (mbuf bulk
#   alloc + memcpy of a template) and transmitting to net_null.  The figures
#   before 2026-11-22 09:00 UTC were taken this way.
# Cycles per packet are CPU time of the forwarding thread x TSC rate /
# packets, for both (ours: CLOCK_THREAD_CPUTIME_ID around the worker loop;
# testpmd, run non-interactively: schedstat CPU time of its rte-worker-1
# thread, packets from its stats), so time the thread spent preempted on a
# shared machine is not counted.  The wall-clock figures (TSC; testpmd
# --record-core-cycles) are printed too.  Both directions, 1 kite and
# 1,000,000 kites (frames for 65,536 of them, drawn at random, in random
# order).
# Both sides forward for about as long: testpmd for KP_BENCH_TESTPMD_SECONDS
# (default 4) from its start-up, the data plane for PACKETS (default 30
# million: 3-4 s at one kite, 5-6 s at a million), so that start-up and
# cold caches weigh about as much in both figures.  With 5 million packets
# (0.6 s, the default before 2026-11-22 11:00 UTC) the data plane's figure
# carried its warm-up almost alone: 700-830 against 480-680 cycles at a
# million kites.
# KP_BENCH_HUGE=1 runs both on 2 MiB hugepages instead of --no-huge (mount
# hugetlbfs and reserve about 600 pages first).
# Usage: dpdk_bench.sh DATAPLANE_BIN [PACKETS]
set -euo pipefail
dp_bin=$1
packets=${2:-30000000}
device=${KP_BENCH_DEVICE:-pcap}
tmp=$(mktemp -d /tmp/kpbench.XXXXXX)
# testpmd leaves its EAL runtime directory behind: remove this run's ones too.
trap 'rm -rf "$tmp" /var/run/dpdk/kpt$$_*' EXIT
eal=(-l 0,1 --no-huge --no-pci -m 1024 --log-level='*:warning')
if [[ ${KP_BENCH_HUGE:-0} == 1 ]]; then eal=(-l 0,1 --no-pci -m 1024 --huge-unlink --log-level='*:warning'); fi
case $device in pcap|null) ;; *) echo "KP_BENCH_DEVICE: want pcap or null" >&2; exit 2 ;; esac

if ! command -v dpdk-testpmd >/dev/null; then
  echo "SKIP: dpdk-testpmd not installed (Debian package dpdk-dev)"; exit 77
fi

pcap_of() { echo "$tmp/$1_$2.pcap"; }
vdev() {  # setup kites port-number -> the --vdev argument of that case's port
  if [[ $device == pcap ]]; then echo "net_pcap$3,rx_pcap=$(pcap_of "$1" "$2"),infinite_rx=1"
  else echo "net_null$3,copy=1"; fi
}
max_kites() { echo $(( $1 + 1 > 1024 ? $1 + 1 : 1024 )); }

# The frames of each case, as the data plane builds them for its tables.
if [[ $device == pcap ]]; then
  for setup in encap decap; do
    for kites in 1 1000000; do
      "$dp_bin" "${eal[@]}" --file-prefix=kpw$$_${setup}_$kites --vdev net_null0 -- \
        --ctl-socket "$tmp/ctl.sock" --exception none --max-kites "$(max_kites $kites)" \
        --bench-setup $setup --bench-kites $kites --bench-write-pcap "$(pcap_of $setup $kites)" \
        >/dev/null 2>"$tmp/err" || { echo "writing the $setup/$kites frames failed: $(cat "$tmp/err")" >&2; exit 1; }
    done
  done
fi

# --max-frame 2048: the same 2048-byte mbuf data room (after the headroom)
# testpmd uses, so both touch the same amount of buffer memory.  --mbufs:
# net_pcap holds every frame of its file in an mbuf of the port's pool.
ours() {  # setup kites -> "cpu_cycles wall_cycles"
  local out src=()
  [[ $device == pcap ]] && src=(--bench-source port)
  out=$("$dp_bin" "${eal[@]}" --file-prefix=kpb$$_$1_$2 --vdev "$(vdev "$1" "$2" 0)" -- \
    --ctl-socket "$tmp/ctl.sock" --exception none --max-kites "$(max_kites "$2")" \
    --max-frame 2048 --mbufs 131071 \
    --bench-packets "$packets" --bench-setup "$1" --bench-kites "$2" "${src[@]}" 2>"$tmp/err") || {
    echo "bench $1 $2 failed: $out $(cat "$tmp/err")" >&2; return 1; }
  echo "$(sed -n 's/.*cpu_cycles_per_packet=\([0-9.]*\).*/\1/p' <<<"$out")" \
       "$(sed -n 's/.* cycles_per_packet=\([0-9.]*\).*/\1/p' <<<"$out")"
}

testpmd() {  # mode setup kites -> "cpu_cycles wall_cycles"
  # Non-interactive: forwards from start-up until a line arrives on stdin.
  rm -f "$tmp/in"; mkfifo "$tmp/in"
  dpdk-testpmd "${eal[@]}" --file-prefix=kpt$$_$1_$2_$3 --vdev "$(vdev "$2" "$3" 0)" \
    --vdev "$(vdev "$2" "$3" 1)" -- --forward-mode="$1" --record-core-cycles \
    --total-num-mbufs=180000 <"$tmp/in" >"$tmp/tp.out" 2>&1 &
  local tp=$! cpu_ns=0 t
  exec 3>"$tmp/in"
  sleep "${KP_BENCH_TESTPMD_SECONDS:-4}"
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

row() { printf '%-44s %12s %10s %10s %14s\n' "$@"; }
med() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Rounds: each round runs testpmd 5tswap and kiteplane-dataplane on each
# case's device and frames back to back, and macswap once; the tables show
# medians over the rounds, the ratio column the median of the per-round
# ratios (a noisy neighbour slows one round's pair, not one side of all).
rounds=${KP_BENCH_ROUNDS:-3}
declare -A t5s t5ws cs cws rs runs
tms=() ; tmws=()
status=0
for ((r = 1; r <= rounds; r++)); do
  read -r a b <<<"$(testpmd macswap encap 1)"; tms+=("$a"); tmws+=("$b")
  for setup in encap decap; do
    for kites in 1 1000000; do
      k=$setup,$kites
      # null: one zero-frame device for every case, so one 5tswap run a round.
      if [[ $device == pcap || $k == encap,1 ]]; then read -r t5 t5w <<<"$(testpmd 5tswap $setup $kites)"; fi
      read -r c cw <<<"$(ours $setup $kites)" || { status=1; continue; }
      t5s[$k]+="$t5 "; t5ws[$k]+="$t5w "; cs[$k]+="$c "; cws[$k]+="$cw "; rs[$k]+="$(ratio "$c" "$t5") "
      runs[$k]+="$c/$t5 "
    done
  done
done
mcol() { tr ' ' '\n' <<<"$1" | grep . | med; }
row "forwarder (1 core, $device, median of $rounds)" "cyc/pkt CPU" "Mpps/core" "vs 5tswap" "cyc/pkt wall"
tm=$(printf '%s\n' "${tms[@]}" | med); tmw=$(printf '%s\n' "${tmws[@]}" | med); t5=$(mcol "${t5s[encap,1]}")
frames() { if [[ $device == pcap ]]; then echo "$1 frames, $2 kite(s)"; else echo "zero frames"; fi; }
row "testpmd macswap, $(frames encap 1)" "$tm" "$(mpps "$tm")" "$(ratio "$tm" "$t5")" "$tmw"
for setup in encap decap; do
  for kites in 1 1000000; do
    k=$setup,$kites
    [[ -n ${cs[$k]:-} ]] || continue
    if [[ $device == pcap || $k == encap,1 ]]; then
      t5=$(mcol "${t5s[$k]}")
      row "testpmd 5tswap, $(frames $setup $kites)" "$t5" "$(mpps "$t5")" "1.00" "$(mcol "${t5ws[$k]}")"
    fi
    c=$(mcol "${cs[$k]}")
    row "kiteplane $setup, $kites kite(s)" "$c" "$(mpps "$c")" "$(mcol "${rs[$k]}")" "$(mcol "${cws[$k]}")"
  done
done
for setup in encap decap; do
  for kites in 1 1000000; do
    echo "  per round, $setup, $kites kite(s): ratios ${rs[$setup,$kites]:-}; cycles ours/5tswap ${runs[$setup,$kites]:-}"
  done
done
echo "(load average after the run: $(cut -d' ' -f1-3 /proc/loadavg))"
exit $status
