// classify.h - stage 2: tunnel frame, kite datagram or exception; and the
// address checks (own addresses, bogons) both directions use.
//
// API: `IsTunnelFrame(cfg, parsed)` is forwarding.md section 2's first rule
// (destination is one of our own addresses and a tunnel port); otherwise the
// caller builds `KiteKeyOf(parsed)` and looks it up in the kite hash.
// `IsBogon(cfg, addr16)` is the shared "loopback, unspecified, multicast,
// ours, or in a configured bogon prefix" test of section 3 step 1 and section
// 4 step 7.  Header-only, reads the caller's private copy of the config.
// `AddrMatcher` is the same tests compiled per config for the per-packet path
// (the plain functions are the readable reference, checked equal by tests),
// and holds the tunnel ports for a single 8-lane compare.
// Measured (fastpath_bench, 2026-11-22 09:58 UTC, load about 1, median of 10
// runs): tunnel test + kite key hash + bogon check with the matcher: 5.0 ns
// (earlier that day, two lists per family, on a loaded machine: 7.7 / 9.6 ns min / median)
// (before the family split and 8-byte address words: 21 ns; the byte-loop
// reference functions: 46 ns).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <emmintrin.h>

#include "byteorder.h"
#include "parse.h"

extern "C" {
#include "kp_tables.h"
}

namespace kp::fp {

// True when `a16` (16-byte form) is one of our own addresses.
inline bool IsOwnAddress(const kp_config& cfg, const uint8_t* a16) {
  if (IsIp4Mapped(a16)) {
    uint32_t n = cfg.n_own4 < KP_MAX_OWN_ADDRS ? cfg.n_own4 : KP_MAX_OWN_ADDRS;
    for (uint32_t i = 0; i < n; ++i)
      if (std::memcmp(cfg.own4[i], a16 + 12, 4) == 0) return true;
    return false;
  }
  uint32_t n = cfg.n_own6 < KP_MAX_OWN_ADDRS ? cfg.n_own6 : KP_MAX_OWN_ADDRS;
  for (uint32_t i = 0; i < n; ++i)
    if (std::memcmp(cfg.own6[i], a16, 16) == 0) return true;
  return false;
}

// True when the first `len` bits of a and b agree.
inline bool PrefixMatch(const uint8_t* a, const uint8_t* b, uint32_t len) {
  if (len > 128) return false;
  uint32_t bytes = len / 8;
  if (std::memcmp(a, b, bytes) != 0) return false;
  uint32_t bits = len % 8;
  if (bits == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff00 >> bits);
  return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

// Loopback, unspecified, multicast, ours, or a configured bogon.
inline bool IsBogon(const kp_config& cfg, const uint8_t* a16) {
  if (IsIp4Mapped(a16)) {
    uint8_t first = a16[12];
    if (first == 127) return true;                 // 127.0.0.0/8
    if ((first & 0xf0) == 0xe0) return true;       // 224.0.0.0/4
    if ((a16[12] | a16[13] | a16[14] | a16[15]) == 0) return true;  // 0.0.0.0
  } else {
    if (a16[0] == 0xff) return true;  // ff00::/8
    uint8_t any = 0;
    for (int i = 0; i < 15; ++i) any |= a16[i];
    if (any == 0 && (a16[15] == 0 || a16[15] == 1)) return true;  // :: and ::1
  }
  if (IsOwnAddress(cfg, a16)) return true;
  uint32_t n = cfg.n_bogons < KP_MAX_BOGONS ? cfg.n_bogons : KP_MAX_BOGONS;
  for (uint32_t i = 0; i < n; ++i)
    if (PrefixMatch(cfg.bogons[i].addr, a16, cfg.bogons[i].len)) return true;
  return false;
}

// The same address tests as IsOwnAddress/IsBogon, compiled once per config
// into 64-bit words and masks (built when a worker refreshes its config), so
// the per-packet test is a few compares instead of byte loops.  Words are
// raw loads of the 16-byte form, masks are built in the same byte order.
// The config's own addresses and bogon prefixes compiled once per config for
// the per-packet tests.  Prefixes are split by the addresses they can match:
// an IPv4-mapped address only ever needs 32-bit compares against the IPv4
// list (a prefix shorter than /96 either covers every mapped address, which
// puts one /0 entry in that list, or none), and an IPv6 address never looks at
// that list.  Our own addresses are also appended to the bogon lists as
// full-length prefixes, so IsBogon walks one list per family instead of two
// (IsOwn keeps its own arrays).  The IPv4 list always has an entry 0, one that
// matches nothing when the list is empty, so IsBogon tests it before its loop
// (most configs have one own IPv4 address and no IPv4 bogon prefix).
struct AddrMatcher {
  uint32_t n_own4 = 0, n_own6 = 0, n_bogon4 = 0, n_bogon6 = 0;
  bool any_tunnel_port = false;
  // The config's tunnel ports with the first repeated into the unused slots,
  // so one 8-lane compare tests them all.
  alignas(16) uint16_t tunnel_ports[KP_MAX_TUNNEL_PORTS] = {};
  uint32_t own4[KP_MAX_OWN_ADDRS] = {};  // own4[0] is read even when n_own4 is 0
  uint64_t own6[KP_MAX_OWN_ADDRS][2];
  // The bogon prefixes (and /0 if one covers every mapped address), then our
  // own addresses as /32 and /128 prefixes.  bogon4[0] is {1, 0} (matches
  // nothing) while n_bogon4 is 0.
  uint32_t bogon4[KP_MAX_BOGONS + KP_MAX_OWN_ADDRS][2] = {{1, 0}};  // masked network, mask (as loaded from the address bytes)
  uint64_t bogon6[KP_MAX_BOGONS + KP_MAX_OWN_ADDRS][4];  // addr lo, addr hi (masked), mask lo, mask hi

  void Build(const kp_config& cfg) {
    static_assert(KP_MAX_TUNNEL_PORTS == 8 && sizeof(cfg.tunnel_ports[0]) == 2);
    uint32_t n_ports = cfg.n_tunnel_ports < KP_MAX_TUNNEL_PORTS ? cfg.n_tunnel_ports : KP_MAX_TUNNEL_PORTS;
    any_tunnel_port = n_ports != 0;
    for (uint32_t i = 0; i < KP_MAX_TUNNEL_PORTS; ++i)
      tunnel_ports[i] = n_ports == 0 ? 0 : cfg.tunnel_ports[i < n_ports ? i : 0];
    n_own4 = cfg.n_own4 < KP_MAX_OWN_ADDRS ? cfg.n_own4 : KP_MAX_OWN_ADDRS;
    n_own6 = cfg.n_own6 < KP_MAX_OWN_ADDRS ? cfg.n_own6 : KP_MAX_OWN_ADDRS;
    for (uint32_t i = 0; i < n_own4; ++i) std::memcpy(&own4[i], cfg.own4[i], 4);
    for (uint32_t i = 0; i < n_own6; ++i) std::memcpy(own6[i], cfg.own6[i], 16);
    n_bogon4 = n_bogon6 = 0;
    bool all_v4_bogon = false;
    uint32_t n = cfg.n_bogons < KP_MAX_BOGONS ? cfg.n_bogons : KP_MAX_BOGONS;
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t len = cfg.bogons[i].len;
      if (len > 128) continue;  // never matches, as PrefixMatch
      uint8_t mask[16] = {};
      for (uint32_t b = 0; b < 16; ++b) {
        uint32_t bits = len > 8 * b ? len - 8 * b : 0;
        mask[b] = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff00 >> bits);
      }
      uint64_t a[2], m[2];
      std::memcpy(a, cfg.bogons[i].addr, 16);
      std::memcpy(m, mask, 16);
      uint64_t net_lo = a[0] & m[0], net_hi = a[1] & m[1];
      // Does the prefix's first min(len, 96) bits agree with ::ffff:0:0/96?
      uint64_t mapped_hi = kIp4MappedHiMask;
      bool mapped_ok = ((0 ^ net_lo) & m[0]) == 0 && ((mapped_hi ^ net_hi) & m[1] & 0xffffffffu) == 0;
      if (len < 96) {
        if (mapped_ok) all_v4_bogon = true;
      } else if (mapped_ok) {
        bogon4[n_bogon4][0] = static_cast<uint32_t>(net_hi >> 32);
        bogon4[n_bogon4][1] = static_cast<uint32_t>(m[1] >> 32);
        ++n_bogon4;
        continue;  // matches mapped addresses only
      }
      bogon6[n_bogon6][0] = net_lo;
      bogon6[n_bogon6][1] = net_hi;
      bogon6[n_bogon6][2] = m[0];
      bogon6[n_bogon6][3] = m[1];
      ++n_bogon6;
    }
    if (all_v4_bogon) {  // /0: every mapped address (at most one entry, in place of a prefix)
      bogon4[n_bogon4][0] = 0;
      bogon4[n_bogon4][1] = 0;
      ++n_bogon4;
    }
    for (uint32_t i = 0; i < n_own4; ++i) {
      bogon4[n_bogon4][0] = own4[i];
      bogon4[n_bogon4][1] = 0xffffffffu;
      ++n_bogon4;
    }
    for (uint32_t i = 0; i < n_own6; ++i) {
      bogon6[n_bogon6][0] = own6[i][0];
      bogon6[n_bogon6][1] = own6[i][1];
      bogon6[n_bogon6][2] = ~uint64_t{0};
      bogon6[n_bogon6][3] = ~uint64_t{0};
      ++n_bogon6;
    }
    if (n_bogon4 == 0) {
      bogon4[0][0] = 1;
      bogon4[0][1] = 0;
    }
  }

  bool IsOwn(const uint8_t* a16) const {
    uint64_t lo = LoadRaw<uint64_t>(a16), hi = LoadRaw<uint64_t>(a16 + 8);
    if (lo == 0 && static_cast<uint32_t>(hi) == kIp4MappedHiMask) {
      uint32_t v4 = static_cast<uint32_t>(hi >> 32);
      // Entry 0 before the loop (a match counts only when there is one): most
      // configs have a single own IPv4 address.
      if (own4[0] == v4) return n_own4 != 0;
      for (uint32_t i = 1; i < n_own4; ++i)
        if (own4[i] == v4) return true;
      return false;
    }
    for (uint32_t i = 0; i < n_own6; ++i)
      if (own6[i][0] == lo && own6[i][1] == hi) return true;
    return false;
  }

  bool IsBogon(const uint8_t* a16) const {
    uint64_t lo = LoadRaw<uint64_t>(a16), hi = LoadRaw<uint64_t>(a16 + 8);
    if (lo == 0 && static_cast<uint32_t>(hi) == kIp4MappedHiMask) {
      uint32_t v4 = static_cast<uint32_t>(hi >> 32);
      uint8_t first = static_cast<uint8_t>(v4);
      if (first == 127 || (first & 0xf0) == 0xe0 || v4 == 0) return true;
      // Bogon prefixes and own addresses; entry 0 is always there (see Build).
      if ((v4 & bogon4[0][1]) == bogon4[0][0]) return true;
      for (uint32_t i = 1; i < n_bogon4; ++i)
        if ((v4 & bogon4[i][1]) == bogon4[i][0]) return true;
      return false;
    }
    if (a16[0] == 0xff) return true;
    if (lo == 0 && (hi == 0 || hi == (uint64_t{1} << 56))) return true;  // :: and ::1
    for (uint32_t i = 0; i < n_bogon6; ++i)  // bogon prefixes and own addresses
      if ((lo & bogon6[i][2]) == bogon6[i][0] && (hi & bogon6[i][3]) == bogon6[i][1]) return true;
    return false;
  }

  // `port_be` is one of the config's tunnel ports.
  bool IsTunnelPort(uint16_t port_be) const {
    __m128i ports = _mm_load_si128(reinterpret_cast<const __m128i*>(tunnel_ports));
    __m128i eq = _mm_cmpeq_epi16(ports, _mm_set1_epi16(static_cast<short>(port_be)));
    return any_tunnel_port && _mm_movemask_epi8(eq) != 0;
  }
};

// `m` must be built from `cfg` (its tunnel ports are the ones compared).
inline bool IsTunnelFrame(const kp_config& cfg, const AddrMatcher& m, const Parsed& p) {
  return m.IsTunnelPort(p.dport_be) && m.IsOwn(p.dst);
}

// Section 2, first rule.
inline bool IsTunnelFrame(const kp_config& cfg, const Parsed& p) {
  uint32_t n = cfg.n_tunnel_ports < KP_MAX_TUNNEL_PORTS ? cfg.n_tunnel_ports : KP_MAX_TUNNEL_PORTS;
  bool port = false;
  for (uint32_t i = 0; i < n; ++i) port |= (cfg.tunnel_ports[i] == p.dport_be);
  return port && IsOwnAddress(cfg, p.dst);
}

// The kite hash key of a parsed datagram (destination address and port).
// Written as two 8-byte words and one 4-byte word (port, family, pad), the
// same widths HashKey and LookupKite read back.
inline kp_kite_key KiteKeyOf(const Parsed& p) {
  static_assert(offsetof(kp_kite_key, port) == 16 && offsetof(kp_kite_key, family) == 18 &&
                offsetof(kp_kite_key, pad) == 19 && sizeof(kp_kite_key) == 20);
  kp_kite_key k;
  auto* b = reinterpret_cast<uint8_t*>(&k);
  Copy16(b, p.dst);
  StoreRaw<uint32_t>(b + 16, uint32_t{p.dport_be} | uint32_t{p.family} << 16);
  return k;
}

}  // namespace kp::fp
