// fuzz_frames.h - shared by the fuzz targets: a fixed front-end config and a
// small table world, a builder that wraps fuzz bytes in valid Ethernet/IP/UDP
// headers (so inputs reach the deep stages instead of dying at a checksum),
// and the invariant every TX frame must satisfy (it parses again cleanly).
// Built with the fuzz flags, never with the fast path's own library.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "byteorder.h"
#include "checksum.h"
#include "parse.h"
#include "pipeline.h"
#include "tables.h"

namespace kp::fuzz {

inline void FuzzAssert(bool ok, const char* what) {
  if (!ok) {
    __builtin_printf("fuzz invariant failed: %s\n", what);
    std::abort();
  }
}

inline void V4(uint8_t out[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  std::memset(out, 0, 16);
  out[10] = out[11] = 0xff;
  out[12] = a;
  out[13] = b;
  out[14] = c;
  out[15] = d;
}

inline kp_config FuzzConfig() {
  kp_config c{};
  c.state = KP_FE_SERVING;
  c.key_epoch = 7;
  c.gateway_mac_valid = 1;
  c.gateway_mac[0] = 2;
  c.gateway_mac[5] = 0xfe;
  c.own_mac[0] = 2;
  c.own_mac[5] = 1;
  c.n_workers = 1;
  c.cookie_keys[0][0] = 0x0706050403020100ull;
  c.cookie_keys[0][1] = 0x0f0e0d0c0b0a0908ull;
  c.cookie_keys[1][0] = 0x1716151413121110ull;
  c.cookie_keys[1][1] = 0x1f1e1d1c1b1a1918ull;
  c.n_tunnel_ports = 2;
  c.tunnel_ports[0] = fp::Bswap16(7000);
  c.tunnel_ports[1] = fp::Bswap16(7001);
  c.n_own4 = 1;
  c.own4[0][0] = 198;
  c.own4[0][1] = 51;
  c.own4[0][2] = 100;
  c.own4[0][3] = 1;
  c.n_own6 = 1;
  c.own6[0][0] = 0x20;
  c.own6[0][1] = 0x01;
  c.own6[0][2] = 0x0d;
  c.own6[0][3] = 0xb8;
  c.own6[0][5] = 0x0f;
  c.own6[0][15] = 1;
  c.n_bogons = 1;
  V4(c.bogons[0].addr, 10, 0, 0, 0);
  c.bogons[0].len = 104;
  return c;
}

inline constexpr uint32_t kSession = (1u << 17) | 1u;

// Tables with kite 1 (198.51.100.10:5000), kite 2 ([2001:db8:f::10]:5000,
// quota and rate limited) and kite 3 (198.51.100.11:5000, disabled), all on
// session kSession from 203.0.113.7:40000.
inline std::unique_ptr<fp::Tables> FuzzTables() {
  auto t = fp::Tables::Create({.max_kites = 16, .max_sessions = 16, .n_workers = 1});
  FuzzAssert(t != nullptr, "tables");
  t->SetConfig(FuzzConfig());
  kp_session s{};
  s.session_id = kSession;
  s.state = KP_SESSION_LIVE;
  s.family = KP_AF_INET;
  V4(s.connector_addr, 203, 0, 113, 7);
  V4(s.local_addr, 198, 51, 100, 1);
  s.connector_port = fp::Bswap16(40000);
  s.local_port = fp::Bswap16(7000);
  s.mtu = 1500;
  t->UpsertSession(s);
  kp_kite k{};
  k.kite_id = 1;
  V4(k.key.addr, 198, 51, 100, 10);
  k.key.port = fp::Bswap16(5000);
  k.key.family = KP_AF_INET;
  k.state = KP_KITE_LIVE;
  k.n_sessions = 1;
  k.sessions[0] = kSession;
  t->UpsertKite(k);
  kp_kite k2 = k;
  k2.kite_id = 2;
  std::memcpy(k2.key.addr, FuzzConfig().own6[0], 16);
  k2.key.addr[15] = 0x10;
  k2.key.family = KP_AF_INET6;
  k2.flags = KP_KITE_F_QUOTA;
  k2.rate_pps = 1000;
  k2.rate_kbps = 1000;
  t->UpsertKite(k2);
  kp_kite k3 = k;
  k3.kite_id = 3;
  k3.key.addr[15] = 11;
  k3.state = KP_KITE_DISABLED;
  t->UpsertKite(k3);
  return t;
}

// Ethernet + IPv4 + UDP around `payload`, checksums valid.
inline std::vector<uint8_t> WrapUdp4(const uint8_t src[4], const uint8_t dst[4], uint16_t sport, uint16_t dport,
                                     const uint8_t* payload, size_t n) {
  std::vector<uint8_t> f(42 + n);
  uint8_t* p = f.data();
  p[0] = 2;
  p[5] = 1;
  p[6] = 2;
  p[11] = 0xaa;
  fp::StoreBe16(p + 12, 0x0800);
  uint8_t* ip = p + 14;
  ip[0] = 0x45;
  fp::StoreBe16(ip + 2, static_cast<uint16_t>(28 + n));
  ip[8] = 64;
  ip[9] = 17;
  std::memcpy(ip + 12, src, 4);
  std::memcpy(ip + 16, dst, 4);
  fp::StoreRaw<uint16_t>(ip + 10, fp::CsumFinish(fp::CsumAdd(0, ip, 20)));
  uint8_t* udp = ip + 20;
  fp::StoreBe16(udp, sport);
  fp::StoreBe16(udp + 2, dport);
  fp::StoreBe16(udp + 4, static_cast<uint16_t>(8 + n));
  if (n) std::memcpy(udp + 8, payload, n);
  uint64_t sum = fp::UdpPseudo4(src, dst, static_cast<uint32_t>(8 + n)) + fp::CsumAdd(0, udp, 8 + n);
  fp::StoreRaw<uint16_t>(udp + 6, fp::UdpFinish(sum));
  return f;
}

// Every frame the fast path transmits must parse cleanly again (valid
// lengths and checksums) and fit its buffer.
inline void CheckTx(const fp::PacketBuf& pkt) {
  FuzzAssert(pkt.off + uint64_t{pkt.len} <= pkt.buf_len, "tx frame inside its buffer");
  fp::Parsed p;
  fp::ParseResult r = fp::Parse(pkt.data(), pkt.len, &p);
  FuzzAssert(r.status() == fp::ParseStatus::kOk, "tx frame parses");
}

}  // namespace kp::fuzz
