// connector_loopback_test.cc - kite-connector against a fake front-end.
//
// The fake front-end is written from docs/protocol.md with the proto codec:
// it answers HELLO with a stateless CHALLENGE, checks the REGISTER token and
// every kite proof, and answers with a MACed REGISTER_RESULT carrying server
// proofs.  Everything runs on 127.0.0.1 sockets the test creates; the
// connector runs in a thread and every wait has a deadline.  Covered:
// registration and relay both ways with the DATA header echoed; forged DATA
// (wrong source, wrong session, unknown kite) never reaching the service;
// heartbeats; --once giving up after trying every port; a bad server proof;
// make-before-break on a lame-duck NOTICE; RESUME and re-registration when
// the front-end goes silent.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

#include "controlplane/proto/crypto.h"
#include "absl/strings/str_cat.h"
#include "tools/kite-connector/connector.h"

namespace kp::connector {
namespace {

using proto::Bytes;
using proto::Endpoint;

constexpr const char* kSecret = "0123456789abcdef-game";

UniqueFd UdpLoopback(uint16_t* port) {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

std::optional<std::pair<Bytes, Endpoint>> RecvFrom(int fd, int timeout_ms) {
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

void SendTo(int fd, const Bytes& b, const Endpoint& to) {
  SockAddr sa = ToSockAddr(to);
  ASSERT_EQ(sendto(fd, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&sa.ss), sa.len),
            static_cast<ssize_t>(b.size()));
}

class FakeFrontend {
 public:
  FakeFrontend() : secrets_(proto::RandomKey(), proto::RandomKey()) { fd_ = UdpLoopback(&port_); }
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

Bytes DataFrame(uint32_t session_id, uint32_t kite_id, std::string_view payload) {
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

struct Running {
  std::unique_ptr<Connector> conn;
  std::thread thread;
  int rc = -1;
  void Start() {
    thread = std::thread([this] { rc = conn->Run(); });
  }
  int Join() {
    if (thread.joinable()) thread.join();
    return rc;
  }
  ~Running() {
    if (thread.joinable()) {
      conn->RequestStop();
      thread.join();
    }
  }
};

Config MakeConfig(uint16_t service_port, std::vector<uint16_t> fe_ports) {
  Config c;
  c.kites.push_back({"game.example", kSecret, *ParseHostPort(
                                                  absl::StrCat("127.0.0.1:", service_port))});
  for (uint16_t p : fe_ports) c.frontends.push_back({"127.0.0.1", {p}});
  c.backoff_initial_ms = 100;
  c.backoff_max_ms = 200;
  return c;
}

void Launch(Running& r, Config cfg, Options opts) {
  opts.handle_signals = false;
  auto conn = Connector::Create(std::move(cfg), opts);
  EXPECT_TRUE(conn.ok()) << conn.status();
  r.conn = std::move(*conn);
}

TEST(ConnectorLoopbackTest, RegistersAndRelaysBothWays) {
  uint16_t svc_port = 0;
  UniqueFd svc = UdpLoopback(&svc_port);
  FakeFrontend fe;
  Running run;
  Launch(run, MakeConfig(svc_port, {fe.port()}), {});
  run.Start();
  ASSERT_TRUE(fe.Register(true, false, /*heartbeat_s=*/1));

  Bytes data = DataFrame(fe.session_id(), 100, "ping");
  SendTo(fe.fd(), data, fe.peer());
  auto got = RecvFrom(svc.get(), 5000);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string(got->first.begin(), got->first.end()), "ping");
  const Endpoint flow_src = got->second;

  std::string pong = "pong";
  SendTo(svc.get(), Bytes(pong.begin(), pong.end()), flow_src);
  auto reply = fe.WaitType(KP_MSG_DATA, 5000);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->size(), sizeof(kp_data_hdr) + 4);
  EXPECT_EQ((*reply)[3], 0);  // from the connector
  EXPECT_TRUE(std::equal(reply->begin() + 4, reply->begin() + 40, data.begin() + 4));
  EXPECT_EQ(std::string(reply->begin() + 40, reply->end()), "pong");

  // A reply too big for the tunnel MTU (1400 - 68 bytes of payload at most)
  // is dropped, never fragmented; the next one still goes through.
  SendTo(svc.get(), Bytes(1400 - 68 + 1, 'x'), flow_src);
  std::string pong2 = "pong2";
  SendTo(svc.get(), Bytes(pong2.begin(), pong2.end()), flow_src);
  reply = fe.WaitType(KP_MSG_DATA, 5000);
  ASSERT_TRUE(reply);
  EXPECT_EQ(std::string(reply->begin() + 40, reply->end()), "pong2");

  // Forged DATA: another source, another session, an unknown kite.
  uint16_t other_port = 0;
  UniqueFd other = UdpLoopback(&other_port);
  SendTo(other.get(), DataFrame(fe.session_id(), 100, "forged-source"), fe.peer());
  SendTo(fe.fd(), DataFrame(fe.session_id() ^ 1, 100, "forged-session"), fe.peer());
  SendTo(fe.fd(), DataFrame(fe.session_id(), 999, "forged-kite"), fe.peer());
  SendTo(fe.fd(), DataFrame(fe.session_id(), 100, "ping2"), fe.peer());
  got = RecvFrom(svc.get(), 5000);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string(got->first.begin(), got->first.end()), "ping2");

  // Heartbeats every second (as REGISTER_RESULT said), authenticated.
  auto hb = fe.WaitSession(KP_MSG_HEARTBEAT, 5000);
  ASSERT_TRUE(hb);
  fe.SendSession(proto::HeartbeatAck{.ack_seq = hb->seq});

  run.conn->RequestStop();
  auto close = fe.WaitSession(KP_MSG_CLOSE, 5000);
  ASSERT_TRUE(close);
  EXPECT_EQ(std::get<proto::Close>(close->body).reason, KP_CLOSE_SHUTDOWN);
  EXPECT_EQ(run.Join(), 0);
  const Counters& c = run.conn->counters();
  EXPECT_EQ(c.registrations, 1u);
  EXPECT_EQ(c.kites_accepted, 1u);
  EXPECT_EQ(c.data_rx_packets, 2u);
  EXPECT_EQ(c.data_tx_packets, 2u);
  EXPECT_EQ(c.reply_too_big, 1u);
  EXPECT_EQ(c.drop_wrong_source, 1u);
  EXPECT_EQ(c.drop_wrong_session, 1u);
  EXPECT_EQ(c.drop_unknown_kite, 1u);
  EXPECT_EQ(c.flows_created, 1u);
  EXPECT_GE(c.heartbeats_sent, 1u);
}

TEST(ConnectorLoopbackTest, OnceGivesUpAfterEveryPortRefuses) {
  FakeFrontend fe1, fe2;
  Options opts;
  opts.once = true;
  Running run;
  Launch(run, MakeConfig(9, {fe1.port(), fe2.port()}), opts);
  run.Start();
  fe1.AnswerHelloWithError(KP_ERR_LAME_DUCK);
  fe2.AnswerHelloWithError(KP_ERR_BAD_VERSION);
  EXPECT_EQ(run.Join(), 1);
  EXPECT_EQ(run.conn->counters().registration_failures, 2u);
  EXPECT_EQ(run.conn->counters().errors_received, 2u);
}

TEST(ConnectorLoopbackTest, WrongServerProofRejectsTheFrontend) {
  FakeFrontend fe;
  Options opts;
  opts.once = true;
  Running run;
  Launch(run, MakeConfig(9, {fe.port()}), opts);
  run.Start();
  ASSERT_TRUE(fe.Register(true, /*bad_server_proof=*/true));
  EXPECT_EQ(run.Join(), 1);
  EXPECT_EQ(run.conn->counters().drop_bad_server_proof, 1u);
  EXPECT_EQ(run.conn->counters().registrations, 0u);
}

TEST(ConnectorLoopbackTest, LameDuckMakesBeforeBreaking) {
  FakeFrontend fe1, fe2;
  Running run;
  Launch(run, MakeConfig(9, {fe1.port(), fe2.port()}), {});
  run.Start();
  ASSERT_TRUE(fe1.Register());
  fe1.SendSession(proto::Notice{.kind = KP_NOTICE_LAME_DUCK, .arg = 30});
  ASSERT_TRUE(fe1.WaitSession(KP_MSG_NOTICE_ACK, 5000));
  auto rr = fe2.Register(/*send=*/false);
  ASSERT_TRUE(rr);
  // Not yet registered elsewhere: the old session must still be open.
  EXPECT_FALSE(fe1.WaitType(KP_MSG_CLOSE, 300));
  SendTo(fe2.fd(), *rr, fe2.peer());
  auto close = fe1.WaitSession(KP_MSG_CLOSE, 5000);
  ASSERT_TRUE(close);
  EXPECT_EQ(std::get<proto::Close>(close->body).reason, KP_CLOSE_REPLACED);
  run.conn->RequestStop();
  EXPECT_EQ(run.Join(), 0);
  EXPECT_EQ(run.conn->counters().registrations, 2u);
}

TEST(ConnectorLoopbackTest, SilentFrontendGetsResumeThenReRegistration) {
  FakeFrontend fe;
  Running run;
  Launch(run, MakeConfig(9, {fe.port()}), {});
  run.Start();
  ASSERT_TRUE(fe.Register(true, false, /*heartbeat_s=*/1, /*dead_after=*/2));
  // Never answer: after 2 missed acks a RESUME, then a fresh HELLO.
  auto resume = fe.WaitSession(KP_MSG_RESUME, 8000);
  ASSERT_TRUE(resume);
  EXPECT_TRUE(fe.WaitType(KP_MSG_HELLO, 8000));
  run.conn->RequestStop();
  EXPECT_EQ(run.Join(), 0);
  EXPECT_EQ(run.conn->counters().sessions_lost, 1u);
  EXPECT_GE(run.conn->counters().resumes_sent, 1u);
}

}  // namespace
}  // namespace kp::connector
