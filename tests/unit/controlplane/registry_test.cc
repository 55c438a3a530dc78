// registry_test.cc - unit tests of the registry's claim logic: per-kite
// results (accepted, bad secret, unknown, refused by policy with its reason,
// name taken naming the holder session and connector), kites added and
// removed in a live session, kicks, session end, and what the data plane
// is told.
#include <arpa/inet.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace kp::cp {
namespace {
using testing::ClaimFor;
using testing::NewSession;
using testing::Rig;
using ::testing::HasSubstr;

TEST(Registry, PerKiteResultsInOneRegistration) {
  Rig rig;
  auto s = rig.reg->AddSession(NewSession(*rig.reg, "198.51.100.7", 40000));
  ASSERT_TRUE(s.ok());
  Session& ses = **s;
  auto ok = rig.reg->Claim(ses, ClaimFor(ses, "game.acme", "game-secret"), 1000);
  auto bad = rig.reg->Claim(ses, ClaimFor(ses, "voip.acme", "wrong-secret"), 1000);
  auto unknown = rig.reg->Claim(ses, ClaimFor(ses, "nobody.acme", "whatever-secret"), 1000);
  auto refused = rig.reg->Claim(ses, ClaimFor(ses, "banned.acme", "banned-secret"), 1000);
  auto badname = rig.reg->Claim(ses, ClaimFor(ses, "Bad..Name", "x"), 1000);
  auto dyn = rig.reg->Claim(ses, ClaimFor(ses, "dyn.acme", "dyn-secret"), 1000);
  EXPECT_EQ(ok.code, KP_RESULT_ACCEPTED);
  EXPECT_EQ(ok.endpoint.port, 20002);  // the policy's preferred port
  EXPECT_NE(ok.kite_id, 0u);
  EXPECT_TRUE(proto::VerifyServerProof("game-secret", ses.token, ses.client_pubkey, ses.server_pubkey,
                                       ses.session_id, ok));
  EXPECT_EQ(bad.code, KP_RESULT_BAD_SECRET);
  EXPECT_EQ(unknown.code, KP_RESULT_UNKNOWN_KITE);
  EXPECT_EQ(refused.code, KP_RESULT_REFUSED_BY_POLICY);
  EXPECT_EQ(refused.text, "banned for abuse");
  EXPECT_EQ(badname.code, KP_RESULT_BAD_REQUEST);
  EXPECT_EQ(dyn.code, KP_RESULT_ACCEPTED);
  EXPECT_NE(dyn.endpoint.port, 20002);
  // The data plane holds the session and both accepted kites, bound to it.
  ASSERT_EQ(rig.dp.sessions.count(ses.session_id), 1u);
  ASSERT_EQ(rig.dp.kites.count(ok.kite_id), 1u);
  const kp_kite& k = rig.dp.kites[ok.kite_id];
  EXPECT_EQ(k.n_sessions, 1);
  EXPECT_EQ(k.sessions[0], ses.session_id);
  EXPECT_EQ(k.state, KP_KITE_LIVE);
  EXPECT_EQ(k.flags & KP_KITE_F_QUOTA, KP_KITE_F_QUOTA);  // account quota applies
  EXPECT_EQ(ntohs(k.key.port), 20002);
  EXPECT_EQ(rig.dp.kites.size(), 2u);
  EXPECT_GT(rig.dp.granted[ok.kite_id], 0u);  // initial credit lease
}

TEST(Registry, NameTakenNamesTheHolder) {
  Rig rig;
  Session& a = **rig.reg->AddSession(NewSession(*rig.reg, "198.51.100.7", 40000));
  Session& b = **rig.reg->AddSession(NewSession(*rig.reg, "203.0.113.9", 50000));
  ASSERT_EQ(rig.reg->Claim(a, ClaimFor(a, "game.acme", "game-secret"), 1000).code, KP_RESULT_ACCEPTED);
  auto taken = rig.reg->Claim(b, ClaimFor(b, "game.acme", "game-secret"), 1000);
  EXPECT_EQ(taken.code, KP_RESULT_NAME_TAKEN);
  EXPECT_EQ(taken.holder_session, a.session_id);
  EXPECT_EQ(taken.endpoint, a.connector);
  EXPECT_THAT(taken.text, HasSubstr(std::to_string(a.session_id)));
  EXPECT_THAT(taken.text, HasSubstr("198.51.100.7:40000"));
  // A wrong secret is BAD_SECRET, never NAME_TAKEN (the holder is not revealed).
  auto wrong = rig.reg->Claim(b, ClaimFor(b, "game.acme", "nope-nope"), 1000);
  EXPECT_EQ(wrong.code, KP_RESULT_BAD_SECRET);
  EXPECT_EQ(wrong.holder_session, 0u);
  // A kite allowing two sessions is served by both.
  EXPECT_EQ(rig.reg->Claim(a, ClaimFor(a, "shared.acme", "shared-secret"), 1000).code, KP_RESULT_ACCEPTED);
  auto second = rig.reg->Claim(b, ClaimFor(b, "shared.acme", "shared-secret"), 1000);
  EXPECT_EQ(second.code, KP_RESULT_ACCEPTED);
  EXPECT_EQ(rig.dp.kites[second.kite_id].n_sessions, 2);
}

TEST(Registry, AddRemoveKickAndEnd) {
  Rig rig;
  Session& a = **rig.reg->AddSession(NewSession(*rig.reg, "198.51.100.7", 40000));
  auto r1 = rig.reg->Claim(a, ClaimFor(a, "voip.acme", "voip-secret"), 1000);
  auto again = rig.reg->Claim(a, ClaimFor(a, "voip.acme", "voip-secret"), 1000);
  EXPECT_EQ(again.code, KP_RESULT_ACCEPTED);  // idempotent re-add
  EXPECT_EQ(again.kite_id, r1.kite_id);
  EXPECT_EQ(again.endpoint, r1.endpoint);
  auto rm = rig.reg->Remove(a, "voip.acme");
  EXPECT_EQ(rm.code, KP_RESULT_REMOVED);
  EXPECT_EQ(rig.dp.kites[r1.kite_id].n_sessions, 0);
  EXPECT_EQ(rig.reg->Remove(a, "voip.acme").code, KP_RESULT_UNKNOWN_KITE);
  // The kite keeps its public endpoint for life.
  auto back = rig.reg->Claim(a, ClaimFor(a, "voip.acme", "voip-secret"), 1000);
  EXPECT_EQ(back.endpoint, r1.endpoint);
  ASSERT_TRUE(rig.reg->Kick("voip.acme").ok());
  ASSERT_EQ(rig.reg->notices().size(), 1u);
  EXPECT_EQ(rig.reg->notices().front().notice.kind, KP_NOTICE_KITE_KICKED);
  EXPECT_EQ(rig.dp.kites[r1.kite_id].n_sessions, 0);
  EXPECT_TRUE(absl::IsNotFound(rig.reg->Kick("nope.acme")));
  uint32_t sid = a.session_id;
  rig.reg->Claim(a, ClaimFor(a, "game.acme", "game-secret"), 1000);
  rig.reg->EndSession(sid, "test");
  EXPECT_EQ(rig.dp.sessions.count(sid), 0u);
  EXPECT_EQ(rig.reg->FindSession(sid), nullptr);
  for (const auto& [id, k] : rig.dp.kites) EXPECT_EQ(k.n_sessions, 0) << id;
}

TEST(Registry, PortPoolExhaustionIsNoPort) {
  Rig rig(":memory:", "kite { name = 'k1.acme', secret = 'k1-secret' }\nkite { name = 'k2.acme', secret = 'k2-secret' }\n"
              "kite { name = 'k3.acme', secret = 'k3-secret' }\n");
  Session& a = **rig.reg->AddSession(NewSession(*rig.reg, "198.51.100.7", 40000));
  int accepted = 0, no_port = 0;
  for (const char* n : {"game.acme", "voip.acme", "k1.acme", "k2.acme", "k3.acme"}) {
    std::string secret = std::string(n).substr(0, std::string(n).find('.')) + "-secret";
    auto r = rig.reg->Claim(a, ClaimFor(a, n, secret), 1000);
    accepted += r.code == KP_RESULT_ACCEPTED;
    no_port += r.code == KP_RESULT_NO_PORT;
  }
  EXPECT_EQ(accepted, 4);  // pool 20000-20003
  EXPECT_EQ(no_port, 1);
}

TEST(Registry, DrainingRefusesClaims) {
  Rig rig;
  Session& a = **rig.reg->AddSession(NewSession(*rig.reg, "198.51.100.7", 40000));
  rig.reg->SetFrontendState(KP_FE_LAME_DUCK);
  EXPECT_EQ(rig.dp.state, KP_FE_LAME_DUCK);
  EXPECT_EQ(rig.reg->Claim(a, ClaimFor(a, "game.acme", "game-secret"), 1000).code, KP_RESULT_LAME_DUCK);
}

TEST(Registry, ConfigEntryCarriesAddressesPortsAndKeys) {
  Rig rig;
  kp_config c = rig.dp.config;
  EXPECT_EQ(c.n_tunnel_ports, 2);
  EXPECT_EQ(ntohs(c.tunnel_ports[0]), 4500);
  EXPECT_EQ(c.n_own4, 1);
  EXPECT_EQ(c.own4[0][0], 127);
  uint8_t epoch = c.key_epoch;
  uint64_t k0 = c.cookie_keys[0][0] | c.cookie_keys[1][0];
  EXPECT_NE(k0, 0u);
  rig.reg->MaybeRotateKeys(1001, true);
  EXPECT_EQ(rig.dp.config.key_epoch, static_cast<uint8_t>(epoch + 1));
  // The previous epoch's key is kept (cookies of both epochs verify).
  EXPECT_EQ(rig.dp.config.cookie_keys[epoch & 1][0], c.cookie_keys[epoch & 1][0]);
}

}  // namespace
}  // namespace kp::cp

namespace kp::cp {
namespace {

TEST(Registry, QuotaExhaustionDisablesOnlyThatKite) {
  // acme's quota is 100,000 bytes per day; game.acme and voip.acme share the session.
  Rig rig(":memory:", "function on_session_down(ev) downs = (downs or 0) + 1 end\n");
  Session& a = **rig.reg->AddSession(NewSession(*rig.reg, "198.51.100.7", 40000));
  uint32_t game = rig.reg->Claim(a, ClaimFor(a, "game.acme", "game-secret"), 1000).kite_id;
  uint32_t voip = rig.reg->Claim(a, ClaimFor(a, "voip.acme", "voip-secret"), 1000).kite_id;
  rig.dp.used[game] = 50'000;
  rig.reg->QuotaTick(1001);
  EXPECT_EQ(rig.dp.kites[game].state, KP_KITE_LIVE);
  uint64_t granted = rig.dp.granted[game];
  EXPECT_GT(granted, 0u);
  EXPECT_LE(granted, 100'000u / 2 + rig.policy->config().limits.lease_bytes);  // per-core cap
  rig.dp.used[game] = 100'500;
  rig.reg->QuotaTick(1002);
  EXPECT_EQ(rig.dp.kites[game].state, KP_KITE_DISABLED);
  EXPECT_EQ(rig.dp.kites[voip].state, KP_KITE_LIVE);  // only the kite pays
  EXPECT_EQ(rig.dp.sessions.count(a.session_id), 1u);  // the tunnel stays up
  ASSERT_FALSE(rig.reg->notices().empty());
  const PendingNotice& n = rig.reg->notices().back();
  EXPECT_EQ(n.notice.kind, KP_NOTICE_KITE_DISABLED);
  EXPECT_EQ(n.notice.kite_id, game);
  EXPECT_EQ(n.notice.arg, static_cast<uint32_t>(KP_RESULT_OUT_OF_QUOTA));
  EXPECT_EQ(rig.reg->counters().quota_exhausted, 1u);
  // Re-registering while out of quota says so.
  EXPECT_EQ(rig.reg->Claim(a, ClaimFor(a, "game.acme", "game-secret"), 1003).code, KP_RESULT_OUT_OF_QUOTA);
  // The next period re-enables it and tells the connector.
  rig.reg->notices().clear();
  rig.reg->QuotaTick(1000 + 86400 + 1);
  EXPECT_EQ(rig.dp.kites[game].state, KP_KITE_LIVE);
  ASSERT_FALSE(rig.reg->notices().empty());
  EXPECT_EQ(rig.reg->notices().back().notice.kind, KP_NOTICE_KITE_ENABLED);
  // on_session_down runs when the session ends.
  rig.reg->EndSession(a.session_id, "test");
  EXPECT_EQ(rig.policy->stats(Hook::kOnSessionDown).calls, 1u);
}

TEST(Registry, QuotaHookCanExtend) {
  Rig rig(":memory:", "function on_quota_exhausted(ev) return { extra_bytes = 50000 } end\n");
  Session& a = **rig.reg->AddSession(NewSession(*rig.reg, "198.51.100.7", 40000));
  uint32_t game = rig.reg->Claim(a, ClaimFor(a, "game.acme", "game-secret"), 1000).kite_id;
  rig.dp.used[game] = 100'500;
  rig.reg->QuotaTick(1001);
  EXPECT_EQ(rig.dp.kites[game].state, KP_KITE_LIVE);
  EXPECT_EQ(rig.policy->stats(Hook::kOnQuotaExhausted).calls, 1u);
  rig.dp.used[game] = 150'500;
  rig.reg->QuotaTick(1002);  // the hook extends once more (it always does here)
  EXPECT_EQ(rig.reg->FindKite("game.acme")->extra_bytes, 100'000u);
}

}  // namespace
}  // namespace kp::cp
