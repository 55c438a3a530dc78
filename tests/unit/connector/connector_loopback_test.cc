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

#include "absl/strings/str_cat.h"
#include "controlplane/proto/crypto.h"
#include "fake_frontend.h"
#include "tools/kite-connector/connector.h"

namespace kp::connector {
namespace {

using namespace kp::connector::fake;

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

// The service answers `flow` with one reply a byte over `limit` and one of
// exactly `limit` bytes; returns the first DATA frame the front-end sees,
// which is the second reply when the connector dropped the first.
std::optional<Bytes> ReplyAtLimit(int svc_fd, const Endpoint& flow, FakeFrontend& fe, size_t limit) {
  SendTo(svc_fd, Bytes(limit + 1, 'x'), flow);
  SendTo(svc_fd, Bytes(limit, 'y'), flow);
  return fe.WaitType(KP_MSG_DATA, 5000);
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

bool HaveIpv6Loopback() {
  UniqueFd fd(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  return fd.valid() && bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

TEST(ConnectorLoopbackTest, RelaysOverIpv6TunnelToIpv6Client) {
  if (!HaveIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback (::1) here";
  uint16_t svc_port = 0;
  UniqueFd svc = UdpLoopback(&svc_port, /*v6=*/true);
  FakeFrontend fe(/*v6=*/true);
  Config cfg;
  cfg.kites.push_back({"game.example", kSecret, *ParseHostPort(absl::StrCat("[::1]:", svc_port))});
  cfg.frontends.push_back({"::1", {fe.port()}});
  Running run;
  Launch(run, cfg, {});
  run.Start();
  ASSERT_TRUE(fe.Register());
  EXPECT_EQ(fe.peer().family, KP_AF_INET6);
  Bytes data = DataFrame(fe.session_id(), 100, "ping6");
  data[14] = KP_AF_INET6;  // client 2001:db8::77
  std::fill(data.begin() + 16, data.begin() + 32, 0);
  data[16] = 0x20;
  data[17] = 0x01;
  data[18] = 0x0d;
  data[19] = 0xb8;
  data[31] = 0x77;
  SendTo(fe.fd(), data, fe.peer());
  auto got = RecvFrom(svc.get(), 5000);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string(got->first.begin(), got->first.end()), "ping6");
  // Over an IPv6 tunnel the largest reply is mtu - 88 bytes.
  auto reply = ReplyAtLimit(svc.get(), got->second, fe, 1400 - 88);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->size(), sizeof(kp_data_hdr) + 1400 - 88);
  EXPECT_TRUE(std::equal(reply->begin() + 8, reply->begin() + 40, data.begin() + 8));
  run.conn->RequestStop();
  EXPECT_EQ(run.Join(), 0);
  EXPECT_EQ(run.conn->counters().reply_too_big, 1u);
  EXPECT_EQ(run.conn->counters().data_tx_packets, 1u);
}

TEST(ConnectorLoopbackTest, NoticesDisableEnableKiteAndChangeMtu) {
  uint16_t svc_port = 0;
  UniqueFd svc = UdpLoopback(&svc_port);
  FakeFrontend fe;
  Running run;
  Launch(run, MakeConfig(svc_port, {fe.port()}), {});
  run.Start();
  ASSERT_TRUE(fe.Register());
  fe.SendSession(proto::Notice{.kind = KP_NOTICE_KITE_DISABLED, .kite_id = 100,
                               .arg = KP_RESULT_OUT_OF_QUOTA});
  ASSERT_TRUE(fe.WaitSession(KP_MSG_NOTICE_ACK, 5000));
  SendTo(fe.fd(), DataFrame(fe.session_id(), 100, "while-disabled"), fe.peer());
  fe.SendSession(proto::Notice{.kind = KP_NOTICE_KITE_ENABLED, .kite_id = 100});
  ASSERT_TRUE(fe.WaitSession(KP_MSG_NOTICE_ACK, 5000));
  fe.SendSession(proto::Notice{.kind = KP_NOTICE_MTU, .arg = 1000});
  ASSERT_TRUE(fe.WaitSession(KP_MSG_NOTICE_ACK, 5000));
  SendTo(fe.fd(), DataFrame(fe.session_id(), 100, "enabled"), fe.peer());
  auto got = RecvFrom(svc.get(), 5000);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string(got->first.begin(), got->first.end()), "enabled");
  // The new MTU bounds replies: 1000 - 68 fits, one byte more does not.
  auto reply = ReplyAtLimit(svc.get(), got->second, fe, 1000 - 68);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->size(), sizeof(kp_data_hdr) + 1000 - 68);
  run.conn->RequestStop();
  EXPECT_EQ(run.Join(), 0);
  const Counters& c = run.conn->counters();
  EXPECT_EQ(c.notices, 3u);
  EXPECT_EQ(c.drop_unknown_kite, 1u);  // the datagram sent while disabled
  EXPECT_EQ(c.data_rx_packets, 1u);
  EXPECT_EQ(c.reply_too_big, 1u);
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
