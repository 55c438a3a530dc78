// interop_test.cc - kite-connector's Session against the control plane's
// TunnelServer, in one process, with no sockets.
//
// The two sides were written separately from docs/protocol.md; here every
// frame one produces is handed to the other, so a disagreement on layouts,
// tokens, proofs, key derivation, MACs or sequence numbers fails the test.
// Uses the control-plane test fixtures (policy with static kites, in-memory
// store, fake data plane) from tests/unit/controlplane/test_util.h.
#include <gtest/gtest.h>

#include "controlplane/tunnel.h"
#include "test_util.h"
#include "tools/kite-connector/session.h"

namespace kp::connector {
namespace {

using cp::testing::Ep;

class InteropTest : public ::testing::Test {
 protected:
  InteropTest()
      : server_(rig_.reg.get(),
                [this](const proto::Endpoint&, const proto::Endpoint& dst, const proto::Bytes& b) {
                  to_connector_.push_back({dst, b});
                }) {
    cfg_.kites = {
        {"game.acme", "game-secret", Ep("127.0.0.1", 7000)},
        {"voip.acme", "wrong-secret", Ep("127.0.0.1", 7001)},
        {"banned.acme", "banned-secret", Ep("127.0.0.1", 7002)},
    };
    cfg_.frontends = {{"127.0.0.1", {4500}}};
  }

  // Delivers frames both ways until both queues are empty.
  void Pump(Session& s) {
    for (int round = 0; round < 10 && (!out_.empty() || !to_connector_.empty()); ++round) {
      Outbox out = std::move(out_);
      out_.clear();
      for (const proto::Bytes& b : out) server_.HandleFrame(b, me_, fe_, now_ms_);
      auto back = std::move(to_connector_);
      to_connector_.clear();
      for (const auto& [dst, b] : back) {
        if (dst == me_) s.OnFrame(b, now_ms_ * 1000000, out_);
      }
    }
  }

  std::unique_ptr<Session> Registered() {
    auto s = std::make_unique<Session>(cfg_, 0, 0, fe_, &ctr_);
    EXPECT_TRUE(s->Start(now_ms_ * 1000000, out_).ok());
    Pump(*s);
    return s;
  }

  cp::testing::Rig rig_;
  std::vector<std::pair<proto::Endpoint, proto::Bytes>> to_connector_;
  cp::TunnelServer server_;
  Config cfg_;
  Counters ctr_;
  Outbox out_;
  proto::Endpoint me_ = Ep("192.0.2.50", 40000);
  proto::Endpoint fe_ = Ep("127.0.0.1", 4500);
  uint64_t now_ms_ = 1700000000000ull;
};

TEST_F(InteropTest, RegistersWithPerKiteResultsAndVerifiedServerProofs) {
  auto s = Registered();
  ASSERT_TRUE(s->established()) << s->failure();
  EXPECT_EQ(ctr_.drop_bad_server_proof, 0u);
  EXPECT_EQ(ctr_.drop_bad_mac, 0u);
  const auto& k = s->kites();
  EXPECT_EQ(k[0].code, KP_RESULT_ACCEPTED);
  EXPECT_NE(k[0].kite_id, 0u);
  EXPECT_EQ(k[0].public_ep.port, 20002);
  EXPECT_TRUE(s->KiteIndexForId(k[0].kite_id).has_value());
  EXPECT_EQ(k[1].code, KP_RESULT_BAD_SECRET);
  EXPECT_EQ(k[2].code, KP_RESULT_REFUSED_BY_POLICY);
  EXPECT_EQ(s->accepted(), 1u);
  EXPECT_EQ(server_.counters().registers, 1u);
  // The policy refusal is transient: after 30 s the kite is claimed again
  // with KITE_ADD, and the KITE_RESULT (refused again) is applied.
  now_ms_ += 31000;
  s->OnTimer(now_ms_ * 1000000, out_);
  Pump(*s);
  EXPECT_EQ(ctr_.kites_refused, 3u);  // bad secret, refused, refused again
  EXPECT_EQ(s->kites()[2].code, KP_RESULT_REFUSED_BY_POLICY);
  EXPECT_EQ(s->kites()[2].pending_seq, 0u);
  EXPECT_EQ(s->kites()[2].retries, 2u);
  EXPECT_EQ(ctr_.drop_bad_mac + ctr_.drop_replay + ctr_.drop_bad_control, 0u);
}

TEST_F(InteropTest, HeartbeatsResumeNoticeAndClose) {
  auto s = Registered();
  ASSERT_TRUE(s->established()) << s->failure();
  // Heartbeat after H seconds, acknowledged and accepted by the connector.
  now_ms_ += 16000;
  s->OnTimer(now_ms_ * 1000000, out_);
  Pump(*s);
  EXPECT_EQ(ctr_.heartbeats_sent, 1u);
  EXPECT_EQ(ctr_.heartbeat_acks, 1u);
  EXPECT_EQ(server_.counters().heartbeats, 1u);
  // RESUME from a new address: the front-end rebinds and answers there.
  me_ = Ep("192.0.2.51", 40001);
  s->SendResume(KP_RESUME_NEW_SOCKET, now_ms_ * 1000000, out_);
  Pump(*s);
  EXPECT_EQ(server_.counters().resumes, 1u);
  EXPECT_EQ(ctr_.drop_replay + ctr_.drop_bad_mac + ctr_.drop_bad_control, 0u);
  // Lame duck: NOTICE reaches us, our NOTICE_ACK reaches the front-end.
  server_.AnnounceLameDuck(30, now_ms_);
  Pump(*s);
  EXPECT_TRUE(s->lame_duck());
  EXPECT_EQ(ctr_.notices, 1u);
  EXPECT_EQ(server_.counters().notices_acked, 1u);
  // Our CLOSE is authenticated and ends the session at the front-end.
  s->SendClose(KP_CLOSE_REPLACED, "moving", out_);
  Pump(*s);
  EXPECT_GE(server_.counters().closes_received, 1u);
}

}  // namespace
}  // namespace kp::connector
