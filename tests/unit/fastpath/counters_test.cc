// counters_test.cc - the name tables generated from kp_counters.h: dense ids,
// unique non-empty metric names, reverse lookup, and the kite drop mapping.
#include "counters.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace kp::fp {
namespace {

template <typename Table>
void ExpectUniqueNames(const Table& t) {
  std::set<std::string> names;
  for (const auto& info : t) {
    EXPECT_FALSE(info.name.empty());
    EXPECT_FALSE(info.help.empty());
    EXPECT_TRUE(names.insert(std::string(info.name)).second) << info.name;
  }
}

TEST(Counters, TablesHaveOneEntryPerId) {
  EXPECT_EQ(kGlobalCounterInfo.size(), size_t{KP_CTR_MAX});
  EXPECT_EQ(kDropReasonInfo.size(), size_t{KP_DROP_MAX});
  EXPECT_EQ(kKiteCounterInfo.size(), size_t{KP_KCTR_MAX});
  ExpectUniqueNames(kGlobalCounterInfo);
  ExpectUniqueNames(kDropReasonInfo);
  ExpectUniqueNames(kKiteCounterInfo);
}

TEST(Counters, NamesMatchTheAbiList) {
  EXPECT_EQ(kDropReasonInfo[KP_DROP_NONE].name, "none");
  EXPECT_EQ(kDropReasonInfo[KP_DROP_TUN_BAD_COOKIE].name, "tunnel_bad_cookie");
  EXPECT_EQ(kGlobalCounterInfo[KP_CTR_DROP_PKTS].name, "dropped_packets");
  EXPECT_EQ(kKiteCounterInfo[KP_KCTR_DROP_QUOTA].name, "kite_dropped_quota");
  for (uint32_t r = 0; r < KP_DROP_MAX; ++r)
    EXPECT_EQ(DropReasonFromName(kDropReasonInfo[r].name), static_cast<kp_drop_reason>(r));
  EXPECT_EQ(DropReasonFromName("no_such_reason"), KP_DROP_MAX);
}

TEST(Counters, KiteDropMapping) {
  EXPECT_EQ(KiteDropCounter(KP_DROP_QUOTA_EXHAUSTED), KP_KCTR_DROP_QUOTA);
  EXPECT_EQ(KiteDropCounter(KP_DROP_RATE_PACKETS), KP_KCTR_DROP_RATE);
  EXPECT_EQ(KiteDropCounter(KP_DROP_RATE_BITS), KP_KCTR_DROP_RATE);
  EXPECT_EQ(KiteDropCounter(KP_DROP_KITE_DISABLED), KP_KCTR_DROP_STATE);
  EXPECT_EQ(KiteDropCounter(KP_DROP_KITE_NO_SESSION), KP_KCTR_DROP_STATE);
  EXPECT_EQ(KiteDropCounter(KP_DROP_LAME_DUCK_CLOSED), KP_KCTR_DROP_STATE);
  EXPECT_EQ(KiteDropCounter(KP_DROP_MTU_EXCEEDED), KP_KCTR_DROP_OTHER);
  EXPECT_EQ(KiteDropCounter(KP_DROP_TUN_BOGON_CLIENT), KP_KCTR_DROP_OTHER);
}

TEST(Counters, BumpAndRead) {
  CoreCounters c{};
  Bump(c.ctr[KP_CTR_RX_PKTS]);
  Bump(c.ctr[KP_CTR_RX_BYTES], 1500);
  EXPECT_EQ(ReadCounter(c.ctr[KP_CTR_RX_PKTS]), 1u);
  EXPECT_EQ(ReadCounter(c.ctr[KP_CTR_RX_BYTES]), 1500u);
  EXPECT_EQ(alignof(CoreCounters), 64u);
}

}  // namespace
}  // namespace kp::fp
