// crypto_test.cc - unit tests of controlplane/proto/crypto.h.
//
// Known-answer tests for HMAC-SHA256 (RFC 4231), HKDF-SHA256 (RFC 5869) and
// X25519 (RFC 7748); token mint/verify including expiry, rotation and source
// binding; client and server proofs; session key agreement from both ends;
// the truncated MAC; and the replay window.
#include "controlplane/proto/crypto.h"

#include <gtest/gtest.h>

#include <string>

namespace kp::proto {
namespace {

Bytes Hex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

template <size_t N>
std::array<uint8_t, N> HexArray(std::string_view hex) {
  Bytes b = Hex(hex);
  std::array<uint8_t, N> a{};
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

ByteSpan S(std::string_view s) { return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto().ok()); }
};

Endpoint V4(uint8_t last, uint16_t port) {
  Endpoint e{.family = KP_AF_INET, .port = port};
  e.addr[10] = e.addr[11] = 0xff;
  e.addr[12] = 192;
  e.addr[13] = 0;
  e.addr[14] = 2;
  e.addr[15] = last;
  return e;
}

TEST_F(CryptoTest, HmacSha256Rfc4231Case2) {
  auto mac = HmacSha256(S("Jefe"), {S("what do ya want "), S("for nothing?")});
  EXPECT_EQ(Bytes(mac.begin(), mac.end()),
            Hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

TEST_F(CryptoTest, HkdfSha256Rfc5869Case1) {
  Bytes ikm(22, 0x0b);
  auto okm = HkdfSha256(Hex("000102030405060708090a0b0c"), ikm, Hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(*okm, Hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                      "34007208d5b887185865"));
  EXPECT_FALSE(HkdfSha256({}, ikm, {}, 0).ok());
  EXPECT_FALSE(HkdfSha256({}, ikm, {}, 255 * 32 + 1).ok());
}

TEST_F(CryptoTest, X25519Rfc7748SharedSecretFeedsHkdf) {
  auto a_sk = HexArray<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  auto a_pk = HexArray<32>("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  auto b_pk = HexArray<32>("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  Token token{};
  token[0] = 7;
  // Alice is the connector, Bob the front-end (both ends agreeing is
  // GeneratedKeyPairsAgree below).
  auto c = DeriveSessionKeys(a_sk, b_pk, token, a_pk, b_pk, 42);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->c2f, c->f2c);
  // The keys are HKDF over the RFC 7748 shared secret with our info string.
  Bytes shared = Hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  Bytes info(S("kiteplane/1 session keys").begin(), S("kiteplane/1 session keys").end());
  info.insert(info.end(), a_pk.begin(), a_pk.end());
  info.insert(info.end(), b_pk.begin(), b_pk.end());
  for (uint8_t b : {0, 0, 0, 42}) info.push_back(b);
  auto okm = HkdfSha256(token, shared, info, 64);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(Bytes(c->c2f.begin(), c->c2f.end()), Bytes(okm->begin(), okm->begin() + 32));
  EXPECT_EQ(Bytes(c->f2c.begin(), c->f2c.end()), Bytes(okm->begin() + 32, okm->end()));
  // Another session id gives other keys.
  auto other = DeriveSessionKeys(a_sk, b_pk, token, a_pk, b_pk, 43);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->c2f, c->c2f);
}

TEST_F(CryptoTest, X25519RejectsLowOrderPeerKey) {
  auto kp = GenerateKeyPair();
  ASSERT_TRUE(kp.ok());
  PublicKey zero{};
  EXPECT_FALSE(DeriveSessionKeys(kp->secret, zero, Token{}, kp->pub, zero, 1).ok());
}

TEST_F(CryptoTest, GeneratedKeyPairsAgree) {
  auto a = GenerateKeyPair(), b = GenerateKeyPair();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->pub, b->pub);
  Token t = {1, 2, 3};
  auto ka = DeriveSessionKeys(a->secret, b->pub, t, a->pub, b->pub, 9);
  auto kb = DeriveSessionKeys(b->secret, a->pub, t, a->pub, b->pub, 9);
  ASSERT_TRUE(ka.ok() && kb.ok());
  EXPECT_EQ(*ka, *kb);
}

TEST_F(CryptoTest, TokenBindsSourceTimeNonceAndKey) {
  TokenSecrets s(RandomKey(), RandomKey());
  Endpoint src = V4(1, 40000);
  Nonce n = RandomNonce();
  PublicKey pk{};
  pk[3] = 9;
  Token t = s.Mint(src, 1000, n, pk);
  EXPECT_TRUE(s.Verify(t, src, 1000, n, pk, 1000).ok());
  EXPECT_TRUE(s.Verify(t, src, 1000, n, pk, 1060).ok());
  EXPECT_EQ(s.Verify(t, src, 1000, n, pk, 1061).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(s.Verify(t, src, 1000, n, pk, 995).ok());  // 5 s clock skew
  EXPECT_EQ(s.Verify(t, src, 1000, n, pk, 994).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.Verify(t, V4(2, 40000), 1000, n, pk, 1000).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(s.Verify(t, V4(1, 40001), 1000, n, pk, 1000).ok());
  EXPECT_FALSE(s.Verify(t, src, 1001, n, pk, 1001).ok());
  Nonce n2 = n;
  n2[0] ^= 1;
  EXPECT_FALSE(s.Verify(t, src, 1000, n2, pk, 1000).ok());
  PublicKey pk2 = pk;
  pk2[0] ^= 1;
  EXPECT_FALSE(s.Verify(t, src, 1000, n, pk2, 1000).ok());
}

TEST_F(CryptoTest, TokenSurvivesOneRotationNotTwo) {
  TokenSecrets s(RandomKey(), RandomKey());
  Endpoint src = V4(1, 1);
  Token t = s.Mint(src, 50, Nonce{}, PublicKey{});
  s.Rotate(RandomKey());
  EXPECT_TRUE(s.Verify(t, src, 50, Nonce{}, PublicKey{}, 51).ok());
  s.Rotate(RandomKey());
  EXPECT_FALSE(s.Verify(t, src, 50, Nonce{}, PublicKey{}, 51).ok());
}

TEST_F(CryptoTest, TokenTimestampWrapsAround) {
  TokenSecrets s(RandomKey(), RandomKey());
  Endpoint src = V4(1, 1);
  Token t = s.Mint(src, 0xfffffff0u, Nonce{}, PublicKey{});
  EXPECT_TRUE(s.Verify(t, src, 0xfffffff0u, Nonce{}, PublicKey{}, 0x10).ok());
}

TEST_F(CryptoTest, ClientProofMatchesSpecAndBindsEverything) {
  Token t{};
  t[0] = 1;
  PublicKey pk{};
  pk[0] = 2;
  Proof p = ClientProof("s3cret", t, pk, "game.example");
  // Spec formula, spelled out independently.
  auto expect = HmacSha256(S("s3cret"), {S("kiteplane/1 register"), t, pk, S("game.example")});
  EXPECT_EQ(p, expect);
  EXPECT_TRUE(VerifyClientProof("s3cret", t, pk, {"game.example", p}));
  EXPECT_FALSE(VerifyClientProof("s3cres", t, pk, {"game.example", p}));
  EXPECT_FALSE(VerifyClientProof("s3cret", t, pk, {"game.examplf", p}));
  Token t2 = t;
  t2[31] = 1;
  EXPECT_FALSE(VerifyClientProof("s3cret", t2, pk, {"game.example", p}));
  PublicKey pk2 = pk;
  pk2[31] = 1;
  EXPECT_FALSE(VerifyClientProof("s3cret", t, pk2, {"game.example", p}));
}

TEST_F(CryptoTest, ServerProofBindsAssignment) {
  Token t{};
  PublicKey c{}, f{};
  f[0] = 5;
  KiteResult r{.code = KP_RESULT_ACCEPTED, .kite_id = 77, .endpoint = V4(9, 5000),
               .name = "voice.example"};
  r.server_proof = ServerProof("k", t, c, f, 1234, r);
  EXPECT_TRUE(VerifyServerProof("k", t, c, f, 1234, r));
  EXPECT_FALSE(VerifyServerProof("x", t, c, f, 1234, r));
  EXPECT_FALSE(VerifyServerProof("k", t, c, f, 1235, r));
  PublicKey f2 = f;
  f2[1] = 1;
  EXPECT_FALSE(VerifyServerProof("k", t, c, f2, 1234, r));  // substituted key exchange
  KiteResult moved = r;
  moved.endpoint.port = 5001;
  EXPECT_FALSE(VerifyServerProof("k", t, c, f, 1234, moved));
  moved = r;
  moved.kite_id = 78;
  EXPECT_FALSE(VerifyServerProof("k", t, c, f, 1234, moved));
}

TEST_F(CryptoTest, MacIsTruncatedHmacAndDetectsChanges) {
  Key32 k = RandomKey();
  Bytes data = {1, 2, 3, 4};
  Mac m = ComputeMac(k, data);
  auto full = HmacSha256(k, {data});
  EXPECT_TRUE(std::equal(m.begin(), m.end(), full.begin()));
  EXPECT_TRUE(VerifyMac(k, data, m));
  data[0] ^= 1;
  EXPECT_FALSE(VerifyMac(k, data, m));
  EXPECT_FALSE(VerifyMac(k, data, ByteSpan(m).first(15)));
}

TEST(ReplayWindowTest, AcceptsInOrderRejectsRepeatsAndZero) {
  ReplayWindow w;
  EXPECT_FALSE(w.Accept(0));
  EXPECT_TRUE(w.Accept(1));
  EXPECT_FALSE(w.Accept(1));
  EXPECT_TRUE(w.Accept(2));
  EXPECT_EQ(w.top(), 2u);
}

TEST(ReplayWindowTest, OutOfOrderWithinWindow) {
  ReplayWindow w;
  EXPECT_TRUE(w.Accept(100));
  EXPECT_FALSE(w.IsNewest(99));
  EXPECT_TRUE(w.Accept(99));
  EXPECT_FALSE(w.Accept(99));
  EXPECT_TRUE(w.Accept(37));   // 100 - 63: oldest still inside
  EXPECT_FALSE(w.Accept(36));  // 100 - 64: outside
  EXPECT_TRUE(w.IsNewest(101));
  EXPECT_TRUE(w.Accept(101));
  EXPECT_FALSE(w.Accept(100));
  EXPECT_FALSE(w.Accept(37));
}

TEST(ReplayWindowTest, BigJumpClearsHistory) {
  ReplayWindow w;
  for (uint64_t s = 1; s <= 64; ++s) EXPECT_TRUE(w.Accept(s));
  EXPECT_TRUE(w.Accept(1000));
  EXPECT_FALSE(w.Accept(64));  // too old now
  EXPECT_TRUE(w.Accept(999));
  EXPECT_TRUE(w.Accept(~uint64_t{0}));
  EXPECT_FALSE(w.Accept(~uint64_t{0}));
}

}  // namespace
}  // namespace kp::proto
