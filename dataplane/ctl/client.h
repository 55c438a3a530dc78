// client.h - kp::ctl::Client, a small synchronous client of the data plane's
// control socket (dataplane/abi/kp_ctl.h).
//
// Used by the control plane and the tests.  Connect() opens the socket and
// exchanges HELLO; every call then sends one request (or as many batches as
// the entries need: batches are split at the per-message limit, so a large
// upsert is all-or-nothing per batch, not per call) and waits for its reply,
// at most `timeout_ms`.  Errors: the -errno status of the reply mapped to an
// absl::Status (InvalidArgument, ResourceExhausted, NotFound,
// FailedPrecondition, OutOfRange), Unavailable when the socket fails or the
// data plane does not answer in time.  Not thread-safe: one caller at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

extern "C" {
#include "kp_ctl.h"
}

namespace kp::ctl {

class Client {
 public:
  // Connects to `path` and says HELLO as `name`.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& path,
                                                         const std::string& name,
                                                         int timeout_ms = 5000);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // What the data plane said in reply to HELLO.
  const kp_ctl_hello_reply& hello() const { return hello_; }

  absl::Status SetConfig(const kp_config& config);
  absl::StatusOr<kp_config> GetConfig();
  absl::Status UpsertKites(std::span<const kp_kite> kites);
  absl::Status DeleteKites(std::span<const uint32_t> kite_ids);
  absl::Status UpsertSessions(std::span<const kp_session> sessions);
  absl::Status DeleteSessions(std::span<const uint32_t> session_ids);
  absl::Status GrantCredit(std::span<const kp_ctl_credit> grants);
  absl::Status SetState(kp_frontend_state state);
  absl::StatusOr<kp_ctl_global_counters> GlobalCounters();
  absl::Status ResyncBegin();
  absl::Status ResyncEnd();

  // Range reads: every present entry with id >= first, in id order, one
  // request per reply-full.  `fn` is called for each entry.
  absl::Status ForEachKiteStats(uint32_t first,
                                const std::function<void(const kp_ctl_kite_stats&)>& fn);
  absl::Status ForEachKite(uint32_t first, const std::function<void(const kp_kite&)>& fn);
  absl::Status ForEachSession(uint32_t first, const std::function<void(const kp_session&)>& fn);

  // Low level: sends `type` with `body`, returns the reply body (status 0)
  // or the mapped error.  Exposed for tests of malformed requests.
  absl::StatusOr<std::vector<uint8_t>> Call(uint16_t type, std::span<const uint8_t> body);
  // Sends raw bytes as one datagram and returns the raw reply datagram.
  absl::StatusOr<std::vector<uint8_t>> RawCall(std::span<const uint8_t> datagram);

 private:
  explicit Client(int fd, int timeout_ms) : fd_(fd), timeout_ms_(timeout_ms) {}
  absl::Status Hello(const std::string& name);
  template <typename T>
  absl::Status Batched(uint16_t type, std::span<const T> entries, uint32_t max_batch);
  absl::Status Range(uint16_t type, uint32_t first, size_t entry_size, uint32_t max_count,
                     const std::function<void(const uint8_t*)>& fn);

  int fd_;
  int timeout_ms_;
  uint32_t seq_ = 0;
  kp_ctl_hello_reply hello_{};
};

}  // namespace kp::ctl
