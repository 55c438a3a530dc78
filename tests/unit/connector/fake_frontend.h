// fake_frontend.h - a fake kiteplane front-end for kite-connector tests.
//
// Written from docs/protocol.md with the proto codec: answers HELLO with a
// stateless CHALLENGE, checks the REGISTER token and every kite proof, and
// answers with a MACed REGISTER_RESULT carrying server proofs (or a wrong
// one on request); then sends and opens in-session messages.  Also builds
// front-end DATA frames.  Loopback UDP only; every wait has a deadline.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>

#include "controlplane/proto/crypto.h"
#include "tools/kite-connector/net.h"

namespace kp::connector::fake {

using proto::Bytes;
using proto::Endpoint;
using proto::Bytes;
using proto::Endpoint;

inline constexpr const char* kSecret = "0123456789abcdef-game";

// A UDP socket bound to 127.0.0.1 (or ::1 when v6) on an ephemeral port.
inline UniqueFd UdpLoopback(uint16_t* port, bool v6 = false) {
  UniqueFd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  }
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  *port = ToEndpoint(reinterpret_cast<sockaddr*>(&ss)).port;
  return fd;
}

inline std::optional<std::pair<Bytes, Endpoint>> RecvFrom(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
  Bytes buf(65536);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  return std::make_pair(buf, ToEndpoint(reinterpret_cast<sockaddr*>(&ss)));
}

inline void SendTo(int fd, const Bytes& b, const Endpoint& to) {
  SockAddr sa = ToSockAddr(to);
  ASSERT_EQ(sendto(fd, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&sa.ss), sa.len),
            static_cast<ssize_t>(b.size()));
}

class FakeFrontend {
 public:
  explicit FakeFrontend(bool v6 = false) : secrets_(proto::RandomKey(), proto::RandomKey()) {
    fd_ = UdpLoopback(&port_, v6);
  }
  uint16_t port() const { return port_; }
  const Endpoint& peer() const { return peer_; }
  uint32_t session_id() const { return session_id_; }
  int fd() const { return fd_.get(); }

  // Next frame of `type` within the deadline (others are skipped).
  std::optional<Bytes> WaitType(uint8_t type, int timeout_ms) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      end - std::chrono::steady_clock::now())
                                      .count());
      auto got = RecvFrom(fd_.get(), std::max(left, 1));
      if (!got) return std::nullopt;
      if (got->first.size() >= 4 && got->first[2] == type) {
        peer_ = got->second;
        return got->first;
      }
    }
    return std::nullopt;
  }

  std::optional<proto::SessionMessage> WaitSession(uint8_t type, int timeout_ms) {
    auto b = WaitType(type, timeout_ms);
    if (!b) return std::nullopt;
    auto m = proto::OpenMessage(*b, keys_.c2f);
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) return std::nullopt;
    return *m;
  }

  void AnswerHelloWithError(uint8_t code) {
    ASSERT_TRUE(WaitType(KP_MSG_HELLO, 5000));
    SendTo(fd_.get(), proto::EncodeError({.code = code}), peer_);
  }

  // Runs HELLO/CHALLENGE/REGISTER; returns the REGISTER_RESULT to send (or
  // sends it when `send` is true).
  std::optional<Bytes> Register(bool send = true, bool bad_server_proof = false,
                                uint16_t heartbeat_s = 15, uint8_t dead_after = 4) {
    auto hello_b = WaitType(KP_MSG_HELLO, 5000);
    if (!hello_b) return std::nullopt;
    auto hello = proto::DecodeHello(*hello_b);
    EXPECT_TRUE(hello.ok());
    uint32_t now = static_cast<uint32_t>(time(nullptr));
    proto::Challenge c{.timestamp = now,
                       .token = secrets_.Mint(peer_, now, hello->client_nonce,
                                              hello->client_pubkey),
                       .client_nonce = hello->client_nonce, .mtu = 1500};
    SendTo(fd_.get(), proto::EncodeChallenge(c), peer_);
    auto reg_b = WaitType(KP_MSG_REGISTER, 5000);
    if (!reg_b) return std::nullopt;
    auto reg = proto::DecodeRegister(*reg_b);
    EXPECT_TRUE(reg.ok());
    EXPECT_TRUE(secrets_.Verify(reg->token, peer_, reg->timestamp, reg->client_nonce,
                                reg->client_pubkey, now)
                    .ok());
    token_ = reg->token;
    client_pub_ = reg->client_pubkey;
    auto kp = proto::GenerateKeyPair();
    session_id_ = 0x00020000u | (session_id_ + 1);
    auto keys = proto::DeriveSessionKeys(kp->secret, client_pub_, token_, client_pub_, kp->pub,
                                         session_id_);
    keys_ = *keys;
    proto::RegisterResult rr{.server_pubkey = kp->pub, .client_nonce = reg->client_nonce,
                             .mtu = 1400, .heartbeat_s = heartbeat_s, .cookie_rotate_s = 600,
                             .dead_after = dead_after};
    uint32_t next_id = 100;
    for (const proto::KiteClaim& claim : reg->claims) {
      proto::KiteResult r{.name = claim.name};
      if (!proto::VerifyClientProof(kSecret, token_, client_pub_, claim)) {
        r.code = KP_RESULT_BAD_SECRET;
      } else {
        r.code = KP_RESULT_ACCEPTED;
        r.kite_id = next_id++;
        r.endpoint = *ParseHostPort("198.51.100.1:20000");
        r.server_proof = proto::ServerProof(bad_server_proof ? "not the secret" : kSecret,
                                            token_, client_pub_, kp->pub, session_id_, r);
      }
      rr.results.push_back(r);
    }
    tx_seq_ = 0;
    Bytes out = Seal(rr);
    if (send) SendTo(fd_.get(), out, peer_);
    return out;
  }

  Bytes Seal(proto::SessionBody body) {
    auto b = proto::SealMessage({session_id_, ++tx_seq_, true, std::move(body)}, keys_.f2c);
    EXPECT_TRUE(b.ok());
    return *b;
  }
  void SendSession(proto::SessionBody body) { SendTo(fd_.get(), Seal(std::move(body)), peer_); }

 private:
  UniqueFd fd_;
  uint16_t port_ = 0;
  proto::TokenSecrets secrets_;
  Endpoint peer_;
  uint32_t session_id_ = 4;
  proto::SessionKeys keys_;
  proto::Token token_{};
  proto::PublicKey client_pub_{};
  uint64_t tx_seq_ = 0;
};

inline Bytes DataFrame(uint32_t session_id, uint32_t kite_id, std::string_view payload) {
  Bytes b(sizeof(kp_data_hdr));
  b[0] = KP_MAGIC;
  b[1] = KP_PROTO_VERSION;
  b[2] = KP_MSG_DATA;
  b[3] = KP_F_FROM_FRONTEND;
  for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<uint8_t>(session_id >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) b[8 + i] = static_cast<uint8_t>(kite_id >> (24 - 8 * i));
  b[12] = 0x15;  // client port 5555
  b[13] = 0xb3;
  b[14] = KP_AF_INET;
  b[15] = 3;  // key epoch
  b[26] = b[27] = 0xff;
  b[28] = 192;
  b[30] = 2;
  b[31] = 77;
  for (int i = 32; i < 40; ++i) b[i] = static_cast<uint8_t>(0xa0 + i);  // cookie
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

}  // namespace kp::connector::fake
