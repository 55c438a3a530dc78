// ctl_dataplane_test.cc - the control plane's real data-plane client
// (MakeCtlDataplane over kp::ctl::Client) against the real control-socket
// server (kp::ctl::Server) with an in-memory table backend: a registration
// programs the session and kite; a control-plane restart resyncs
// (RESYNC_BEGIN .. RESYNC_END) and leaves every entry byte-identical; a
// data-plane restart is detected and everything is reinstalled.
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "dataplane/ctl/server.h"
#include "test_util.h"

namespace kp::cp {
namespace {
using testing::ClaimFor;
using testing::NewSession;

class MemBackend : public ctl::TableBackend {
 public:
  std::mutex mu;
  std::map<uint32_t, kp_kite> kites;
  std::map<uint32_t, kp_session> sessions;
  std::map<uint32_t, uint64_t> granted;
  kp_config config{};
  kp_frontend_state state = KP_FE_SERVING;
  uint64_t kite_writes = 0;

  kp_dp_mode Mode() const override { return KP_DP_XDP; }
  uint32_t NumWorkers() const override { return 2; }
  uint32_t MaxKites() const override { return KP_MAX_KITES; }
  uint32_t MaxSessions() const override { return KP_MAX_SESSIONS; }
  absl::Status SetConfig(const kp_config& c) override {
    std::lock_guard<std::mutex> l(mu);
    config = c;
    return absl::OkStatus();
  }
  absl::StatusOr<kp_config> GetConfig() const override { return config; }
  absl::Status UpsertKites(std::span<const kp_kite> ks) override {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& k : ks) kites[k.kite_id] = k;
    kite_writes += ks.size();
    return absl::OkStatus();
  }
  absl::Status DeleteKites(std::span<const uint32_t> ids) override {
    std::lock_guard<std::mutex> l(mu);
    for (uint32_t id : ids) kites.erase(id);
    return absl::OkStatus();
  }
  absl::Status UpsertSessions(std::span<const kp_session> ss) override {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& s : ss) sessions[s.session_id] = s;
    return absl::OkStatus();
  }
  absl::Status DeleteSessions(std::span<const uint32_t> ids) override {
    std::lock_guard<std::mutex> l(mu);
    for (uint32_t id : ids) sessions.erase(id);
    return absl::OkStatus();
  }
  absl::Status GrantCredit(std::span<const kp_ctl_credit> g) override {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& c : g) granted[c.kite_id] += c.bytes_per_core;
    return absl::OkStatus();
  }
  absl::Status SetState(kp_frontend_state s) override {
    state = s;
    return absl::OkStatus();
  }
  absl::StatusOr<kp_ctl_global_counters> GlobalCounters() const override { return kp_ctl_global_counters{}; }
  absl::StatusOr<uint32_t> KiteStats(uint32_t first, std::span<kp_ctl_kite_stats> out, uint32_t* next) const override {
    uint32_t n = 0;
    *next = 0;
    for (auto it = kites.lower_bound(first); it != kites.end(); ++it) {
      if (n == out.size()) {
        *next = it->first;
        break;
      }
      out[n] = kp_ctl_kite_stats{};
      out[n++].kite_id = it->first;
    }
    return n;
  }
  template <typename T>
  static absl::StatusOr<uint32_t> Dump(const std::map<uint32_t, T>& m, uint32_t first, std::span<T> out,
                                       uint32_t* next) {
    uint32_t n = 0;
    *next = 0;
    for (auto it = m.lower_bound(first); it != m.end(); ++it) {
      if (n == out.size()) {
        *next = it->first;
        break;
      }
      out[n++] = it->second;
    }
    return n;
  }
  absl::StatusOr<uint32_t> DumpKites(uint32_t first, std::span<kp_kite> out, uint32_t* next) const override {
    return Dump(kites, first, out, next);
  }
  absl::StatusOr<uint32_t> DumpSessions(uint32_t first, std::span<kp_session> out, uint32_t* next) const override {
    return Dump(sessions, first, out, next);
  }
};

struct Dataplane {
  explicit Dataplane(const std::string& path) {
    auto s = ctl::Server::Create({path, 0660, 8}, &backend);
    EXPECT_TRUE(s.ok()) << s.status();
    server = std::move(*s);
    poller = std::thread([this] {
      while (!stop.load()) server->Poll(20);
    });
  }
  ~Dataplane() {
    stop = true;
    poller.join();
  }
  MemBackend backend;
  std::unique_ptr<ctl::Server> server;
  std::atomic<bool> stop{false};
  std::thread poller;
};

TEST(CtlDataplane, ProgramsResyncsIdenticallyAndSurvivesDataplaneRestart) {
  ASSERT_TRUE(proto::InitCrypto().ok());
  std::string sock = ::testing::TempDir() + "/cp_ctl_" + std::to_string(getpid()) + ".sock";
  std::string db = ::testing::TempDir() + "/cp_ctl_" + std::to_string(getpid()) + ".db";
  unlink(db.c_str());
  auto policy = testing::MakePolicy();
  auto dp = std::make_unique<Dataplane>(sock);
  uint32_t sid = 0, kid = 0;
  {
    auto store = Store::Open(db);
    ASSERT_TRUE(store.ok());
    auto client = MakeCtlDataplane(sock);
    Registry reg(store->get(), client.get(), policy.get());
    ASSERT_TRUE(reg.Recover(1000).ok());
    ASSERT_TRUE(reg.SyncDataplane().ok());
    EXPECT_EQ(reg.n_workers(), 2u);
    Session& s = **reg.AddSession(NewSession(reg, "198.51.100.7", 40000));
    auto r = reg.Claim(s, ClaimFor(s, "game.acme", "game-secret"), 1000);
    ASSERT_EQ(r.code, KP_RESULT_ACCEPTED);
    sid = s.session_id;
    kid = r.kite_id;
    std::lock_guard<std::mutex> l(dp->backend.mu);
    ASSERT_EQ(dp->backend.sessions.count(sid), 1u);
    ASSERT_EQ(dp->backend.kites.count(kid), 1u);
    EXPECT_EQ(dp->backend.kites[kid].sessions[0], sid);
    EXPECT_GT(dp->backend.granted[kid], 0u);
    EXPECT_EQ(dp->backend.config.n_tunnel_ports, 2);
  }
  // Control-plane restart: the data plane kept its tables; resync rewrites them identically.
  kp_kite before_kite;
  kp_session before_ses;
  uint64_t granted_before;
  {
    std::lock_guard<std::mutex> l(dp->backend.mu);
    before_kite = dp->backend.kites[kid];
    before_ses = dp->backend.sessions[sid];
    granted_before = dp->backend.granted[kid];
  }
  {
    auto store = Store::Open(db);
    ASSERT_TRUE(store.ok());
    auto client = MakeCtlDataplane(sock);
    Registry reg(store->get(), client.get(), policy.get());
    ASSERT_TRUE(reg.Recover(2000).ok());
    ASSERT_TRUE(reg.SyncDataplane().ok());
    EXPECT_EQ(reg.counters().resyncs, 1u);
    std::lock_guard<std::mutex> l(dp->backend.mu);
    EXPECT_EQ(std::memcmp(&dp->backend.kites[kid], &before_kite, sizeof before_kite), 0);
    EXPECT_EQ(std::memcmp(&dp->backend.sessions[sid], &before_ses, sizeof before_ses), 0);
    EXPECT_EQ(dp->backend.granted[kid], granted_before);  // credit not granted twice
    EXPECT_EQ(dp->backend.kites.size(), 1u);
    EXPECT_FALSE(dp->server->resync_active());
  }
  // Data-plane restart under a running control plane: detected, everything reinstalled.
  {
    auto store = Store::Open(db);
    ASSERT_TRUE(store.ok());
    auto client = MakeCtlDataplane(sock);
    Registry reg(store->get(), client.get(), policy.get());
    ASSERT_TRUE(reg.Recover(3000).ok());
    ASSERT_TRUE(reg.SyncDataplane().ok());
    dp.reset();
    reg.QuotaTick(3001);  // fails: the socket is gone
    EXPECT_FALSE(client->Connected());
    EXPECT_FALSE(reg.SyncDataplane().ok());  // headless for a while
    dp = std::make_unique<Dataplane>(sock);
    ASSERT_TRUE(reg.SyncDataplane().ok());
    std::lock_guard<std::mutex> l(dp->backend.mu);
    EXPECT_EQ(dp->backend.sessions.count(sid), 1u);
    EXPECT_EQ(std::memcmp(&dp->backend.kites[kid], &before_kite, sizeof before_kite), 0);
    EXPECT_GT(dp->backend.granted[kid], 0u);  // fresh credit for the fresh data plane
  }
  unlink(db.c_str());
}

}  // namespace
}  // namespace kp::cp
