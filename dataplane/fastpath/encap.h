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
// next hop (the `L2Head` words the pipeline builds); the writers
// cannot fail.  `FlowCookie` is the cookie of a received header
// (`CookieOfWords`: 12 or 24 input bytes by family), under keys given raw
// (kp_config) or prepared once per config (`CookieKeys`).
// The UDP checksum reuses the payload sum computed by the parser, so the
// payload is read once per packet.  Each writer fills the rewritten head from
// the front; every input it needs was copied out (Parsed, DataFields, L2Head)
// before the first byte is overwritten, because the rewritten and the old
// heads overlap.  Header-only and always inlined into the pipeline: out of
// line, the call frame and argument set-up cost 15 instructions per
// encapsulated packet and 9 per decapsulated one (callgrind).
// Measured (fastpath_bench, 2026-11-22, 2-core VM loaded by a parallel build, min / median CPU time of 10 runs):
// writing the headers: encap 45 / 50 ns including the cookie, decap 27 / 29
// ns (both include re-copying the 42/82-byte input head; the decap cookie
// check is in the pipeline).  Before the headers were built in registers:
// 63 and 36 ns.
#pragma once

#include <cstdint>

#include "byteorder.h"
#include "checksum.h"
#include "packet.h"
#include "parse.h"
#include "siphash.h"

extern "C" {
#include "kp_tables.h"
#include "kp_wire.h"
}

namespace kp::fp {

// Ethernet addressing of a transmitted frame, as the words the writers
// store: `macs` holds the
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
  if (ip_len > mtu) [[unlikely]] return KP_DROP_MTU_EXCEEDED;
  uint32_t head = (p.has_vlan ? kEthHdrLen + kVlanHdrLen : kEthHdrLen) + ip_len - p.payload_len;
  uint64_t payload_abs = uint64_t{pkt.off} + p.payload_off;
  if (payload_abs < head) [[unlikely]] return KP_DROP_NO_HEADROOM;
  return KP_DROP_NONE;
}

namespace encap_detail {

inline uint32_t WriteL2(uint8_t* p, const L2Head& l2, uint8_t family) {
  StoreRaw<uint64_t>(p, l2.macs);
  StoreRaw<uint32_t>(p + 8, l2.macs_tail);
  uint16_t type = family == KP_AF_INET6 ? kEthTypeIp6 : kEthTypeIp4;
  if (l2.tag == 0) {
    StoreBe16(p + 12, type);
    return kEthHdrLen;
  }
  StoreRaw<uint32_t>(p + 12, l2.tag);
  StoreBe16(p + 16, type);
  return kEthHdrLen + kVlanHdrLen;
}

// Writes an IP header + UDP header (checksum filled from `inner_sum`, the
// sum of everything after the UDP header).  Addresses are 16-byte forms.
// Each header is composed in registers, summed there and stored once: summing
// bytes just stored field by field stalled on store forwarding and cost about
// a quarter of the whole encapsulation path.
[[gnu::always_inline]] inline void WriteIpUdp(uint8_t* ip, uint8_t family, const uint8_t* src16,
                                              const uint8_t* dst16, uint16_t sport_be, uint16_t dport_be,
                                              uint32_t udp_len, uint64_t inner_sum) {
  uint8_t* udp;
  uint64_t sum;
  if (family == KP_AF_INET6) {
    // version 6, class 0, flow 0 | payload length | next header 17 | hop limit 64
    uint64_t w0 = 0x60u | uint64_t{Bswap16(static_cast<uint16_t>(udp_len))} << 32 | uint64_t{17} << 48 |
                  uint64_t{64} << 56;
    StoreRaw<uint64_t>(ip, w0);
    uint64_t s0 = LoadRaw<uint64_t>(src16), s1 = LoadRaw<uint64_t>(src16 + 8);
    uint64_t d0 = LoadRaw<uint64_t>(dst16), d1 = LoadRaw<uint64_t>(dst16 + 8);
    StoreRaw<uint64_t>(ip + 8, s0);
    StoreRaw<uint64_t>(ip + 16, s1);
    StoreRaw<uint64_t>(ip + 24, d0);
    StoreRaw<uint64_t>(ip + 32, d1);
    udp = ip + KP_IP6_HDR_LEN;
    sum = CsumWord64(s0) + CsumWord64(s1) + CsumWord64(d0) + CsumWord64(d1) + (Bswap32(udp_len) & 0xffffffffu) + Bswap32(17);
  } else {
    uint32_t src4 = LoadRaw<uint32_t>(src16 + 12), dst4 = LoadRaw<uint32_t>(dst16 + 12);
    // 0x45, tos 0 | total length | id 0 | flags DF (0x40 0x00)
    uint64_t w0 = 0x45u | uint64_t{Bswap16(static_cast<uint16_t>(udp_len + KP_IP4_HDR_LEN))} << 16 |
                  uint64_t{0x40} << 48;
    // ttl 64 | protocol 17 | checksum (below) | source
    uint64_t w1 = 64u | uint64_t{17} << 8 | uint64_t{src4} << 32;
    uint16_t ip_csum = CsumFinish(CsumAdd64(CsumAdd64(w0, w1), dst4));
    StoreRaw<uint64_t>(ip, w0);
    StoreRaw<uint64_t>(ip + 8, w1 | uint64_t{ip_csum} << 16);
    StoreRaw<uint32_t>(ip + 16, dst4);
    udp = ip + KP_IP4_HDR_LEN;
    sum = uint64_t{src4} + dst4 + Bswap16(17) + Bswap16(static_cast<uint16_t>(udp_len));
  }
  uint64_t u = uint64_t{sport_be} | uint64_t{dport_be} << 16 | uint64_t{Bswap16(static_cast<uint16_t>(udp_len))}
                                                                 << 32;
  sum = CsumAdd64(CsumAdd64(sum, u), inner_sum);  // inner_sum: any 64-bit value
  StoreRaw<uint64_t>(udp, u | uint64_t{UdpFinish(sum)} << 48);
}

}  // namespace encap_detail

// `key` is the prepared cookie key of epoch `key_epoch`.
[[gnu::always_inline]] inline void EncapToConnector(PacketBuf& pkt, const Parsed& p, const kp_session& s,
                                                    const SipHashKey& key, uint8_t key_epoch, uint32_t kite_id,
                                                    const L2Head& l2) {
  using namespace encap_detail;
  uint32_t l2_len = p.has_vlan ? kEthHdrLen + kVlanHdrLen : kEthHdrLen;
  uint32_t ip_len = IpHdrLen(s.family);
  uint32_t head = l2_len + ip_len + KP_UDP_HDR_LEN + sizeof(kp_data_hdr);
  uint32_t payload_abs = pkt.off + p.payload_off;
  uint8_t* base = pkt.buf + payload_abs - head;
  // DATA header first: it sits right before the payload, so writing it first
  // is safe.  Its five words are built in registers; the cookie and the
  // checksum are computed from them, not from the bytes just stored.
  uint8_t* d = base + l2_len + ip_len + KP_UDP_HDR_LEN;
  static_assert(sizeof(kp_data_hdr) == 40 && KP_COOKIE_INPUT_OFFSET == 8);
  uint64_t w0 = uint64_t{KP_MAGIC} | uint64_t{KP_PROTO_VERSION} << 8 | uint64_t{KP_MSG_DATA} << 16 |
                uint64_t{KP_F_FROM_FRONTEND} << 24 | uint64_t{Bswap32(s.session_id)} << 32;
  uint64_t w1 = uint64_t{Bswap32(kite_id)} | uint64_t{p.sport_be} << 32 | uint64_t{p.family} << 48 |
                uint64_t{key_epoch} << 56;
  uint64_t w2 = LoadRaw<uint64_t>(p.src), w3 = LoadRaw<uint64_t>(p.src + 8);
  uint64_t w4 = CookieOfWords(key, w1, w2, w3);
  StoreRaw<uint64_t>(d, w0);
  StoreRaw<uint64_t>(d + 8, w1);
  StoreRaw<uint64_t>(d + 16, w2);
  StoreRaw<uint64_t>(d + 24, w3);
  StoreLe64(d + 32, w4);
  uint64_t inner = CsumAdd64(CsumAdd64(CsumAdd64(CsumAdd64(CsumAdd64(p.payload_sum, w0), w1), w2), w3), w4);
  uint32_t udp_len = KP_UDP_HDR_LEN + sizeof(kp_data_hdr) + p.payload_len;
  WriteL2(base, l2, s.family);
  WriteIpUdp(base + l2_len, s.family, s.local_addr, s.connector_addr, s.local_port, s.connector_port, udp_len,
             inner);
  pkt.off = payload_abs - head;
  pkt.len = head + p.payload_len;
}

// `f` are the received DATA fields; `kite` supplies the source address/port.
[[gnu::always_inline]] inline void DecapToClient(PacketBuf& pkt, const Parsed& p, const DataFields& f,
                                                 const kp_kite& kite, const L2Head& l2) {
  using namespace encap_detail;
  uint32_t l2_len = p.has_vlan ? kEthHdrLen + kVlanHdrLen : kEthHdrLen;
  uint8_t family = f.client_family;
  uint32_t head = l2_len + IpHdrLen(family) + KP_UDP_HDR_LEN;
  const uint8_t* hdr = pkt.buf + pkt.off + p.payload_off;
  uint32_t payload_abs = pkt.off + p.payload_off + sizeof(kp_data_hdr);
  uint32_t payload_len = p.payload_len - sizeof(kp_data_hdr);
  // The DATA header's sum as five 8-byte words, inline: through CsumAdd's
  // generic loop and tails it was an out-of-line call of 30 instructions.
  static_assert(sizeof(kp_data_hdr) == 40);
  uint64_t hdr_sum = CsumAdd64(CsumAdd64(CsumAdd64(CsumAdd64(LoadRaw<uint64_t>(hdr), LoadRaw<uint64_t>(hdr + 8)),
                                                    LoadRaw<uint64_t>(hdr + 16)),
                                          LoadRaw<uint64_t>(hdr + 24)),
                                LoadRaw<uint64_t>(hdr + 32));
  uint64_t inner = CsumSub(p.payload_sum, CsumFold(hdr_sum));
  uint8_t* base = pkt.buf + payload_abs - head;
  WriteL2(base, l2, family);
  WriteIpUdp(base + l2_len, family, kite.key.addr, f.client_addr, kite.key.port, f.client_port_be,
             KP_UDP_HDR_LEN + payload_len, inner);
  pkt.off = payload_abs - head;
  pkt.len = head + payload_len;
}

}  // namespace kp::fp
