#!/usr/bin/env bash
# bench_modes_test.sh - the benchmark's two frame sources work and count
# what they forward (dpdk_bench.sh's figures rest on them; no timing here).
# - --bench-write-pcap writes one frame per kite drawn: checked with scapy
#   (count, addresses, ports, payload, DATA header).
# - --bench-source port on net_pcap,infinite_rx=1 replaying that file
#   forwards every frame (exit 0, tx = packets, no drops), for encap and
#   decap; so does the synthesising source on net_null.
# - a port-fed run whose tables lack some of the file's kites exits 3 (not
#   every frame was forwarded), so a bench that stopped forwarding cannot
#   report a figure as if it did.
# - a port that runs dry (net_pcap without infinite_rx) leaves the bench
#   waiting; SIGTERM ends it with status 1 and says how far it got.
# Usage: bench_modes_test.sh DATAPLANE_BIN
set -uo pipefail
dp_bin=$1
tmp=$(mktemp -d /tmp/kpbm.XXXXXX)
trap 'rm -rf "$tmp" /var/run/dpdk/kpbm$$_*' EXIT
eal=(-l 0,1 --no-huge --no-pci -m 512 --log-level='*:error')
app=(--ctl-socket "$tmp/ctl.sock" --exception none --max-kites 1024 --max-frame 2048)
fail=0
n=0
bad() { echo "FAIL: $*"; fail=1; }

# run NAME WANT_RC ARGS...: the data plane's exit status must be WANT_RC.
run() {
  local name=$1 want=$2; shift 2
  n=$((n + 1))
  timeout 120 "$dp_bin" "${eal[@]}" --file-prefix=kpbm$$_$n "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [[ $rc -ne $want ]]; then bad "$name: exit status $rc, want $want"; cat "$tmp/out" "$tmp/err"; return 1; fi
  return 0
}

for setup in encap decap; do
  f=$tmp/$setup.pcap
  run "write $setup" 0 --vdev net_null0 -- "${app[@]}" --bench-setup $setup --bench-kites 3 \
    --bench-write-pcap "$f" || continue
  grep -q "bench: 3 $setup frame(s) written to $f" "$tmp/out" || bad "write $setup: $(cat "$tmp/out")"
  if ! /usr/bin/python3 - "$f" "$setup" <<'PY'
import sys
from scapy.all import rdpcap, IP, UDP
frames, setup = rdpcap(sys.argv[1]), sys.argv[2]
assert len(frames) == 3, f"{len(frames)} frames"
ports = set()
for f in frames:
    ip, udp, data = f[IP], f[UDP], bytes(f[UDP].payload)
    if setup == "encap":  # client 203.0.113.99:12345 -> kite 100.64.0.0:10000+id
        assert (ip.src, udp.sport, ip.dst) == ("203.0.113.99", 12345, "100.64.0.0"), f.summary()
        assert data.startswith(b"kiteplane") and len(data) == 18, data
        ports.add(udp.dport)
    else:  # connector 203.0.113.7:40000 -> front-end 198.51.100.1:7000, a DATA header
        assert (ip.src, udp.sport, ip.dst, udp.dport) == ("203.0.113.7", 40000, "198.51.100.1", 7000), f.summary()
        assert data[2] == 1 and len(data) == 58, data[:4]
        ports.add(int.from_bytes(data[8:12], "big") + 10000)  # the kite id
assert ports == {10001, 10002, 10003}, ports
print(f"ok: {setup} pcap: 3 frames for kites 1, 2 and 3")
PY
  then bad "$setup pcap contents"; fi

  for src in port synth; do
    if [[ $src == port ]]; then vdev=net_pcap0,rx_pcap=$f,infinite_rx=1; else vdev=net_null0,copy=1; fi
    run "$setup from $src" 0 --vdev "$vdev" -- "${app[@]}" --bench-packets 100000 --bench-setup $setup \
      --bench-kites 3 --bench-source $src || continue
    if grep -q "bench setup=$setup kites=3 workers=1 packets=100000 tx=100000 drops=0 " "$tmp/out"; then
      echo "ok: $setup from $src: 100000 of 100000 forwarded"
    else
      bad "$setup from $src: $(cat "$tmp/out")"
    fi
  done
done

# Frames for kites 1..3 against tables holding kite 1 only: two thirds are
# not kite traffic, so the bench must fail.
if run "tables without the file's kites" 3 --vdev net_pcap0,rx_pcap=$tmp/encap.pcap,infinite_rx=1 -- \
  "${app[@]}" --bench-packets 30000 --bench-setup encap --bench-kites 1 --bench-source port; then
  tx=$(sed -n 's/.* tx=\([0-9]*\) .*/\1/p' "$tmp/out")
  if [[ $tx -ge 9000 && $tx -le 11000 ]]; then
    echo "ok: tables without the file's kites: exit 3, $tx of 30000 forwarded"
  else
    bad "tables without the file's kites: tx=$tx, want about a third of 30000"
  fi
fi
# Three frames, then nothing: the bench waits for packets that never come
# until SIGTERM.
n=$((n + 1))
timeout 120 "$dp_bin" "${eal[@]}" --file-prefix=kpbm$$_$n --vdev net_pcap0,rx_pcap=$tmp/encap.pcap \
  -- "${app[@]}" --bench-packets 1000 --bench-setup encap --bench-kites 3 --bench-source port \
  >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 300); do grep -q "worker(s)" "$tmp/err" && break; sleep 0.1; done
if ! grep -q "worker(s)" "$tmp/err"; then
  bad "dry port: the data plane did not start: $(cat "$tmp/err")"; kill -9 $pid 2>/dev/null
fi
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
if [[ $rc -eq 1 ]] && grep -q "bench interrupted after 3 of 1000 packets" "$tmp/err"; then
  echo "ok: dry port: SIGTERM ends the bench: $(grep interrupted "$tmp/err")"
else
  bad "dry port: exit status $rc, want 1 and 'bench interrupted after 3 of 1000 packets': $(cat "$tmp/err")"
fi
exit $fail
