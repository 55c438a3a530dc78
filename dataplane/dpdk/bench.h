// bench.h - the data plane's benchmark mode (--bench-packets N
// --bench-setup encap|decap --bench-kites K [--bench-source synth|port]).
//
// Installs a config, one session and K kites through the same backend the
// control socket uses, and builds frame templates (one per kite hit, up to
// 65,536 kites drawn at random): "encap" = IPv4 client datagrams (18-byte
// payload, 60-byte frames) to the kites; "decap" = DATA frames from the
// connector with valid flow cookies.  With --bench-source synth the workers
// copy the templates into fresh mbufs instead of receiving; with port they
// receive as always, from a port that replays the templates
// (net_pcap,rx_pcap=FILE,infinite_rx=1 over the file --bench-write-pcap FILE
// wrote).  Workers then run the normal forwarding loop and transmit to the
// port (net_null or net_pcap without a TX file: freed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "dataplane/dpdk/backend.h"

namespace kp::dpdk {

struct BenchFrames {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<const uint8_t*> ptrs;
  std::vector<uint16_t> lens;
};

// Writes `frames` to `path` as a pcap file (Ethernet link type), for a
// net_pcap port to replay (--bench-source port).
absl::Status WriteBenchPcap(const BenchFrames& frames, const std::string& path);

// Fills the tables for `setup` with `n_kites` kites and returns templates.
absl::Status SetUpBench(DpdkBackend* backend, const AppOptions& opts, const uint8_t port_mac[6],
                        BenchFrames* out);

}  // namespace kp::dpdk
