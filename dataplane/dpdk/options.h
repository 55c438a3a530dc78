// options.h - the DPDK data plane's application arguments (after `--`) and
// its --config file.
//
// The config file holds the same options, one per line, as `name value`
// (or `name=value`) without the leading dashes; `#` starts a comment.
// Command-line options given after --config override the file's.  Parsing is
// strict: an unknown option or a bad value is an error naming it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kp::dpdk {

// Bounds of --max-frame: a standard 1500-byte MTU frame with a VLAN tag, up
// to what a 16-bit mbuf data room holds next to the headroom.
inline constexpr uint32_t kMinMaxFrame = 1518;
inline constexpr uint32_t kMaxMaxFrame = 65000;

enum class GatewayMode { kNone, kStatic, kMirror, kNeigh };
enum class ExceptionMode { kNone, kTap, kVirtioUser };

// Test only (--test-police): one kite's per-core police state, preset on
// every worker core at start-up.
struct TestPolice {
  uint32_t kite_id = 0;
  uint64_t last_ns = 0, pkt_tokens = 0, bit_tokens = 0, used_bytes = 0;
};

struct AppOptions {
  std::string ctl_socket = "/run/kiteplane/dataplane.sock";
  std::vector<std::string> addr4;  // own IPv4 addresses (text, no prefix)
  std::vector<std::string> addr6;  // own IPv6 addresses (text, no prefix)
  std::vector<int> addr4_len;      // prefix length given as A/LEN (32 if none)
  std::vector<int> addr6_len;      // (128 if none)
  std::vector<uint16_t> tunnel_ports = {7000};
  GatewayMode gateway_mode = GatewayMode::kNeigh;
  uint8_t gateway_mac[6] = {};
  std::string gateway4;            // gateway address looked up in neigh mode
  std::string gateway6;
  ExceptionMode exception = ExceptionMode::kTap;
  std::string exception_iface = "kp0";  // kernel name of the exception interface
  uint32_t max_kites = 1u << 20;
  uint32_t max_sessions = 1u << 17;
  uint16_t port = 0;               // ethdev port id to forward on
  uint32_t rx_desc = 1024;
  uint32_t tx_desc = 1024;
  uint32_t mbufs = 16383;
  // Largest Ethernet frame (header, one VLAN tag, IP packet; no FCS) the
  // port receives or sends.  Every mbuf's data room is the headroom (room
  // for the tunnel headers the fast path prepends) plus this, so frames stay
  // in one segment; it also sets the port's and the exception interface's
  // MTU (max_frame - 18).  Memory: see docs/operations.md "Frame size".
  uint32_t max_frame = 9216;
  uint32_t exception_ring = 1024;  // frames queued toward and from the kernel
  uint32_t neigh_refresh_ms = 1000;
  bool force_soft_rss = false;     // distribute in software even if the port has RSS
  // Benchmark mode: synthesise `bench_packets` frames per worker from a
  // template instead of receiving (see docs/performance.md "DPDK").
  uint64_t bench_packets = 0;
  std::string bench_setup;         // "encap" or "decap": tables the bench installs
  uint32_t bench_kites = 1;
  // "synth" (default): the worker copies templates into fresh mbufs; "port":
  // it receives from the port like any worker, and the port replays the
  // templates (net_pcap,infinite_rx=1 over a file --bench-write-pcap made).
  bool bench_from_port = false;
  // Write the bench's frame templates to this pcap file and exit.
  std::string bench_write_pcap;
  // The run installs the bench's tables and frames (to forward or to write).
  bool bench() const { return bench_packets != 0 || !bench_write_pcap.empty(); }
  // Test only, for the golden vectors (tests/dpdk/dpdk_vectors_test.cc):
  // a fixed fast-path clock instead of CLOCK_MONOTONIC (0 = real clock), and
  // police state preset before the workers start.  Never for production:
  // with a fixed clock no rate bucket refills.
  uint64_t test_clock_ns = 0;
  std::vector<TestPolice> test_police;
};

// Parses app arguments (argv after `--`, without the program name).
absl::StatusOr<AppOptions> ParseAppOptions(const std::vector<std::string>& args);

// Parses "aa:bb:cc:dd:ee:ff".
bool ParseMac(const std::string& s, uint8_t mac[6]);

// One-paragraph usage text for error messages.
const char* AppUsage();

}  // namespace kp::dpdk
