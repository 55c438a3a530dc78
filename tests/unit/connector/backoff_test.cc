// backoff_test.cc - unit tests of tools/kite-connector/backoff.h: doubling,
// the cap, jitter bounds and reset, with a deterministic random source.
#include "tools/kite-connector/backoff.h"

#include <gtest/gtest.h>

namespace kp::connector {
namespace {

TEST(BackoffTest, DoublesUpToTheCapWithoutJitter) {
  Backoff b(1000, 60000, 0.0, [] { return 0.5; });
  std::vector<uint32_t> got;
  for (int i = 0; i < 9; ++i) got.push_back(b.NextDelayMs());
  EXPECT_EQ(got, (std::vector<uint32_t>{1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000,
                                        60000}));
  b.Reset();
  EXPECT_EQ(b.NextDelayMs(), 1000u);
}

TEST(BackoffTest, JitterStaysWithinBounds) {
  double u = 0.0;
  Backoff low(1000, 60000, 0.25, [&] { return u; });
  EXPECT_EQ(low.NextDelayMs(), 750u);  // 1000 * 0.75
  u = 0.999999;
  EXPECT_EQ(low.NextDelayMs(), 2500u);  // 2000 * ~1.25
  Backoff capped(1000, 4000, 0.25, [] { return 0.999999; });
  for (int i = 0; i < 10; ++i) EXPECT_LE(capped.NextDelayMs(), 4000u);
}

TEST(BackoffTest, DefaultRandomSourceVaries) {
  Backoff b(1000, 1000, 0.25);
  uint32_t first = b.NextDelayMs();
  bool varied = false;
  for (int i = 0; i < 50 && !varied; ++i) {
    uint32_t d = b.NextDelayMs();
    EXPECT_GE(d, 750u);
    EXPECT_LE(d, 1000u);
    varied = d != first;
  }
  EXPECT_TRUE(varied);
}

TEST(BackoffTest, SurvivesManyAttempts) {
  Backoff b(10, 3600000, 0.0, [] { return 0.5; });
  uint32_t d = 0;
  for (int i = 0; i < 200; ++i) d = b.NextDelayMs();
  EXPECT_EQ(d, 3600000u);
}

}  // namespace
}  // namespace kp::connector
