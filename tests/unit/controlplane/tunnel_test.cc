// tunnel_test.cc - the tunnel control protocol end to end in one process: a
// codec-driven connector talks to TunnelServer.  Checks the stateless
// challenge (no state, reply smaller than request), registration with
// per-kite results and verified server proofs, heartbeats, KITE_ADD and
// KITE_REMOVE, the rebinding rule (fresh seq from a new address moves the
// session, a replayed frame does not), unknown sessions, spoofed floods,
// per-source rate limits, notices with acks, dead sessions, lame duck.
#include <arpa/inet.h>

#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controlplane/tunnel.h"
#include "test_util.h"

namespace kp::cp {
namespace {
using testing::Ep;
using testing::Rig;

struct Sent {
  proto::Endpoint local, dst;
  proto::Bytes bytes;
};

class TunnelTest : public ::testing::Test {
 protected:
  TunnelTest() : rig_(":memory:", "limits { register_rate_per_s = 1, register_burst = 3, max_sources_tracked = 16 }\n") {
    server_ = std::make_unique<TunnelServer>(rig_.reg.get(), [this](const proto::Endpoint& l, const proto::Endpoint& d,
                                                                     const proto::Bytes& b) {
      sent_.push_back({l, d, b});
    });
  }

  // Sends `b` from `src` and returns what came back (if anything).
  std::optional<Sent> Roundtrip(const proto::Bytes& b, const proto::Endpoint& src) {
    sent_.clear();
    server_->HandleFrame(b, src, local_, now_ms_);
    if (sent_.empty()) return std::nullopt;
    return sent_.back();
  }

  struct Connector {
    proto::KeyPair kp;
    proto::Nonce nonce;
    proto::Token token;
    proto::SessionKeys keys;
    proto::PublicKey server_pub;
    uint32_t session = 0;
    uint64_t seq = 0;
    proto::ReplayWindow rx;
  };

  proto::Bytes Hello(Connector& c) {
    c.kp = *proto::GenerateKeyPair();
    c.nonce = proto::RandomNonce();
    proto::Hello h;
    h.client_nonce = c.nonce;
    h.client_pubkey = c.kp.pub;
    return *proto::EncodeHello(h);
  }

  // Full registration; returns the REGISTER_RESULT.
  proto::RegisterResult Register(Connector& c, const proto::Endpoint& src,
                                 const std::vector<std::pair<std::string, std::string>>& kites) {
    auto ch = Roundtrip(Hello(c), src);
    EXPECT_TRUE(ch.has_value());
    auto challenge = proto::DecodeChallenge(ch->bytes);
    EXPECT_TRUE(challenge.ok()) << challenge.status();
    c.token = challenge->token;
    proto::Register r;
    r.timestamp = challenge->timestamp;
    r.token = challenge->token;
    r.client_nonce = c.nonce;
    r.client_pubkey = c.kp.pub;
    r.mtu = 1400;
    for (const auto& [name, secret] : kites) {
      r.claims.push_back({name, proto::ClientProof(secret, c.token, c.kp.pub, name)});
    }
    auto reply = Roundtrip(*proto::EncodeRegister(r), src);
    EXPECT_TRUE(reply.has_value());
    auto hdr = proto::PeekSession(reply->bytes);
    EXPECT_TRUE(hdr.ok());
    c.session = hdr->session_id;
    auto unverified = proto::DecodeMessageUnverified(reply->bytes);
    c.server_pub = std::get<proto::RegisterResult>(unverified->body).server_pubkey;
    c.keys = *proto::DeriveSessionKeys(c.kp.secret, c.server_pub, c.token, c.kp.pub, c.server_pub, c.session);
    auto msg = proto::OpenMessage(reply->bytes, c.keys.f2c);
    EXPECT_TRUE(msg.ok()) << msg.status();
    return std::get<proto::RegisterResult>(msg->body);
  }

  proto::Bytes Seal(Connector& c, proto::SessionBody body) {
    return *proto::SealMessage({c.session, ++c.seq, false, std::move(body)}, c.keys.c2f);
  }

  std::optional<proto::SessionMessage> Open(Connector& c, const std::optional<Sent>& s) {
    if (!s) return std::nullopt;
    auto m = proto::OpenMessage(s->bytes, c.keys.f2c);
    if (!m.ok()) return std::nullopt;
    return *m;
  }

  Rig rig_;
  std::unique_ptr<TunnelServer> server_;
  std::vector<Sent> sent_;
  proto::Endpoint local_ = Ep("127.0.0.1", 4500);
  uint64_t now_ms_ = 1'000'000;
};

TEST_F(TunnelTest, HelloIsStatelessAndNeverAmplifies) {
  Connector c;
  proto::Bytes hello = Hello(c);
  auto reply = Roundtrip(hello, Ep("198.51.100.7", 40000));
  ASSERT_TRUE(reply.has_value());
  EXPECT_LT(reply->bytes.size(), hello.size());
  EXPECT_EQ(reply->dst, Ep("198.51.100.7", 40000));
  EXPECT_TRUE(rig_.reg->sessions().empty());
  // A spoofed flood from many sources: bounded limiter, no session, replies never larger.
  for (int i = 0; i < 2000; i++) {
    proto::Endpoint src = Ep("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250), 1000 + i);
    auto r = Roundtrip(Hello(c), src);
    if (r) {
      EXPECT_LE(r->bytes.size(), hello.size());
    }
  }
  EXPECT_TRUE(rig_.reg->sessions().empty());
  EXPECT_TRUE(rig_.dp.sessions.empty());
  EXPECT_GT(server_->counters().drop_rate_limited, 0u);
  // A short HELLO (no padding) gets nothing at all.
  proto::Bytes shorty(hello.begin(), hello.begin() + 60);
  EXPECT_FALSE(Roundtrip(shorty, Ep("198.51.100.8", 1)).has_value());
}

TEST_F(TunnelTest, PerSourceRateLimit) {
  Connector c;
  proto::Endpoint src = Ep("198.51.100.7", 40000);
  int challenges = 0, limited = 0;
  for (int i = 0; i < 10; i++) {
    auto r = Roundtrip(Hello(c), src);
    ASSERT_TRUE(r.has_value());
    auto t = proto::PeekType(r->bytes);
    challenges += *t == KP_MSG_CHALLENGE;
    if (*t == KP_MSG_ERROR) {
      limited++;
      EXPECT_EQ(proto::DecodeError(r->bytes)->code, KP_ERR_RATE_LIMITED);
    }
  }
  EXPECT_EQ(challenges, 3);  // the burst
  EXPECT_EQ(limited, 7);
  now_ms_ += 2000;  // refills at 1/s
  EXPECT_EQ(*proto::PeekType(Roundtrip(Hello(c), src)->bytes), KP_MSG_CHALLENGE);
}

TEST_F(TunnelTest, RegisterWithPerKiteResults) {
  Connector c;
  proto::Endpoint src = Ep("198.51.100.7", 40000);
  auto rr = Register(c, src, {{"game.acme", "game-secret"}, {"voip.acme", "bad-secret"}, {"x.acme", "x-secret"}});
  ASSERT_EQ(rr.results.size(), 3u);
  EXPECT_EQ(rr.results[0].code, KP_RESULT_ACCEPTED);
  EXPECT_TRUE(proto::VerifyServerProof("game-secret", c.token, c.kp.pub, c.server_pub, c.session, rr.results[0]));
  EXPECT_EQ(rr.results[1].code, KP_RESULT_BAD_SECRET);
  EXPECT_EQ(rr.results[2].code, KP_RESULT_UNKNOWN_KITE);
  EXPECT_EQ(rr.mtu, 1400);
  ASSERT_EQ(rig_.dp.sessions.count(c.session), 1u);
  const kp_session& s = rig_.dp.sessions[c.session];
  EXPECT_EQ(ntohs(s.connector_port), 40000);
  EXPECT_EQ(ntohs(s.local_port), 4500);
  // A wrong token (other source) is STALE_TOKEN, 16 bytes, no session.
  Connector d;
  auto ch = proto::DecodeChallenge(Roundtrip(Hello(d), Ep("198.51.100.9", 1))->bytes);
  proto::Register r;
  r.timestamp = ch->timestamp;
  r.token = ch->token;
  r.client_nonce = d.nonce;
  r.client_pubkey = d.kp.pub;
  auto err = Roundtrip(*proto::EncodeRegister(r), Ep("198.51.100.10", 1));
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(proto::DecodeError(err->bytes)->code, KP_ERR_STALE_TOKEN);
  EXPECT_EQ(rig_.reg->sessions().size(), 1u);
}

TEST_F(TunnelTest, HeartbeatAddRemoveAndRebind) {
  Connector c;
  proto::Endpoint src = Ep("198.51.100.7", 40000);
  Register(c, src, {});
  auto ack = Open(c, Roundtrip(Seal(c, proto::Heartbeat{1234}), src));
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(std::get<proto::HeartbeatAck>(ack->body).timestamp_ms, 1234u);
  proto::KiteAdd add{{{"voip.acme", proto::ClientProof("voip-secret", c.token, c.kp.pub, "voip.acme")}}};
  auto res = Open(c, Roundtrip(Seal(c, add), src));
  ASSERT_TRUE(res.has_value());
  auto& kr = std::get<proto::KiteResultMsg>(res->body);
  ASSERT_EQ(kr.results.size(), 1u);
  EXPECT_EQ(kr.results[0].code, KP_RESULT_ACCEPTED);
  uint32_t kite_id = kr.results[0].kite_id;
  EXPECT_EQ(rig_.dp.kites[kite_id].sessions[0], c.session);
  // NAT rebinding: a fresh message from a new port moves the session.
  proto::Bytes old_frame = Seal(c, proto::Heartbeat{1});
  proto::Endpoint moved = Ep("198.51.100.7", 40999);
  auto rack = Open(c, Roundtrip(Seal(c, proto::Resume{KP_RESUME_NEW_SOCKET}), moved));
  ASSERT_TRUE(rack.has_value());
  EXPECT_EQ(std::get<proto::ResumeAck>(rack->body).observed, moved);
  EXPECT_EQ(ntohs(rig_.dp.sessions[c.session].connector_port), 40999);
  // An older (never delivered) frame from the old address does not move it back.
  Roundtrip(old_frame, src);
  EXPECT_EQ(ntohs(rig_.dp.sessions[c.session].connector_port), 40999);
  // A replay is dropped.
  proto::Bytes hb = Seal(c, proto::Heartbeat{2});
  EXPECT_TRUE(Roundtrip(hb, moved).has_value());
  EXPECT_FALSE(Roundtrip(hb, moved).has_value());
  EXPECT_GE(server_->counters().drop_replay, 1u);
  // Bad MAC is dropped.
  proto::Bytes forged = Seal(c, proto::Heartbeat{3});
  forged[forged.size() - 1] ^= 1;
  EXPECT_FALSE(Roundtrip(forged, moved).has_value());
  EXPECT_EQ(server_->counters().drop_bad_mac, 1u);
  proto::KiteRemove rm{{"voip.acme"}};
  auto rmr = Open(c, Roundtrip(Seal(c, rm), moved));
  EXPECT_EQ(std::get<proto::KiteResultMsg>(rmr->body).results[0].code, KP_RESULT_REMOVED);
  EXPECT_EQ(rig_.dp.kites[kite_id].n_sessions, 0);
}

TEST_F(TunnelTest, UnknownSessionNoticesDeadPeersAndClose) {
  Connector c;
  proto::Endpoint src = Ep("198.51.100.7", 40000);
  Register(c, src, {{"game.acme", "game-secret"}});
  Connector ghost = c;
  ghost.session ^= 0x10000;
  proto::Bytes frame = Seal(ghost, proto::Heartbeat{1});
  auto err = Roundtrip(frame, src);
  ASSERT_TRUE(err.has_value());
  EXPECT_LE(err->bytes.size(), frame.size());
  EXPECT_EQ(proto::DecodeError(err->bytes)->code, KP_ERR_UNKNOWN_SESSION);
  // A kick is told to the connector and resent until acked.
  ASSERT_TRUE(rig_.reg->Kick("game.acme").ok());
  sent_.clear();
  server_->Tick(now_ms_);
  auto notice = Open(c, sent_.empty() ? std::nullopt : std::optional<Sent>(sent_.back()));
  ASSERT_TRUE(notice.has_value());
  EXPECT_EQ(std::get<proto::Notice>(notice->body).kind, KP_NOTICE_KITE_KICKED);
  now_ms_ += 16'000;
  sent_.clear();
  server_->Tick(now_ms_);
  ASSERT_EQ(sent_.size(), 1u);  // resent
  auto again = Open(c, sent_.back());
  Roundtrip(Seal(c, proto::NoticeAck{again->seq}), src);
  EXPECT_EQ(server_->counters().notices_acked, 1u);
  // Silence longer than dead_after_s ends the session, data plane included.
  now_ms_ += 100'000;
  server_->Tick(now_ms_);
  EXPECT_TRUE(rig_.reg->sessions().empty());
  EXPECT_TRUE(rig_.dp.sessions.empty());
  EXPECT_EQ(server_->counters().dead_sessions, 1u);
}

TEST_F(TunnelTest, LameDuckRefusesAndAnnounces) {
  Connector c;
  proto::Endpoint src = Ep("198.51.100.7", 40000);
  Register(c, src, {});
  rig_.reg->SetFrontendState(KP_FE_LAME_DUCK);
  sent_.clear();
  server_->AnnounceLameDuck(30, now_ms_);
  auto n = Open(c, sent_.back());
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(std::get<proto::Notice>(n->body).kind, KP_NOTICE_LAME_DUCK);
  EXPECT_EQ(std::get<proto::Notice>(n->body).arg, 30u);
  Connector d;
  auto r = Roundtrip(Hello(d), Ep("198.51.100.9", 1));
  EXPECT_EQ(proto::DecodeError(r->bytes)->code, KP_ERR_LAME_DUCK);
  server_->CloseAll(KP_CLOSE_LAME_DUCK, "deadline");
  EXPECT_TRUE(rig_.reg->sessions().empty());
}


TEST_F(TunnelTest, GarbageAndMutationsNeverAmplifyOrCrash) {
  std::mt19937 rng(1234);
  Connector c;
  std::vector<proto::Bytes> seeds = {Hello(c)};
  {
    auto ch = proto::DecodeChallenge(Roundtrip(seeds[0], Ep("198.51.100.50", 1))->bytes);
    proto::Register r;
    r.timestamp = ch->timestamp;
    r.token = ch->token;
    r.client_nonce = c.nonce;
    r.client_pubkey = c.kp.pub;
    r.claims.push_back({"game.acme", proto::ClientProof("game-secret", ch->token, c.kp.pub, "game.acme")});
    seeds.push_back(*proto::EncodeRegister(r));
  }
  size_t sessions_before = rig_.reg->sessions().size();
  for (int i = 0; i < 20000; i++) {
    proto::Bytes f;
    if (i % 3 == 0) {
      f.resize(rng() % 200);
      for (auto& b : f) b = static_cast<uint8_t>(rng());
      if (f.size() > 3 && i % 2) {
        f[0] = KP_MAGIC;
        f[1] = KP_PROTO_VERSION;
      }
    } else {
      f = seeds[rng() % seeds.size()];
      for (int m = 0, n = 1 + rng() % 4; m < n; m++) f[rng() % f.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      if (rng() % 5 == 0) f.resize(rng() % (f.size() + 1));
    }
    proto::Endpoint src = Ep("203.0.113." + std::to_string(rng() % 250), static_cast<uint16_t>(1 + rng() % 60000));
    sent_.clear();
    server_->HandleFrame(f, src, local_, now_ms_);
    for (const Sent& out : sent_) EXPECT_LE(out.bytes.size(), f.size()) << "frame " << i;
  }
  EXPECT_EQ(rig_.reg->sessions().size(), sessions_before);  // mutated tokens never create state
}

}  // namespace
}  // namespace kp::cp
