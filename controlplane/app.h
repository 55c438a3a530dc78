// app.h - App: the kiteplane-controlplane process.
//
// Wires the pieces together and runs one poll loop: tunnel sockets, the
// management socket, a signalfd (SIGHUP reload, SIGTERM/SIGINT drain, a
// second one exits at once) and a timerfd tick (data-plane reconnect and
// resync, quota tick, key rotation, notices, dead sessions, on_tick, metrics).
// Reload builds a new PolicyHost from the same file and swaps it only when it
// loads cleanly.  Drain refuses new registrations, tells every connector the
// deadline, sets the data plane to lame duck and exits when no session is
// left or the deadline passed (closing what remains and setting CLOSED).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "controlplane/dataplane_client.h"
#include "controlplane/metrics.h"
#include "controlplane/mgmt.h"
#include "controlplane/policy.h"
#include "controlplane/registry.h"
#include "controlplane/store.h"
#include "controlplane/tunnel.h"
#include "controlplane/udp_sockets.h"

namespace kp::cp {

class App {
 public:
  // `config_path` empty = the embedded default config.
  App(std::string config_path, std::unique_ptr<PolicyHost> policy);
  ~App();
  // Opens everything.  Errors name what to fix (store, sockets, metrics).
  absl::Status Start();
  // Runs until drained or stopped; returns the exit code.
  int Run();

  absl::Status Reload();
  absl::Status Drain(uint32_t deadline_s);

 private:
  void Tick();
  void HandleSignal();
  nlohmann::json StatusJson();
  uint64_t NowMs() const;

  std::string config_path_;
  std::unique_ptr<PolicyHost> policy_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<DataplaneClient> dp_;
  std::unique_ptr<Registry> reg_;
  std::unique_ptr<TunnelServer> tunnel_;
  TunnelSockets sockets_;
  std::unique_ptr<MgmtApi> api_;
  std::unique_ptr<MgmtServer> mgmt_;
  std::unique_ptr<MetricsServer> metrics_;
  int signal_fd_ = -1;
  int timer_fd_ = -1;
  bool draining_ = false;
  bool stop_ = false;
  uint64_t drain_deadline_ms_ = 0;
  uint64_t started_ms_ = 0;
  uint64_t reloads_ = 0, reload_failures_ = 0;
  bool dp_was_connected_ = false;
};

}  // namespace kp::cp
