// store_test.cc - durability of the registry: a child process registers
// kites and sessions and dies without closing anything (a simulated crash);
// the parent reopens the store, recovers the same kites, endpoints, sessions
// and session keys, and resyncs a data plane that still holds its tables
// without changing a single entry.
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "test_util.h"

namespace kp::cp {
namespace {
using testing::ClaimFor;
using testing::NewSession;
using testing::Rig;

TEST(Store, MetaRoundTrip) {
  auto st = Store::Open(":memory:");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(absl::IsNotFound((*st)->GetMeta("x").status()));
  ASSERT_TRUE((*st)->PutMeta("x", {1, 2, 3}).ok());
  EXPECT_EQ(*(*st)->GetMeta("x"), (std::vector<uint8_t>{1, 2, 3}));
}

TEST(Store, SurvivesCrashAndResyncsIdentically) {
  std::string db = ::testing::TempDir() + "/store_test_" + std::to_string(getpid()) + ".db";
  unlink(db.c_str());
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Rig rig(db);
    Session& a = **rig.reg->AddSession(NewSession(*rig.reg, "198.51.100.7", 40000));
    auto r = rig.reg->Claim(a, ClaimFor(a, "game.acme", "game-secret"), 1000);
    rig.reg->Claim(a, ClaimFor(a, "voip.acme", "voip-secret"), 1000);
    a.tx_seq = 7;
    a.rx.Accept(5);
    rig.reg->Touch(a, 1000, true);
    // Hand the data plane's view and the session to the parent, then die hard.
    uint32_t sid = a.session_id;
    (void)!write(fds[1], &sid, 4);
    (void)!write(fds[1], &a.keys, sizeof a.keys);
    kp_kite k = rig.dp.kites[r.kite_id];
    (void)!write(fds[1], &k, sizeof k);
    kp_session s = rig.dp.sessions[sid];
    (void)!write(fds[1], &s, sizeof s);
    _exit(r.code == KP_RESULT_ACCEPTED ? 0 : 1);
  }
  close(fds[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  uint32_t sid = 0;
  proto::SessionKeys keys;
  kp_kite kite{};
  kp_session ses{};
  ASSERT_EQ(read(fds[0], &sid, 4), 4);
  ASSERT_EQ(read(fds[0], &keys, sizeof keys), static_cast<ssize_t>(sizeof keys));
  ASSERT_EQ(read(fds[0], &kite, sizeof kite), static_cast<ssize_t>(sizeof kite));
  ASSERT_EQ(read(fds[0], &ses, sizeof ses), static_cast<ssize_t>(sizeof ses));
  close(fds[0]);

  // Restart: a data plane that kept forwarding headless still holds the entries.
  FakeDataplane dp;
  dp.kites[kite.kite_id] = kite;
  dp.sessions[sid] = ses;
  auto policy = testing::MakePolicy();
  auto store = Store::Open(db);
  ASSERT_TRUE(store.ok());
  Registry reg(store->get(), &dp, policy.get());
  ASSERT_TRUE(reg.Recover(2000).ok());
  ASSERT_EQ(reg.kites().size(), 2u);
  const Kite* k = reg.FindKite("game.acme");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->pub.port, 20002);
  EXPECT_EQ(k->sessions.count(sid), 1u);
  Session* s = reg.FindSession(sid);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->keys, keys);
  EXPECT_GT(s->tx_seq, 7u);  // skipped ahead, never reused
  EXPECT_FALSE(s->rx.Check(5));  // no replay of what was accepted before the crash
  EXPECT_TRUE(s->rx.Check(6));
  ASSERT_TRUE(reg.SyncDataplane().ok());
  EXPECT_EQ(dp.calls.front(), "resync_begin");
  EXPECT_EQ(std::memcmp(&dp.kites[kite.kite_id], &kite, sizeof kite), 0);  // rewritten identically
  EXPECT_EQ(std::memcmp(&dp.sessions[sid], &ses, sizeof ses), 0);
  EXPECT_EQ(dp.kites.size(), 2u);
  // A new kite does not reuse the recovered endpoint or id.
  Session& b = **reg.AddSession(NewSession(reg, "203.0.113.9", 50000));
  auto r = reg.Claim(b, ClaimFor(b, "shared.acme", "shared-secret"), 2000);
  EXPECT_EQ(r.code, KP_RESULT_ACCEPTED);
  for (const auto& [id, other] : reg.kites()) {
    if (other.name != "shared.acme") {
      EXPECT_FALSE(other.pub == r.endpoint);
    }
  }
  EXPECT_GT(r.kite_id, kite.kite_id);
  unlink(db.c_str());
}

TEST(Store, HeadlessThenDataplaneArrives) {
  FakeDataplane dp;
  dp.up = false;
  auto policy = testing::MakePolicy();
  auto store = Store::Open(":memory:");
  ASSERT_TRUE(store.ok());
  Registry reg(store->get(), &dp, policy.get());
  ASSERT_TRUE(reg.Recover(1000).ok());
  EXPECT_FALSE(reg.SyncDataplane().ok());
  Session& a = **reg.AddSession(NewSession(reg, "198.51.100.7", 40000));
  EXPECT_EQ(reg.Claim(a, ClaimFor(a, "game.acme", "game-secret"), 1000).code, KP_RESULT_ACCEPTED);
  dp.up = true;
  ASSERT_TRUE(reg.SyncDataplane().ok());
  EXPECT_EQ(dp.sessions.size(), 1u);
  EXPECT_EQ(dp.kites.size(), 1u);
  EXPECT_GT(dp.granted.begin()->second, 0u);
  // Data plane restart: resync reinstalls everything, credit starts again.
  dp.Restart();
  ASSERT_TRUE(reg.SyncDataplane().ok());
  EXPECT_EQ(dp.kites.size(), 1u);
  EXPECT_GT(dp.granted.begin()->second, 0u);
}

}  // namespace
}  // namespace kp::cp
