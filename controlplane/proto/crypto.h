// crypto.h - the cryptography of the kiteplane tunnel protocol (v1).
//
// Stateless CHALLENGE tokens, per-kite client proofs and front-end server
// proofs (HMAC-SHA256, OpenSSL), ephemeral X25519 key pairs (libsodium) and
// HKDF-SHA256 session keys (OpenSSL), the truncated MAC of in-session
// messages, and the 64-entry replay window.  Every formula is spelled out in
// docs/protocol.md sections 5, 6 and 3.  Comparisons of secrets are constant
// time.  Call InitCrypto() once before anything else.
//
// Usage, front-end:
//
//   TokenSecrets secrets(RandomKey(), RandomKey());      // rotate every 300 s
//   Token t = secrets.Mint(src, now, hello.client_nonce, hello.client_pubkey);
//   ... on REGISTER from src:
//   if (!secrets.Verify(reg.token, src, reg.timestamp, reg.client_nonce,
//                       reg.client_pubkey, now).ok()) -> ERROR STALE_TOKEN
//   for (auto& c : reg.claims)
//     ok = VerifyClientProof(kite_secret, reg.token, reg.client_pubkey, c);
//   auto kp = GenerateKeyPair();
//   auto keys = DeriveSessionKeys(kp->secret, reg.client_pubkey, reg.token,
//                                 reg.client_pubkey, kp->pub, session_id);
//   result.server_proof = ServerProof(kite_secret, reg.token, reg.client_pubkey,
//                                     kp->pub, session_id, result);  // after filling result
//
// Usage, connector: GenerateKeyPair() per HELLO; ClientProof(...) per claim;
// on REGISTER_RESULT DeriveSessionKeys(my.secret, rr.server_pubkey, token,
// my.pub, rr.server_pubkey, session_id) then VerifyServerProof per accepted kite.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controlplane/proto/messages.h"

namespace kp::proto {

// sodium_init(); safe to call repeatedly.  Internal on failure.
absl::Status InitCrypto();

// Cryptographically secure random bytes (libsodium).
void RandomBytes(std::span<uint8_t> out);
Key32 RandomKey();
Nonce RandomNonce();

// HMAC-SHA256 of the concatenation of `parts` under `key`.
std::array<uint8_t, 32> HmacSha256(ByteSpan key, std::initializer_list<ByteSpan> parts);
// HKDF-SHA256 (RFC 5869) extract-and-expand; Internal if OpenSSL fails,
// InvalidArgument if out_len > 255*32.
absl::StatusOr<Bytes> HkdfSha256(ByteSpan salt, ByteSpan ikm, ByteSpan info, size_t out_len);
// Constant-time equality (false when sizes differ).
bool ConstantTimeEqual(ByteSpan a, ByteSpan b);

// token = HMAC(secret, "kiteplane/1 token" || family || addr16 || port ||
//              timestamp || nonce || pubkey).
Token MintToken(const Key32& secret, const Endpoint& src, uint32_t timestamp,
                const Nonce& client_nonce, const PublicKey& client_pubkey);

// The front-end's rotating token secret: current and previous.
class TokenSecrets {
 public:
  TokenSecrets(const Key32& current, const Key32& previous)
      : current_(current), previous_(previous) {}
  // previous := current, current := next.
  void Rotate(const Key32& next);
  Token Mint(const Endpoint& src, uint32_t now, const Nonce& client_nonce,
             const PublicKey& client_pubkey) const;
  // OK when now - KP_TOKEN_LIFETIME_S <= timestamp <= now + 5 (mod 2^32 arithmetic)
  // and the token verifies under the current or previous secret.
  // Errors: DeadlineExceeded (timestamp outside the window), PermissionDenied
  // (wrong token).  Either way the front-end answers ERROR STALE_TOKEN.
  absl::Status Verify(const Token& token, const Endpoint& src, uint32_t timestamp,
                      const Nonce& client_nonce, const PublicKey& client_pubkey,
                      uint32_t now) const;

 private:
  Key32 current_;
  Key32 previous_;
};

// proof = HMAC(kite_secret, "kiteplane/1 register" || token || client_pubkey || name)
Proof ClientProof(std::string_view kite_secret, const Token& token,
                  const PublicKey& client_pubkey, std::string_view name);
bool VerifyClientProof(std::string_view kite_secret, const Token& token,
                       const PublicKey& client_pubkey, const KiteClaim& claim);

// server_proof = HMAC(kite_secret, "kiteplane/1 accept" || token || client_pubkey ||
//   server_pubkey || session_id || kite_id || family || addr16 || port || name),
// with kite_id, endpoint and name taken from `result`.
Proof ServerProof(std::string_view kite_secret, const Token& token,
                  const PublicKey& client_pubkey, const PublicKey& server_pubkey,
                  uint32_t session_id, const KiteResult& result);
bool VerifyServerProof(std::string_view kite_secret, const Token& token,
                       const PublicKey& client_pubkey, const PublicKey& server_pubkey,
                       uint32_t session_id, const KiteResult& result);

// Ephemeral X25519 key pair.  The secret is wiped on destruction.
struct KeyPair {
  PublicKey pub{};
  Key32 secret{};
  KeyPair() = default;
  KeyPair(const KeyPair&) = default;
  KeyPair& operator=(const KeyPair&) = default;
  ~KeyPair();
};
absl::StatusOr<KeyPair> GenerateKeyPair();

// One MAC key per direction.
struct SessionKeys {
  Key32 c2f{};  // connector -> front-end
  Key32 f2c{};  // front-end -> connector
  bool operator==(const SessionKeys&) const = default;
};
// shared = X25519(my_secret, peer_pubkey); okm = HKDF(salt = token, ikm = shared,
// info = "kiteplane/1 session keys" || client_pubkey || server_pubkey || session_id).
// Errors: InvalidArgument when the shared secret is all zero (bad peer key).
absl::StatusOr<SessionKeys> DeriveSessionKeys(const Key32& my_secret,
                                              const PublicKey& peer_pubkey, const Token& token,
                                              const PublicKey& client_pubkey,
                                              const PublicKey& server_pubkey,
                                              uint32_t session_id);

// First KP_MAC_LEN bytes of HMAC(key, data).
Mac ComputeMac(const Key32& key, ByteSpan data);
bool VerifyMac(const Key32& key, ByteSpan data, ByteSpan mac);

// Sliding anti-replay window over 64 sequence numbers (docs/protocol.md §3).
class ReplayWindow {
 public:
  // True if `seq` would be accepted (not 0, not seen, not too old).
  bool Check(uint64_t seq) const;
  // Records `seq` if Check(seq); returns whether it was accepted.
  bool Accept(uint64_t seq);
  // True if `seq` is above every seq accepted so far (the rebinding rule).
  bool IsNewest(uint64_t seq) const { return seq > top_; }
  uint64_t top() const { return top_; }

 private:
  uint64_t top_ = 0;
  uint64_t bitmap_ = 0;  // bit i: top_ - i was accepted
};

}  // namespace kp::proto
