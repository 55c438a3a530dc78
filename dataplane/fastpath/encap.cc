// encap.cc - in-place encapsulation toward a connector and decapsulation
// toward a client (see encap.h).  Each writer fills the rewritten head from the
// front; every input it needs was copied out (Parsed, DataFields, L2Out)
// before the first byte is overwritten, because the rewritten and the old heads overlap.
#include "encap.h"

#include <cstring>

#include "byteorder.h"
#include "checksum.h"

namespace kp::fp {
namespace {

uint32_t WriteL2(uint8_t* p, const L2Head& l2, uint8_t family) {
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
[[gnu::always_inline]] inline void WriteIpUdp(uint8_t* ip, uint8_t family, const uint8_t* src16, const uint8_t* dst16, uint16_t sport_be,
                uint16_t dport_be, uint32_t udp_len, uint64_t inner_sum) {
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
    uint16_t ip_csum = CsumFinish(CsumWord64(w0) + CsumWord64(w1) + dst4);
    StoreRaw<uint64_t>(ip, w0);
    StoreRaw<uint64_t>(ip + 8, w1 | uint64_t{ip_csum} << 16);
    StoreRaw<uint32_t>(ip + 16, dst4);
    udp = ip + KP_IP4_HDR_LEN;
    sum = uint64_t{src4} + dst4 + Bswap16(17) + Bswap16(static_cast<uint16_t>(udp_len));
  }
  uint64_t u = uint64_t{sport_be} | uint64_t{dport_be} << 16 | uint64_t{Bswap16(static_cast<uint16_t>(udp_len))}
                                                                 << 32;
  sum += inner_sum + CsumWord64(u);
  StoreRaw<uint64_t>(udp, u | uint64_t{UdpFinish(sum)} << 48);
}

}  // namespace

void EncapToConnector(PacketBuf& pkt, const Parsed& p, const kp_session& s, const SipHashKey& key,
                      uint8_t key_epoch, uint32_t kite_id, const L2Head& l2) {
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
  uint64_t inner = p.payload_sum + CsumWord64(w0) + CsumWord64(w1) + CsumWord64(w2) + CsumWord64(w3) + CsumWord64(w4);
  uint32_t udp_len = KP_UDP_HDR_LEN + sizeof(kp_data_hdr) + p.payload_len;
  WriteL2(base, l2, s.family);
  WriteIpUdp(base + l2_len, s.family, s.local_addr, s.connector_addr, s.local_port, s.connector_port, udp_len,
             inner);
  pkt.off = payload_abs - head;
  pkt.len = head + p.payload_len;
}

void DecapToClient(PacketBuf& pkt, const Parsed& p, const DataFields& f, const kp_kite& kite, const L2Head& l2) {
  uint32_t l2_len = p.has_vlan ? kEthHdrLen + kVlanHdrLen : kEthHdrLen;
  uint8_t family = f.client_family;
  uint32_t head = l2_len + IpHdrLen(family) + KP_UDP_HDR_LEN;
  const uint8_t* hdr = pkt.buf + pkt.off + p.payload_off;
  uint32_t payload_abs = pkt.off + p.payload_off + sizeof(kp_data_hdr);
  uint32_t payload_len = p.payload_len - sizeof(kp_data_hdr);
  uint64_t inner = CsumSub(p.payload_sum, CsumFold(CsumAdd(0, hdr, sizeof(kp_data_hdr))));
  uint8_t* base = pkt.buf + payload_abs - head;
  WriteL2(base, l2, family);
  WriteIpUdp(base + l2_len, family, kite.key.addr, f.client_addr, kite.key.port, f.client_port_be,
             KP_UDP_HDR_LEN + payload_len, inner);
  pkt.off = payload_abs - head;
  pkt.len = head + payload_len;
}

}  // namespace kp::fp
