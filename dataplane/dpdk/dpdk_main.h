// dpdk_main.h - entry point of the DPDK mode of kiteplane-dataplane:
// `kiteplane-dataplane [EAL args] -- [app args]` (docs/operations.md).
// Returns 0 after a clean SIGINT/SIGTERM shutdown, non-zero with a message
// on stderr when start-up fails.
#pragma once

namespace kp::dpdk {

int Main(int argc, char** argv);

}  // namespace kp::dpdk
