// dpdk_vectors_test.cc - the golden vectors through the real DPDK process.
//
// For each vector set (tests/vectors/*.json, FORMAT.md), starts
// kiteplane-dataplane on a net_pcap port with one worker, loads the config,
// sessions, kites and credit through the control socket, feeds every case's
// input frame in order, and checks (a) the transmitted frames equal the
// expected outputs byte for byte and in order, (b) the global counters
// account for every frame with the expected verdict and drop reason.
//
// Cases whose outcome depends on per-core police state (quota or rate kites:
// preset police entries and the vector's fixed clock cannot be set through
// the control socket, and consecutive cases on one such kite would share
// state) are left out and counted; every other case runs.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "tests/dpdk/dp_harness.h"
#include "vector_loader.h"

namespace kp::dptest {
namespace {

using vectors::ExpectedVerdict;
using vectors::VectorSet;

std::string VectorsDir() {
  const char* d = std::getenv("KP_VECTORS_DIR");
  return d ? d : "tests/vectors";
}

// True when the case's result cannot depend on police state.
bool Stateless(const VectorSet& set, const vectors::VectorCase& c) {
  if (c.kite_id == 0) return true;
  for (const kp_kite& k : set.kites) {
    if (k.kite_id != c.kite_id) continue;
    return !(k.flags & KP_KITE_F_QUOTA) && k.rate_pps == 0 && k.rate_kbps == 0;
  }
  return true;
}

// `soft_rss`: run with the soft-RSS I/O core and two workers; frames may
// then leave in another order, so outputs are compared as multisets.
void RunSet(const std::string& file, bool soft_rss = false) {
  auto set = vectors::LoadVectorSet(VectorsDir() + "/" + file);
  ASSERT_TRUE(set.ok()) << set.status();
  std::vector<const vectors::VectorCase*> cases;
  for (const auto& c : set->cases) {
    if (Stateless(*set, c)) cases.push_back(&c);
  }
  std::printf("%s: %zu of %zu cases run (%zu need preset police state)\n", file.c_str(),
              cases.size(), set->cases.size(), set->cases.size() - cases.size());
  ASSERT_GT(cases.size(), set->cases.size() / 2);

  std::string why;
  auto dp = Dataplane::Start({}, &why, soft_rss ? "(0-3)@(0-1)" : "0,1");
  ASSERT_NE(dp, nullptr) << why;
  ASSERT_TRUE(dp->ctl()->SetConfig(set->config).ok());
  ASSERT_TRUE(dp->ctl()->UpsertSessions(set->sessions).ok());
  ASSERT_TRUE(dp->ctl()->UpsertKites(set->kites).ok());

  std::vector<Frame> expected_tx;
  std::map<kp_drop_reason, uint64_t> expected_drops;
  uint64_t expected_exc = 0;
  for (const auto* c : cases) {
    ASSERT_TRUE(dp->Feed(c->input));
    if (c->verdict == ExpectedVerdict::kTx) expected_tx.push_back(c->output);
    if (c->verdict == ExpectedVerdict::kDrop) expected_drops[c->reason]++;
    if (c->verdict == ExpectedVerdict::kException) expected_exc++;
  }
  dp->CloseInput();
  ASSERT_TRUE(dp->WaitRx(cases.size(), 30000)) << "not every frame was received";
  auto ctr = dp->ctl()->GlobalCounters();
  ASSERT_TRUE(ctr.ok());
  EXPECT_EQ(ctr->counters[KP_CTR_RX_PKTS], cases.size());
  EXPECT_EQ(ctr->counters[KP_CTR_TX_PKTS], expected_tx.size());
  EXPECT_EQ(ctr->counters[KP_CTR_EXCEPTION_PKTS], expected_exc);
  for (uint32_t r = 1; r < KP_DROP_MAX; r++) {
    const auto it = expected_drops.find(static_cast<kp_drop_reason>(r));
    EXPECT_EQ(ctr->drops[r], it == expected_drops.end() ? 0 : it->second) << "drop reason " << r;
  }
  std::vector<Frame> tx;
  EXPECT_EQ(dp->Stop(&tx), 0) << "data plane did not exit cleanly";
  ASSERT_EQ(tx.size(), expected_tx.size());
  if (soft_rss) {
    std::sort(tx.begin(), tx.end());
    std::sort(expected_tx.begin(), expected_tx.end());
    EXPECT_TRUE(tx == expected_tx) << "transmitted frames differ from the expected outputs";
    return;
  }
  size_t i = 0, tx_case = 0;
  for (const auto* c : cases) {
    if (c->verdict != ExpectedVerdict::kTx) continue;
    EXPECT_EQ(tx[i], expected_tx[i]) << "case " << c->name << " (tx #" << tx_case << ")";
    i++;
    tx_case++;
  }
}

TEST(DpdkVectors, Base) { RunSet("vectors.json"); }
TEST(DpdkVectors, Closed) { RunSet("vectors_closed.json"); }
TEST(DpdkVectors, Mirror) { RunSet("vectors_mirror.json"); }
TEST(DpdkVectors, NoNexthop) { RunSet("vectors_nonexthop.json"); }
TEST(DpdkVectors, BaseSoftRssTwoWorkers) { RunSet("vectors.json", true); }

}  // namespace
}  // namespace kp::dptest
