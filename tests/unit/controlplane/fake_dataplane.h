// fake_dataplane.h - FakeDataplane: an in-memory DataplaneClient for the
// control-plane unit tests.  Holds kites, sessions, config, state, credit
// and per-kite used bytes in maps; records every call so tests can check
// what a resync rewrote; can be "disconnected" to simulate a headless
// control plane or a data-plane restart.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "controlplane/dataplane_client.h"

namespace kp::cp {

class FakeDataplane : public DataplaneClient {
 public:
  bool up = true;           // a data plane is there to connect to
  bool connected = false;
  uint32_t workers = 2;
  kp_config config{};
  kp_frontend_state state = KP_FE_SERVING;
  std::map<uint32_t, kp_kite> kites;
  std::map<uint32_t, kp_session> sessions;
  std::map<uint32_t, uint64_t> granted;  // per core, cumulative
  std::map<uint32_t, uint64_t> used;     // all cores
  std::vector<std::string> calls;
  bool resyncing = false;
  std::map<uint32_t, bool> touched_kites, touched_sessions;

  bool Connected() const override { return connected; }
  absl::StatusOr<bool> EnsureConnected() override {
    if (connected) return false;
    if (!up) return absl::UnavailableError("fake data plane down");
    connected = true;
    return true;
  }
  uint32_t NumWorkers() const override { return workers; }
  std::string Describe() const override { return "fake"; }
  absl::Status Check() { return connected ? absl::OkStatus() : absl::UnavailableError("down"); }

  absl::Status SetConfig(const kp_config& c) override {
    calls.push_back("config");
    config = c;
    return Check();
  }
  absl::Status UpsertKites(std::span<const kp_kite> ks) override {
    calls.push_back("upsert_kites");
    for (const auto& k : ks) {
      kites[k.kite_id] = k;
      touched_kites[k.kite_id] = true;
    }
    return Check();
  }
  absl::Status DeleteKites(std::span<const uint32_t> ids) override {
    for (uint32_t id : ids) kites.erase(id);
    return Check();
  }
  absl::Status UpsertSessions(std::span<const kp_session> ss) override {
    calls.push_back("upsert_sessions");
    for (const auto& s : ss) {
      sessions[s.session_id] = s;
      touched_sessions[s.session_id] = true;
    }
    return Check();
  }
  absl::Status DeleteSessions(std::span<const uint32_t> ids) override {
    calls.push_back("delete_sessions");
    for (uint32_t id : ids) sessions.erase(id);
    return Check();
  }
  absl::Status GrantCredit(std::span<const kp_ctl_credit> g) override {
    calls.push_back("grant");
    for (const auto& c : g) granted[c.kite_id] += c.bytes_per_core;
    return Check();
  }
  absl::Status SetState(kp_frontend_state s) override {
    state = s;
    return Check();
  }
  absl::Status ResyncBegin() override {
    calls.push_back("resync_begin");
    touched_kites.clear();
    touched_sessions.clear();
    return Check();
  }
  absl::Status ResyncEnd() override {
    calls.push_back("resync_end");
    std::erase_if(kites, [&](const auto& p) { return !touched_kites.count(p.first); });
    std::erase_if(sessions, [&](const auto& p) { return !touched_sessions.count(p.first); });
    return Check();
  }
  absl::StatusOr<kp_ctl_global_counters> GlobalCounters() override {
    kp_ctl_global_counters g{};
    g.counters[KP_CTR_RX_PKTS] = 42;
    g.drops[KP_DROP_TUN_BAD_COOKIE] = 3;
    return g;
  }
  absl::Status ForEachKiteStats(const std::function<void(const kp_ctl_kite_stats&)>& fn) override {
    if (!connected) return absl::UnavailableError("down");
    for (const auto& [id, k] : kites) {
      kp_ctl_kite_stats s{};
      s.kite_id = id;
      s.used_bytes = used[id];
      s.v[KP_KCTR_RX_BYTES] = used[id];
      fn(s);
    }
    return absl::OkStatus();
  }
  // Simulates a data-plane restart: every table and counter is gone.
  void Restart() {
    connected = false;
    kites.clear();
    sessions.clear();
    granted.clear();
    used.clear();
  }
};

}  // namespace kp::cp
