// test_frames.h - frame builders and a small test world for the fast-path
// unit tests.  Checksums here use an independent, byte-at-a-time reference
// implementation (big-endian 16-bit words), not checksum.h, so tests of the
// core do not check the core against itself.  Cookies use libsodium's
// SipHash-2-4 for the same reason.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline.h"
#include "tables.h"

namespace kp::fp::testing {

struct UdpSpec {
  std::string src = "192.0.2.1";   // IPv4 or IPv6 text; both must be the same family
  std::string dst = "198.51.100.10";
  uint16_t sport = 40000;
  uint16_t dport = 5000;
  std::vector<uint8_t> payload = std::vector<uint8_t>(18, 0xab);
  bool vlan = false;
  uint16_t tci = 0x0064;
  const uint8_t* dst_mac = nullptr;  // default 02:00:00:00:00:01
  const uint8_t* src_mac = nullptr;  // default 02:00:00:00:00:aa
};

// Ethernet [+ 802.1Q] + IPv4/IPv6 + UDP with correct checksums.
std::vector<uint8_t> BuildUdp(const UdpSpec& spec);

// Reference Internet checksum (big-endian words) of [p, p + n).
uint16_t RefChecksum(const uint8_t* p, size_t n, uint32_t initial = 0);
// Recomputes the IPv4 header checksum / UDP checksum of a built frame.
void FixChecksums(std::vector<uint8_t>& frame);
// Offset of the IP header (14 or 18).
size_t L3Offset(const std::vector<uint8_t>& frame);

// Converts text to the 16-byte form.
void Addr16(const std::string& text, uint8_t out[16], uint8_t* family = nullptr);

// A DATA header (40 bytes) with a cookie computed by libsodium under `key`.
std::vector<uint8_t> DataHeader(uint32_t session_id, uint32_t kite_id, const std::string& client,
                                uint16_t client_port, uint8_t key_epoch, const uint64_t key[2]);

// The test world: one front-end 198.51.100.1 / 2001:db8:f::1, tunnel port
// 7000; kite 1 = 198.51.100.10:5000 (IPv4), kite 2 = [2001:db8:f::10]:5000;
// session 0x20001 (IPv4 connector 203.0.113.7:40000) serves both.
struct World {
  static constexpr uint32_t kSession = (1u << 17) | 1u;
  static constexpr uint64_t kNow = 5'000'000'000ull;
  std::unique_ptr<Tables> tables;
  WorkerContext ctx;
  kp_config config;
  kp_kite kite1, kite2;
  kp_session session;

  explicit World(uint32_t n_workers = 1, uint32_t max_kites = 1024);
  // Reapplies `config` (after a test changed it).
  void ApplyConfig();
  // A client datagram to kite 1 (or 2 when v6).
  std::vector<uint8_t> ClientFrame(bool v6 = false, size_t payload = 18);
  // A connector reply for kite 1 (or 2) to client 192.0.2.1:40000 (or 2001:db8:1::1).
  std::vector<uint8_t> ConnectorFrame(bool v6_client = false, size_t payload = 18);
  // Runs one frame through ProcessBurst; `frame` becomes the output when TX.
  Outcome Run(std::vector<uint8_t>& frame, uint64_t now = kNow, uint32_t headroom = 128);
  kp_ctl_global_counters Counters() const;
};

}  // namespace kp::fp::testing
