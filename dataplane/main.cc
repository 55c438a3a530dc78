// main.cc - entry point of kiteplane-dataplane: dispatches to the XDP mode
// (`kiteplane-dataplane xdp ...`) or the DPDK mode (`kiteplane-dataplane
// [EAL args] -- [app args]`, see docs/operations.md).
#include <cstdio>
#include <cstring>

#if KP_HAVE_XDP_MODE
#include "dataplane/xdp/xdp_main.h"
#endif
#if KP_HAVE_DPDK_MODE
#include "dataplane/dpdk/dpdk_main.h"
#endif

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "xdp") == 0) {
#if KP_HAVE_XDP_MODE
    return kp::xdp::Main(argc - 1, argv + 1);
#else
    std::fprintf(stderr, "kiteplane-dataplane: this build has no XDP mode\n");
    return 2;
#endif
  }
#if KP_HAVE_DPDK_MODE
  return kp::dpdk::Main(argc, argv);
#else
  std::fprintf(stderr, "kiteplane-dataplane: this build has no DPDK mode\n");
  return 2;
#endif
}
