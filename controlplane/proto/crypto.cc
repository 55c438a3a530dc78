// crypto.cc - tokens, proofs, session keys, MACs and the replay window.
//
// HMAC and HKDF come from OpenSSL 3 (EVP_MAC "HMAC" and EVP_KDF "HKDF"),
// X25519 and randomness from libsodium.  The byte strings fed to each HMAC
// are exactly those of docs/protocol.md; integers are big-endian.
#include "controlplane/proto/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

#include <memory>
#include <string_view>

namespace kp::proto {
namespace {

constexpr std::string_view kTokenLabel = "kiteplane/1 token";
constexpr std::string_view kRegisterLabel = "kiteplane/1 register";
constexpr std::string_view kAcceptLabel = "kiteplane/1 accept";
constexpr std::string_view kSessionLabel = "kiteplane/1 session keys";

ByteSpan Span(std::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::array<uint8_t, 4> Be32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}
std::array<uint8_t, 2> Be16(uint16_t v) {
  return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}

struct MacDeleter {
  void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
struct KdfDeleter {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
};
struct KdfCtxDeleter {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

// The HMAC algorithm object is fetched once (thread-safe static init).
EVP_MAC* HmacAlgorithm() {
  static std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  return mac.get();
}

}  // namespace

absl::Status InitCrypto() {
  if (sodium_init() < 0) return absl::InternalError("libsodium initialisation failed");
  if (HmacAlgorithm() == nullptr) return absl::InternalError("OpenSSL has no HMAC");
  return absl::OkStatus();
}

void RandomBytes(std::span<uint8_t> out) { randombytes_buf(out.data(), out.size()); }

Key32 RandomKey() {
  Key32 k;
  RandomBytes(k);
  return k;
}

Nonce RandomNonce() {
  Nonce n;
  RandomBytes(n);
  return n;
}

std::array<uint8_t, 32> HmacSha256(ByteSpan key, std::initializer_list<ByteSpan> parts) {
  std::array<uint8_t, 32> out{};
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(HmacAlgorithm()));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  // An empty key is legal for HMAC; OpenSSL wants a non-null pointer.
  static const uint8_t kEmpty[1] = {0};
  const uint8_t* kp = key.empty() ? kEmpty : key.data();
  size_t out_len = 0;
  bool ok = ctx && EVP_MAC_init(ctx.get(), kp, key.size(), params) == 1;
  for (ByteSpan p : parts) {
    if (ok && !p.empty()) ok = EVP_MAC_update(ctx.get(), p.data(), p.size()) == 1;
  }
  ok = ok && EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) == 1 && out_len == 32;
  if (!ok) {
    // Only on allocation failure inside OpenSSL; never return a guessable MAC.
    RandomBytes(out);
  }
  return out;
}

absl::StatusOr<Bytes> HkdfSha256(ByteSpan salt, ByteSpan ikm, ByteSpan info, size_t out_len) {
  if (out_len == 0 || out_len > 255 * 32) return absl::InvalidArgumentError("HKDF length");
  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return absl::InternalError("OpenSSL has no HKDF");
  std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return absl::InternalError("HKDF context");
  char digest[] = "SHA256";
  static uint8_t kEmpty[1] = {0};
  auto p = [](ByteSpan s) { return const_cast<uint8_t*>(s.empty() ? kEmpty : s.data()); };
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, p(ikm), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, p(salt), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, p(info), info.size()),
      OSSL_PARAM_construct_end(),
  };
  Bytes out(out_len);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return absl::InternalError("HKDF-SHA256 derivation failed");
  }
  return out;
}

bool ConstantTimeEqual(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

Token MintToken(const Key32& secret, const Endpoint& src, uint32_t timestamp,
                const Nonce& client_nonce, const PublicKey& client_pubkey) {
  const uint8_t family = src.family;
  auto port = Be16(src.port);
  auto ts = Be32(timestamp);
  return HmacSha256(secret, {Span(kTokenLabel), ByteSpan(&family, 1), src.addr, port, ts,
                             client_nonce, client_pubkey});
}

void TokenSecrets::Rotate(const Key32& next) {
  previous_ = current_;
  current_ = next;
}

Token TokenSecrets::Mint(const Endpoint& src, uint32_t now, const Nonce& client_nonce,
                         const PublicKey& client_pubkey) const {
  return MintToken(current_, src, now, client_nonce, client_pubkey);
}

absl::Status TokenSecrets::Verify(const Token& token, const Endpoint& src, uint32_t timestamp,
                                  const Nonce& client_nonce, const PublicKey& client_pubkey,
                                  uint32_t now) const {
  // Age in mod-2^32 arithmetic: a timestamp up to 5 s in the future is a
  // negative age; anything else older than the lifetime is stale.
  const int32_t age = static_cast<int32_t>(now - timestamp);
  if (age < -5 || age > static_cast<int32_t>(KP_TOKEN_LIFETIME_S)) {
    return absl::DeadlineExceededError("token timestamp outside its lifetime");
  }
  for (const Key32* k : {&current_, &previous_}) {
    Token expect = MintToken(*k, src, timestamp, client_nonce, client_pubkey);
    if (ConstantTimeEqual(expect, token)) return absl::OkStatus();
  }
  return absl::PermissionDeniedError("token does not verify for this source");
}

Proof ClientProof(std::string_view kite_secret, const Token& token,
                  const PublicKey& client_pubkey, std::string_view name) {
  return HmacSha256(Span(kite_secret), {Span(kRegisterLabel), token, client_pubkey, Span(name)});
}

bool VerifyClientProof(std::string_view kite_secret, const Token& token,
                       const PublicKey& client_pubkey, const KiteClaim& claim) {
  Proof expect = ClientProof(kite_secret, token, client_pubkey, claim.name);
  return ConstantTimeEqual(expect, claim.proof);
}

Proof ServerProof(std::string_view kite_secret, const Token& token,
                  const PublicKey& client_pubkey, const PublicKey& server_pubkey,
                  uint32_t session_id, const KiteResult& result) {
  auto sid = Be32(session_id);
  auto kid = Be32(result.kite_id);
  const uint8_t family = result.endpoint.family;
  auto port = Be16(result.endpoint.port);
  return HmacSha256(Span(kite_secret),
                    {Span(kAcceptLabel), token, client_pubkey, server_pubkey, sid, kid,
                     ByteSpan(&family, 1), result.endpoint.addr, port, Span(result.name)});
}

bool VerifyServerProof(std::string_view kite_secret, const Token& token,
                       const PublicKey& client_pubkey, const PublicKey& server_pubkey,
                       uint32_t session_id, const KiteResult& result) {
  Proof expect =
      ServerProof(kite_secret, token, client_pubkey, server_pubkey, session_id, result);
  return ConstantTimeEqual(expect, result.server_proof);
}

KeyPair::~KeyPair() { sodium_memzero(secret.data(), secret.size()); }

absl::StatusOr<KeyPair> GenerateKeyPair() {
  KeyPair kp;
  RandomBytes(kp.secret);
  if (crypto_scalarmult_base(kp.pub.data(), kp.secret.data()) != 0) {
    return absl::InternalError("X25519 public key derivation failed");
  }
  return kp;
}

absl::StatusOr<SessionKeys> DeriveSessionKeys(const Key32& my_secret,
                                              const PublicKey& peer_pubkey, const Token& token,
                                              const PublicKey& client_pubkey,
                                              const PublicKey& server_pubkey,
                                              uint32_t session_id) {
  Key32 shared{};
  // libsodium returns -1 when the result is all zero (a low-order peer key).
  if (crypto_scalarmult(shared.data(), my_secret.data(), peer_pubkey.data()) != 0) {
    return absl::InvalidArgumentError("X25519 with this peer key gives an all-zero secret");
  }
  Bytes info;
  info.insert(info.end(), kSessionLabel.begin(), kSessionLabel.end());
  info.insert(info.end(), client_pubkey.begin(), client_pubkey.end());
  info.insert(info.end(), server_pubkey.begin(), server_pubkey.end());
  auto sid = Be32(session_id);
  info.insert(info.end(), sid.begin(), sid.end());
  auto okm = HkdfSha256(token, shared, info, 64);
  sodium_memzero(shared.data(), shared.size());
  if (!okm.ok()) return okm.status();
  SessionKeys keys;
  std::copy(okm->begin(), okm->begin() + 32, keys.c2f.begin());
  std::copy(okm->begin() + 32, okm->end(), keys.f2c.begin());
  sodium_memzero(okm->data(), okm->size());
  return keys;
}

Mac ComputeMac(const Key32& key, ByteSpan data) {
  auto full = HmacSha256(key, {data});
  Mac m;
  std::copy(full.begin(), full.begin() + KP_MAC_LEN, m.begin());
  return m;
}

bool VerifyMac(const Key32& key, ByteSpan data, ByteSpan mac) {
  Mac expect = ComputeMac(key, data);
  return ConstantTimeEqual(expect, mac);
}

bool ReplayWindow::Check(uint64_t seq) const {
  if (seq == 0) return false;
  if (seq > top_) return true;
  uint64_t back = top_ - seq;
  if (back >= KP_REPLAY_WINDOW) return false;
  return (bitmap_ & (uint64_t{1} << back)) == 0;
}

bool ReplayWindow::Accept(uint64_t seq) {
  if (!Check(seq)) return false;
  if (seq > top_) {
    uint64_t shift = seq - top_;
    bitmap_ = shift >= 64 ? 0 : bitmap_ << shift;
    bitmap_ |= 1;
    top_ = seq;
  } else {
    bitmap_ |= uint64_t{1} << (top_ - seq);
  }
  return true;
}

}  // namespace kp::proto
