// parse.cc - stage 1 of the fast path: frame parsing (see parse.h).
//
// Straight-line checks in the order docs/forwarding.md section 1 gives, so
// that the first failing check names the drop reason both fast paths report.
#include "parse.h"

#include "byteorder.h"
#include "checksum.h"

namespace kp::fp {
namespace {

constexpr ParseResult Ok() { return {ParseStatus::kOk, KP_DROP_NONE, false}; }
constexpr ParseResult Drop(kp_drop_reason r) { return {ParseStatus::kDrop, r, false}; }
constexpr ParseResult Exception(bool fragment = false) {
  return {ParseStatus::kException, KP_DROP_NONE, fragment};
}

bool IsIp6ExtensionHeader(uint8_t nh) {
  switch (nh) {
    case 43:
    case 50:
    case 51:
    case 60:
    case 135:
    case 139:
    case 140:
      return true;
    default:
      return false;
  }
}

// The 20-byte header without options, as three straight loads.
uint64_t Sum64Ip4Header(const uint8_t* ip) {
  uint64_t a = LoadRaw<uint64_t>(ip), b = LoadRaw<uint64_t>(ip + 8);
  return CsumWord64(a) + CsumWord64(b) + LoadRaw<uint32_t>(ip + 16);
}

// UDP header checks (section 1 step 6); `pseudo` is the pseudo-header sum.
ParseResult ParseUdp(const uint8_t* frame, uint32_t ip_payload, bool v4, uint64_t pseudo,
                     Parsed* out) {
  if (ip_payload < 8) return Drop(KP_DROP_UDP_TRUNCATED);
  const uint8_t* udp = frame + out->l4_off;
  uint32_t ulen = LoadBe16(udp + 4);
  if (ulen < 8 || ulen != ip_payload) return Drop(KP_DROP_UDP_BAD_LENGTH);
  out->payload_off = out->l4_off + 8;
  out->payload_len = ulen - 8;
  out->sport_be = LoadRaw<uint16_t>(udp);
  out->dport_be = LoadRaw<uint16_t>(udp + 2);
  out->payload_sum = CsumAdd(0, frame + out->payload_off, out->payload_len);
  uint16_t field = LoadRaw<uint16_t>(udp + 6);
  if (field == 0) return v4 ? Ok() : Drop(KP_DROP_UDP_BAD_CHECKSUM);
  uint64_t sum = pseudo + out->payload_sum;
  sum = CsumAdd(sum, udp, 8);
  return CsumOk(sum) ? Ok() : Drop(KP_DROP_UDP_BAD_CHECKSUM);
}

ParseResult ParseIp4(const uint8_t* frame, uint32_t len, Parsed* out) {
  uint32_t l3 = out->l3_off;
  uint32_t avail = len - l3;
  if (avail < 20) return Drop(KP_DROP_IP4_TRUNCATED);
  const uint8_t* ip = frame + l3;
  if ((ip[0] >> 4) != 4) return Drop(KP_DROP_IP4_BAD_VERSION);
  uint32_t ihl = ip[0] & 0x0f;
  if (ihl < 5) return Drop(KP_DROP_IP4_BAD_IHL);
  uint32_t total = LoadBe16(ip + 2);
  if (total < ihl * 4 || total > avail) return Drop(KP_DROP_IP4_BAD_LENGTH);
  uint64_t hsum = ihl == 5 ? Sum64Ip4Header(ip) : CsumAdd(0, ip, ihl * 4);
  if (!CsumOk(hsum)) return Drop(KP_DROP_IP4_BAD_CHECKSUM);
  if ((LoadBe16(ip + 6) & 0x3fff) != 0) return Exception(true);
  if (ihl > 5) return Drop(KP_DROP_IP4_OPTIONS);
  if (ip[9] != 17) return Exception();
  out->family = KP_AF_INET;
  MapIp4(ip + 12, out->src);
  MapIp4(ip + 16, out->dst);
  out->l4_off = l3 + 20;
  uint32_t ip_payload = total - 20;
  return ParseUdp(frame, ip_payload, true, UdpPseudo4(ip + 12, ip + 16, ip_payload), out);
}

ParseResult ParseIp6(const uint8_t* frame, uint32_t len, Parsed* out) {
  uint32_t l3 = out->l3_off;
  uint32_t avail = len - l3;
  if (avail < 40) return Drop(KP_DROP_IP6_TRUNCATED);
  const uint8_t* ip = frame + l3;
  if ((ip[0] >> 4) != 6) return Drop(KP_DROP_IP6_BAD_VERSION);
  uint32_t plen = LoadBe16(ip + 4);
  if (plen > avail - 40) return Drop(KP_DROP_IP6_BAD_LENGTH);
  uint8_t nh = ip[6];
  if (nh == 44) return Exception(true);
  if (nh == 0) return Exception();
  if (IsIp6ExtensionHeader(nh)) return Drop(KP_DROP_IP6_EXT_HEADER);
  if (nh != 17) return Exception();
  out->family = KP_AF_INET6;
  Copy16(out->src, ip + 8);
  Copy16(out->dst, ip + 24);
  out->l4_off = l3 + 40;
  return ParseUdp(frame, plen, false, UdpPseudo6(ip + 8, ip + 24, plen), out);
}

}  // namespace

ParseResult Parse(const uint8_t* frame, uint32_t len, Parsed* out) {
  if (len < kEthHdrLen) return Drop(KP_DROP_ETH_TRUNCATED);
  uint16_t type = LoadBe16(frame + 12);
  out->has_vlan = false;
  out->l3_off = kEthHdrLen;
  if (type == kEthTypeQinQ) return Drop(KP_DROP_VLAN_STACKED);
  if (type == kEthTypeVlan) {
    if (len < kEthHdrLen + kVlanHdrLen) return Drop(KP_DROP_VLAN_TRUNCATED);
    type = LoadBe16(frame + 16);
    if (type == kEthTypeVlan || type == kEthTypeQinQ) return Drop(KP_DROP_VLAN_STACKED);
    out->has_vlan = true;
    StoreRaw<uint16_t>(out->vlan_tci, LoadRaw<uint16_t>(frame + 14));  // one store: read back as one
    out->l3_off = kEthHdrLen + kVlanHdrLen;
  }
  if (type == kEthTypeIp4) return ParseIp4(frame, len, out);
  if (type == kEthTypeIp6) return ParseIp6(frame, len, out);
  return Exception();
}

}  // namespace kp::fp
