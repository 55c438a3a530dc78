// vectors_test.cc - runs the C++ fast-path core over every golden vector set
// (tests/vectors/*.json, generated from docs/forwarding.md by scapy) and
// checks verdict, drop reason, kite id, output bytes and the counters each
// case moves.  The vector directory comes from meson (KP_VECTORS_DIR).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline.h"
#include "tables.h"
#include "vector_loader.h"

namespace kp::fp {
namespace {

constexpr uint32_t kHeadroom = 128;

std::string VectorsDir() {
  const char* d = std::getenv("KP_VECTORS_DIR");
  return d ? d : "tests/vectors";
}

class VectorsTest : public ::testing::TestWithParam<std::string> {};

void Prepare(Tables& t, const vectors::VectorSet& set) {
  t.ResetPerCoreState();
  for (const auto& c : set.credit)
    for (uint32_t core = 0; core < set.n_workers; ++core) t.SetCredit(core, c.kite_id, c.granted_bytes);
  for (const auto& p : set.police)
    for (uint32_t core = 0; core < set.n_workers; ++core) t.PoliceOf(core)[p.kite_id] = p.police;
}

TEST_P(VectorsTest, EveryCaseMatches) {
  std::string path = VectorsDir() + "/" + GetParam();
  auto loaded = vectors::LoadVectorSet(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const vectors::VectorSet& set = *loaded;
  ASSERT_FALSE(set.cases.empty());
  auto tables = Tables::Create({.max_kites = 4096, .max_sessions = 4096, .n_workers = set.n_workers});
  ASSERT_NE(tables, nullptr);
  ASSERT_EQ(tables->SetConfig(set.config), 0);
  ASSERT_EQ(tables->UpsertSessions(set.sessions), 0);
  ASSERT_EQ(tables->UpsertKites(set.kites), 0);
  WorkerContext ctx;
  InitWorkerContext(ctx, *tables, 0);
  size_t tx_cases = 0;
  for (const auto& c : set.cases) {
    tx_cases += c.verdict == vectors::ExpectedVerdict::kTx;
    SCOPED_TRACE(c.name + ": " + c.description);
    Prepare(*tables, set);
    std::vector<uint8_t> buf(kHeadroom + c.input.size());
    std::copy(c.input.begin(), c.input.end(), buf.begin() + kHeadroom);
    PacketBuf pkt{buf.data(), static_cast<uint32_t>(buf.size()), kHeadroom, static_cast<uint32_t>(c.input.size())};
    Outcome out{};
    uint32_t tx = ProcessBurst(ctx, {&pkt, 1}, {&out, 1}, set.now_ns);
    EXPECT_EQ(static_cast<int>(out.verdict), static_cast<int>(c.verdict));
    EXPECT_EQ(DropReasonName(out.reason), DropReasonName(c.reason));
    EXPECT_EQ(out.kite_id, c.kite_id);
    EXPECT_EQ(tx, c.verdict == vectors::ExpectedVerdict::kTx ? 1u : 0u);
    kp_ctl_global_counters g;
    tables->GlobalCounters(&g);
    EXPECT_EQ(g.counters[KP_CTR_RX_PKTS], 1u);
    if (c.verdict == vectors::ExpectedVerdict::kTx) {
      std::vector<uint8_t> got(pkt.data(), pkt.data() + pkt.len);
      EXPECT_EQ(vectors::HexEncode(got), vectors::HexEncode(c.output));
      EXPECT_EQ(g.counters[KP_CTR_TX_PKTS], 1u);
      EXPECT_EQ(g.counters[KP_CTR_TX_BYTES], c.output.size());
    } else {
      // DROP and EXCEPTION leave the frame untouched.
      EXPECT_EQ(pkt.off, kHeadroom);
      EXPECT_TRUE(std::equal(c.input.begin(), c.input.end(), buf.begin() + kHeadroom));
    }
    if (c.verdict == vectors::ExpectedVerdict::kDrop) {
      EXPECT_EQ(g.counters[KP_CTR_DROP_PKTS], 1u);
      EXPECT_EQ(g.drops[c.reason], 1u);
    }
    if (c.verdict == vectors::ExpectedVerdict::kException) {
      EXPECT_EQ(g.counters[KP_CTR_EXCEPTION_PKTS], 1u);
    }
    if (c.kite_id != 0) {
      kp_ctl_kite_stats ks;
      ASSERT_TRUE(tables->KiteStats(c.kite_id, &ks));
      uint64_t moved = 0;
      for (uint64_t v : ks.v) moved += v != 0;
      EXPECT_GE(moved, 1u);
      if (c.verdict == vectors::ExpectedVerdict::kDrop) {
        EXPECT_EQ(ks.v[KiteDropCounter(c.reason)], 1u);
      }
    }
  }
  std::printf("%s: %zu cases (%zu tx) checked\n", GetParam().c_str(), set.cases.size(), tx_cases);
}

INSTANTIATE_TEST_SUITE_P(AllSets, VectorsTest,
                         ::testing::Values("vectors.json", "vectors_closed.json", "vectors_mirror.json",
                                           "vectors_nonexthop.json", "vectors_2workers.json"),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.find('.'));
                           return n;
                         });

}  // namespace
}  // namespace kp::fp
