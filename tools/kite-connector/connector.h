// connector.h - kite-connector's event loop: registration, failover, relay.
//
// One thread, one epoll.  Holds at most two sessions: the active one and a
// candidate being registered (first registration, re-registration after a
// dead peer, or the make-before-break replacement of a lame-duck front-end).
// Tries (front-end, port) pairs in configuration order; after a full round
// without an accepted kite it waits with exponential backoff and jitter
// (or, with `once`, gives up).  Relays DATA through one connected UDP socket
// per client flow (FlowTable), reading tunnel frames and service replies
// with recvmmsg and sending replies to the front-end with sendmmsg.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/kite-connector/backoff.h"
#include "tools/kite-connector/config.h"
#include "tools/kite-connector/counters.h"
#include "tools/kite-connector/flow_table.h"
#include "tools/kite-connector/net.h"
#include "tools/kite-connector/session.h"

namespace kp::connector {

struct Options {
  bool once = false;                 // one round over all front-ends, then give up
  bool exit_after_register = false;  // for tests: CLOSE and exit 0 once registered
  std::string stats_file;            // rewritten every stats_interval_s and on SIGUSR1
  bool handle_signals = true;        // SIGUSR1 stats, SIGTERM/SIGINT stop
};

class Connector {
 public:
  static absl::StatusOr<std::unique_ptr<Connector>> Create(Config cfg, Options opts);
  ~Connector();
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  // Runs until stopped; returns the process exit code (0 ok, 1 nothing
  // could be registered with `once`).
  int Run();
  // Thread-safe: makes Run() return soon (CLOSE sent to the active session).
  void RequestStop() { stop_.store(true); }
  const Counters& counters() const { return ctr_; }
  void WriteStats() const;

 private:
  struct Slot {
    std::unique_ptr<Session> session;
    UniqueFd fd;
    Outbox out;                      // control frames to send
    std::vector<proto::Bytes> data;  // DATA replies to send (batched)
  };

  Connector(Config cfg, Options opts);
  absl::Status Init();
  void StartAttempt(uint64_t now);
  void AttemptFailed(Slot& slot, uint64_t now);
  void Promote(uint64_t now);
  void EndActive(uint64_t now, bool next_frontend);
  absl::Status OpenTunnelSocket(Slot& slot, int slot_index, const proto::Endpoint& fe);
  void ReadTunnel(int slot_index, uint64_t now);
  void HandleData(Slot& slot, proto::ByteSpan frame, uint64_t now);
  void ReadFlow(uint64_t serial, uint64_t now);
  void Flush(Slot& slot, int slot_index, uint64_t now);
  void Tick(uint64_t now);
  void HandleSignal();
  Slot& slot(int i) { return i == 0 ? active_ : candidate_; }

  Config cfg_;
  Options opts_;
  Counters ctr_;
  std::atomic<bool> stop_{false};
  int exit_code_ = -1;
  UniqueFd epoll_;
  UniqueFd signal_fd_;
  Slot active_;
  Slot candidate_;
  FlowTable flows_;
  Backoff backoff_;
  // Registration cursor over (front-end, port) pairs.
  size_t cur_fe_ = 0;
  size_t cur_port_ = 0;
  size_t tried_in_round_ = 0;
  size_t pairs_total_ = 0;
  uint64_t next_attempt_ns_ = 0;  // 0 = no attempt scheduled
  std::vector<std::string> round_failures_;
  uint64_t next_expire_ns_ = 0;
  uint64_t next_stats_ns_ = 0;
  std::vector<uint8_t> rx_buf_;
};

}  // namespace kp::connector
