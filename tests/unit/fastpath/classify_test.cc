// classify_test.cc - stage 2: tunnel-frame detection, kite keys, and the
// address tests (loopback, unspecified, multicast, ours, configured
// bogons); the compiled AddrMatcher must agree with the plain reference
// functions on every address tried.
#include "classify.h"

#include <arpa/inet.h>

#include <cstring>

#include "gtest/gtest.h"
#include "test_frames.h"

namespace kp::fp {
namespace {

using testing::Addr16;

kp_config Cfg() {
  testing::World w;
  kp_config c = w.config;
  c.n_bogons = 3;
  Addr16("2001:db8:bad::", c.bogons[1].addr);
  c.bogons[1].len = 48;
  Addr16("192.0.2.128", c.bogons[2].addr);
  c.bogons[2].len = 96 + 25;
  return c;
}

bool Bogon(const char* text) {
  static const kp_config c = Cfg();
  uint8_t a[16];
  Addr16(text, a);
  AddrMatcher m;
  m.Build(c);
  bool ref = IsBogon(c, a);
  EXPECT_EQ(m.IsBogon(a), ref) << text;
  return ref;
}

TEST(Classify, BogonAddresses) {
  for (const char* b : {"127.0.0.1", "127.255.0.9", "0.0.0.0", "224.0.0.1", "239.1.2.3", "198.51.100.1",
                        "10.9.8.7", "192.0.2.200", "::", "::1", "ff02::1", "2001:db8:f::1", "2001:db8:bad:1::5"})
    EXPECT_TRUE(Bogon(b)) << b;
  for (const char* g : {"192.0.2.1", "192.0.2.127", "8.8.8.8", "198.51.100.2", "11.0.0.1", "2001:db8:1::1",
                        "::2", "2001:db8:bac::1", "fe80::1", "::ffff:1.2.3.4"})
    EXPECT_FALSE(Bogon(g)) << g;
}

TEST(Classify, MatcherAgreesOnRandomAddresses) {
  kp_config c = Cfg();
  AddrMatcher m;
  m.Build(c);
  uint64_t x = 1;
  for (int i = 0; i < 200000; ++i) {
    uint8_t a[16];
    for (auto& b : a) b = static_cast<uint8_t>((x = x * 6364136223846793005ull + 1442695040888963407ull) >> 56);
    if (i % 2) {  // half of them IPv4-mapped, with a first byte from a small set
      std::memset(a, 0, 10);
      a[10] = a[11] = 0xff;
      static const uint8_t firsts[] = {0, 10, 127, 192, 198, 224, 239, 240};
      a[12] = firsts[a[12] & 7];
    }
    ASSERT_EQ(m.IsBogon(a), IsBogon(c, a)) << i;
    ASSERT_EQ(m.IsOwn(a), IsOwnAddress(c, a)) << i;
  }
}

// Random bogon lists, with prefixes of every length (including the short
// ones that cover all IPv4-mapped addresses or none, and the invalid /129),
// against random and near-prefix addresses: the family split the matcher
// makes at Build() must never change an answer.
TEST(Classify, MatcherAgreesOnRandomPrefixes) {
  uint64_t x = 7;
  auto next = [&x] { return (x = x * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  auto fill = [&next](uint8_t* a, bool mapped) {
    for (int i = 0; i < 16; ++i) a[i] = static_cast<uint8_t>(next());
    if (mapped) {
      std::memset(a, 0, 10);
      a[10] = a[11] = 0xff;
    } else if (next() % 4 == 0) {
      std::memset(a, 0, 8 + next() % 4);  // shares a prefix with ::ffff:0:0/96
    }
  };
  for (int round = 0; round < 300; ++round) {
    kp_config c = Cfg();
    c.n_bogons = static_cast<uint8_t>(next() % (KP_MAX_BOGONS + 1));
    for (uint32_t i = 0; i < c.n_bogons; ++i) {
      fill(c.bogons[i].addr, next() % 2 == 0);
      c.bogons[i].len = static_cast<uint8_t>(next() % 130);
    }
    AddrMatcher m;
    m.Build(c);
    for (int i = 0; i < 2000; ++i) {
      uint8_t a[16];
      if (c.n_bogons != 0 && i % 3 == 0) {  // near a configured prefix: its address with the tail bits changed
        const kp_prefix& b = c.bogons[next() % c.n_bogons];
        std::memcpy(a, b.addr, 16);
        a[15 - next() % 4] ^= static_cast<uint8_t>(next());
      } else {
        fill(a, i % 2 == 0);
      }
      ASSERT_EQ(m.IsBogon(a), IsBogon(c, a)) << "round " << round << " address " << i;
    }
  }
}

TEST(Classify, PrefixLengths) {
  uint8_t a[16] = {0xab, 0xcd}, b[16] = {0xab, 0xc0};
  EXPECT_TRUE(PrefixMatch(a, b, 12));
  EXPECT_FALSE(PrefixMatch(a, b, 13));
  EXPECT_TRUE(PrefixMatch(a, b, 0));
  EXPECT_FALSE(PrefixMatch(a, b, 129));
}

TEST(Classify, TunnelFrameAndKiteKey) {
  kp_config c = Cfg();
  AddrMatcher m;
  m.Build(c);
  Parsed p{};
  Addr16("198.51.100.1", p.dst);
  p.dport_be = htons(7000);
  EXPECT_TRUE(IsTunnelFrame(c, p));
  EXPECT_TRUE(IsTunnelFrame(c, m, p));
  p.dport_be = htons(7001);  // not a configured tunnel port
  EXPECT_FALSE(IsTunnelFrame(c, m, p));
  Addr16("198.51.100.10", p.dst, &p.family);
  p.dport_be = htons(5000);
  EXPECT_FALSE(IsTunnelFrame(c, m, p));
  kp_kite_key k = KiteKeyOf(p);
  EXPECT_EQ(k.family, KP_AF_INET);
  EXPECT_EQ(k.port, htons(5000));
  EXPECT_EQ(k.pad, 0);
  EXPECT_EQ(std::memcmp(k.addr, p.dst, 16), 0);
}

}  // namespace
}  // namespace kp::fp
