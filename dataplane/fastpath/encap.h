// encap.h - stage 5: build the frame we transmit, in place.
//
// API: `EncapToConnector` turns a parsed client datagram into a DATA frame
// toward the session's connector (forwarding.md "Encapsulated frame"): it
// grows the frame at its head (the payload never moves), writes Ethernet
// (+ the received VLAN tag), outer IPv4/IPv6, outer UDP with its checksum,
// and the 40-byte DATA header with the flow cookie.  `DecapToClient` turns a
// verified DATA frame into the reply toward the client ("Decapsulated
// frame"), shrinking the frame at its head.  Both trim Ethernet padding.
// The caller checks size and headroom first (`EncapCheck`) and resolves the
// next hop (`L2Out`, or the `L2Head` words the pipeline builds); the writers
// cannot fail.  `FlowCookie` is the cookie of a received header
// (`CookieOfWords`: 12 or 24 input bytes by family), under keys given raw
// (kp_config) or prepared once per config (`CookieKeys`).
// The UDP checksum reuses the payload sum computed by the parser, so the
// payload is read once per packet.
// Measured (fastpath_bench, 2026-11-22, 2-core VM loaded by a parallel build, min / median CPU time of 10 runs):
// writing the headers: encap 45 / 50 ns including the cookie, decap 27 / 29
// ns (both include re-copying the 42/82-byte input head; the decap cookie
// check is in the pipeline).  Before the headers were built in registers:
// 63 and 36 ns.
#pragma once

#include <cstdint>
#include <cstring>

#include "packet.h"
#include "parse.h"
#include "siphash.h"

extern "C" {
#include "kp_tables.h"
#include "kp_wire.h"
}

namespace kp::fp {

// Ethernet addressing of a transmitted frame.
struct L2Out {
  uint8_t dst[6];
  uint8_t src[6];
  bool has_vlan;
  uint8_t tci[2];
};

// The same addressing as the words the writers store: `macs` holds the
// destination MAC and the first two bytes of the source MAC, `macs_tail` the
// last four, and `tag` the 802.1Q tag as stored (0x81 0x00, then the TCI as
// on the wire) or 0 for none.  The pipeline builds it in registers.
struct L2Head {
  uint64_t macs;
  uint32_t macs_tail;
  uint32_t tag;
};

inline constexpr uint64_t kMac48Mask = 0xffffffffffffull;

// `dst` and `src` are MACs in the low 48 bits of a little-endian load;
// `tci_raw` is the TCI as loaded from the wire.
inline L2Head MakeL2Head(uint64_t dst, uint64_t src, bool has_vlan, uint16_t tci_raw) {
  return {dst | src << 48, static_cast<uint32_t>(src >> 16),
          has_vlan ? 0x0081u | uint32_t{tci_raw} << 16 : 0u};
}

inline L2Head MakeL2Head(const L2Out& l2) {
  uint64_t dst = 0, src = 0;
  std::memcpy(&dst, l2.dst, 6);
  std::memcpy(&src, l2.src, 6);
  uint16_t tci;
  std::memcpy(&tci, l2.tci, 2);
  return MakeL2Head(dst, src, l2.has_vlan, tci);
}

// The fields of a received DATA header, copied out before the frame is
// rewritten (all in wire order).
struct DataFields {
  uint32_t session_id;  // host order
  uint32_t kite_id;     // host order
  uint16_t client_port_be;
  uint8_t client_family;
  uint8_t key_epoch;
  uint8_t client_addr[16];
  uint64_t cookie;  // as sent (little-endian on the wire)
};

inline void ReadDataFields(const uint8_t* hdr, DataFields* f) {
  f->session_id = LoadBe32(hdr + 4);
  f->kite_id = LoadBe32(hdr + 8);
  f->client_port_be = LoadRaw<uint16_t>(hdr + 12);
  f->client_family = hdr[14];
  f->key_epoch = hdr[15];
  Copy16(f->client_addr, hdr + 16);
  f->cookie = LoadLe64(hdr + 32);
}

// The flow cookie of a DATA header given as its little-endian words w1
// (bytes [8, 16): kite, client port, family, epoch) and w2, w3 (the client
// address), under the key (k0, k1).  An IPv4 client's input is w1 and the
// address's last 4 bytes (12 bytes, two SipHash blocks); any other family's
// is all 24 bytes (kp_wire.h, docs/protocol.md "Flow cookie").
[[gnu::always_inline]] inline uint64_t CookieOfWords(const SipHashKey& k, uint64_t w1, uint64_t w2, uint64_t w3) {
  static_assert(KP_COOKIE_INPUT_OFFSET == 8 && KP_COOKIE_INPUT4_ADDR_OFFSET == 28 && KP_COOKIE_INPUT4_LEN == 12);
  if (static_cast<uint8_t>(w1 >> 48) == KP_AF_INET) return SipHash24Words12(k, w1, static_cast<uint32_t>(w3 >> 32));
  return SipHash24Words3(k, w1, w2, w3);
}

inline uint64_t CookieOfWords(uint64_t k0, uint64_t k1, uint64_t w1, uint64_t w2, uint64_t w3) {
  return CookieOfWords(PrepareSipHashKey(k0, k1), w1, w2, w3);
}

// The config's two cookie keys (by epoch & 1), prepared for CookieOfWords.
struct CookieKeys {
  SipHashKey k[2];
};

inline CookieKeys PrepareCookieKeys(const kp_config& cfg) {
  return {{PrepareSipHashKey(cfg.cookie_keys[0][0], cfg.cookie_keys[0][1]),
           PrepareSipHashKey(cfg.cookie_keys[1][0], cfg.cookie_keys[1][1])}};
}

// Cookie of a received DATA header, under the key its epoch picks.
inline uint64_t FlowCookie(const CookieKeys& keys, const uint8_t* data_hdr) {
  uint8_t epoch = data_hdr[15];
  const uint8_t* in = data_hdr + KP_COOKIE_INPUT_OFFSET;
  return CookieOfWords(keys.k[epoch & 1], LoadLe64(in), LoadLe64(in + 8), LoadLe64(in + 16));
}

inline uint64_t FlowCookie(const kp_config& cfg, const uint8_t* data_hdr) {
  return FlowCookie(PrepareCookieKeys(cfg), data_hdr);
}

inline uint32_t IpHdrLen(uint8_t family) { return family == KP_AF_INET6 ? KP_IP6_HDR_LEN : KP_IP4_HDR_LEN; }

// Outer IP packet length of the encapsulated frame.
inline uint32_t EncapIpLen(const Parsed& p, uint8_t outer_family) {
  return p.payload_len + sizeof(kp_data_hdr) + KP_UDP_HDR_LEN + IpHdrLen(outer_family);
}

// Section 3 step 7: KP_DROP_NONE, KP_DROP_MTU_EXCEEDED or KP_DROP_NO_HEADROOM.
// Inline: it runs per packet, between the pipeline's other checks.
inline kp_drop_reason EncapCheck(const PacketBuf& pkt, const Parsed& p, const kp_session& s) {
  uint32_t mtu = s.mtu ? s.mtu : 1500;
  uint32_t ip_len = EncapIpLen(p, s.family);
  if (ip_len > mtu) return KP_DROP_MTU_EXCEEDED;
  uint32_t head = (p.has_vlan ? kEthHdrLen + kVlanHdrLen : kEthHdrLen) + ip_len - p.payload_len;
  uint64_t payload_abs = uint64_t{pkt.off} + p.payload_off;
  if (payload_abs < head) return KP_DROP_NO_HEADROOM;
  return KP_DROP_NONE;
}

// `key` is the prepared cookie key of epoch `key_epoch`.
void EncapToConnector(PacketBuf& pkt, const Parsed& p, const kp_session& s, const SipHashKey& key,
                      uint8_t key_epoch, uint32_t kite_id, const L2Head& l2);

inline void EncapToConnector(PacketBuf& pkt, const Parsed& p, const kp_session& s, const kp_config& cfg,
                             uint32_t kite_id, const L2Out& l2) {
  const __u64* k = cfg.cookie_keys[cfg.key_epoch & 1];
  EncapToConnector(pkt, p, s, PrepareSipHashKey(k[0], k[1]), cfg.key_epoch, kite_id, MakeL2Head(l2));
}

// `f` are the received DATA fields; `kite` supplies the source address/port.
void DecapToClient(PacketBuf& pkt, const Parsed& p, const DataFields& f, const kp_kite& kite, const L2Head& l2);

inline void DecapToClient(PacketBuf& pkt, const Parsed& p, const DataFields& f, const kp_kite& kite,
                          const L2Out& l2) {
  DecapToClient(pkt, p, f, kite, MakeL2Head(l2));
}

}  // namespace kp::fp
