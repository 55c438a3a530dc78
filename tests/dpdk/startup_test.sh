#!/usr/bin/env bash
# startup_test.sh - start-up failures of kiteplane-dataplane: each must exit
# with a non-zero status (1 in DPDK mode, 1 or 2 for XDP-mode usage errors)
# and a message that says what to fix, and leave no process behind.
# DPDK mode:  Cases: no port, a port id that does not exist,
# an unknown option, a bad value, a mempool that does not fit the EAL
# memory, an unknown EAL option, a control socket path under a regular
# file, a missing config file, a control socket a running data plane
# serves, and a good start (socket directories created) that SIGTERM stops
# with status 0.  XDP mode (no CAP_BPF needed: all fail before loading):
# an unknown option, bad --max-kites / --xdp-mode / --cpumap values, a
# missing --iface, and an interface that does not exist.
# Usage: startup_test.sh DATAPLANE_BIN
set -uo pipefail
dp_bin=$1
tmp=$(mktemp -d /tmp/kpstart.XXXXXX)
trap 'rm -rf "$tmp" /var/run/dpdk/kps$$_*' EXIT
eal=(-l 0,1 --no-huge --no-pci --log-level='*:error')
fail=0
n=0

# expect NAME WANT_REGEX ARGS...: exit status 1 (or $want_rc), stderr
# matching WANT_REGEX.
want_rc=1
expect() {
  local name=$1 want=$2; shift 2
  n=$((n + 1))
  timeout 60 "$dp_bin" "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [[ $rc -ne $want_rc ]]; then
    echo "FAIL: $name: exit status $rc, want $want_rc"; cat "$tmp/out"; fail=1; return
  fi
  if ! grep -Eq -- "$want" "$tmp/out"; then
    echo "FAIL: $name: no message matching /$want/:"; cat "$tmp/out"; fail=1; return
  fi
  echo "ok: $name: $(grep -Em1 -- "$want" "$tmp/out")"
}

# The good start below also shows that missing directories of the socket path are created.
app=(--ctl-socket "$tmp/run/kiteplane/ctl.sock" --exception none)
expect "no port" "no ethdev port 0: give a device, e.g. --vdev" \
  "${eal[@]}" -m 256 --file-prefix=kps$$_1 -- "${app[@]}"
expect "no such port" "no ethdev port 3: give a device" \
  "${eal[@]}" -m 256 --file-prefix=kps$$_2 --vdev net_null0 -- "${app[@]}" --port 3
expect "unknown option" "unknown option --bogus" \
  "${eal[@]}" -m 256 --file-prefix=kps$$_3 --vdev net_null0 -- "${app[@]}" --bogus 1
expect "bad value" "--max-frame '12': want an integer in" \
  "${eal[@]}" -m 256 --file-prefix=kps$$_4 --vdev net_null0 -- "${app[@]}" --max-frame 12
expect "mempool too big" "cannot create a mempool of 200000 mbufs.*raise EAL -m, or lower --mbufs" \
  "${eal[@]}" -m 64 --file-prefix=kps$$_5 --vdev net_null0 -- "${app[@]}" --mbufs 200000
expect "unknown EAL option" "EAL init failed: .*check the EAL args" \
  -l 0,1 --no-huge --bogus-eal --file-prefix=kps$$_6 -- "${app[@]}"
: >"$tmp/plainfile"
expect "control socket path" "cannot create control socket $tmp/plainfile/x.sock: Not a directory \\(--ctl-socket" \
  "${eal[@]}" -m 256 --file-prefix=kps$$_7 --vdev net_null0 -- --ctl-socket "$tmp/plainfile/x.sock" \
  --exception none
expect "config file" "cannot read --config file $tmp/missing.conf" \
  "${eal[@]}" -m 256 --file-prefix=kps$$_8 --vdev net_null0 -- --config "$tmp/missing.conf"

# A good start on the same arguments, stopped by SIGTERM: status 0.  While
# it runs, a second data plane on the same control socket must refuse to
# start rather than take the socket from it.
n=$((n + 1))
"$dp_bin" "${eal[@]}" -m 256 --file-prefix=kps$$_9 --vdev net_null0 -- "${app[@]}" >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 300); do [[ -S $tmp/run/kiteplane/ctl.sock ]] && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if [[ ! -S $tmp/run/kiteplane/ctl.sock ]]; then
  echo "FAIL: good start: no control socket"; cat "$tmp/out"; kill -9 $pid 2>/dev/null; fail=1
else
  expect "control socket in use" "control socket $tmp/run/kiteplane/ctl.sock is served by a running process" \
    "${eal[@]}" -m 256 --file-prefix=kps$$_10 --vdev net_null0 -- "${app[@]}"
  [[ -S $tmp/run/kiteplane/ctl.sock ]] || { echo "FAIL: the running data plane lost its control socket"; fail=1; }
  kill -TERM $pid
  for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  if kill -0 $pid 2>/dev/null; then echo "FAIL: good start: still running after SIGTERM"; kill -9 $pid; fail=1; fi
  wait $pid; rc=$?
  if [[ $rc -eq 0 ]]; then echo "ok: good start, SIGTERM: status 0"; else echo "FAIL: SIGTERM: status $rc"; cat "$tmp/out"; fail=1; fi
fi
# XDP mode: usage errors exit 2, a missing interface 1.
want_rc=2
x=(xdp --iface lo --ctl-socket "$tmp/xdp.sock")
expect "xdp: unknown option" "xdp: unknown option --bogus" "${x[@]}" --bogus
expect "xdp: bad --max-kites" "xdp: --max-kites 'abc': want a positive integer" "${x[@]}" --max-kites abc
expect "xdp: bad --xdp-mode" "xdp: --xdp-mode 'fast': want native or generic" "${x[@]}" --xdp-mode fast
expect "xdp: bad --cpumap" "xdp: --cpumap 'a,b': want a list of CPU numbers" "${x[@]}" --cpumap a,b
expect "xdp: no --iface" "xdp: --iface is required" xdp --ctl-socket "$tmp/xdp.sock"
want_rc=1
expect "xdp: no such interface" "xdp: no interface kpnone$$" xdp --iface kpnone$$ --ctl-socket "$tmp/xdp.sock"

[[ $fail -eq 0 ]] && echo "$n of $n start-up cases behave" 
exit $fail
