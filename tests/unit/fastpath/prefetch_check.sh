#!/usr/bin/env bash
# prefetch_check.sh - fails when the compiler has dropped fast-path prefetches.
#
# GCC once deleted the calls to small prefetch-only functions (its pure/const
# analysis sees no side effect in __builtin_prefetch), and nothing else in
# the tests noticed: the frames came out right, only slower.  prefetch.h
# guards against it; this check makes sure the guard keeps working, by
# counting the prefetch instructions in the fast-path library.  The
# pipeline has seven prefetch sites (hash slot, kite line, session entry and
# sequence word, police, counters, credit); inlining may copy a site, never
# remove one.
# Usage: prefetch_check.sh LIBKP_FASTPATH.a OPTIMIZATION (meson's level)
set -euo pipefail
lib=${1:?usage: prefetch_check.sh LIBKP_FASTPATH.a OPTIMIZATION}
opt=${2:?usage: prefetch_check.sh LIBKP_FASTPATH.a OPTIMIZATION}
# Unoptimised, nothing is inlined: each prefetch helper is one function body
# whatever the number of sites, and the optimiser that drops calls is off.
if [[ $opt == 0 || $opt == g ]]; then echo "SKIP: an unoptimised build (-O$opt) has nothing to check"; exit 77; fi
case $(uname -m) in
  x86_64) ;;
  *) echo "SKIP: counts x86 prefetch instructions only"; exit 77 ;;
esac
command -v objdump >/dev/null || { echo "SKIP: objdump (binutils) not installed"; exit 77; }
want=7
n=$(objdump -d --no-show-raw-insn "$lib" | awk '$2 ~ /^prefetch/ {c++} END {print c + 0}')
echo "prefetch instructions in the pipeline: $n (at least $want expected)"
[[ $n -ge $want ]] || { echo "FAIL: the compiler dropped prefetches (see dataplane/fastpath/prefetch.h)"; exit 1; }
