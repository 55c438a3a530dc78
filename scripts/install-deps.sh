#!/usr/bin/env bash
# Installs every Debian 12 package kiteplane needs to build, test and run its demo.
# Safe to run twice: apt-get skips what is already installed, and the package list
# is refreshed only when it is older than a day (or missing).
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/update-success-stamp
lists_fresh=0
if compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null; then
  if [[ -n $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mmin -1440 -print -quit) ]]; then
    lists_fresh=1
  fi
fi
if [[ $lists_fresh -eq 0 ]]; then
  apt-get update -q
fi

packages=(
  # build
  build-essential pkg-config meson ninja-build python3 python3-pyelftools
  clang llvm lld libclang-rt-14-dev bpftool
  # fast path
  libdpdk-dev dpdk dpdk-dev libbpf-dev libxdp-dev xdp-tools libelf-dev zlib1g-dev libpcap-dev
  libnuma-dev
  # shared libraries
  libabsl-dev libssl-dev libsodium-dev liblua5.4-dev lua5.4
  libsqlite3-dev sqlite3 libldns-dev nlohmann-json3-dev libmicrohttpd-dev libspdlog-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3-scapy
  iproute2 iptables nftables iputils-ping ethtool tcpdump bind9 bind9-utils bind9-dnsutils socat procps
)
apt-get install -y -q --no-install-recommends "${packages[@]}"
echo "install-deps: all packages present"
