// bench.h - the data plane's benchmark mode (--bench-packets N
// --bench-setup encap|decap --bench-kites K).
//
// Installs a config, one session and K kites through the same backend the
// control socket uses, and builds frame templates (one per kite hit, up to
// 65,536 kites spread over the id space) that the workers copy into fresh
// mbufs instead of receiving: "encap" = IPv4 client datagrams (18-byte
// payload, 60-byte frames) to the kites; "decap" = DATA frames from the
// connector with valid flow cookies.  Workers then run the normal forwarding
// loop and transmit to the port (net_null in the benchmark).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "dataplane/dpdk/backend.h"

namespace kp::dpdk {

struct BenchFrames {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<const uint8_t*> ptrs;
  std::vector<uint16_t> lens;
};

// Fills the tables for `setup` with `n_kites` kites and returns templates.
absl::Status SetUpBench(DpdkBackend* backend, const AppOptions& opts, const uint8_t port_mac[6],
                        BenchFrames* out);

}  // namespace kp::dpdk
