// police_test.cc - stage 3: token buckets (forwarding.md section 5) and quota
// credit, driven by explicit now_ns values.
#include "police.h"

#include "gtest/gtest.h"

namespace kp::fp {
namespace {

constexpr uint64_t kSec = 1'000'000'000ull;

kp_kite Kite(uint32_t pps, uint32_t kbps, uint16_t burst_ms) {
  kp_kite k{};
  k.kite_id = 1;
  k.state = KP_KITE_LIVE;
  k.rate_pps = pps;
  k.rate_kbps = kbps;
  k.burst_ms = burst_ms;
  return k;
}

TEST(Police, UnlimitedTouchesNothing) {
  kp_kite k = Kite(0, 0, 0);
  kp_kite_police p{};
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(PoliceRate(k, 1, p, 1400, kSec), KP_DROP_NONE);
  EXPECT_EQ(p.last_ns, 0u);
  EXPECT_EQ(p.pkt_tokens, 0u);
  EXPECT_EQ(p.bit_tokens, 0u);
}

TEST(Police, FirstPacketFillsTheBucketThenBurstIsEnforced) {
  // 100 pps, 100 ms burst: cap = 10 packets.
  kp_kite k = Kite(100, 0, 100);
  kp_kite_police p{};
  uint64_t now = 5 * kSec;
  int passed = 0;
  for (int i = 0; i < 50; ++i) passed += PoliceRate(k, 1, p, 100, now) == KP_DROP_NONE;
  EXPECT_EQ(passed, 10);
  EXPECT_EQ(PoliceRate(k, 1, p, 100, now), KP_DROP_RATE_PACKETS);
  // 10 ms later exactly one more packet's worth has arrived.
  now += 10'000'000;
  EXPECT_EQ(PoliceRate(k, 1, p, 100, now), KP_DROP_NONE);
  EXPECT_EQ(PoliceRate(k, 1, p, 100, now), KP_DROP_RATE_PACKETS);
  EXPECT_EQ(p.last_ns, now);
}

TEST(Police, SustainedRateOverASecond) {
  kp_kite k = Kite(1000, 0, 10);  // cap 10 packets
  kp_kite_police p{};
  uint64_t now = kSec;
  int passed = 0;
  // Offer 10,000 packets evenly over one second (every 100 us).
  for (int i = 0; i < 10000; ++i, now += 100'000) passed += PoliceRate(k, 1, p, 10, now) == KP_DROP_NONE;
  EXPECT_GE(passed, 1000);
  EXPECT_LE(passed, 1000 + 10);
}

TEST(Police, MinimumCapIsOnePacket) {
  kp_kite k = Kite(1, 0, 1);  // 1 pps x 1 ms would be 1/1000 packet: cap = 1 packet
  kp_kite_police p{};
  EXPECT_EQ(PoliceRate(k, 1, p, 10, kSec), KP_DROP_NONE);
  EXPECT_EQ(PoliceRate(k, 1, p, 10, kSec), KP_DROP_RATE_PACKETS);
  EXPECT_EQ(PoliceRate(k, 1, p, 10, 2 * kSec), KP_DROP_NONE);
}

TEST(Police, BitBucket) {
  // 8 kbit/s, burst 100 ms -> 800 bits, but the cap is at least 8 x 65535.
  kp_kite k = Kite(0, 8, 100);
  kp_kite_police p{};
  const uint64_t t = 1000 * kSec;  // long enough after last_ns = 0 to fill the bucket
  EXPECT_EQ(PoliceRate(k, 1, p, 65535, t), KP_DROP_NONE);  // one largest datagram always fits
  EXPECT_EQ(p.bit_tokens, 0u);
  EXPECT_EQ(PoliceRate(k, 1, p, 1, t), KP_DROP_RATE_BITS);
  // 1 ms at 8 kbit/s = 8 bits = one byte of payload.
  EXPECT_EQ(PoliceRate(k, 1, p, 1, t + 1'000'000), KP_DROP_NONE);
  EXPECT_EQ(PoliceRate(k, 1, p, 1, t + 1'000'000), KP_DROP_RATE_BITS);
}

TEST(Police, PartialRefillAfterShortIdle) {
  kp_kite k = Kite(0, 8, 100);
  kp_kite_police p{};
  // 5 s since last_ns = 0 at 8 kbit/s: 40,000 bits, below the cap.
  EXPECT_EQ(PoliceRate(k, 1, p, 0, 5 * kSec), KP_DROP_NONE);
  EXPECT_EQ(p.bit_tokens, 40000u);
  EXPECT_EQ(PoliceRate(k, 1, p, 5001, 5 * kSec), KP_DROP_RATE_BITS);
  EXPECT_EQ(PoliceRate(k, 1, p, 5000, 5 * kSec), KP_DROP_NONE);
}

TEST(Police, BothCheckedBeforeEitherIsConsumed) {
  kp_kite k = Kite(1000, 8, 100);
  kp_kite_police p{};
  ASSERT_EQ(PoliceRate(k, 1, p, 65535, 1000 * kSec), KP_DROP_NONE);  // empties the bit bucket
  uint64_t pkt_before = p.pkt_tokens;
  EXPECT_EQ(PoliceRate(k, 1, p, 100, 1000 * kSec), KP_DROP_RATE_BITS);
  EXPECT_EQ(p.pkt_tokens, pkt_before);  // the packet token was not consumed
}

TEST(Police, RateIsSharedByWorkers) {
  kp_kite k = Kite(100, 0, 1000);  // 100 pps, 1 s burst
  kp_kite_police p1{}, p4{};
  int one = 0, four = 0;
  for (int i = 0; i < 200; ++i) {
    one += PoliceRate(k, 1, p1, 1, kSec) == KP_DROP_NONE;
    four += PoliceRate(k, 4, p4, 1, kSec) == KP_DROP_NONE;
  }
  EXPECT_EQ(one, 100);
  EXPECT_EQ(four, 25);
  kp_kite slow = Kite(3, 0, 1000);  // 3 / 4 rounds to 0: at least 1
  kp_kite_police ps{};
  int n = 0;
  for (int i = 0; i < 10; ++i) n += PoliceRate(slow, 4, ps, 1, kSec) == KP_DROP_NONE;
  EXPECT_EQ(n, 1);
}

TEST(Police, LongIdleDoesNotOverflow) {
  kp_kite k = Kite(4'000'000'000u, 4'000'000'000u, 65535);
  kp_kite_police p{};
  uint64_t far = 1ull << 62;
  EXPECT_EQ(PoliceRate(k, 1, p, 1400, far), KP_DROP_NONE);
  uint64_t cap = uint64_t{4'000'000'000u} * 65536 * 65535 / 1000;
  EXPECT_EQ(p.pkt_tokens, cap - kPacketToken);
}

TEST(Police, ClockGoingBackwardsAddsNothing) {
  kp_kite k = Kite(10, 0, 100);  // cap 1 packet
  kp_kite_police p{};
  EXPECT_EQ(PoliceRate(k, 1, p, 1, 10 * kSec), KP_DROP_NONE);
  EXPECT_EQ(PoliceRate(k, 1, p, 1, 5 * kSec), KP_DROP_RATE_PACKETS);
}

TEST(Quota, SpendWhileUsedBelowGranted) {
  kp_kite k = Kite(0, 0, 0);
  kp_kite_police p{};
  kp_kite_credit c{};
  EXPECT_TRUE(QuotaAllows(k, p, c));  // not flagged: no quota
  k.flags = KP_KITE_F_QUOTA;
  EXPECT_FALSE(QuotaAllows(k, p, c));
  c.granted_bytes = 1000;
  EXPECT_TRUE(QuotaAllows(k, p, c));
  AccountBytes(p, 999);
  EXPECT_TRUE(QuotaAllows(k, p, c));  // 999 < 1000: one more datagram, whatever its size
  AccountBytes(p, 1400);
  EXPECT_FALSE(QuotaAllows(k, p, c));
  EXPECT_EQ(p.used_bytes, 2399u);
  c.granted_bytes += 5000;
  EXPECT_TRUE(QuotaAllows(k, p, c));
}

}  // namespace
}  // namespace kp::fp
