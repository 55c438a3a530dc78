# shellcheck shell=bash
# netns.sh - network-namespace topology and process helpers for kiteplane's
# integration tests and demo.  Source it, call kp_topo_init (which installs the
# cleanup trap), then kp_topo_up.  It builds five namespaces named after a run
# id ("kp<run>-client" ...), linked by veth pairs with a 9000-byte MTU:
#
#   client (192.0.2.10-13, attacker .66) -- router -- frontend (198.51.100.2 + kite addrs)
#                                             |
#                                   nat 203.0.113.2 (masquerade)
#                                             |
#                                   backend 10.99.0.2 (connector + echo)
#
# The router plays the Internet and routes between the documentation ranges;
# nat masquerades 10.99.0.0/24 behind 203.0.113.2.  Checksum offload is off on
# every veth so XDP and af_packet see real checksums, and GRO is on at the
# router's side of the front-end link so frames sent back with XDP_TX are
# received.  Processes started with kp_spawn are killed by pid on cleanup and
# every namespace of the run is deleted.  Only loopback-free, test-created
# namespaces are touched; nothing in the root namespace changes.

KP_RUN=${KP_RUN:-}
KP_PIDS=()
KP_NAMESPACES=()
KP_CLEANUP_HOOKS=()
KP_LOGDIR=${KP_LOGDIR:-}

# Addresses (documentation ranges only).
KP_RT_FE=198.51.100.1      # router, front-end side
KP_FE_ADDR=198.51.100.2    # front-end tunnel address
KP_KITE_ADDRS=(198.51.100.10 198.51.100.11)
KP_RT_CL=192.0.2.1         # router, client side
KP_CLIENT_ADDRS=(192.0.2.10 192.0.2.11 192.0.2.12 192.0.2.13)
KP_ATTACKER_ADDR=192.0.2.66
KP_RT_NAT=203.0.113.1      # router, NAT side
KP_NAT_OUT=203.0.113.2     # the NAT's public address
KP_NAT_IN=10.99.0.1        # the NAT's inside address (backend's gateway)
KP_BE_ADDR=10.99.0.2       # backend (connector and echo service)
KP_MTU=${KP_MTU:-9000}
# The front-end link is smaller: the kernel refuses native XDP on a veth whose
# peer's MTU exceeds one page minus XDP headroom and skb_shared_info (3506 on
# x86-64) unless the program is loaded with frags support (xdp.frags).  3500
# still carries a 3,000-byte client datagram plus the 68-byte encapsulation.
KP_FE_MTU=${KP_FE_MTU:-3500}

kp_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kp_die() { kp_log "FATAL: $*"; exit 1; }
# Exit 77 (meson "skip") with a reason.
kp_skip() { kp_log "SKIP: $*"; exit 77; }

kp_ns() { printf 'kp%s-%s' "$KP_RUN" "$1"; }
# Runs a command inside a role's namespace: kp_in ROLE cmd...
kp_in() { local role=$1; shift; ip netns exec "$(kp_ns "$role")" "$@"; }

kp_require_root() {
  [[ $(id -u) -eq 0 ]] || kp_skip "needs root (network namespaces, XDP); run as root"
  ip netns list >/dev/null 2>&1 || kp_skip "ip netns unavailable"
}

# Sets the run id, the log directory and the cleanup trap.
kp_topo_init() {
  KP_RUN=${1:-${KP_RUN:-$$}}
  if [[ -z $KP_LOGDIR ]]; then
    KP_LOGDIR=$(mktemp -d "/tmp/kp-e2e-$KP_RUN.XXXX")
  fi
  mkdir -p "$KP_LOGDIR"
  trap kp_cleanup EXIT
  trap 'exit 130' INT TERM
}

# Registers a command run first on cleanup (e.g. detaching a program).
kp_on_cleanup() { KP_CLEANUP_HOOKS+=("$*"); }

kp_cleanup() {
  local rc=$?
  local hook pid ns
  for hook in "${KP_CLEANUP_HOOKS[@]}"; do eval "$hook" >/dev/null 2>&1 || true; done
  for pid in "${KP_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${KP_PIDS[@]}"; do kp_wait_pid_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true; done
  for ns in "${KP_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  KP_PIDS=(); KP_NAMESPACES=()
  if [[ $rc -ne 0 && $rc -ne 77 && -n $KP_LOGDIR && -z ${KP_QUIET_LOGS:-} ]]; then
    kp_dump_logs
  fi
  if [[ $rc -eq 0 && -z ${KP_KEEP_LOGS:-} && $KP_LOGDIR == /tmp/kp-e2e-* ]]; then
    rm -rf "$KP_LOGDIR"
  fi
  return $rc
}

kp_dump_logs() {
  local f
  for f in "$KP_LOGDIR"/*.log; do
    [[ -f $f ]] || continue
    echo "----- $f (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
}

# Waits until pid is gone, up to SECONDS.  Returns 1 on timeout.
kp_wait_pid_gone() {
  local pid=$1 secs=${2:-5} i
  for ((i = 0; i < secs * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}

# kp_wait_for SECONDS "what" cmd... : polls cmd every 0.1 s until it succeeds.
kp_wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  kp_log "timed out after ${secs}s waiting for: $what"
  return 1
}

# kp_spawn ROLE NAME cmd... : starts cmd in ROLE's namespace in the
# background, output in $KP_LOGDIR/NAME.log; sets KP_LAST_PID.
kp_spawn() {
  local role=$1 name=$2; shift 2
  ip netns exec "$(kp_ns "$role")" "$@" >"$KP_LOGDIR/$name.log" 2>&1 &
  KP_LAST_PID=$!
  KP_PIDS+=("$KP_LAST_PID")
  kp_log "started $name (pid $KP_LAST_PID) in $(kp_ns "$role"): $*"
}

# Kills one spawned process by pid with a signal and waits for it to go.
kp_kill() {
  local pid=$1 sig=${2:-TERM}
  kill "-$sig" "$pid" 2>/dev/null || true
  kp_wait_pid_gone "$pid" 10 || { kill -KILL "$pid" 2>/dev/null || true; kp_wait_pid_gone "$pid" 5; }
  wait "$pid" 2>/dev/null || true
}

kp_add_ns() {
  local ns
  ns=$(kp_ns "$1")
  ip netns add "$ns" || kp_die "cannot create namespace $ns"
  KP_NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
}

# kp_link ROLE_A IF_A ROLE_B IF_B [MTU] : a veth pair between two namespaces.
kp_link() {
  local a b mtu=${5:-$KP_MTU}
  a=$(kp_ns "$1"); b=$(kp_ns "$3")
  ip -n "$a" link add "$2" mtu "$mtu" type veth peer name "$4" netns "$b" mtu "$mtu" \
    || kp_die "cannot create veth $1/$2 <-> $3/$4"
  kp_in "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || kp_log "warning: ethtool tx off failed on $2"
  kp_in "$3" ethtool -K "$4" tx off >/dev/null 2>&1 || kp_log "warning: ethtool tx off failed on $4"
  ip -n "$a" link set "$2" up
  ip -n "$b" link set "$4" up
}

kp_sysctl() { local role=$1; shift; kp_in "$role" sysctl -q -w "$@" >/dev/null; }

# Builds the whole topology.  Interface names inside namespaces:
#   client:eth0  router:to-cl,to-fe,to-nat  frontend:eth0  nat:out,in  backend:eth0
kp_topo_up() {
  command -v ethtool >/dev/null || kp_skip "ethtool missing (apt-get install ethtool)"
  local r
  for r in client router frontend nat backend; do kp_add_ns "$r"; done
  kp_link router to-cl client eth0
  kp_link router to-fe frontend eth0 "$KP_FE_MTU"
  kp_link router to-nat nat out
  kp_link nat in backend eth0
  # XDP_TX on the front-end's veth lands in the router's veth only when that
  # veth runs NAPI.  GRO on (kernel >= 5.13) is meant to enable it, but on this
  # kernel frames sent with XDP_TX were still lost with GRO alone; an XDP
  # program on the peer (one that passes everything) makes it work.
  kp_in router ethtool -K to-fe gro on >/dev/null 2>&1 || kp_log "warning: gro on failed on router/to-fe"
  kp_xdp_pass router to-fe || kp_log "warning: no XDP pass program on router/to-fe: XDP_TX may be lost"

  ip -n "$(kp_ns router)" addr add "$KP_RT_CL/24" dev to-cl
  ip -n "$(kp_ns router)" addr add "$KP_RT_FE/24" dev to-fe
  ip -n "$(kp_ns router)" addr add "$KP_RT_NAT/24" dev to-nat
  kp_sysctl router net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  for r in to-cl to-fe to-nat; do kp_sysctl router "net.ipv4.conf.$r.rp_filter=0"; done

  local a
  for a in "${KP_CLIENT_ADDRS[@]}" "$KP_ATTACKER_ADDR"; do
    ip -n "$(kp_ns client)" addr add "$a/24" dev eth0
  done
  ip -n "$(kp_ns client)" route add default via "$KP_RT_CL"

  # KP_FE_KERNEL_ADDRS=0 (DPDK mode): eth0 belongs to the DPDK port and gets
  # no address; the data plane puts them on its exception interface instead
  # (kp_frontend_route adds the default route once that interface exists).
  if [[ ${KP_FE_KERNEL_ADDRS:-1} == 1 ]]; then
    ip -n "$(kp_ns frontend)" addr add "$KP_FE_ADDR/24" dev eth0
    for a in "${KP_KITE_ADDRS[@]}"; do ip -n "$(kp_ns frontend)" addr add "$a/32" dev eth0; done
    ip -n "$(kp_ns frontend)" route add default via "$KP_RT_FE"
  else
    kp_in frontend ethtool -K eth0 rx off tx off >/dev/null 2>&1 || true
  fi

  ip -n "$(kp_ns nat)" addr add "$KP_NAT_OUT/24" dev out
  ip -n "$(kp_ns nat)" addr add "$KP_NAT_IN/24" dev in
  ip -n "$(kp_ns nat)" route add default via "$KP_RT_NAT"
  kp_sysctl nat net.ipv4.ip_forward=1
  kp_nat_masquerade

  ip -n "$(kp_ns backend)" addr add "$KP_BE_ADDR/24" dev eth0
  ip -n "$(kp_ns backend)" route add default via "$KP_NAT_IN"

  kp_wait_for 10 "router reaches every neighbour" kp_topo_reachable \
    || kp_die "topology is not reachable (see ip -n $(kp_ns router) addr)"
  kp_log "topology up: run $KP_RUN, logs in $KP_LOGDIR"
}

# kp_xdp_pass ROLE IFACE : attaches a pass-everything XDP program, compiled
# here with clang (no dependency on the project's build), to ROLE's IFACE.
kp_xdp_pass() {
  local obj=$KP_LOGDIR/xdp_pass.bpf.o
  if [[ ! -f $obj ]]; then
    command -v clang >/dev/null || return 1
    printf '%s\n' '#include <linux/bpf.h>' \
      '__attribute__((section("xdp"), used)) int kp_pass(struct xdp_md *ctx) { return XDP_PASS; }' \
      'char _license[] __attribute__((section("license"), used)) = "GPL";' |
      clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c -x c - -o "$obj" 2>/dev/null || return 1
  fi
  ip -n "$(kp_ns "$1")" link set dev "$2" xdpdrv obj "$obj" sec xdp
}

# Masquerade 10.99.0.0/24 behind the NAT's outside address (nftables, else iptables).
kp_nat_masquerade() {
  if command -v nft >/dev/null; then
    kp_in nat nft -f - <<'EOF' && return 0
table ip kpnat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.99.0.0/24 oifname "out" masquerade
  }
}
EOF
  fi
  if command -v iptables >/dev/null; then
    kp_in nat iptables -t nat -A POSTROUTING -s 10.99.0.0/24 -o out -j MASQUERADE && return 0
  fi
  kp_die "neither nft nor iptables could set up the NAT"
}

kp_topo_reachable() {
  if [[ ${KP_FE_KERNEL_ADDRS:-1} == 1 ]]; then
    kp_in client ping -c1 -W1 "$KP_FE_ADDR" && kp_in backend ping -c1 -W1 "$KP_FE_ADDR"
  else
    kp_in client ping -c1 -W1 "$KP_RT_FE" && kp_in backend ping -c1 -W1 "$KP_RT_FE"
  fi
}

# Finds every kiteplane binary under BUILD_DIR; prints nothing, sets the
# KP_BIN_<name> variables (empty when not built).
# A KP_BIN_<name> already set in the environment (e.g. KP_BIN_kiteplane_dataplane)
# is kept, so one program can come from another build.
kp_find_bins() {
  local build=$1 name path var
  for name in kiteplane-dataplane kiteplane-controlplane kitectl kite-connector kp-loadgen kp-udp-echo; do
    var=KP_BIN_${name//-/_}
    [[ -n ${!var:-} ]] && continue
    path=$(find "$build" -maxdepth 4 -type f -name "$name" -perm -u+x 2>/dev/null | head -n1)
    printf -v "$var" '%s' "$path"
  done
}
