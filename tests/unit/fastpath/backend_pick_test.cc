// backend_pick_test.cc - rendezvous hashing: the exact formula, skipping of
// dead/stale sessions, stability when a session is added or removed, and
// spread over sessions.
#include "backend_pick.h"

#include <map>
#include <set>

#include "gtest/gtest.h"

namespace kp::fp {
namespace {

TEST(BackendPick, Fmix64KnownValues) {
  static_assert(Fmix64(0) == 0);
  // MurmurHash3 fmix64 of 1 (well-known constant).
  EXPECT_EQ(Fmix64(1), 0xb456bcfc34c2cb2cull);
}

TEST(BackendPick, FormulaMatchesTheSpec) {
  uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  uint64_t lo = 0, hi = 0;
  for (int i = 0; i < 8; ++i) lo |= uint64_t{a[i]} << (8 * i);
  for (int i = 0; i < 8; ++i) hi |= uint64_t{a[8 + i]} << (8 * i);
  uint64_t ch = Fmix64(lo ^ Fmix64(hi));
  EXPECT_EQ(ClientHash(a), ch);
  EXPECT_EQ(SessionScore(ch, 131073), Fmix64(ch ^ (uint64_t{131073} * 0x9e3779b97f4a7c15ull)));
}

struct FakeSessions {
  std::set<uint32_t> live;
  bool operator()(uint32_t id, kp_session* s) const {
    if (!live.count(id)) return false;
    *s = {};
    s->session_id = id;
    s->state = KP_SESSION_LIVE;
    return true;
  }
};

kp_kite KiteWith(std::initializer_list<uint32_t> ids) {
  kp_kite k{};
  for (uint32_t id : ids) k.sessions[k.n_sessions++] = id;
  return k;
}

uint64_t HashOf(uint32_t client) {
  uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  a[12] = static_cast<uint8_t>(client >> 24);
  a[13] = static_cast<uint8_t>(client >> 16);
  a[14] = static_cast<uint8_t>(client >> 8);
  a[15] = static_cast<uint8_t>(client);
  return ClientHash(a);
}

TEST(BackendPick, PicksHighestScoreAndSkipsDead) {
  kp_kite k = KiteWith({11, 22, 33});
  FakeSessions live{{11, 22, 33}};
  kp_session s;
  uint64_t ch = HashOf(0xc0000201);
  uint32_t best = 0;
  uint64_t best_score = 0;
  for (uint32_t id : {11u, 22u, 33u})
    if (SessionScore(ch, id) > best_score) best_score = SessionScore(ch, id), best = id;
  EXPECT_EQ(PickSession(k, ch, live, &s), best);
  EXPECT_EQ(s.session_id, best);
  live.live.erase(best);
  uint32_t second = PickSession(k, ch, live, &s);
  EXPECT_NE(second, best);
  EXPECT_NE(second, 0u);
  FakeSessions none{};
  EXPECT_EQ(PickSession(k, ch, none, &s), 0u);
  kp_kite empty{};
  EXPECT_EQ(PickSession(empty, ch, live, &s), 0u);
}

TEST(BackendPick, RemovingASessionMovesOnlyItsClients) {
  kp_kite k = KiteWith({101, 202, 303, 404});
  FakeSessions all{{101, 202, 303, 404}};
  FakeSessions without{{101, 202, 404}};
  kp_session s;
  std::map<uint32_t, int> spread;
  for (uint32_t c = 0; c < 4000; ++c) {
    uint64_t ch = HashOf(0x0a000000 + c * 7919);
    uint32_t before = PickSession(k, ch, all, &s);
    uint32_t after = PickSession(k, ch, without, &s);
    spread[before]++;
    if (before != 303) {
      EXPECT_EQ(after, before);
    }
  }
  for (auto& [id, n] : spread) EXPECT_GT(n, 700) << id;  // roughly even: 1000 each
}

}  // namespace
}  // namespace kp::fp
