#!/usr/bin/env bash
# Builds kiteplane and runs every meson test suite, then the unit and fuzz
# suites again under ASan+UBSan with clang (libFuzzer engine).
#   scripts/run-tests.sh            everything
#   KP_SKIP_SANITIZE=1 scripts/...  skip the sanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT

run_suites() {
  local dir=$1; shift
  local failed=0
  for suite in "$@"; do
    echo "=== suite $suite ($dir)"
    if ! meson test -C "$dir" --suite "$suite" --print-errorlogs --num-processes "$jobs" \
        | tee -a "$summary"; then
      failed=1
    fi
  done
  return $failed
}

# Adds up meson's per-run summaries ("Ok:", "Fail:", ...) into one closing line.
print_totals() {
  awk '/^Ok:/ {p += $2} /^Expected Fail:/ {p += $3} /^Fail:/ {f += $2}
       /^Unexpected Pass:/ {f += $3} /^Timeout:/ {f += $2} /^Skipped:/ {s += $2}
       END {printf "kiteplane: %d passed, %d failed, %d skipped\n", p, f, s}' "$summary"
}

status=0
if [[ ! -f build/build.ninja ]]; then
  meson setup build --buildtype=debugoptimized
fi
ninja -C build -j "$jobs"
suites=(unit fuzz bpf dpdk integration)
present=$(meson test -C build --list 2>/dev/null | awk -F' / ' '{print $1}' | sort -u | tr '\n' ' ')
wanted=()
for s in "${suites[@]}"; do
  if meson introspect build --tests | /usr/bin/python3 -c "import json,sys; t=json.load(sys.stdin); sys.exit(0 if any('$s' in x['suite'] or 'kiteplane:$s' in x['suite'] for x in t) else 1)"; then
    wanted+=("$s")
  else
    echo "=== suite $s: no tests registered yet"
  fi
done
run_suites build "${wanted[@]}" || status=1

if [[ -z ${KP_SKIP_SANITIZE:-} ]]; then
  if [[ ! -f build-asan/build.ninja ]]; then
    CC=clang CXX=clang++ meson setup build-asan --buildtype=debug \
      -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz_engine=libfuzzer
  fi
  ninja -C build-asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suites build-asan unit fuzz || status=1
fi

print_totals
if [[ $status -ne 0 ]]; then
  echo "run-tests: FAILED" >&2
else
  echo "run-tests: all suites passed"
fi
exit $status
