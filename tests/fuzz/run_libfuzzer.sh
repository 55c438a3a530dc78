#!/bin/sh
# run_libfuzzer.sh - runs a libFuzzer target for a bounded time over a copy
# of its seed corpus (so the committed corpus is never modified), then
# removes the copy.  Usage: run_libfuzzer.sh TARGET CORPUS_DIR [SECONDS]
set -eu
target=$1
corpus=$2
secs=${3:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/kp-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp -r "$corpus"/. "$work"/
"$target" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$work"
