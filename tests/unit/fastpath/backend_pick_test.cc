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

struct Client {
  uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  explicit Client(uint32_t v4) {
    a[12] = static_cast<uint8_t>(v4 >> 24);
    a[13] = static_cast<uint8_t>(v4 >> 16);
    a[14] = static_cast<uint8_t>(v4 >> 8);
    a[15] = static_cast<uint8_t>(v4);
  }
};

TEST(BackendPick, PicksHighestScoreAndSkipsDead) {
  kp_kite k = KiteWith({11, 22, 33});
  FakeSessions live{{11, 22, 33}};
  kp_session s;
  Client cl(0xc0000201);
  const uint8_t* ch = cl.a;
  uint64_t h = ClientHash(ch);
  uint32_t best = 0;
  uint64_t best_score = 0;
  for (uint32_t id : {11u, 22u, 33u})
    if (SessionScore(h, id) > best_score) best_score = SessionScore(h, id), best = id;
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
    Client cl(0x0a000000 + c * 7919);
    const uint8_t* ch = cl.a;
    uint32_t before = PickSession(k, ch, all, &s);
    uint32_t after = PickSession(k, ch, without, &s);
    spread[before]++;
    if (before != 303) {
      EXPECT_EQ(after, before);
    }
  }
  for (auto& [id, n] : spread) EXPECT_GT(n, 700) << id;  // roughly even: 1000 each
}

TEST(BackendPick, LazyScoringEqualsBruteForce) {
  uint32_t x = 99;
  for (int round = 0; round < 2000; ++round) {
    kp_kite k{};
    FakeSessions live;
    k.n_sessions = static_cast<uint8_t>(1 + round % KP_MAX_KITE_SESSIONS);
    for (uint32_t i = 0; i < k.n_sessions; ++i) {
      x = x * 1103515245 + 12345;
      k.sessions[i] = (x >> 8) & 0xffffff;
      if ((x >> 3) % 3 != 0) live.live.insert(k.sessions[i]);
    }
    Client cl(x);
    uint64_t h = ClientHash(cl.a);
    uint32_t want = 0;
    uint64_t want_score = 0;
    for (uint32_t i = 0; i < k.n_sessions; ++i) {
      uint32_t id = k.sessions[i];
      if (id == 0 || !live.live.count(id)) continue;
      uint64_t sc = SessionScore(h, id);
      if (want == 0 || sc > want_score) want = id, want_score = sc;
    }
    kp_session s;
    ASSERT_EQ(PickSession(k, cl.a, live, &s), want) << round;
    if (want != 0) {
      ASSERT_EQ(s.session_id, want);
    }
  }
}

}  // namespace
}  // namespace kp::fp
