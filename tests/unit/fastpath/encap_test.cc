// encap_test.cc - stage 5 on its own: size and headroom checks at their
// boundaries, the flow cookie against libsodium, and the bytes written by
// EncapToConnector / DecapToClient (checked with an independent checksum).
#include "encap.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "test_frames.h"

namespace kp::fp {
namespace {

using testing::BuildUdp;
using testing::RefChecksum;
using testing::UdpSpec;

struct Fixture {
  std::vector<uint8_t> buf;
  PacketBuf pkt;
  Parsed p;
  Fixture(const std::vector<uint8_t>& frame, uint32_t headroom) : buf(headroom + frame.size()) {
    std::copy(frame.begin(), frame.end(), buf.begin() + headroom);
    pkt = {buf.data(), static_cast<uint32_t>(buf.size()), headroom, static_cast<uint32_t>(frame.size())};
    EXPECT_EQ(Parse(pkt.data(), pkt.len, &p).status(), ParseStatus::kOk);
  }
};

kp_session V4Session(uint16_t mtu) {
  kp_session s{};
  s.session_id = 0x20001;
  s.state = KP_SESSION_LIVE;
  testing::Addr16("203.0.113.7", s.connector_addr, &s.family);
  testing::Addr16("198.51.100.1", s.local_addr);
  s.connector_port = Bswap16(40000);
  s.local_port = Bswap16(7000);
  s.mtu = mtu;
  return s;
}

TEST(Encap, MtuBoundary) {
  UdpSpec spec;
  spec.payload.assign(100, 1);
  Fixture f(BuildUdp(spec), 128);
  uint32_t ip_len = 100 + 40 + 8 + 20;
  EXPECT_EQ(EncapIpLen(f.p, KP_AF_INET), ip_len);
  EXPECT_EQ(EncapCheck(f.pkt, f.p, V4Session(static_cast<uint16_t>(ip_len))), KP_DROP_NONE);
  EXPECT_EQ(EncapCheck(f.pkt, f.p, V4Session(static_cast<uint16_t>(ip_len - 1))), KP_DROP_MTU_EXCEEDED);
  UdpSpec big;
  big.payload.assign(1500 - 68 + 1, 1);  // one byte over 1500 with mtu 0
  Fixture g(BuildUdp(big), 128);
  EXPECT_EQ(EncapCheck(g.pkt, g.p, V4Session(0)), KP_DROP_MTU_EXCEEDED);
  big.payload.pop_back();
  Fixture h(BuildUdp(big), 128);
  EXPECT_EQ(EncapCheck(h.pkt, h.p, V4Session(0)), KP_DROP_NONE);
}

TEST(Encap, HeadroomBoundary) {
  // Old head 14+20+8 = 42, new head 14+20+8+40 = 82: needs 40 bytes of headroom.
  Fixture ok(BuildUdp(UdpSpec{}), 40);
  EXPECT_EQ(EncapCheck(ok.pkt, ok.p, V4Session(1500)), KP_DROP_NONE);
  Fixture tight(BuildUdp(UdpSpec{}), 39);
  EXPECT_EQ(EncapCheck(tight.pkt, tight.p, V4Session(1500)), KP_DROP_NO_HEADROOM);
}

TEST(Encap, CookieMatchesLibsodium) {
  kp_config cfg{};
  cfg.cookie_keys[1][0] = 0x1122334455667788ull;
  cfg.cookie_keys[1][1] = 0x99aabbccddeeff00ull;
  uint64_t key[2] = {cfg.cookie_keys[1][0], cfg.cookie_keys[1][1]};
  std::vector<uint8_t> h = testing::DataHeader(9, 3, "192.0.2.1", 1234, 5, key);
  uint64_t want;
  std::memcpy(&want, h.data() + 32, 8);
  EXPECT_EQ(FlowCookie(cfg, h.data()), want);
  h[15] = 4;  // epoch 4 picks key 0: a different cookie
  EXPECT_NE(FlowCookie(cfg, h.data()), want);
}

TEST(Encap, WritesTheDataFrame) {
  UdpSpec spec;
  spec.payload = {9, 8, 7, 6, 5};
  Fixture f(BuildUdp(spec), 128);
  kp_config cfg{};
  cfg.key_epoch = 2;
  cfg.cookie_keys[0][0] = 1;
  kp_session s = V4Session(1500);
  L2Head l2 = MakeL2Head(0x060504030201ull, 0x0c0b0a090807ull, false, 0);  // 01:..:06, 07:..:0c
  EncapToConnector(f.pkt, f.p, s, PrepareCookieKeys(cfg).k[cfg.key_epoch & 1], cfg.key_epoch, 42, l2);
  const uint8_t* o = f.pkt.data();
  ASSERT_EQ(f.pkt.len, 14u + 20 + 8 + 40 + 5);
  EXPECT_EQ(o[0], 1);
  EXPECT_EQ(o[6], 7);
  EXPECT_EQ(RefChecksum(o + 14, 20), 0);  // IPv4 header checksum valid
  EXPECT_EQ(o[14 + 8], 64);                // TTL
  EXPECT_EQ(o[14 + 6], 0x40);              // DF
  EXPECT_EQ(o[14 + 12], 198);              // local address
  EXPECT_EQ(o[14 + 16], 203);              // connector address
  const uint8_t* d = o + 42;
  EXPECT_EQ(d[0], KP_MAGIC);
  EXPECT_EQ(d[3], KP_F_FROM_FRONTEND);
  EXPECT_EQ(LoadBe32(d + 8), 42u);
  EXPECT_EQ(d[14], KP_AF_INET);
  EXPECT_EQ(d[15], 2);
  EXPECT_EQ(std::memcmp(d + 40, spec.payload.data(), 5), 0);
  // The whole outer frame parses again with a valid UDP checksum.
  Parsed again;
  EXPECT_EQ(Parse(o, f.pkt.len, &again).status(), ParseStatus::kOk);
  EXPECT_EQ(again.payload_len, 45u);
}

TEST(Encap, DecapWritesTheClientDatagram) {
  uint64_t key[2] = {5, 6};
  UdpSpec spec;
  spec.src = "203.0.113.7";
  spec.dst = "198.51.100.1";
  spec.payload = testing::DataHeader(0x20001, 1, "2001:db8:1::1", 4444, 0, key);
  spec.payload.insert(spec.payload.end(), {1, 2, 3});
  spec.vlan = true;
  Fixture f(BuildUdp(spec), 0);
  DataFields df;
  ReadDataFields(f.pkt.data() + f.p.payload_off, &df);
  kp_kite kite{};
  testing::Addr16("2001:db8:f::10", kite.key.addr, &kite.key.family);
  kite.key.port = Bswap16(5000);
  L2Head l2 = MakeL2Head(0x010101010101ull, 0x020202020202ull, true, 0x6400);  // TCI 00 64 on the wire
  DecapToClient(f.pkt, f.p, df, kite, l2);
  ASSERT_EQ(f.pkt.len, 18u + 40 + 8 + 3);
  Parsed out;
  ASSERT_EQ(Parse(f.pkt.data(), f.pkt.len, &out).status(), ParseStatus::kOk);
  EXPECT_EQ(out.family, KP_AF_INET6);
  EXPECT_TRUE(out.has_vlan);
  EXPECT_EQ(Bswap16(out.sport_be), 5000);
  EXPECT_EQ(Bswap16(out.dport_be), 4444);
  EXPECT_EQ(std::memcmp(out.src, kite.key.addr, 16), 0);
  EXPECT_EQ(out.payload_len, 3u);
}

}  // namespace
}  // namespace kp::fp
