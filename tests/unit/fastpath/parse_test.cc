// parse_test.cc - stage 1: every parse verdict of docs/forwarding.md section
// 1, one test per malformed-input drop reason, plus the OK fields.
#include "parse.h"

#include <vector>

#include "checksum.h"
#include "counters.h"
#include "gtest/gtest.h"
#include "test_frames.h"

namespace kp::fp {
namespace {

using testing::BuildUdp;
using testing::FixChecksums;
using testing::UdpSpec;

ParseResult P(const std::vector<uint8_t>& f, Parsed* out = nullptr) {
  Parsed p;
  return Parse(f.data(), static_cast<uint32_t>(f.size()), out ? out : &p);
}

void ExpectDrop(const std::vector<uint8_t>& f, kp_drop_reason r) {
  ParseResult res = P(f);
  EXPECT_EQ(res.status(), ParseStatus::kDrop);
  EXPECT_EQ(res.reason(), r) << DropReasonName(r);
}

TEST(Parse, Ipv4Ok) {
  UdpSpec s;
  s.payload = {1, 2, 3, 4, 5};
  auto f = BuildUdp(s);
  f.push_back(0);  // Ethernet padding is ignored
  f.push_back(0);
  Parsed p;
  ASSERT_EQ(P(f, &p).status(), ParseStatus::kOk);
  EXPECT_EQ(p.family, KP_AF_INET);
  EXPECT_EQ(p.l3_off, 14u);
  EXPECT_EQ(p.payload_off, 42u);
  EXPECT_EQ(p.payload_len, 5u);
  EXPECT_EQ(Bswap16(p.dport_be), 5000);
  EXPECT_EQ(Bswap16(p.sport_be), 40000);
  EXPECT_TRUE(IsIp4Mapped(p.src));
  EXPECT_EQ(p.dst[12], 198);
  EXPECT_EQ(CsumFold(p.payload_sum), CsumFold(CsumAdd(0, s.payload.data(), 5)));
  EXPECT_FALSE(p.has_vlan);
}

TEST(Parse, Ipv6AndVlanOk) {
  UdpSpec s;
  s.src = "2001:db8:1::1";
  s.dst = "2001:db8:f::10";
  s.vlan = true;
  s.tci = 0x2064;
  auto f = BuildUdp(s);
  Parsed p;
  ASSERT_EQ(P(f, &p).status(), ParseStatus::kOk);
  EXPECT_EQ(p.family, KP_AF_INET6);
  EXPECT_TRUE(p.has_vlan);
  EXPECT_EQ(p.vlan_tci[0], 0x20);
  EXPECT_EQ(p.vlan_tci[1], 0x64);
  EXPECT_EQ(p.l3_off, 18u);
  EXPECT_EQ(p.payload_off, 18u + 48u);
}

TEST(Parse, EthAndVlanDrops) {
  ExpectDrop(std::vector<uint8_t>(13, 0), KP_DROP_ETH_TRUNCATED);
  std::vector<uint8_t> v(17, 0);
  v[12] = 0x81;
  ExpectDrop(v, KP_DROP_VLAN_TRUNCATED);
  UdpSpec s;
  s.vlan = true;
  auto f = BuildUdp(s);
  f[16] = 0x81;
  f[17] = 0x00;
  ExpectDrop(f, KP_DROP_VLAN_STACKED);
  f[16] = 0x88;
  f[17] = 0xa8;
  ExpectDrop(f, KP_DROP_VLAN_STACKED);
  auto g = BuildUdp(UdpSpec{});
  g[12] = 0x88;
  g[13] = 0xa8;
  ExpectDrop(g, KP_DROP_VLAN_STACKED);
}

TEST(Parse, NonIpIsException) {
  auto f = BuildUdp(UdpSpec{});
  f[12] = 0x08;
  f[13] = 0x06;  // ARP
  EXPECT_EQ(P(f).status(), ParseStatus::kException);
}

TEST(Parse, Ipv4Drops) {
  auto base = BuildUdp(UdpSpec{});
  ExpectDrop(std::vector<uint8_t>(base.begin(), base.begin() + 14 + 19), KP_DROP_IP4_TRUNCATED);
  auto f = base;
  f[14] = 0x65;
  ExpectDrop(f, KP_DROP_IP4_BAD_VERSION);
  f = base;
  f[14] = 0x44;
  ExpectDrop(f, KP_DROP_IP4_BAD_IHL);
  f = base;
  f[16] = 0x7f;  // total length larger than the frame
  ExpectDrop(f, KP_DROP_IP4_BAD_LENGTH);
  f = base;
  f[16] = 0;
  f[17] = 19;  // below IHL x 4
  ExpectDrop(f, KP_DROP_IP4_BAD_LENGTH);
  f = base;
  f[14 + 10] ^= 0x55;
  ExpectDrop(f, KP_DROP_IP4_BAD_CHECKSUM);
}

TEST(Parse, Ipv4OptionsFragmentsAndProtocols) {
  UdpSpec s;
  auto f = BuildUdp(s);
  // Insert 4 option bytes: IHL 6.
  f.insert(f.begin() + 34, {1, 1, 1, 0});
  f[14] = 0x46;
  uint16_t tot = static_cast<uint16_t>((f[16] << 8 | f[17]) + 4);
  f[16] = tot >> 8;
  f[17] = tot & 0xff;
  FixChecksums(f);
  ExpectDrop(f, KP_DROP_IP4_OPTIONS);
  // With options, the length, checksum and fragment checks still come first.
  auto o = f;
  o[16] = 0;
  o[17] = 23;  // below IHL x 4 (24)
  ExpectDrop(o, KP_DROP_IP4_BAD_LENGTH);
  o = f;
  o[14 + 10] ^= 0x55;
  ExpectDrop(o, KP_DROP_IP4_BAD_CHECKSUM);
  o = f;
  o[14 + 6] = 0x20;  // MF
  FixChecksums(o);
  EXPECT_EQ(P(o).status(), ParseStatus::kException);
  EXPECT_TRUE(P(o).fragment());
  auto g = BuildUdp(s);
  g[14 + 6] = 0x20;  // MF
  FixChecksums(g);
  ParseResult r = P(g);
  EXPECT_EQ(r.status(), ParseStatus::kException);
  EXPECT_TRUE(r.fragment());
  g = BuildUdp(s);
  g[14 + 7] = 0x10;  // offset != 0
  FixChecksums(g);
  EXPECT_TRUE(P(g).fragment());
  g = BuildUdp(s);
  g[14 + 9] = 6;  // TCP
  g[14 + 10] = g[14 + 11] = 0;
  uint16_t c = testing::RefChecksum(g.data() + 14, 20);
  g[24] = c >> 8;
  g[25] = c & 0xff;
  r = P(g);
  EXPECT_EQ(r.status(), ParseStatus::kException);
  EXPECT_FALSE(r.fragment());
}

TEST(Parse, Ipv6Drops) {
  UdpSpec s;
  s.src = "2001:db8:1::1";
  s.dst = "2001:db8:f::10";
  auto base = BuildUdp(s);
  ExpectDrop(std::vector<uint8_t>(base.begin(), base.begin() + 14 + 39), KP_DROP_IP6_TRUNCATED);
  auto f = base;
  f[14] = 0x40;
  ExpectDrop(f, KP_DROP_IP6_BAD_VERSION);
  f = base;
  f[18] = 0x10;  // payload length larger than the frame
  ExpectDrop(f, KP_DROP_IP6_BAD_LENGTH);
  for (uint8_t nh : {43, 50, 51, 60, 135, 139, 140}) {
    f = base;
    f[20] = nh;
    ExpectDrop(f, KP_DROP_IP6_EXT_HEADER);
  }
  for (uint8_t nh : {0, 44, 58, 6}) {
    f = base;
    f[20] = nh;
    ParseResult r = P(f);
    EXPECT_EQ(r.status(), ParseStatus::kException) << int(nh);
    EXPECT_EQ(r.fragment(), nh == 44);
  }
}

TEST(Parse, UdpDrops) {
  UdpSpec s;
  s.payload.clear();
  auto f = BuildUdp(s);
  // IP total length 27: 7 bytes of IP payload.
  f[17] = 27;
  f.resize(14 + 27);
  FixChecksums(f);
  ExpectDrop(f, KP_DROP_UDP_TRUNCATED);
  auto g = BuildUdp(UdpSpec{});
  g[34 + 5] = 7;  // UDP length < 8
  ExpectDrop(g, KP_DROP_UDP_BAD_LENGTH);
  g = BuildUdp(UdpSpec{});
  g[34 + 5] += 1;  // UDP length != IP payload
  ExpectDrop(g, KP_DROP_UDP_BAD_LENGTH);
  g = BuildUdp(UdpSpec{});
  g[34 + 6] ^= 0x40;
  ExpectDrop(g, KP_DROP_UDP_BAD_CHECKSUM);
  g = BuildUdp(UdpSpec{});
  g.back() ^= 1;  // payload corrupted
  ExpectDrop(g, KP_DROP_UDP_BAD_CHECKSUM);
}

TEST(Parse, UdpZeroChecksum) {
  auto f = BuildUdp(UdpSpec{});
  f[34 + 6] = f[34 + 7] = 0;  // IPv4: no checksum, accepted
  EXPECT_EQ(P(f).status(), ParseStatus::kOk);
  UdpSpec s;
  s.src = "2001:db8:1::1";
  s.dst = "2001:db8:f::10";
  auto g = BuildUdp(s);
  g[54 + 6] = g[54 + 7] = 0;  // IPv6: zero is invalid
  ExpectDrop(g, KP_DROP_UDP_BAD_CHECKSUM);
}

TEST(Parse, EveryPrefixOfAFrameIsHandled) {
  auto f = BuildUdp(UdpSpec{});
  for (size_t n = 0; n < f.size(); ++n) {
    std::vector<uint8_t> cut(f.begin(), f.begin() + n);
    EXPECT_EQ(P(cut).status(), ParseStatus::kDrop) << n;
  }
}

}  // namespace
}  // namespace kp::fp
