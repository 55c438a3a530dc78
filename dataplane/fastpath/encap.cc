// encap.cc - in-place encapsulation toward a connector and decapsulation
// toward a client (see encap.h).  Each writer fills the new head from the
// front; every input it needs was copied out (Parsed, DataFields, L2Out)
// before the first byte is overwritten, because new and old heads overlap.
#include "encap.h"

#include <cstring>

#include "byteorder.h"
#include "checksum.h"

namespace kp::fp {
namespace {

uint32_t WriteL2(uint8_t* p, const L2Out& l2, uint8_t family) {
  std::memcpy(p, l2.dst, 6);
  std::memcpy(p + 6, l2.src, 6);
  uint16_t type = family == KP_AF_INET6 ? kEthTypeIp6 : kEthTypeIp4;
  if (!l2.has_vlan) {
    StoreBe16(p + 12, type);
    return kEthHdrLen;
  }
  StoreBe16(p + 12, kEthTypeVlan);
  p[14] = l2.tci[0];
  p[15] = l2.tci[1];
  StoreBe16(p + 16, type);
  return kEthHdrLen + kVlanHdrLen;
}

// Writes an IP header + UDP header (checksum filled from `inner_sum`, the
// sum of everything after the UDP header).  Addresses are 16-byte forms.
void WriteIpUdp(uint8_t* ip, uint8_t family, const uint8_t* src16, const uint8_t* dst16, uint16_t sport_be,
                uint16_t dport_be, uint32_t udp_len, uint64_t inner_sum) {
  uint8_t* udp;
  uint64_t sum;
  if (family == KP_AF_INET6) {
    StoreBe32(ip, 0x60000000u);
    StoreBe16(ip + 4, static_cast<uint16_t>(udp_len));
    ip[6] = 17;
    ip[7] = 64;
    std::memcpy(ip + 8, src16, 16);
    std::memcpy(ip + 24, dst16, 16);
    udp = ip + KP_IP6_HDR_LEN;
    sum = UdpPseudo6(src16, dst16, udp_len);
  } else {
    ip[0] = 0x45;
    ip[1] = 0;
    StoreBe16(ip + 2, static_cast<uint16_t>(udp_len + KP_IP4_HDR_LEN));
    StoreBe16(ip + 4, 0);
    StoreBe16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 17;
    StoreRaw<uint16_t>(ip + 10, 0);
    std::memcpy(ip + 12, src16 + 12, 4);
    std::memcpy(ip + 16, dst16 + 12, 4);
    StoreRaw<uint16_t>(ip + 10, CsumFinish(CsumAdd(0, ip, KP_IP4_HDR_LEN)));
    udp = ip + KP_IP4_HDR_LEN;
    sum = UdpPseudo4(src16 + 12, dst16 + 12, udp_len);
  }
  StoreRaw<uint16_t>(udp, sport_be);
  StoreRaw<uint16_t>(udp + 2, dport_be);
  StoreBe16(udp + 4, static_cast<uint16_t>(udp_len));
  StoreRaw<uint16_t>(udp + 6, 0);
  sum += inner_sum;
  sum = CsumAdd(sum, udp, KP_UDP_HDR_LEN);
  StoreRaw<uint16_t>(udp + 6, UdpFinish(sum));
}

}  // namespace

kp_drop_reason EncapCheck(const PacketBuf& pkt, const Parsed& p, const kp_session& s) {
  uint32_t mtu = s.mtu ? s.mtu : 1500;
  uint32_t ip_len = EncapIpLen(p, s.family);
  if (ip_len > mtu) return KP_DROP_MTU_EXCEEDED;
  uint32_t head = (p.has_vlan ? kEthHdrLen + kVlanHdrLen : kEthHdrLen) + ip_len - p.payload_len;
  uint64_t payload_abs = uint64_t{pkt.off} + p.payload_off;
  if (payload_abs < head) return KP_DROP_NO_HEADROOM;
  return KP_DROP_NONE;
}

void EncapToConnector(PacketBuf& pkt, const Parsed& p, const kp_session& s, const kp_config& cfg,
                      uint32_t kite_id, const L2Out& l2) {
  uint32_t l2_len = p.has_vlan ? kEthHdrLen + kVlanHdrLen : kEthHdrLen;
  uint32_t ip_len = IpHdrLen(s.family);
  uint32_t head = l2_len + ip_len + KP_UDP_HDR_LEN + sizeof(kp_data_hdr);
  uint32_t payload_abs = pkt.off + p.payload_off;
  uint8_t* base = pkt.buf + payload_abs - head;
  // DATA header first: it sits right before the payload, so writing it first
  // is safe, and its cookie needs only fields we already hold.
  uint8_t* d = base + l2_len + ip_len + KP_UDP_HDR_LEN;
  d[0] = KP_MAGIC;
  d[1] = KP_PROTO_VERSION;
  d[2] = KP_MSG_DATA;
  d[3] = KP_F_FROM_FRONTEND;
  StoreBe32(d + 4, s.session_id);
  StoreBe32(d + 8, kite_id);
  StoreRaw<uint16_t>(d + 12, p.sport_be);
  d[14] = p.family;
  d[15] = cfg.key_epoch;
  std::memcpy(d + 16, p.src, 16);
  StoreLe64(d + 32, FlowCookie(cfg, d));
  uint64_t inner = CsumAdd(p.payload_sum, d, sizeof(kp_data_hdr));
  uint32_t udp_len = KP_UDP_HDR_LEN + sizeof(kp_data_hdr) + p.payload_len;
  WriteL2(base, l2, s.family);
  WriteIpUdp(base + l2_len, s.family, s.local_addr, s.connector_addr, s.local_port, s.connector_port, udp_len,
             inner);
  pkt.off = payload_abs - head;
  pkt.len = head + p.payload_len;
}

void DecapToClient(PacketBuf& pkt, const Parsed& p, const DataFields& f, const kp_kite& kite, const L2Out& l2) {
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
