// checksum_test.cc - the host-order one's complement checksum against a
// byte-at-a-time big-endian reference, for every length and start, plus the
// RFC 1071 worked example, CsumAddPreceded, CsumSub, and the UDP "0 goes out
// as 0xffff" rule.
#include "checksum.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "test_frames.h"

namespace kp::fp {
namespace {

using testing::RefChecksum;

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to ddf2 (checksum 220d).
  const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  uint16_t folded = CsumFold(CsumAdd(0, data, sizeof(data)));
  EXPECT_EQ(Bswap16(folded), 0xddf2);
  EXPECT_EQ(Bswap16(CsumFinish(CsumAdd(0, data, sizeof(data)))), 0x220d);
}

TEST(Checksum, MatchesReferenceForAllLengths) {
  std::vector<uint8_t> buf(1600);  // past 128 bytes the AVX2 path (when built) takes over
  uint32_t x = 12345;
  for (auto& b : buf) b = static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16);
  for (size_t start = 0; start < 4; start += 2) {
    for (size_t len = 0; len + start <= buf.size(); ++len) {
      uint16_t mine = Bswap16(CsumFinish(CsumAdd(0, buf.data() + start, len)));
      EXPECT_EQ(mine, RefChecksum(buf.data() + start, len)) << "len " << len;
    }
  }
}

// CsumAddPreceded (reads up to 8 bytes before its start) against the
// reference, for every length on both sides of its 128-byte switch and a
// nonzero starting sum, including all-ones data (end-around carries).
TEST(Checksum, PrecededMatchesReference) {
  std::vector<uint8_t> buf(8 + 300);
  uint32_t x = 777;
  for (auto& b : buf) b = static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16);
  for (size_t len = 0; len + 8 <= buf.size(); ++len) {
    const uint8_t* p = buf.data() + 8;
    EXPECT_EQ(Bswap16(CsumFinish(CsumAddPreceded(0, p, len))), RefChecksum(p, len)) << "len " << len;
    EXPECT_EQ(CsumFold(CsumAddPreceded(0x12345, p, len)), CsumFold(CsumAdd(0x12345, p, len))) << "len " << len;
  }
  std::vector<uint8_t> ff(8 + 200, 0xff);
  for (size_t len = 0; len + 8 <= ff.size(); ++len)
    EXPECT_EQ(CsumFold(CsumAddPreceded(0, ff.data() + 8, len)), CsumFold(CsumAdd(0, ff.data() + 8, len)))
        << "len " << len;
}

// CsumAdd64 chains (end-around carry, full 64-bit results) fold to what
// CsumAdd gives for the same words as bytes: random words, words near 2^64
// that carry on every add, all ones, and a start from CsumAdd's range.
TEST(Checksum, Add64MatchesCsumAdd) {
  uint64_t x = 0x2545f4914f6cdd1dull;
  for (int i = 0; i < 200000; ++i) {
    uint64_t w[6];
    for (auto& v : w) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      v = i % 4 == 0 ? x : i % 4 == 1 ? ~(x >> (i % 64)) : i % 4 == 2 ? ~0ull - (x & 0xff) : x >> 7;
    }
    uint64_t start = x >> 30;  // below 2^34, as CsumAdd and CsumAddPreceded return
    uint64_t chain = start;
    for (uint64_t v : w) chain = CsumAdd64(chain, v);
    uint8_t bytes[sizeof(w)];
    std::memcpy(bytes, w, sizeof(w));
    ASSERT_EQ(CsumFold(chain), CsumFold(CsumAdd(start, bytes, sizeof(bytes)))) << i;
  }
  EXPECT_EQ(CsumFold(CsumAdd64(CsumAdd64(~0ull, ~0ull), ~0ull)), 0xffff);
  EXPECT_EQ(CsumAdd64(0, 0), 0u);  // only all-zero words sum to zero
}

// CsumFold (rotate-and-add) against the plain fold: end-around carries of
// 16-bit halves, one step at a time, on random, sparse, dense and edge sums.
TEST(Checksum, FoldMatchesStepwiseFold) {
  auto stepwise = [](uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
  };
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 1000000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint64_t v = i % 3 == 0 ? x : i % 3 == 1 ? x >> (i % 64) : ~(x >> (i % 64));
    ASSERT_EQ(CsumFold(v), stepwise(v)) << std::hex << v;
  }
  for (uint64_t v : {0ull, 0xffffull, 0x10000ull, 0x1fffeull, 0xffffffffull, 0x100000000ull, 0xffff0001ull,
                     0x1ffffffffull, 0xffffffff00000000ull, ~0ull})
    EXPECT_EQ(CsumFold(v), stepwise(v)) << std::hex << v;
}

TEST(Checksum, AllOnesDataFoldsToOnes) {
  std::vector<uint8_t> ff(64, 0xff);
  EXPECT_EQ(CsumFold(CsumAdd(0, ff.data(), ff.size())), 0xffff);
  EXPECT_TRUE(CsumOk(CsumAdd(0, ff.data(), ff.size())));
}

TEST(Checksum, SubRemovesAPart) {
  std::vector<uint8_t> a(40), b(33);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 13 + 7);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 29 + 3);
  uint64_t whole = CsumAdd(CsumAdd(0, a.data(), a.size()), b.data(), b.size());
  uint64_t only_b = CsumSub(whole, CsumFold(CsumAdd(0, a.data(), a.size())));
  uint16_t want = CsumFinish(CsumAdd(0, b.data(), b.size()));
  uint16_t got = CsumFinish(only_b);
  // +0 and -0 are the same number in one's complement.
  EXPECT_TRUE(got == want || (got == 0 && want == 0xffff) || (got == 0xffff && want == 0));
}

TEST(Checksum, UdpFinishNeverZero) {
  // A region summing to 0xffff would give checksum 0: it must go out as 0xffff.
  const uint8_t data[] = {0xff, 0xff};
  EXPECT_EQ(UdpFinish(CsumAdd(0, data, 2)), 0xffff);
}

TEST(Checksum, Ip4HeaderVerifies) {
  testing::UdpSpec spec;
  std::vector<uint8_t> f = testing::BuildUdp(spec);
  EXPECT_EQ(Ip4HeaderSum(f.data() + 14, 20), 0xffff);
  f[14 + 8] ^= 1;  // TTL
  EXPECT_NE(Ip4HeaderSum(f.data() + 14, 20), 0xffff);
}

}  // namespace
}  // namespace kp::fp
