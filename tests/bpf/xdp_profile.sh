#!/bin/bash
# xdp_profile.sh - where the XDP fast path spends its time and instructions,
# by source line, for one benchmark case.
#   usage: tests/bpf/xdp_profile.sh BUILD_DIR encap|decap [TOP_LINES]
# Runs xdp_bench --only CASE under `perf record -e cpu-clock` (a software
# clock: this works without hardware counters), reads the JIT image and line
# table of the benchmark's fast-path program while it is loaded
# (xdp_jit_dump), and attributes every sample to the source line whose code
# holds it.  Prints, per source file and for the TOP_LINES hottest lines:
#   - the share of the program's samples (time, with the skid of a sampling
#     profiler: a slow instruction's cost lands on the ones after it);
#   - "insns": how many distinct instructions were sampled at least once.
#     With enough samples (the default run takes ~100,000) every instruction
#     on the path is hit, so their count is the path length in x86
#     instructions, a figure that, unlike the time, does not move with the
#     machine's load; compare it before and after a change.
# The wrapper's lines (bench_fastpath.bpf.c) are the benchmark's save and
# restore, not the fast path.  Needs root, perf, objdump and python3.
set -euo pipefail
build=${1:?usage: xdp_profile.sh BUILD_DIR encap\|decap [TOP_LINES]}
case_=${2:?usage: xdp_profile.sh BUILD_DIR encap\|decap [TOP_LINES]}
top=${3:-40}
here=$(cd "$(dirname "$0")" && pwd)
for t in perf objdump python3 bpftool; do
  command -v "$t" >/dev/null || { echo "xdp_profile: $t is missing" >&2; exit 1; }
done
work=$(mktemp -d)
bench_pid=
cleanup() {
  [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

perf record -q -e cpu-clock -F 10000 -o "$work/perf.data" \
  "$build/tests/bpf/xdp_bench" "$here/../vectors/vectors.json" --kites 0 --only "$case_" \
  --runs 15 --repeat 2000000 >"$work/bench.out" 2>&1 &
bench_pid=$!
id=
for _ in $(seq 200); do  # up to 20 s for the programs to load
  id=$(bpftool prog show 2>/dev/null | awk -F: '/ name kp_bench_fastpa/ {print $1; exit}')
  [ -n "$id" ] && break
  kill -0 "$bench_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$id" ] || { echo "xdp_profile: the benchmark program did not load" >&2; cat "$work/bench.out" >&2; exit 1; }
"$build/tests/bpf/xdp_jit_dump" "$id" "$work/image.bin" "$work/lines.txt" >/dev/null
wait "$bench_pid"
bench_pid=
grep -E "alone|loop" "$work/bench.out" || true
objdump -D -b binary -mi386:x86-64 "$work/image.bin" >"$work/image.asm"
perf script -i "$work/perf.data" -F ip,sym,symoff 2>/dev/null |
  sed -n 's/.*_kp_bench_fastpath+0x\([0-9a-f]*\)$/\1/p' >"$work/offsets.txt"

python3 - "$work" "$top" <<'PY'
import bisect, collections, re, sys
work, top = sys.argv[1], int(sys.argv[2])
samples = collections.Counter(int(l, 16) for l in open(work + "/offsets.txt") if l.strip())
starts = set()
for l in open(work + "/image.asm"):
    m = re.match(r"\s+([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*\S", l)
    if m:
        starts.add(int(m.group(1), 16))
table = sorted((int(a, 16), rest) for a, rest in
               (l.rstrip("\n").split(" ", 1) for l in open(work + "/lines.txt")))
addrs = [a for a, _ in table]
def line_of(off):
    i = bisect.bisect_right(addrs, off) - 1
    return table[i][1] if i >= 0 else "?:0 | (prologue)"
total = sum(samples.values())
if total == 0:
    sys.exit("xdp_profile: no samples in the fast-path program")
by_file, by_line = collections.defaultdict(lambda: [0, 0]), collections.defaultdict(lambda: [0, 0])
for off, n in samples.items():
    src = line_of(off)
    for d, k in ((by_file, src.split(":")[0]), (by_line, src)):
        d[k][0] += n
        d[k][1] += off in starts
insns = sum(v[1] for v in by_file.values())
wrapper = by_file.get("bench_fastpath.bpf.c", [0, 0])[1]
print(f"{total} samples; {insns} distinct instructions sampled, {wrapper} of them in the wrapper")
print(f"{'file':24} {'time':>6} {'insns':>6}")
for k, (n, i) in sorted(by_file.items(), key=lambda kv: -kv[1][0]):
    print(f"{k:24} {100 * n / total:5.1f}% {i:6}")
print(f"\n{'time':>6} {'insns':>5}  line")
for k, (n, i) in sorted(by_line.items(), key=lambda kv: -kv[1][0])[:top]:
    print(f"{100 * n / total:5.1f}% {i:5}  {k[:110]}")
PY
