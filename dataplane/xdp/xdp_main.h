// xdp_main.h - entry point of the XDP mode of kiteplane-dataplane.
//
// dataplane/main.cc calls kp::xdp::Main(argc - 1, argv + 1) for
// `kiteplane-dataplane xdp ...`, so argv[0] is "xdp".  Options:
//   --iface IF            interface to attach to (required)
//   --ctl-socket PATH     control socket to serve (required)
//   --max-kites N         kite table size (default 1048576; ids < N)
//   --max-sessions N      session table size (default 131072)
//   --xdp-mode native|generic   attach mode (default native)
//   --cpumap CPUS         comma-separated CPUs to spread frames over (CPUMAP)
//   --replace             atomically replace a program already attached,
//                         keeping the pinned maps' state
//   --pin-dir DIR         default /sys/fs/bpf/kiteplane/IF
// Runs until SIGINT/SIGTERM, then detaches.  Returns the process exit code.
#pragma once

namespace kp::xdp {

int Main(int argc, char** argv);

}  // namespace kp::xdp
