// parse.h - stage 1: parse Ethernet / 802.1Q / IPv4 / IPv6 / UDP.
//
// API: `Parse(frame, len, &parsed)` checks a frame exactly as
// docs/forwarding.md section 1 says, in its order, and returns OK (with
// `parsed` filled), DROP with the reason, or EXCEPTION (frames for the
// kernel; `fragment` set for IP fragments).  It reads the frame only: no
// writes, no allocation.  Addresses come out in the 16-byte form (IPv4 as
// IPv4-mapped IPv6).  `payload_sum` is the one's complement sum of the UDP
// payload (host-order accumulator, see checksum.h), reused by encap/decap so
// the payload is summed once per packet.
// Measured (fastpath_bench, loaded 2-core VM, median CPU time of 5 runs):
// 32 ns for an IPv4 client datagram (18-byte payload), 39 ns for a tunnel
// DATA frame (58-byte UDP payload), UDP checksum verification included.
#pragma once

#include <cstdint>

extern "C" {
#include "kp_counters.h"
#include "kp_types.h"
}

namespace kp::fp {

inline constexpr uint16_t kEthTypeIp4 = 0x0800;
inline constexpr uint16_t kEthTypeIp6 = 0x86dd;
inline constexpr uint16_t kEthTypeVlan = 0x8100;
inline constexpr uint16_t kEthTypeQinQ = 0x88a8;
inline constexpr uint32_t kEthHdrLen = 14;
inline constexpr uint32_t kVlanHdrLen = 4;

enum class ParseStatus : uint8_t { kOk, kDrop, kException };

struct ParseResult {
  ParseStatus status;
  kp_drop_reason reason;  // set for kDrop
  bool fragment;          // set for kException of an IP fragment
};

struct Parsed {
  uint32_t l3_off;       // IP header, from frame start
  uint32_t l4_off;       // UDP header
  uint32_t payload_off;  // UDP payload
  uint32_t payload_len;  // UDP payload length (trailing padding excluded)
  uint8_t family;        // KP_AF_INET or KP_AF_INET6
  bool has_vlan;
  uint8_t vlan_tci[2];   // as on the wire
  uint8_t src[16];       // source address, 16-byte form
  uint8_t dst[16];       // destination address, 16-byte form
  uint16_t sport_be;     // UDP ports, network order
  uint16_t dport_be;
  uint64_t payload_sum;  // CsumAdd over the UDP payload
};

ParseResult Parse(const uint8_t* frame, uint32_t len, Parsed* out);

// Writes the 16-byte form of an IPv4 address.
inline void MapIp4(const uint8_t* v4, uint8_t* out16) {
  for (int i = 0; i < 10; ++i) out16[i] = 0;
  out16[10] = 0xff;
  out16[11] = 0xff;
  out16[12] = v4[0];
  out16[13] = v4[1];
  out16[14] = v4[2];
  out16[15] = v4[3];
}

// True for ::ffff:0:0/96.
inline bool IsIp4Mapped(const uint8_t* a16) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  for (int i = 0; i < 12; ++i)
    if (a16[i] != kPrefix[i]) return false;
  return true;
}

}  // namespace kp::fp
