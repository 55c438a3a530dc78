// dpdk_vectors_test.cc - the golden vectors through the real DPDK process.
//
// For each vector set (tests/vectors/*.json, FORMAT.md), starts
// kiteplane-dataplane on a net_pcap port with one worker, loads the config,
// sessions, kites and credit through the control socket, feeds every case's
// input frame in order, and checks (a) the transmitted frames equal the
// expected outputs byte for byte and in order, (b) the global counters
// account for every frame with the expected verdict and drop reason.
//
// Cases whose outcome depends on per-core police state (quota or rate
// kites) run apart: the vector's preset police entries and fixed clock go in
// through the data plane's test-only --test-police and --test-clock-ns, the
// preset credit through CREDIT_GRANT, and since a case changes its kite's
// state, those cases run in rounds (one data plane each) with at most one
// case per kite in a round, as the unit test resets the state before every
// case.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
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

// Runs `cases` of `set` through one data plane started with `extra_args`.
// `preset`: grant the set's credit.  `soft_rss`: run with the soft-RSS I/O
// core and two workers; frames may then leave in another order, so outputs
// are compared as multisets.
void RunCases(const VectorSet& set, const std::vector<const vectors::VectorCase*>& cases,
              const std::vector<std::string>& extra_args, bool preset, bool soft_rss) {
  std::string why;
  auto dp = Dataplane::Start(extra_args, &why, soft_rss ? "(0-3)@(0-1)" : "0,1");
  ASSERT_NE(dp, nullptr) << why;
  ASSERT_TRUE(dp->ctl()->SetConfig(set.config).ok());
  ASSERT_TRUE(dp->ctl()->UpsertSessions(set.sessions).ok());
  ASSERT_TRUE(dp->ctl()->UpsertKites(set.kites).ok());
  if (preset) {
    std::vector<kp_ctl_credit> grants;
    for (const auto& c : set.credit) {
      if (c.granted_bytes != 0) grants.push_back(kp_ctl_credit{c.kite_id, 0, c.granted_bytes});
    }
    if (!grants.empty()) {
      ASSERT_TRUE(dp->ctl()->GrantCredit(grants).ok());
    }
  }

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
  size_t i = 0;
  for (const auto* c : cases) {
    if (c->verdict != ExpectedVerdict::kTx) continue;
    EXPECT_EQ(tx[i], expected_tx[i]) << "case " << c->name << " (tx #" << i << ")";
    i++;
  }
}

// The cases that cannot depend on police state, in one data plane.
void RunSet(const std::string& file, bool soft_rss = false) {
  auto set = vectors::LoadVectorSet(VectorsDir() + "/" + file);
  ASSERT_TRUE(set.ok()) << set.status();
  std::vector<const vectors::VectorCase*> cases;
  for (const auto& c : set->cases) {
    if (Stateless(*set, c)) cases.push_back(&c);
  }
  std::printf("%s: %zu of %zu cases run (%zu need preset police state: see RunPoliced)\n",
              file.c_str(), cases.size(), set->cases.size(), set->cases.size() - cases.size());
  ASSERT_GT(cases.size(), set->cases.size() / 2);
  RunCases(*set, cases, {}, false, soft_rss);
}

// The cases that depend on police state: the set's preset police state and
// credit, its fixed clock, and rounds of at most one case per kite.
void RunPoliced(const std::string& file) {
  auto set = vectors::LoadVectorSet(VectorsDir() + "/" + file);
  ASSERT_TRUE(set.ok()) << set.status();
  std::vector<std::vector<const vectors::VectorCase*>> rounds;
  size_t n = 0;
  for (const auto& c : set->cases) {
    if (Stateless(*set, c)) continue;
    n++;
    auto r = std::find_if(rounds.begin(), rounds.end(), [&](const auto& round) {
      return std::none_of(round.begin(), round.end(),
                          [&](const auto* o) { return o->kite_id == c.kite_id; });
    });
    if (r == rounds.end()) r = rounds.emplace(rounds.end());
    r->push_back(&c);
  }
  std::string police;
  for (const auto& p : set->police) {
    absl::StrAppend(&police, police.empty() ? "" : ",", p.kite_id, ":", p.police.last_ns, ":",
                    p.police.pkt_tokens, ":", p.police.bit_tokens, ":", p.police.used_bytes);
  }
  std::vector<std::string> args = {"--test-clock-ns", std::to_string(set->now_ns)};
  if (!police.empty()) {
    args.push_back("--test-police");
    args.push_back(police);
  }
  std::printf("%s: %zu police-dependent cases in %zu round(s)\n", file.c_str(), n, rounds.size());
  ASSERT_GT(n, 0u);
  for (size_t i = 0; i < rounds.size(); i++) {
    SCOPED_TRACE("round " + std::to_string(i));
    RunCases(*set, rounds[i], args, true, false);
  }
}

TEST(DpdkVectors, Base) { RunSet("vectors.json"); }
TEST(DpdkVectors, Closed) { RunSet("vectors_closed.json"); }
TEST(DpdkVectors, Mirror) { RunSet("vectors_mirror.json"); }
TEST(DpdkVectors, NoNexthop) { RunSet("vectors_nonexthop.json"); }
TEST(DpdkVectors, BaseSoftRssTwoWorkers) { RunSet("vectors.json", true); }
// Only the base set has quota and rate kites (14 cases).
TEST(DpdkVectors, BasePoliced) { RunPoliced("vectors.json"); }

}  // namespace
}  // namespace kp::dptest
