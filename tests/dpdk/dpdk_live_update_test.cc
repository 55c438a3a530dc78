// dpdk_live_update_test.cc - table changes through the control socket while
// a stream of client datagrams flows through the DPDK process.
//
// A writer thread streams one client datagram (the golden vector
// enc_v4_v4_basic) many times into the net_pcap RX FIFO while the test
// cycles the kite through live -> disabled -> live without its session ->
// deleted -> live, through the control socket (deletes wait for an RCU grace
// period).  Afterwards every frame must be accounted for: received == sent,
// and sent == tx + kite_disabled + kite_no_session + exceptions (kite
// absent), with no drop of any other reason; every transmitted frame must
// equal the vector's expected output byte for byte (no torn table entry was
// ever used).  Then the control client goes away and traffic still flows
// (headless), and a new client can dump the tables back.
#include <atomic>
#include <cstdlib>
#include <thread>

#include "gtest/gtest.h"
#include "tests/dpdk/dp_harness.h"
#include "vector_loader.h"

namespace kp::dptest {
namespace {

constexpr uint64_t kMinFrames = 20000;
constexpr int kCycles = 40;

TEST(DpdkLiveUpdate, EveryPacketIsAccountedFor) {
  const char* dir = std::getenv("KP_VECTORS_DIR");
  auto set = vectors::LoadVectorSet(std::string(dir ? dir : "tests/vectors") + "/vectors.json");
  ASSERT_TRUE(set.ok()) << set.status();
  const vectors::VectorCase* vc = nullptr;
  for (const auto& c : set->cases) {
    if (c.name == "enc_v4_v4_basic") vc = &c;
  }
  ASSERT_NE(vc, nullptr);
  kp_kite kite{};
  for (const kp_kite& k : set->kites) {
    if (k.kite_id == vc->kite_id) kite = k;
  }
  ASSERT_EQ(kite.kite_id, vc->kite_id);
  ASSERT_GE(kite.n_sessions, 1);
  kp_session session{};
  for (const kp_session& s : set->sessions) {
    if (s.session_id == kite.sessions[0]) session = s;
  }
  ASSERT_EQ(session.session_id, kite.sessions[0]);

  std::string why;
  auto dp = Dataplane::Start({}, &why);
  ASSERT_NE(dp, nullptr) << why;
  ctl::Client* c = dp->ctl();
  ASSERT_TRUE(c->SetConfig(set->config).ok());
  ASSERT_TRUE(c->UpsertSessions({&session, 1}).ok());
  ASSERT_TRUE(c->UpsertKites({&kite, 1}).ok());

  // The writer keeps feeding until the table changes are done: net_pcap
  // reads the FIFO blockingly, so a starved worker would never report RCU
  // quiescence and a delete would wait for it.
  std::atomic<bool> feed_ok{true}, changes_done{false};
  uint64_t sent = 0;
  std::thread writer([&] {
    while (feed_ok && (sent < kMinFrames || !changes_done.load())) {
      feed_ok = dp->Feed(vc->input);
      sent++;
    }
  });
  kp_kite disabled = kite;
  disabled.state = KP_KITE_DISABLED;
  for (int i = 0; i < kCycles; i++) {
    ASSERT_TRUE(c->UpsertKites({&disabled, 1}).ok());
    ASSERT_TRUE(c->UpsertKites({&kite, 1}).ok());
    ASSERT_TRUE(c->DeleteSessions({&session.session_id, 1}).ok());
    ASSERT_TRUE(c->UpsertSessions({&session, 1}).ok());
    ASSERT_TRUE(c->DeleteKites({&kite.kite_id, 1}).ok());
    ASSERT_TRUE(c->UpsertKites({&kite, 1}).ok());
  }
  changes_done = true;
  writer.join();
  ASSERT_TRUE(feed_ok);

  // Headless: the control client goes away; the last tables (kite live)
  // keep forwarding.  (net_pcap holds a partial burst until more input or
  // end of file, so counts are exact only after the input is closed.)
  auto snap = c->GlobalCounters();
  ASSERT_TRUE(snap.ok());
  dp->Disconnect();
  constexpr uint64_t kHeadless = 1000;
  for (uint64_t i = 0; i < kHeadless; i++) ASSERT_TRUE(dp->Feed(vc->input));
  dp->CloseInput();
  const uint64_t total = sent + kHeadless;
  ASSERT_TRUE(dp->Reconnect());
  c = dp->ctl();
  EXPECT_NE(c->hello().headless_since_s, 0u) << "data plane did not notice it was headless";
  const bool all_rx = dp->WaitRx(total, 60000);
  auto ctr = c->GlobalCounters();
  ASSERT_TRUE(ctr.ok());
  ASSERT_TRUE(all_rx) << "received " << ctr->counters[KP_CTR_RX_PKTS] << " of " << total;
  const uint64_t tx = ctr->counters[KP_CTR_TX_PKTS];
  const uint64_t disabled_drops = ctr->drops[KP_DROP_KITE_DISABLED];
  const uint64_t no_session = ctr->drops[KP_DROP_KITE_NO_SESSION];
  const uint64_t exc = ctr->counters[KP_CTR_EXCEPTION_PKTS];
  std::printf("sent %lu: tx %lu, kite_disabled %lu, kite_no_session %lu, exception %lu\n",
              static_cast<unsigned long>(total), static_cast<unsigned long>(tx),
              static_cast<unsigned long>(disabled_drops), static_cast<unsigned long>(no_session),
              static_cast<unsigned long>(exc));
  EXPECT_EQ(ctr->counters[KP_CTR_RX_PKTS], total);
  EXPECT_EQ(tx + disabled_drops + no_session + exc, total);
  EXPECT_EQ(ctr->counters[KP_CTR_DROP_PKTS], disabled_drops + no_session)
      << "drops of an unexpected reason";
  EXPECT_GE(tx - snap->counters[KP_CTR_TX_PKTS], kHeadless) << "headless forwarding stopped";

  uint32_t kites_seen = 0, sessions_seen = 0;
  ASSERT_TRUE(c->ForEachKite(0, [&](const kp_kite& k) {
                 kites_seen++;
                 EXPECT_EQ(k.kite_id, kite.kite_id);
               }).ok());
  ASSERT_TRUE(c->ForEachSession(0, [&](const kp_session& s) {
                 sessions_seen++;
                 EXPECT_EQ(s.session_id, session.session_id);
               }).ok());
  EXPECT_EQ(kites_seen, 1u);
  EXPECT_EQ(sessions_seen, 1u);

  std::vector<Frame> tx_frames;
  EXPECT_EQ(dp->Stop(&tx_frames), 0);
  ASSERT_EQ(tx_frames.size(), tx);
  size_t mismatched = 0;
  for (const Frame& f : tx_frames) mismatched += f != vc->output;
  EXPECT_EQ(mismatched, 0u) << "transmitted frames that differ from the vector's output";
}

}  // namespace
}  // namespace kp::dptest
