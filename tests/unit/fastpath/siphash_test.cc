// siphash_test.cc - SipHash-2-4 against the SipHash paper's appendix vector,
// the first entries of the reference implementation's vector table, and
// libsodium's crypto_shorthash_siphash24 for every length 0..63; and the
// 24-byte cookie specialisation against the general function.
#include "encap.h"
#include "siphash.h"

#include <sodium.h>

#include <cstring>

#include "gtest/gtest.h"

namespace kp::fp {
namespace {

constexpr uint64_t kK0 = 0x0706050403020100ull;  // key bytes 00..07
constexpr uint64_t kK1 = 0x0f0e0d0c0b0a0908ull;  // key bytes 08..0f

TEST(SipHash, PaperAppendixVector) {
  uint8_t msg[15];
  for (int i = 0; i < 15; ++i) msg[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(SipHash24(kK0, kK1, msg, 15), 0xa129ca6149be45e5ull);
}

TEST(SipHash, ReferenceTableFirstEntries) {
  // vectors_sip64[len] of the reference code (message 00 01 .. len-1), as
  // little-endian u64.
  const uint64_t expected[] = {0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull,
                               0x85676696d7fb7e2dull};
  uint8_t msg[8];
  for (int i = 0; i < 8; ++i) msg[i] = static_cast<uint8_t>(i);
  for (size_t len = 0; len < 4; ++len) EXPECT_EQ(SipHash24(kK0, kK1, msg, len), expected[len]) << len;
}

TEST(SipHash, MatchesLibsodiumForEveryLength) {
  ASSERT_GE(sodium_init(), 0);
  uint8_t key[16];
  for (int i = 0; i < 16; ++i) key[i] = static_cast<uint8_t>(i);
  uint8_t msg[64];
  for (int i = 0; i < 64; ++i) msg[i] = static_cast<uint8_t>(i);
  for (size_t len = 0; len < 64; ++len) {
    uint8_t out[8];
    crypto_shorthash_siphash24(out, msg, len, key);
    uint64_t want;
    std::memcpy(&want, out, 8);
    EXPECT_EQ(SipHash24(kK0, kK1, msg, len), want) << "len " << len;
  }
}

TEST(SipHash, CookieSpecialisationEqualsGeneral) {
  uint8_t in[24];
  uint64_t k0 = 0x0123456789abcdefull, k1 = 0xfedcba9876543210ull;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 24; ++i) in[i] = static_cast<uint8_t>(round * 31 + i * 17);
    EXPECT_EQ(SipHash24Cookie(k0, k1, in), SipHash24(k0, k1, in, 24));
    k0 = k0 * 6364136223846793005ull + 1;
  }
}

TEST(SipHash, TwelveByteSpecialisationEqualsGeneral) {
  uint8_t in[12];
  uint64_t k0 = 0x0123456789abcdefull, k1 = 0xfedcba9876543210ull;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 12; ++i) in[i] = static_cast<uint8_t>(round * 29 + i * 13);
    EXPECT_EQ(SipHash24Words12(k0, k1, LoadLe64(in), LoadRaw<uint32_t>(in + 8)), SipHash24(k0, k1, in, 12));
    k1 = k1 * 6364136223846793005ull + 7;
  }
}

// The cookie input follows the family byte (header byte 14, bits 48..55 of
// w1): 12 bytes for IPv4 clients, 24 for IPv6 ones.
TEST(SipHash, CookieInputFollowsFamily) {
  uint8_t hdr[40] = {};
  for (int i = 8; i < 32; ++i) hdr[i] = static_cast<uint8_t>(i * 7);
  hdr[14] = KP_AF_INET6;
  EXPECT_EQ(CookieOfWords(kK0, kK1, LoadLe64(hdr + 8), LoadLe64(hdr + 16), LoadLe64(hdr + 24)),
            SipHash24(kK0, kK1, hdr + 8, 24));
  hdr[14] = KP_AF_INET;
  uint8_t in4[12];
  std::memcpy(in4, hdr + 8, 8);
  std::memcpy(in4 + 8, hdr + 28, 4);
  uint64_t c4 = CookieOfWords(kK0, kK1, LoadLe64(hdr + 8), LoadLe64(hdr + 16), LoadLe64(hdr + 24));
  EXPECT_EQ(c4, SipHash24(kK0, kK1, in4, 12));
  // Bytes [16, 28) are outside an IPv4 client's input (the family check pins them).
  hdr[20] ^= 0xff;
  EXPECT_EQ(CookieOfWords(kK0, kK1, LoadLe64(hdr + 8), LoadLe64(hdr + 16), LoadLe64(hdr + 24)), c4);
  hdr[30] ^= 0x01;
  EXPECT_NE(CookieOfWords(kK0, kK1, LoadLe64(hdr + 8), LoadLe64(hdr + 16), LoadLe64(hdr + 24)), c4);
}

TEST(SipHash, KeyChangesOutput) {
  uint8_t in[24] = {};
  EXPECT_NE(SipHash24Cookie(kK0, kK1, in), SipHash24Cookie(kK0 ^ 1, kK1, in));
  EXPECT_NE(SipHash24Cookie(kK0, kK1, in), SipHash24Cookie(kK0, kK1 ^ (1ull << 63), in));
}

}  // namespace
}  // namespace kp::fp
